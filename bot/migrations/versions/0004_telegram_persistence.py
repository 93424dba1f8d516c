"""Telegram persistence: python-telegram-bot's conversation states and user_data in the store.

The officers' /alert drafts (:mod:`bot.alerts.telegram_flow`) were kept in the Rasa process's
memory, lost on a restart and invisible to another replica. One row per (kind, key): ``kind``
is ``conversation:<name>`` (key: the JSON of PTB's conversation key, value: the state) or
``user_data`` (key: the Telegram user id, value: the JSON of what the bot keeps for them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_persistence",
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("telegram_persistence")
