"""The project's store as the previous release created it (``metadata.create_all``), frozen.

Copied from bot/store.py, bot/alerts/model.py, bot/admin/accounts.py and bot/admin/history.py as
they were before the store moved to Alembic migrations. tests/test_migrations.py builds a
database from these tables, fills it, and upgrades it: what a deployment of the previous release
has on disk. Never edit it to follow the code: it is a record of what was.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

groups = Table(
    "group_registry", metadata,
    Column("channel", String(32), primary_key=True),
    Column("chat_id", String(128), primary_key=True),
    Column("title", String(256), nullable=False, default=""),
    Column("active", Boolean, nullable=False, default=True),
    Column("autowarn", Boolean, nullable=False, default=True),
    Column("regions", String(512), nullable=False, default=""),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("removed_at", DateTime(timezone=True)),
)

shared_values = Table(
    "shared_values", metadata,
    Column("key", String(256), primary_key=True),
    Column("value", Text, nullable=False),
    Column("expires_at", Float),
)

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
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False, index=True),
    Column("channel", String(32), nullable=False),
    Column("chat_id", String(128), nullable=False),
    Column("state", String(16), nullable=False, default="pending", index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False, default=0.0),
    Column("last_error", String(512)),
    Column("message_id", String(64)),
    Column("updated_at", DateTime(timezone=True)),
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

credentials = Table(
    "admin_credentials", metadata,
    Column("officer_id", Integer, ForeignKey("officers.id"), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
)

sessions = Table(
    "admin_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("officer_id", Integer, ForeignKey("officers.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

login_throttle = Table(
    "admin_login_throttle", metadata,
    Column("key", String(64), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("last_failure", DateTime(timezone=True), nullable=False),
    Column("refused", Integer, nullable=False, default=0),
)

versions = Table(
    "content_versions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("author", String(128), nullable=False),
    Column("summary", String(500), nullable=False, default=""),
    Column("how", String(32), nullable=False),
    Column("changed", Text, nullable=False, default=""),
    Column("diff", Text, nullable=False, default=""),
    Column("files", LargeBinary, nullable=False),
)
