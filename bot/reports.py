"""What residents send back: 举报 of numbers, links and messages, and feedback on a verdict.

Both end in the officers' review queue (:mod:`bot.review`). What is kept is only what review needs:
the normalised indicator, the message redacted (:func:`nlu.entities.redact`), the channel, the region and
a salted hash of the sender (:func:`reporter_key`, a key of its own so that a report cannot be joined to
the resident's conversation). Never a name, a number of the resident's own, or a picture.

Residents' reports are counted, so one person must not count twice or flood the queue:

- a sender who already reported an indicator (or, with none in the message, the same text) within
  :data:`DUPLICATE_WINDOW` is thanked again but not counted again (``duplicate``);
- a sender gets at most :data:`REPORTS_PER_HOUR` and :data:`REPORTS_PER_DAY` recorded reports and as
  many pieces of feedback; beyond that the answer says so and nothing is written (``limited``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, DateTime, Integer, String, Table, Text, and_, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot import fingerprints, known
from bot.store import StoreSessionStorage, engine, metadata, now
from core.indicators import from_entities
from nlu.entities import redact

RECORDED, DUPLICATE, LIMITED, NOTHING = "recorded", "duplicate", "limited", "nothing"
"""What happened to a report or a piece of feedback (the reply depends on it)."""

REPORTS_PER_HOUR = 5
REPORTS_PER_DAY = 20
FEEDBACK_PER_DAY = 30
DUPLICATE_WINDOW = timedelta(days=30)
MAX_TEXT_CHARS = 500  # what review needs of a message: a scam SMS is shorter
MAX_ANSWER_CHARS = 1000

USEFUL, WRONG = "useful", "wrong"
CLAIMS = ("scam", "not_scam", "wrong_type")
"""What a resident who says 判断不对 answers: 是诈骗 / 不是诈骗 / 类型不对."""
OPEN, EXAMPLE, ACCEPTED, DISMISSED, CLOSED = "open", "example", "accepted", "dismissed", "closed"
"""Review states: a disputed verdict or a reported text waiting (``open``); a dispute turned into a training
example; a reported text added to the known-scam library (``accepted``); either closed without that
(``dismissed``); a 有用 needs no review (``closed``). Reported indicators are decided on the indicator."""

reports = Table(
    "reports", metadata,
    Column("id", Integer, primary_key=True),
    Column("reporter", String(64), nullable=False, index=True),  # reporter_key(channel, sender)
    Column("kind", String(16)),  # core.indicators.KINDS; NULL for a message with no indicator in it
    Column("value", String(256)),  # normalised indicator
    Column("text", Text, nullable=False, default=""),  # the reported message, redacted
    Column("fingerprint", Text, nullable=False, default=""),  # fingerprints.fingerprint(text): near-duplicates group
    Column("channel", String(32), nullable=False),
    Column("region", String(64), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("state", String(16), nullable=False, default=OPEN),  # the text's review: OPEN/ACCEPTED/DISMISSED
    Column("decided_by", String(128)),
    Column("decided_at", DateTime(timezone=True)),
)

feedback = Table(
    "verdict_feedback", metadata,
    Column("id", Integer, primary_key=True),
    Column("reporter", String(64), nullable=False, index=True),
    Column("verdict", String(16), nullable=False),  # USEFUL or WRONG
    Column("claim", String(16)),  # CLAIMS, for WRONG once the resident answered
    Column("text", Text, nullable=False, default=""),  # the message the verdict was about, redacted
    Column("fingerprint", Text, nullable=False, default=""),
    Column("answer", Text, nullable=False, default=""),  # what the bot said, redacted
    Column("scenario", String(64), nullable=False, default=""),  # what the bot said it resembles
    Column("risk", String(16), nullable=False, default=""),
    Column("channel", String(32), nullable=False),
    Column("region", String(64), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("state", String(16), nullable=False, default=OPEN),  # OPEN / EXAMPLE / DISMISSED; USEFUL is closed
    Column("decided_by", String(128)),
    Column("decided_at", DateTime(timezone=True)),
    Column("example_scenario", String(64)),  # the scenario the reviewer gave the training example
)


def reporter_key(channel: str, sender: str) -> str:
    """The salted hash a report is kept under: stable per sender, never the sender id or the tracker's key."""
    from bot.privacy import hash_id

    return hash_id(f"reporter\x1f{channel}\x1f{sender}")


@dataclass(frozen=True)
class ReportOutcome:
    """What became of a resident's 举报, for the reply."""

    status: str  # RECORDED / DUPLICATE / LIMITED / NOTHING
    indicators: list[known.Indicator] = field(default_factory=list)  # as stored after this report

    @property
    def counted(self) -> bool:
        return self.status == RECORDED


def _recent(db: Connection, table: Table, reporter: str, since: datetime) -> int:
    return int(db.execute(select(func.count(table.c.id)).where(
        table.c.reporter == reporter, table.c.created_at >= since)).scalar_one())


def _limited(db: Connection, reporter: str, moment: datetime) -> bool:
    return (_recent(db, reports, reporter, moment - timedelta(hours=1)) >= REPORTS_PER_HOUR
            or _recent(db, reports, reporter, moment - timedelta(days=1)) >= REPORTS_PER_DAY)


def submit_report(sender: str, channel: str, text: str, entities: Iterable[Mapping[str, Any]],
                  region: str = "", url: str | None = None) -> ReportOutcome:
    """A resident reported ``text`` (and the indicators the NLU found in it).

    Each indicator the sender has not reported within :data:`DUPLICATE_WINDOW` is counted once
    (:func:`bot.known.report`); a message without indicators is kept as a text for review, and so is one
    with indicators when it is long enough to compare (:func:`bot.review.report_text_groups`). A sender
    over the limits gets ``limited`` and nothing is written; each indicator kept is one report against them."""
    pairs = from_entities(entities)
    kept_text = redact(text).strip()[:MAX_TEXT_CHARS]
    print_ = fingerprints.fingerprint(kept_text)
    if not pairs and len(print_) < fingerprints.MIN_FINGERPRINT:
        return ReportOutcome(NOTHING)
    reporter = reporter_key(channel, sender)
    moment = now()
    fresh: list[tuple[str | None, str | None]] = []
    with engine(url).begin() as db:
        if _limited(db, reporter, moment):
            return ReportOutcome(LIMITED)
        since = moment - DUPLICATE_WINDOW
        for kind, value in pairs or [(None, None)]:
            same = (and_(reports.c.kind == kind, reports.c.value == value) if kind
                    else and_(reports.c.kind.is_(None), reports.c.fingerprint == print_))
            seen = db.execute(select(reports.c.id).where(
                reports.c.reporter == reporter, reports.c.created_at >= since, same).limit(1)).first()
            if seen is None:
                fresh.append((kind, value))
        if fresh:
            db.execute(reports.insert(), [
                {"reporter": reporter, "kind": kind, "value": value, "text": kept_text, "fingerprint": print_,
                 "channel": channel[:32], "region": region[:64], "created_at": moment, "state": OPEN}
                for kind, value in fresh])
    stored = [_count(kind, value, url) for kind, value in fresh if kind and value]
    if not fresh:
        return ReportOutcome(DUPLICATE, known.lookup(pairs, url))
    return ReportOutcome(RECORDED, stored or known.lookup(pairs, url))


def _count(kind: str, value: str, url: str | None) -> known.Indicator:
    """:func:`bot.known.report`, once more if it lost the race to create the indicator.

    It reads, then inserts an indicator nobody reported before: two residents reporting a new number at the
    same moment both find nothing, and the unique (kind, value) refuses the second insert. That report's
    transaction is rolled back; the second try finds the row and counts on it (an atomic ``+ 1``)."""
    try:
        return known.report(kind, value, url)
    except IntegrityError:
        return known.report(kind, value, url)


OFFER_SECONDS = 3600
"""How long the numbers of a high-risk verdict wait for a typed 举报 (WeChat has no button to carry them)."""


def _offer_key(channel: str, sender: str) -> str:
    return f"report-offer:{reporter_key(channel, sender)}"


def offer(sender: str, channel: str, entities: Iterable[Mapping[str, Any]], url: str | None = None) -> None:
    """Keep, for :data:`OFFER_SECONDS`, the indicators of a message just judged high risk, so that "举报" typed
    after it reports them: the conversation holds them masked from the end of that turn, and a WeChat
    resident cannot press the button that carries them. Only the indicator entities are kept, in the store's
    short-lived values (deleted when read back after expiry and by the daily retention)."""
    kept = [{"entity": str(e.get("entity")), "value": str(e.get("value"))} for e in entities
            if from_entities([e])]
    if kept:
        StoreSessionStorage(url).set(_offer_key(channel, sender), kept, ttl=OFFER_SECONDS)


def offered(sender: str, channel: str, url: str | None = None) -> list[dict[str, str]]:
    """The indicator entities :func:`offer` kept for this sender, if they have not expired."""
    found = StoreSessionStorage(url).get(_offer_key(channel, sender), default=None)
    return list(found) if isinstance(found, list) else []


def submit_feedback(sender: str, channel: str, verdict: str, text: str, answer: str, scenario: str = "",
                    risk: str = "", claim: str | None = None, region: str = "", url: str | None = None) -> str:
    """A resident said a verdict was 有用 (``useful``) or 判断不对 (``wrong``, with ``claim`` once answered).

    A second word on the same message from the same sender replaces the first (the claim arrives after
    the 判断不对); feedback over :data:`FEEDBACK_PER_DAY` is not kept. Returns RECORDED, DUPLICATE or LIMITED.

    The claim's button may come without what the bot said: an empty ``answer``, ``scenario`` or ``risk`` keeps
    the one already kept, and a 判断不对 without a claim does not forget the claim already given."""
    if verdict not in (USEFUL, WRONG):
        raise ValueError(f"verdict is {USEFUL!r} or {WRONG!r}")
    if claim is not None and claim not in CLAIMS:
        raise ValueError(f"claim is one of {', '.join(CLAIMS)}")
    if verdict == USEFUL:
        claim = None  # a claim answers 判断不对 only
    reporter = reporter_key(channel, sender)
    kept_text = redact(text).strip()[:MAX_TEXT_CHARS]
    print_ = fingerprints.fingerprint(kept_text)
    moment = now()
    values = {"verdict": verdict, "claim": claim, "answer": redact(answer).strip()[:MAX_ANSWER_CHARS],
              "scenario": scenario[:64], "risk": risk[:16], "state": OPEN if verdict == WRONG else CLOSED,
              "created_at": moment}
    with engine(url).begin() as db:
        earlier = db.execute(select(feedback.c.id, feedback.c.verdict, feedback.c.claim).where(
            feedback.c.reporter == reporter, feedback.c.text == kept_text,
            feedback.c.created_at >= moment - timedelta(days=1), feedback.c.decided_at.is_(None),
        ).order_by(feedback.c.id.desc()).limit(1)).first()
        if earlier is not None:
            if earlier.verdict == verdict and (claim is None or earlier.claim == claim):
                return DUPLICATE
            kept = {key: value for key, value in values.items()
                    if value or key not in ("answer", "scenario", "risk")}
            db.execute(feedback.update().where(feedback.c.id == earlier.id).values(**kept))
            return RECORDED
        if _recent(db, feedback, reporter, moment - timedelta(days=1)) >= FEEDBACK_PER_DAY:
            return LIMITED
        db.execute(feedback.insert().values(reporter=reporter, text=kept_text, fingerprint=print_,
                                            channel=channel[:32], region=region[:64], **values))
    return RECORDED


def feedback_row(feedback_id: int, url: str | None = None) -> dict[str, Any] | None:
    with engine(url).connect() as db:
        row = db.execute(select(feedback).where(feedback.c.id == feedback_id)).first()
    return dict(row._mapping) if row is not None else None
