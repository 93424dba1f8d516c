"""Baseline: the store exactly as the release before migrations created it with ``create_all``.

Every table, column type, nullability, key, unique constraint and index as it was (the column
defaults of that release were set by the code, not the database, so there are none here).
Frozen: a change of the schema is a new revision, never an edit of this one.

A store made by that release is not created again: env.py creates only the tables it lacks
(:func:`create_tables`) and stamps it 0001.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import sqlalchemy as sa
from alembic import op
from alembic.operations import Operations

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _group_registry(ops: Operations) -> None:
    ops.create_table(
        "group_registry",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("chat_id", sa.String(128), primary_key=True),
        sa.Column("title", sa.String(256), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("autowarn", sa.Boolean, nullable=False),
        sa.Column("regions", sa.String(512), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True)),
    )


def _shared_values(ops: Operations) -> None:
    ops.create_table(
        "shared_values",
        sa.Column("key", sa.String(256), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Float),
    )


def _officers(ops: Operations) -> None:
    ops.create_table(
        "officers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("telegram_id", sa.String(64), unique=True),
        sa.Column("wecom_id", sa.String(128), unique=True),
        sa.Column("login", sa.String(128), unique=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def _alerts(ops: Operations) -> None:
    ops.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("regions", sa.String(512), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("officers.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("recalled_at", sa.DateTime(timezone=True)),
    )


def _alert_outbox(ops: Operations) -> None:
    ops.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("last_error", sa.String(512)),
        sa.Column("message_id", sa.String(64)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("alert_id", "channel", "chat_id", name="one_message_per_alert_and_target"),
    )
    ops.create_index("ix_alert_outbox_alert_id", "alert_outbox", ["alert_id"])
    ops.create_index("ix_alert_outbox_state", "alert_outbox", ["state"])


def _audit_log(ops: Operations) -> None:
    ops.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )


def _admin_credentials(ops: Operations) -> None:
    ops.create_table(
        "admin_credentials",
        sa.Column("officer_id", sa.Integer, sa.ForeignKey("officers.id"), primary_key=True),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
    )


def _admin_sessions(ops: Operations) -> None:
    ops.create_table(
        "admin_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("officer_id", sa.Integer, sa.ForeignKey("officers.id"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def _admin_login_throttle(ops: Operations) -> None:
    ops.create_table(
        "admin_login_throttle",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refused", sa.Integer, nullable=False),
    )


def _content_versions(ops: Operations) -> None:
    ops.create_table(
        "content_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("how", sa.String(32), nullable=False),
        sa.Column("changed", sa.Text, nullable=False),
        sa.Column("diff", sa.Text, nullable=False),
        sa.Column("files", sa.LargeBinary, nullable=False),
    )


TABLES: dict[str, Callable[[Operations], None]] = {
    "group_registry": _group_registry,
    "shared_values": _shared_values,
    "officers": _officers,
    "alerts": _alerts,
    "alert_outbox": _alert_outbox,
    "audit_log": _audit_log,
    "admin_credentials": _admin_credentials,
    "admin_sessions": _admin_sessions,
    "admin_login_throttle": _admin_login_throttle,
    "content_versions": _content_versions,
}
"""The baseline's tables, each before the tables whose foreign keys point at it."""


def create_tables(ops: Operations, names: Iterable[str]) -> None:
    """Create the named baseline tables, in foreign-key order."""
    wanted = set(names)
    for name, create in TABLES.items():
        if name in wanted:
            create(ops)


def upgrade() -> None:
    create_tables(op, TABLES)


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
