"""Tables of the alerts: officers, alerts, the delivery outbox and the audit log.

They live in the project's store (:mod:`bot.store`, SQLite by default, PostgreSQL by URL).
Targets are the rows of ``group_registry``: Telegram groups recorded when the bot joins,
and WeCom robots, WeCom app chats and Official Account tags that administrators add.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Float, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from bot.store import metadata

ROLES = ("officer", "admin")
SEVERITIES = ("high", "medium", "low")

# Outbox states. `sending` is written just before the request goes out; a row still in that
# state after its worker died may or may not have been delivered, and becomes `uncertain`: it
# is never sent again on its own (no duplicate), and the report lists it. So does a request
# that got no answer (a timeout, a lost connection, a 5xx).
PENDING, SENDING, DELIVERED, FAILED, CANCELLED, UNCERTAIN = (
    "pending", "sending", "delivered", "failed", "cancelled", "uncertain")

# Outbox priorities, lowest first: a 警情通报 is urgent, a 宣传 campaign's tip (bot/campaigns.py) can wait.
# The worker claims campaign rows only while no alert row is due or in flight (bot/alerts/worker.py).
ALERT_PRIORITY, CAMPAIGN_PRIORITY = 0, 1

officers = Table(
    "officers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False, default="officer"),
    Column("telegram_id", String(64), unique=True),
    Column("wecom_id", String(128), unique=True),
    Column("login", String(128), unique=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

alerts = Table(
    "alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("scenario", String(64), nullable=False, default="none"),
    Column("regions", String(512), nullable=False, default=""),
    Column("severity", String(16), nullable=False, default="high"),
    Column("author_id", Integer, ForeignKey("officers.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("recalled_at", DateTime(timezone=True)),
)

outbox = Table(
    "alert_outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), index=True),  # NULL: a campaign's row, with its own text
    Column("channel", String(32), nullable=False),
    Column("chat_id", String(128), nullable=False),
    Column("state", String(16), nullable=False, default=PENDING, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False, default=0.0),  # unix time
    Column("last_error", String(512)),
    Column("message_id", String(64)),
    Column("updated_at", DateTime(timezone=True)),
    # The worker that holds the row (pending: about to send it; sending: in flight) and until when
    # (unix time) its claim lasts unless renewed: a claim that ran out belongs to a worker that is gone.
    Column("claimed_by", String(64)),
    Column("lease_until", Float),
    Column("priority", Integer, nullable=False, default=ALERT_PRIORITY),
    Column("text", Text),  # the message of a row that is not an alert's (a campaign's); an alert's is rendered
    UniqueConstraint("alert_id", "channel", "chat_id", name="one_message_per_alert_and_target"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)
