"""The daily analysis: consultations rolled up per day before the tracker store forgets them (bot/retention.py),
the daily job's runs and its early-warning suggestions (bot/daily.py), the new scripts it finds (bot/new_scripts.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consultation_counts",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("scenario", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(64), primary_key=True),
        sa.Column("intent", sa.String(32), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_table(
        "consultation_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("rolled_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "daily_runs",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(256)),
    )
    op.create_table(
        "early_warnings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("mean_28", sa.Float, nullable=False),
        sa.Column("p_value", sa.Float, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(128)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("day", "scenario", "region", name="one_warning_per_day_scenario_region"),
    )
    op.create_table(
        "new_scripts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("residents", sa.Integer, nullable=False),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("sample", sa.String(80), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(128)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("day", "fingerprint", name="one_new_script_per_day"),
    )


def downgrade() -> None:
    op.drop_table("new_scripts")
    op.drop_table("early_warnings")
    op.drop_table("daily_runs")
    op.drop_table("consultation_days")
    op.drop_table("consultation_counts")
