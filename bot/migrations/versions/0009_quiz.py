"""答题: quiz answers per player and the players' streaks, names (opted in only) and open questions (bot/quiz.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quiz_answers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("player", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("group_key", sa.String(64)),
        sa.Column("question_id", sa.String(64), nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("right", sa.Boolean, nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("campaign_id", sa.Integer),
        sa.UniqueConstraint("player", "question_id", "day", name="one_counted_quiz_answer_per_day"),
    )
    op.create_index("ix_quiz_answers_player", "quiz_answers", ["player"])
    op.create_index("ix_quiz_answers_group_key", "quiz_answers", ["group_key"])
    op.create_index("ix_quiz_answers_answered_at", "quiz_answers", ["answered_at"])
    op.create_index("ix_quiz_answers_campaign_id", "quiz_answers", ["campaign_id"])
    op.create_table(
        "quiz_players",
        sa.Column("player", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(32)),
        sa.Column("opted_in", sa.Boolean, nullable=False),
        sa.Column("streak", sa.Integer, nullable=False),
        sa.Column("best_streak", sa.Integer, nullable=False),
        sa.Column("last_day", sa.Date),
        sa.Column("open_question", sa.String(64)),
        sa.Column("opened_at", sa.DateTime(timezone=True)),
        sa.Column("reminded", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("quiz_players")
    op.drop_table("quiz_answers")
