"""Residents' reports (举报) and feedback on verdicts (有用 / 判断不对), the review queue's rows (bot/reports.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reporter", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16)),
        sa.Column("value", sa.String(256)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(128)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_reports_reporter", "reports", ["reporter"])
    op.create_index("ix_reports_created_at", "reports", ["created_at"])
    op.create_table(
        "verdict_feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reporter", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("claim", sa.String(16)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("risk", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(128)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("example_scenario", sa.String(64)),
    )
    op.create_index("ix_verdict_feedback_reporter", "verdict_feedback", ["reporter"])
    op.create_index("ix_verdict_feedback_created_at", "verdict_feedback", ["created_at"])


def downgrade() -> None:
    op.drop_table("verdict_feedback")
    op.drop_table("reports")
