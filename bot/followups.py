"""回访 in the project's store: a follow-up the resident agreed to, and the anonymous case card it leaves.

A resident whose money is gone is asked once whether the bot may check back tomorrow (``actions/actions.py``).
Only with consent is anything kept: a row of ``followups`` with what is needed to write first — the channel
kind, the address (Telegram chat id, WeChat openid, WeCom user id) and the Rasa conversation id — and what the
conversation already knew: the scenario, the payment route (the bank or platform named) and the amount's band
(:func:`core.followup.amount_band`, never the amount). Its life:

- ``pending`` until :func:`due_after` (10:00 China time the next day); the follow-up job
  (:mod:`bot.followup_job`) then claims it with one conditional UPDATE (:func:`claim`: two processes never
  both send) and it is ``asked``. Once the first question is delivered the address and the conversation id
  are deleted (:func:`delivered`): the resident's answers come back through the channel, and the row is found
  again by a salted hash of the conversation id (:func:`conversation_key`);
- ``done`` when the questions are answered (:func:`finish`): the case card is written in the same transaction;
- ``stopped`` at the resident's 不用了 / 别问了 / 不要再联系我, at any time (:func:`stop`);
- ``expired`` when it could not happen: not sent within :data:`LATE_LIMIT` of its time (the job was down),
  undeliverable, or unanswered for :data:`ANSWER_WINDOW` (:func:`expire`, :func:`abandon`).

Whatever the end, the address, the conversation id and its hash are deleted at it. A card
(``followup_cards``) holds only categories and the day: scenario, channel kind, how the contact began, payment
route, amount band, whether 110 was reached, whether stop-payment was in time, whether the resident has the
报警回执 — no sender, no address, no text, no number, no time of day (which could point to a conversation).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Boolean, Column, Date, DateTime, Index, Integer, String, Table, func, select
from sqlalchemy.engine import Connection

from bot.retention import CHINA
from bot.store import aware, engine, metadata, now, utc
from core import followup
from core.followup import AMOUNT_BANDS

PENDING, ASKED, DONE, STOPPED, EXPIRED = "pending", "asked", "done", "stopped", "expired"
ACTIVE = (PENDING, ASKED)
DUE_AT = time(10, 0)
"""China time of the next day's follow-up: late enough to be awake, early enough to act the same day."""
LATE_LIMIT = timedelta(hours=8)
"""A follow-up the job could not send by then (it was down) is dropped: a message at night is unwelcome, and
WeChat takes a customer-service message only within 48 hours of the resident's last one."""
ANSWER_WINDOW = timedelta(days=3)
"""A follow-up asked and not finished by then ends: nothing of the resident is kept waiting for ever."""

TELEGRAM, WECHAT_OA, WECOM = "telegram", "wechat_oa", "wecom"
WRITABLE = {"telegram_bot": (TELEGRAM, "tg:"), "wechat_oa": (WECHAT_OA, "wx:"), "wecom": (WECOM, "wecom:")}
"""Input channels on which the bot can write first, their kind, and how their conversation ids begin
(:func:`bot.channels.telegram.sender_id`, :func:`bot.channels.wechat_common.conversation_of`). REST cannot: its
client only ever hears an answer to its own request."""
ROUTE_CHARS = 32

followups = Table(
    "followups", metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_key", String(64), index=True),  # conversation_key(conversation id); NULL once ended
    Column("conversation_id", String(160)),  # to trigger the follow-up in Rasa; NULL once delivered
    Column("channel", String(16), nullable=False),  # TELEGRAM / WECHAT_OA / WECOM
    Column("address", String(128)),  # chat id / openid / user id; NULL once delivered
    Column("scenario", String(64), nullable=False),
    Column("payment_route", String(32)),  # the bank or platform named (its official name)
    Column("amount_band", String(16)),  # core.followup.AMOUNT_BANDS
    Column("police", String(16)),  # the answers so far (core.followup.ANSWERS), for a resident who answers late
    Column("stop_payment", String(16)),
    Column("receipt", String(16)),
    Column("contact", String(16)),
    Column("state", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("asked_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_followups_state_due_at", "state", "due_at"),
)

cards = Table(
    "followup_cards", metadata,
    Column("id", Integer, primary_key=True),
    Column("day", Date, nullable=False, index=True),  # China-time day of the follow-up
    Column("scenario", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("contact", String(16)),  # core.followup.CONTACTS
    Column("payment_route", String(32)),
    Column("amount_band", String(16)),
    Column("reached_police", Boolean),
    Column("stop_payment", String(16)),  # core.followup.STOP_PAYMENT
    Column("has_receipt", Boolean),
)

_COLUMN = {followup.POLICE: "police", followup.STOP: "stop_payment", followup.RECEIPT: "receipt",
           followup.CONTACT: "contact"}
"""Each question's answer in the ``followups`` row."""
CARD_FIELDS = ("scenario", "channel", "contact", "payment_route", "amount_band", "reached_police", "stop_payment",
               "has_receipt")
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Followup:
    """A follow-up row as the dialogue and the job read it."""

    id: int
    channel: str
    address: str | None
    conversation_id: str | None
    scenario: str
    payment_route: str | None
    amount_band: str | None
    state: str
    due_at: datetime
    answers: dict[str, str | None]


@dataclass(frozen=True)
class Card:
    """An anonymous case card, the fields police note in their 回访表."""

    day: date
    scenario: str
    channel: str
    contact: str | None
    payment_route: str | None
    amount_band: str | None
    reached_police: bool | None
    stop_payment: str | None
    has_receipt: bool | None


def _followup(row: Any) -> Followup:
    return Followup(row.id, row.channel, row.address, row.conversation_id, row.scenario, row.payment_route,
                    row.amount_band, row.state, aware(row.due_at),
                    {question: getattr(row, column) for question, column in _COLUMN.items()})


def conversation_key(conversation_id: str) -> str:
    """How a follow-up is found from its conversation: a salted hash of its own (not the tracker store's key)."""
    from bot.privacy import hash_id

    return hash_id(f"followup\x1f{conversation_id}")


def address_of(input_channel: str | None, conversation_id: str, metadata: Mapping[str, Any] | None) -> \
        tuple[str, str] | None:
    """(channel kind, address) of a conversation the bot may write to first, else None.

    Only private chats: a Telegram group conversation (``tg:<group>:<user>``, metadata ``group`` true) is never
    followed up — the next day's questions would land in front of the neighbours."""
    kind_prefix = WRITABLE.get(input_channel or "")
    if kind_prefix is None or not conversation_id.startswith(kind_prefix[1]):
        return None
    kind, prefix = kind_prefix
    address = conversation_id[len(prefix):]
    if not address or len(address) > 128:
        return None
    if kind == TELEGRAM and ((metadata or {}).get("group") is not False or not address.lstrip("-").isdigit()
                             or address.startswith("-")):
        return None
    return kind, address


def due_after(moment: datetime) -> datetime:
    """10:00 China time on the day after ``moment`` (China time)."""
    day = moment.astimezone(CHINA).date() + timedelta(days=1)
    return datetime.combine(day, DUE_AT, CHINA)


def _active(db: Connection, conversation_id: str, lock: bool = False) -> Any:
    query = select(followups).where(followups.c.conversation_key == conversation_key(conversation_id),
                                    followups.c.state.in_(ACTIVE)).order_by(followups.c.id.desc()).limit(1)
    return db.execute(query.with_for_update() if lock else query).first()


def active(conversation_id: str, url: str | None = None) -> Followup | None:
    """The follow-up still to come or under way for this conversation, if any."""
    with engine(url).connect() as db:
        row = _active(db, conversation_id)
    return _followup(row) if row else None


def consent(conversation_id: str, channel: str, address: str, scenario: str | None, payment_route: str | None,
            amount_band: str | None, url: str | None = None, clock: Clock = now) -> Followup:
    """The resident agreed: a ``pending`` follow-up due :func:`due_after` now. A conversation has one at a time
    (a second consent returns the one there is)."""
    if amount_band not in (None, *AMOUNT_BANDS):
        raise ValueError(f"not an amount band: {amount_band!r}")
    moment = utc(clock())
    with engine(url).begin() as db:
        found = _active(db, conversation_id, lock=True)
        if found is None:
            db.execute(followups.insert().values(
                conversation_key=conversation_key(conversation_id), conversation_id=conversation_id[:160],
                channel=channel[:16], address=address[:128], scenario=(scenario or "none")[:64],
                payment_route=(payment_route or None) and payment_route[:ROUTE_CHARS], amount_band=amount_band,
                state=PENDING, created_at=moment, due_at=utc(due_after(moment))))
            found = _active(db, conversation_id)
    return _followup(found)


_FORGET = {"conversation_key": None, "conversation_id": None, "address": None}


def stop(conversation_id: str, url: str | None = None, clock: Clock = now) -> bool:
    """The resident said 不用了 / 别问了: the follow-up of this conversation ends now, its address deleted.
    Whether there was one to stop."""
    with engine(url).begin() as db:
        done = db.execute(followups.update().where(
            followups.c.conversation_key == conversation_key(conversation_id), followups.c.state.in_(ACTIVE))
            .values(state=STOPPED, finished_at=utc(clock()), **_FORGET))
    return bool(done.rowcount)


def begin(conversation_id: str, url: str | None = None, clock: Clock = now) -> Followup | None:
    """The follow-up of this conversation as its questions start: the one the job claimed (``asked``), or a
    ``pending`` one the resident asked to start early, claimed now. None when there is none."""
    with engine(url).begin() as db:
        found = _active(db, conversation_id, lock=True)
        if found is None:
            return None
        if found.state == PENDING and not _claimed(db, found.id, utc(clock())):
            return None
        return _followup(db.execute(select(followups).where(followups.c.id == found.id)).one())


def record_answer(conversation_id: str, question: str, value: str, url: str | None = None) -> bool:
    """Keep an answer as it comes: a resident who answers after the conversation's session ended goes on
    from the next question (``actions.actions`` resumes it)."""
    if value not in followup.ANSWERS[question] and value != followup.SKIPPED:
        raise ValueError(f"not an answer to {question}: {value!r}")
    with engine(url).begin() as db:
        done = db.execute(followups.update().where(
            followups.c.conversation_key == conversation_key(conversation_id), followups.c.state == ASKED)
            .values(**{_COLUMN[question]: value}))
    return bool(done.rowcount)


def finish(conversation_id: str, answers: Mapping[str, str | None], url: str | None = None,
           clock: Clock = now) -> Card | None:
    """The questions are over: the case card is written and the follow-up is ``done``, in one transaction.
    ``answers`` are the form's (unanswered ones None); those the row kept fill the gaps. None when this
    conversation had no follow-up under way (it was stopped, or expired meanwhile): no card then."""
    moment = utc(clock())
    with engine(url).begin() as db:
        found = _active(db, conversation_id, lock=True)
        if found is None or found.state != ASKED:
            return None
        kept = {question: getattr(found, column) for question, column in _COLUMN.items()}
        given = {q: v for q, v in answers.items() if v in followup.ANSWERS.get(q, ())}
        card = Card(day=moment.astimezone(CHINA).date(), scenario=found.scenario, channel=found.channel,
                    payment_route=found.payment_route, amount_band=found.amount_band,
                    **followup.card_values({**kept, **given}))
        db.execute(cards.insert().values(**card.__dict__))
        db.execute(followups.update().where(followups.c.id == found.id).values(
            state=DONE, finished_at=moment, **_FORGET, **{_COLUMN[q]: v for q, v in given.items()}))
    return card


# -- the job's side (bot.followup_job) ---------------------------------------------------------------

def due(moment: datetime, url: str | None = None, limit: int = 100) -> list[Followup]:
    """Pending follow-ups whose time has come (and not passed by more than :data:`LATE_LIMIT`), oldest first."""
    moment = utc(moment)
    with engine(url).connect() as db:
        rows = db.execute(select(followups).where(
            followups.c.state == PENDING, followups.c.due_at <= moment,
            followups.c.due_at > moment - LATE_LIMIT).order_by(followups.c.due_at).limit(limit)).fetchall()
    return [_followup(row) for row in rows]


def _claimed(db: Connection, followup_id: int, moment: datetime) -> bool:
    done = db.execute(followups.update().where(followups.c.id == followup_id, followups.c.state == PENDING)
                      .values(state=ASKED, asked_at=utc(moment)))
    return done.rowcount == 1


def claim(followup_id: int, moment: datetime, url: str | None = None) -> bool:
    """True for the one caller that moves this follow-up from ``pending`` to ``asked`` (and so may send it)."""
    with engine(url).begin() as db:
        return _claimed(db, followup_id, moment)


def release(followup_id: int, url: str | None = None) -> None:
    """Back to ``pending``: Rasa could not be reached, so nothing was said; the next look tries again."""
    with engine(url).begin() as db:
        db.execute(followups.update().where(followups.c.id == followup_id, followups.c.state == ASKED)
                   .values(state=PENDING, asked_at=None))


def delivered(followup_id: int, url: str | None = None) -> None:
    """The first question reached the resident: the address and the conversation id are no longer needed."""
    with engine(url).begin() as db:
        db.execute(followups.update().where(followups.c.id == followup_id)
                   .values(address=None, conversation_id=None))


def abandon(followup_id: int, url: str | None = None, clock: Clock = now) -> None:
    """It cannot happen (the resident blocked the bot, Rasa failed mid-way): ended, the address deleted."""
    with engine(url).begin() as db:
        db.execute(followups.update().where(followups.c.id == followup_id, followups.c.state.in_(ACTIVE))
                   .values(state=EXPIRED, finished_at=utc(clock()), **_FORGET))


def expire(moment: datetime, url: str | None = None) -> int:
    """End the follow-ups that can no longer happen (see :data:`LATE_LIMIT`, :data:`ANSWER_WINDOW`)."""
    moment = utc(moment)
    with engine(url).begin() as db:
        late = db.execute(followups.update().where(
            followups.c.state == PENDING, followups.c.due_at <= moment - LATE_LIMIT)
            .values(state=EXPIRED, finished_at=moment, **_FORGET)).rowcount
        unanswered = db.execute(followups.update().where(
            followups.c.state == ASKED, followups.c.asked_at <= moment - ANSWER_WINDOW)
            .values(state=EXPIRED, finished_at=moment, **_FORGET)).rowcount
    return int(late or 0) + int(unanswered or 0)


# -- the officers' side ---------------------------------------------------------------------------------

def list_cards(since: date | None = None, until: date | None = None, url: str | None = None) -> list[Card]:
    """The case cards of the days from ``since`` to ``until`` (both included), oldest first."""
    query = select(cards).order_by(cards.c.day, cards.c.id)
    if since:
        query = query.where(cards.c.day >= since)
    if until:
        query = query.where(cards.c.day <= until)
    with engine(url).connect() as db:
        return [Card(**{name: getattr(row, name) for name in ("day", *CARD_FIELDS)}) for row in db.execute(query)]


def card_counts(since: date, until: date, url: str | None = None) -> dict[str, dict[str, int]]:
    """For each card field, how many cards of the days from ``since`` to ``until`` have each value, ``total``
    included (``{"total": {"": 12}, "contact": {"phone": 5, "sms": 4, "unknown": 3}, …}``); for a daily page.
    Booleans count as ``yes`` / ``no``, a value not given as ``unknown``."""
    counts: dict[str, dict[str, int]] = {}
    window = (cards.c.day >= since, cards.c.day <= until)
    with engine(url).connect() as db:
        counts["total"] = {"": int(db.execute(select(func.count(cards.c.id)).where(*window)).scalar_one())}
        for name in CARD_FIELDS:
            column = cards.c[name]
            found: dict[str, int] = {}
            for value, n in db.execute(select(column, func.count(cards.c.id)).where(*window).group_by(column)):
                found[shown(value)] = int(n)
            counts[name] = found
    return counts


def shown(value: Any) -> str:
    """A card value as officers read it in a list: ``yes`` / ``no``, ``unknown`` for a value not given."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def cards_csv(found: list[Card]) -> str:
    """The cards as CSV, one column per field (``yes`` / ``no`` / ``unknown`` for the booleans)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("day", *CARD_FIELDS))
    for card in found:
        writer.writerow((card.day.isoformat(), *(shown(getattr(card, name)) for name in CARD_FIELDS)))
    return out.getvalue()

