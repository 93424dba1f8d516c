"""答题: quiz questions residents answer in chat, and what the store keeps of it (scores, streaks, rankings).

The questions are administrators' content (``core/data/campaign.yml`` through :mod:`core.campaign`);
this module keeps the answers. The channels only carry them: Telegram's ``/quiz`` with buttons
(:mod:`bot.channels.telegram_quiz`), WeChat's and WeCom's "答题" answered by letter
(:class:`bot.channels.wechat_common.TextQuiz`, whose open question lives here too, so any replica
finds it).

Nothing here names a resident. A player is the salted hash of ``quiz<US>channel<US>user id``
(:func:`bot.privacy.hash_id`), a group the hash of its chat id; a display name is kept only for a
player who chose one (``/quiz_name 名字``, "答题昵称 名字") and is removed when they take it back,
so a group's ranking shows counts, and names only of those who asked to be named.

What counts, and why it is kept the way it is:

- one answer per player per question per China-time day counts: the unique key (player,
  question, day) makes a double tap, a second press in a group or two replicas record it once,
  and a resident cannot climb the ranking by answering the same question again and again;
- the streak is the number of consecutive days with at least one right answer. It is kept on
  the player (``streak``, ``best_streak``, ``last_day``: one row to read, updated in the same
  transaction as the answer that extends it) and read as 0 once a whole day has passed without one;
- a group's ranking is this China-time week (from Monday 00:00) of counted answers in the group;
- officers see, per scenario, how many answers were right (:meth:`QuizStore.scenario_results`):
  which scams residents still fall for.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable, Sequence

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, String, Table, UniqueConstraint, case, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import ColumnElement

from bot.inbound import normalise
from bot.retention import CHINA
from bot.store import aware, engine, metadata, now, utc
from core import campaign
from core.campaign import Question
from core.knowledge import scenarios
from nlu.entities import redact

RECENT_RIGHT = timedelta(days=14)
"""A question the player answered right within this long is not asked again (unless nothing else is left)."""
OPEN_FOR = timedelta(minutes=30)
"""How long a question asked by text ("答题") waits for its letter."""
MAX_NAME_CHARS = 12
RANKING_SIZE = 10
KEY_CHARS = 64

quiz_answers = Table(
    "quiz_answers", metadata,
    Column("id", Integer, primary_key=True),
    Column("player", String(KEY_CHARS), nullable=False, index=True),  # player_key(channel, user id)
    Column("channel", String(16), nullable=False),
    Column("group_key", String(KEY_CHARS), index=True),  # group_key(channel, chat id); NULL in a private chat
    Column("question_id", String(64), nullable=False),
    Column("scenario", String(64), nullable=False),
    Column("right", Boolean, nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=False, index=True),
    Column("day", Date, nullable=False),  # China time: what "one answer per question per day" is counted on
    Column("campaign_id", Integer, index=True),  # the campaign that asked it (bot/campaigns.py), if any
    UniqueConstraint("player", "question_id", "day", name="one_counted_quiz_answer_per_day"),
)

quiz_players = Table(
    "quiz_players", metadata,
    Column("player", String(KEY_CHARS), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("display_name", String(32)),  # only while opted_in
    Column("opted_in", Boolean, nullable=False, default=False),
    Column("streak", Integer, nullable=False, default=0),
    Column("best_streak", Integer, nullable=False, default=0),
    Column("last_day", Date),  # the last China-time day with a right answer
    Column("open_question", String(64)),  # asked by text, waiting for its letter (WeChat, WeCom)
    Column("opened_at", DateTime(timezone=True)),
    Column("reminded", Boolean, nullable=False, default=False),  # the open question's one reminder was given
)

LETTER_ANSWER = re.compile(r"^(?:我选|选择|选|答案是|答案|答)?\s*[:：]?\s*([A-Za-z])\s*[。.!！]?$")
"""A reply that is one letter ("B", "b", "选B", "答案是 c"); full-width letters are halved by bot.inbound first."""
OPT_OUT_WORDS = ("取消", "不显示", "删除", "清除")


def player_key(channel: str, user_id: str | int) -> str:
    from bot.privacy import hash_id

    return hash_id(f"quiz\x1f{channel}\x1f{user_id}")


def group_key(channel: str, chat_id: str | int) -> str:
    from bot.privacy import hash_id

    return hash_id(f"quiz-group\x1f{channel}\x1f{chat_id}")


def china_day(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 China time of the week ``moment`` is in: a group's ranking counts from there."""
    day = china_day(moment)
    return datetime.combine(day - timedelta(days=day.weekday()), datetime.min.time(), CHINA)


def letter_of(text: str) -> str | None:
    """The letter a reply names ("选B" → "B"), upper case; None when the reply is not one letter."""
    found = LETTER_ANSWER.match(normalise(text or ""))
    return found.group(1).upper() if found else None


def letters_for(question: Question) -> str:
    """"A、B 或 C": the letters a question can be answered with, as a resident reads them."""
    letters = list(campaign.LETTERS[:len(question.choices)])
    return "、".join(letters[:-1]) + f" 或 {letters[-1]}" if len(letters) > 1 else letters[0]


def asked_scenario(text: str) -> str | None:
    """The scenario a resident asks a question about ("/quiz 刷单", "答题 task_rebate"), or None."""
    wanted = normalise(text or "").strip().lower()
    if not wanted:
        return None
    known = {sid: info for sid, info in scenarios().items() if sid != "none"}
    if wanted in known:
        return wanted
    return next((sid for sid, info in known.items() if wanted in info.name.lower()), None)


class BadName(ValueError):
    """A display name the ranking will not show; the message says why, in Chinese."""


def clean_name(raw: str) -> str:
    """The display name as it will be shown, or :class:`BadName`: short, one line, no number that names someone."""
    name = " ".join(normalise(raw or "").split())
    if not name:
        raise BadName("请在后面写上想显示的昵称，例如：答题昵称 小区老王")
    if len(name) > MAX_NAME_CHARS:
        raise BadName(f"昵称最多 {MAX_NAME_CHARS} 个字，请换个短一点的。")
    if redact(name) != name or re.search(r"\d{5,}", name) or re.search(r"https?:|www\.", name, re.I):
        raise BadName("昵称里请不要写电话、证件号或链接，换一个吧。")
    return name


def opts_out(text: str) -> bool:
    """Whether the words after /quiz_name or 答题昵称 take the name back."""
    return normalise(text or "").strip() in OPT_OUT_WORDS


@dataclass(frozen=True)
class Standing:
    """A player's score: counted answers, right ones, the current streak and the best one."""

    answered: int = 0
    right: int = 0
    streak: int = 0
    best_streak: int = 0


@dataclass(frozen=True)
class Outcome:
    """What one answer did. ``counted`` is False for a second answer to the same question on the same
    day: ``right`` is then the first answer's result, which is the one that counts."""

    question: Question
    choice: int
    right: bool
    counted: bool
    standing: Standing


@dataclass(frozen=True)
class RankRow:
    name: str | None  # only for a player who opted in
    answered: int
    right: int


@dataclass(frozen=True)
class Ranking:
    """A group's week: the top players by counted answers, and how many took part."""

    since: datetime
    rows: tuple[RankRow, ...]
    players: int
    answers: int


@dataclass(frozen=True)
class ScenarioResult:
    """Answers to one scenario's questions, and how many were right (for the officers' chart)."""

    scenario: str
    answered: int
    right: int

    @property
    def share_right(self) -> float:
        return self.right / self.answered if self.answered else 0.0


@dataclass(frozen=True)
class OpenQuestion:
    """A question asked by text that waits for its letter."""

    question_id: str
    opened_at: datetime
    reminded: bool


Clock = Callable[[], datetime]
QuestionSource = Callable[[], Sequence[Question]]


class QuizStore:
    """The quiz tables: picking a question, recording answers, scores, rankings, open questions.

    Blocking (SQLAlchemy): channels call it in a thread. ``clock`` (aware datetimes) and
    ``rng`` are injected so that tests can cross days and weeks; ``questions`` is the live
    content by default, read again at every call (an edit put live applies to the next question).
    """

    def __init__(self, url: str | None = None, clock: Clock = now, questions: QuestionSource | None = None,
                 rng: random.Random | None = None) -> None:
        self._url = url
        self._engine: Engine | None = None
        self._clock = clock
        self._questions = questions or campaign.questions
        self._random = rng or random.Random()

    def today(self) -> date:
        """The China-time day answers are counted in (and campaigns post on)."""
        return china_day(self._now())

    def _now(self) -> datetime:
        """The clock's time in UTC, as the store keeps every time (SQLite compares them as written)."""
        return utc(self._clock())

    @property
    def engine(self) -> Engine:
        if self._engine is None:  # made on first use: building a channel touches no database
            self._engine = engine(self._url)
        return self._engine

    # -- questions ----------------------------------------------------------------------------

    def questions(self) -> list[Question]:
        return list(self._questions())

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions() if q.id == question_id), None)

    def pick(self, channel: str, user_id: str | int, scenario: str | None = None) -> Question | None:
        """A question for this player: of ``scenario`` when asked (None if it has none), and not one they
        answered right in the last :data:`RECENT_RIGHT` while any other is left."""
        pool = [q for q in self.questions() if scenario is None or q.scenario == scenario]
        if not pool:
            return None
        since = self._now() - RECENT_RIGHT
        with self.engine.connect() as db:
            known = set(db.execute(select(quiz_answers.c.question_id).distinct().where(
                quiz_answers.c.player == player_key(channel, user_id), quiz_answers.c.right.is_(True),
                quiz_answers.c.answered_at >= since)).scalars())
        return self._random.choice([q for q in pool if q.id not in known] or pool)

    # -- answers ------------------------------------------------------------------------------

    def answer(self, channel: str, user_id: str | int, question_id: str, choice: int, chat_id: str | int | None = None,
               campaign_id: int | None = None) -> Outcome | None:
        """Record an answer (``choice``: 0-based); None when the question is no longer in the content.

        ``chat_id`` is the group it was answered in (None in a private chat). Only the first
        answer of the day to a question counts; a later one gets that first one's result.
        """
        question = self.question(question_id)
        if question is None:
            return None
        player, moment = player_key(channel, user_id), self._now()
        day = china_day(moment)
        right = choice == question.answer
        row = dict(player=player, channel=channel, group_key=group_key(channel, chat_id) if chat_id is not None
                   else None, question_id=question.id, scenario=question.scenario, right=right, answered_at=moment,
                   day=day, campaign_id=campaign_id)
        counted = True
        try:
            self._record(row)
        except IntegrityError:  # answered already today, or another replica created the player row first
            first = self._first_right(player, question.id, day)
            if first is None:
                self._record(row)
            else:
                right, counted = first, False
        return Outcome(question, choice, right, counted, self.standing(channel, user_id))

    def _record(self, row: dict[str, Any]) -> None:
        """The answer, and the streak it extends, in one transaction: a refused answer changes nothing."""
        with self.engine.begin() as db:
            db.execute(quiz_answers.insert().values(**row))
            if row["right"]:
                self._extend_streak(db, row["player"], row["channel"], row["day"])

    def _first_right(self, player: str, question_id: str, day: date) -> bool | None:
        """Whether the answer that counts for this question and day was right; None when there is none."""
        with self.engine.connect() as db:
            found = db.execute(select(quiz_answers.c.right).where(
                quiz_answers.c.player == player, quiz_answers.c.question_id == question_id,
                quiz_answers.c.day == day)).first()
        return None if found is None else bool(found.right)

    def _player(self, db: Connection, player: str, channel: str) -> dict[str, Any]:
        """The player's row (created when new), locked for the rest of the transaction where the store can."""
        found = db.execute(select(quiz_players).where(quiz_players.c.player == player).with_for_update()).first()
        if found is not None:
            return dict(found._mapping)
        values = dict(player=player, channel=channel, display_name=None, opted_in=False, streak=0, best_streak=0,
                      last_day=None, open_question=None, opened_at=None, reminded=False)
        db.execute(quiz_players.insert().values(**values))
        return values

    def _update_player(self, channel: str, user_id: str | int, **values: Any) -> None:
        """Set ``values`` on the player's row, made first when new (once more if another replica made it meanwhile)."""
        player = player_key(channel, user_id)

        def write() -> None:
            with self.engine.begin() as db:
                self._player(db, player, channel)
                db.execute(quiz_players.update().where(quiz_players.c.player == player).values(**values))

        try:
            write()
        except IntegrityError:
            write()

    def _extend_streak(self, db: Connection, player: str, channel: str, day: date) -> None:
        """A right answer on ``day``: the streak goes on from yesterday, starts again, or is already counted."""
        found = self._player(db, player, channel)
        last = found["last_day"]
        if last == day:
            return
        streak = found["streak"] + 1 if last == day - timedelta(days=1) else 1
        db.execute(quiz_players.update().where(quiz_players.c.player == player).values(
            streak=streak, best_streak=max(streak, found["best_streak"]), last_day=day))

    def standing(self, channel: str, user_id: str | int) -> Standing:
        player = player_key(channel, user_id)
        with self.engine.connect() as db:
            answered, right = db.execute(select(func.count(quiz_answers.c.id), _right_count()).where(
                quiz_answers.c.player == player)).one()
            found = db.execute(select(quiz_players.c.streak, quiz_players.c.best_streak, quiz_players.c.last_day)
                               .where(quiz_players.c.player == player)).first()
        if found is None:
            return Standing(int(answered), int(right or 0))
        today = china_day(self._now())
        alive = found.last_day is not None and found.last_day >= today - timedelta(days=1)
        return Standing(int(answered), int(right or 0), found.streak if alive else 0, found.best_streak)

    # -- names and rankings -------------------------------------------------------------------

    def set_name(self, channel: str, user_id: str | int, raw: str) -> str:
        """Opt in to be named in rankings; the name as shown, or :class:`BadName`."""
        name = clean_name(raw)
        self._update_player(channel, user_id, display_name=name, opted_in=True)
        return name

    def forget_name(self, channel: str, user_id: str | int) -> None:
        """Opt out: the name is deleted, not hidden."""
        with self.engine.begin() as db:
            db.execute(quiz_players.update().where(quiz_players.c.player == player_key(channel, user_id)).values(
                display_name=None, opted_in=False))

    def ranking(self, channel: str, chat_id: str | int, size: int = RANKING_SIZE) -> Ranking:
        """This week's participation in a group: the ``size`` players with most counted answers."""
        since = week_start(self._now())
        where = (quiz_answers.c.group_key == group_key(channel, chat_id),
                 quiz_answers.c.answered_at >= utc(since))
        answered = func.count(quiz_answers.c.id).label("answered")
        right = _right_count().label("right")
        with self.engine.connect() as db:
            players, answers = db.execute(select(func.count(func.distinct(quiz_answers.c.player)),
                                                 func.count(quiz_answers.c.id)).where(*where)).one()
            top = db.execute(
                select(answered, right, quiz_players.c.display_name, quiz_players.c.opted_in)
                .select_from(quiz_answers.outerjoin(quiz_players, quiz_players.c.player == quiz_answers.c.player))
                .where(*where)
                .group_by(quiz_answers.c.player, quiz_players.c.display_name, quiz_players.c.opted_in)
                .order_by(answered.desc(), right.desc(), func.min(quiz_answers.c.answered_at))
                .limit(size)).all()
        rows = tuple(RankRow(row.display_name if row.opted_in else None, int(row.answered), int(row.right or 0))
                     for row in top)
        return Ranking(since, rows, int(players), int(answers))

    def scenario_results(self, since: datetime | None = None, until: datetime | None = None,
                         campaign_id: int | None = None) -> list[ScenarioResult]:
        """Counted answers and right ones per scenario (most answered first), for the officers' chart."""
        query = select(quiz_answers.c.scenario, func.count(quiz_answers.c.id), _right_count())
        if since is not None:
            query = query.where(quiz_answers.c.answered_at >= utc(since))
        if until is not None:
            query = query.where(quiz_answers.c.answered_at < utc(until))
        if campaign_id is not None:
            query = query.where(quiz_answers.c.campaign_id == campaign_id)
        with self.engine.connect() as db:
            rows = db.execute(query.group_by(quiz_answers.c.scenario)).all()
        results = [ScenarioResult(scenario, int(count), int(right or 0)) for scenario, count, right in rows]
        return sorted(results, key=lambda result: (-result.answered, result.scenario))

    # -- a question asked by text, waiting for its letter -------------------------------------

    def open(self, channel: str, user_id: str | int, question_id: str) -> None:
        """Remember the question this player was just asked (it replaces an older open one)."""
        self._update_player(channel, user_id, open_question=question_id, opened_at=self._now(), reminded=False)

    def opened(self, channel: str, user_id: str | int) -> OpenQuestion | None:
        """The question waiting for this player's letter; None when there is none or it is older than
        :data:`OPEN_FOR`."""
        with self.engine.connect() as db:
            found = db.execute(select(quiz_players.c.open_question, quiz_players.c.opened_at,
                                      quiz_players.c.reminded).where(
                quiz_players.c.player == player_key(channel, user_id))).first()
        if found is None or found.open_question is None or found.opened_at is None:
            return None
        if self._now() - aware(found.opened_at) > OPEN_FOR:
            return None
        return OpenQuestion(found.open_question, aware(found.opened_at), bool(found.reminded))

    def remind_once(self, channel: str, user_id: str | int) -> bool:
        """Whether the open question's one reminder is due now (True once; every later call False)."""
        with self.engine.begin() as db:
            result = db.execute(quiz_players.update().where(
                quiz_players.c.player == player_key(channel, user_id), quiz_players.c.open_question.isnot(None),
                quiz_players.c.reminded.is_(False)).values(reminded=True))
        return result.rowcount == 1

    def close(self, channel: str, user_id: str | int) -> None:
        with self.engine.begin() as db:
            db.execute(quiz_players.update().where(quiz_players.c.player == player_key(channel, user_id)).values(
                open_question=None, opened_at=None, reminded=False))


def _right_count() -> ColumnElement:
    """How many of the counted answers were right (SQL: a sum of 1s)."""
    return func.sum(case((quiz_answers.c.right.is_(True), 1), else_=0))


# -- what residents read (the channels add only their own way of answering) ------------------------


def standing_text(standing: Standing) -> str:
    line = f"您已答对 {standing.right} 题（共答 {standing.answered} 题）"
    if standing.streak > 1:
        line += f"，连续 {standing.streak} 天答对"
    elif standing.streak == 1:
        line += "，今天答对了，明天接着来"
    return line + "。"


def result_text(outcome: Outcome) -> str:
    """Right or wrong, the right choice, why, and the score: the answer to one press or one letter."""
    question = outcome.question
    letter = campaign.LETTERS[question.answer]
    if not outcome.counted:
        head = (f"这道题您今天已经答过了（{'答对了' if outcome.right else '没答对'}），只算第一次。"
                f"正确答案是 {letter}：{question.choices[question.answer]}")
    elif outcome.right:
        head = f"✅ 答对了！正确答案就是 {letter}。"
    else:
        head = f"❌ 这次没答对。正确答案是 {letter}：{question.choices[question.answer]}"
    return f"{head}\n{question.explanation}\n{standing_text(outcome.standing)}"
