"""Known scams: indicators (reported by residents, confirmed by officers) and the library of scam texts.

``indicators`` holds one row per normalised (kind, value) (core/indicators.py); ``known_scams`` holds
redacted scam texts with the fingerprint and MinHash they are matched by (bot/known.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "indicators",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("report_count", sa.Integer, nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_by", sa.String(128)),
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("note", sa.Text),
        sa.UniqueConstraint("kind", "value", name="uq_indicators_kind_value"),
    )
    op.create_table(
        "known_scams",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("title", sa.String(256), nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("minhash", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("known_scams")
    op.drop_table("indicators")
