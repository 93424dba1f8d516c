"""Consultations rolled up per day before the tracker store forgets them (bot/retention.py)."""

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


def downgrade() -> None:
    op.drop_table("consultation_days")
    op.drop_table("consultation_counts")
