"""宣传 campaigns (bot/campaigns.py): the plans, their claims per day and group, and campaign rows in the outbox.

``alert_outbox`` gains ``priority`` (alerts 0 before campaigns 1: the worker's claim, bot/alerts/worker.py) and
``text`` (a campaign row carries its own message; an alert's row is rendered from its alert), and ``alert_id``
may be NULL (a campaign row belongs to no alert). ``batch_alter_table``: SQLite copies the table to change a
column's nullability; the rows already there are alerts' rows and keep priority 0.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_outbox") as table:
        table.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="0"))
        table.add_column(sa.Column("text", sa.Text))
        table.alter_column("alert_id", existing_type=sa.Integer, nullable=True)
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("regions", sa.String(512), nullable=False),
        sa.Column("channels", sa.String(256), nullable=False),
        sa.Column("schedule", sa.String(16), nullable=False),
        sa.Column("at", sa.String(5), nullable=False),
        sa.Column("on_day", sa.Date),
        sa.Column("quiet_start", sa.String(5), nullable=False),
        sa.Column("quiet_end", sa.String(5), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("active_since", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "campaign_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("content_id", sa.String(64), nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("outbox_id", sa.Integer, sa.ForeignKey("alert_outbox.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("campaign_id", "day", "channel", "chat_id", name="one_campaign_message_per_day_and_target"),
    )
    op.create_index("ix_campaign_runs_outbox_id", "campaign_runs", ["outbox_id"])


def downgrade() -> None:
    op.drop_index("ix_campaign_runs_outbox_id", table_name="campaign_runs")
    op.drop_table("campaign_runs")
    op.drop_table("campaigns")
    op.execute("DELETE FROM alert_outbox WHERE alert_id IS NULL")  # campaign rows: nothing to keep them for
    with op.batch_alter_table("alert_outbox") as table:
        table.alter_column("alert_id", existing_type=sa.Integer, nullable=False)
        table.drop_column("text")
        table.drop_column("priority")
