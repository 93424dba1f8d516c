"""Outbox claims: which alerts worker holds a row, and until when (several workers on one outbox).

A worker claims due rows (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL) by writing its
name in ``claimed_by`` and the end of its lease in ``lease_until`` (unix time), and renews the
lease while it lives. A ``sending`` row whose lease ran out was left by a worker that died
mid-request and is reported uncertain; a live worker's rows are left alone
(:mod:`bot.alerts.worker`). Existing rows start unclaimed.

``batch_alter_table``: SQLite cannot drop a column in place; Alembic copies the table there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_outbox") as table:
        table.add_column(sa.Column("claimed_by", sa.String(64)))
        table.add_column(sa.Column("lease_until", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("alert_outbox") as table:
        table.drop_column("lease_until")
        table.drop_column("claimed_by")
