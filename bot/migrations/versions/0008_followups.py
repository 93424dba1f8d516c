"""回访: follow-ups residents agreed to and the anonymous case cards they leave (bot/followups.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "followups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_key", sa.String(64)),
        sa.Column("conversation_id", sa.String(160)),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(128)),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("payment_route", sa.String(32)),
        sa.Column("amount_band", sa.String(16)),
        sa.Column("police", sa.String(16)),
        sa.Column("stop_payment", sa.String(16)),
        sa.Column("receipt", sa.String(16)),
        sa.Column("contact", sa.String(16)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_followups_conversation_key", "followups", ["conversation_key"])
    op.create_index("ix_followups_state_due_at", "followups", ["state", "due_at"])
    op.create_table(
        "followup_cards",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("contact", sa.String(16)),
        sa.Column("payment_route", sa.String(32)),
        sa.Column("amount_band", sa.String(16)),
        sa.Column("reached_police", sa.Boolean),
        sa.Column("stop_payment", sa.String(16)),
        sa.Column("has_receipt", sa.Boolean),
    )
    op.create_index("ix_followup_cards_day", "followup_cards", ["day"])


def downgrade() -> None:
    op.drop_table("followup_cards")
    op.drop_table("followups")
