"""The officers' review queue: residents' reports and disputed verdicts, grouped, and every decision audited.

Officers look at groups, not at single messages: fifty residents reporting one number are one row with
a count, and thirty copies of one SMS with different links are one row too (near-duplicates by the
fingerprint of :mod:`bot.fingerprints`): each link is an indicator of its own, but the text is the same scam, and
it is the text that the known-scam library needs to catch the next link. A group counts residents, not
rows: one 举报 with two numbers is two rows of one resident. The decisions:

- a reported indicator is confirmed (with an optional expiry), rejected or expired (:func:`decide_indicator`);
  confirming is what makes the next consultation that mentions it high risk (a confirmed indicator a
  resident reports again stays confirmed);
- a group of reported texts is added to the known-scam library or dismissed (:func:`decide_reports`);
- a group of disputed verdicts is dismissed or turned into a training example (:func:`decide_disputes`):
  the example itself goes into the admin's draft and live through validate → train → publish, which only
  administrators may do; this module only records the decision.

Every decision writes a row of ``audit_log`` in the same transaction: who, what, which rows.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from bot import fingerprints, known, near_duplicates, scam_library
from bot.alerts.model import audit_log
from bot.reports import ACCEPTED, DISMISSED, EXAMPLE, OPEN, WRONG, feedback, reports
from bot.store import aware, engine, now, utc

GROUP_SCAN = 2000
"""At most this many of the latest open texts are grouped per page: the queue is read by people, the oldest
of a flood are the same as the newest."""


@dataclass(frozen=True)
class IndicatorGroup:
    """A reported indicator waiting for a decision, with what residents said about it."""

    kind: str
    value: str
    state: str
    report_count: int
    first_seen: datetime
    last_seen: datetime
    sample: str  # the latest reported message with it, redacted
    channels: tuple[str, ...]
    regions: tuple[str, ...]


@dataclass
class TextGroup:
    """Near-duplicate reported texts or disputed verdicts: one row of the queue."""

    ids: list[int]
    sample: str
    fingerprint: str
    last: datetime
    claims: Counter[str] = field(default_factory=Counter)  # disputes: 是诈骗 / 不是诈骗 / 类型不对
    scenarios: Counter[str] = field(default_factory=Counter)  # disputes: what the bot said it resembles
    risks: Counter[str] = field(default_factory=Counter)  # disputes: the risk the bot gave
    answer: str = ""  # disputes: the bot's latest answer, redacted
    reporters: set[str] = field(default_factory=set, repr=False)  # reporter keys: residents are counted, not rows

    @property
    def count(self) -> int:
        """How many residents sent this text (a resident who sent it twice, or with two numbers, counts once)."""
        return len(self.reporters) or len(self.ids)


def _audit(db: Connection, actor: str, action: str, detail: dict[str, object]) -> None:
    db.execute(audit_log.insert().values(at=now(), actor=actor[:256], action=action[:64],
                                         detail=json.dumps(detail, ensure_ascii=False, sort_keys=True)))


def indicator_groups(url: str | None = None, limit: int = 100) -> list[IndicatorGroup]:
    """Reported (undecided) indicators, the most reported first."""
    with engine(url).connect() as db:
        rows = db.execute(select(known.indicators).where(known.indicators.c.state == known.REPORTED)
                          .order_by(known.indicators.c.report_count.desc(), known.indicators.c.last_seen.desc())
                          .limit(limit)).all()
        groups = []
        for row in rows:
            mentions = db.execute(select(reports.c.text, reports.c.channel, reports.c.region).where(
                reports.c.kind == row.kind, reports.c.value == row.value).order_by(reports.c.id.desc()).limit(50)).all()
            groups.append(IndicatorGroup(
                row.kind, row.value, row.state, row.report_count, aware(row.first_seen),
                aware(row.last_seen), mentions[0].text if mentions else (row.note or ""),
                tuple(sorted({m.channel for m in mentions})), tuple(sorted({m.region for m in mentions if m.region}))))
    return groups


def _group(rows: Sequence[object], threshold: float) -> list[TextGroup]:
    """Rows (newest first) in groups of near-duplicate texts (:func:`bot.near_duplicates.group`), the most
    reported first."""
    groups = []
    for members in near_duplicates.group([row.fingerprint for row in rows], threshold):  # type: ignore[attr-defined]
        first = rows[members[0]]
        home = TextGroup([], first.text, first.fingerprint, aware(first.created_at))  # type: ignore[attr-defined]
        for row in (rows[i] for i in members):
            home.ids.append(row.id)  # type: ignore[attr-defined]
            home.reporters.add(row.reporter)  # type: ignore[attr-defined]
            if hasattr(row, "claim"):
                home.claims[row.claim or "unanswered"] += 1
                home.scenarios[row.scenario or "none"] += 1
                home.risks[row.risk or ""] += 1
                home.answer = home.answer or row.answer
        groups.append(home)
    return sorted(groups, key=lambda g: (-g.count, -g.last.timestamp()))


def _open_texts() -> ColumnElement[bool]:
    """Reported messages waiting for review: with or without indicators, long enough to be compared (a bare
    "举报 138…" is only its number's, decided on the indicator)."""
    return and_(reports.c.state == OPEN, func.length(reports.c.fingerprint) >= fingerprints.MIN_FINGERPRINT)


def report_text_groups(url: str | None = None, threshold: float = fingerprints.SIMILARITY_THRESHOLD) -> list[TextGroup]:
    """Open reported messages, grouped by near-duplicate text, the most reported first."""
    with engine(url).connect() as db:
        rows = db.execute(select(reports.c.id, reports.c.reporter, reports.c.text, reports.c.fingerprint,
                                 reports.c.created_at).where(_open_texts())
                          .order_by(reports.c.id.desc()).limit(GROUP_SCAN)).all()
    return _group(rows, threshold)


def dispute_groups(url: str | None = None, threshold: float = fingerprints.SIMILARITY_THRESHOLD) -> list[TextGroup]:
    """Open 判断不对 feedback, grouped by near-duplicate message, with what residents claimed."""
    with engine(url).connect() as db:
        rows = db.execute(select(feedback.c.id, feedback.c.reporter, feedback.c.text, feedback.c.fingerprint,
                                 feedback.c.created_at, feedback.c.claim, feedback.c.scenario, feedback.c.risk,
                                 feedback.c.answer).where(
            feedback.c.verdict == WRONG, feedback.c.state == OPEN).order_by(feedback.c.id.desc())
            .limit(GROUP_SCAN)).all()
    return _group(rows, threshold)


def indicator_sample(kind: str, value: str, url: str | None = None) -> str:
    """The latest message residents reported with this indicator in it (redacted when it was stored)."""
    with engine(url).connect() as db:
        row = db.execute(select(reports.c.text).where(reports.c.kind == kind, reports.c.value == value)
                         .order_by(reports.c.id.desc()).limit(1)).first()
    return row.text if row else ""


def example_text(ids: Sequence[int], url: str | None = None) -> str | None:
    """The text a group of disputes becomes as a training example: its newest open one, the sample the page
    showed (and the first of what :func:`decide_disputes` returns). None when all were decided."""
    with engine(url).connect() as db:
        row = db.execute(select(feedback.c.text).where(
            feedback.c.id.in_(list(ids)), feedback.c.verdict == WRONG, feedback.c.state == OPEN)
            .order_by(feedback.c.id.desc()).limit(1)).first()
    return row.text if row else None


def decide_indicator(actor: str, decision: str, kind: str, value: str, url: str | None = None,
                     expires_in: timedelta | None = None, note: str | None = None) -> known.Indicator:
    """``confirm``, ``reject`` or ``expire`` an indicator, audited in the same transaction.

    The states are :func:`bot.known.confirm`'s, :func:`~bot.known.reject`'s and :func:`~bot.known.expire`'s,
    written here because those commit on their own: a decision whose audit row cannot be written must not be
    made. An indicator nobody reported is created in the decided state."""
    moment = now()
    values: dict[str, object]
    if decision == "confirm":
        if not actor.strip():
            raise ValueError("confirming needs the officer's name")
        values = {"state": known.CONFIRMED, "confirmed_by": actor.strip()[:128], "confirmed_at": moment,
                  "expires_at": moment + expires_in if expires_in else None}
    elif decision == "reject":
        values = {"state": known.REJECTED}
    elif decision == "expire":
        values = {"state": known.EXPIRED, "expires_at": moment}
    else:
        raise ValueError(f"unknown decision {decision!r}")
    if note is not None and decision != "expire":
        values["note"] = note
    key = known._key(kind, value)
    table = known.indicators
    this = and_(table.c.kind == kind, table.c.value == key)
    with engine(url).begin() as db:
        if db.execute(table.update().where(this).values(**values)).rowcount == 0:
            db.execute(table.insert().values(kind=kind, value=key, report_count=0, first_seen=moment,
                                             last_seen=moment, **values))
        result = known._indicator(db.execute(select(table).where(this)).one())
        expires_at = utc(result.expires_at).isoformat() if result.expires_at else None
        _audit(db, actor, f"indicator_{decision}", {
            "kind": result.kind, "value": result.value, "expires_at": expires_at, "reports": result.report_count})
    return result


def decide_reports(actor: str, ids: Sequence[int], decision: str, scenario: str = "", title: str = "",
                   url: str | None = None) -> int:
    """Reported texts (a group's ids) ``accept``-ed into the known-scam library (one entry, the group's
    latest text) or ``dismiss``-ed; audited. Returns how many rows were decided (open ones only)."""
    if decision not in ("accept", "dismiss"):
        raise ValueError(f"unknown decision {decision!r}")
    moment = now()
    with engine(url).begin() as db:
        rows = db.execute(select(reports.c.id, reports.c.text).where(  # locked: two officers decide once
            reports.c.id.in_(list(ids)), reports.c.state == OPEN).order_by(reports.c.id.desc())
            .with_for_update()).all()
        if not rows:
            return 0
        decided = [row.id for row in rows]
        db.execute(reports.update().where(reports.c.id.in_(decided), reports.c.state == OPEN).values(
            state=ACCEPTED if decision == "accept" else DISMISSED, decided_by=actor[:128], decided_at=moment))
        if decision == "accept":
            scam_library.add_known([{"text": rows[0].text, "scenario": scenario, "title": title,
                              "source": f"report:{rows[0].id}"}], connection=db)
        _audit(db, actor, f"reports_{decision}", {"ids": decided, "scenario": scenario or None})
    return len(decided)


def decide_disputes(actor: str, ids: Sequence[int], decision: str, scenario: str = "",
                    url: str | None = None) -> list[str]:
    """Disputed verdicts (a group's ids) turned into a training ``example`` of ``scenario`` or
    ``dismiss``-ed; audited. Returns the decided texts (the example's text is the first) so that the
    admin can put it into the draft."""
    if decision not in ("example", "dismiss"):
        raise ValueError(f"unknown decision {decision!r}")
    if decision == "example" and not scenario:
        raise ValueError("a training example needs the scenario the reviewer chose")
    moment = now()
    with engine(url).begin() as db:
        rows = db.execute(select(feedback.c.id, feedback.c.text).where(  # locked: two officers decide once
            feedback.c.id.in_(list(ids)), feedback.c.verdict == WRONG, feedback.c.state == OPEN)
            .order_by(feedback.c.id.desc()).with_for_update()).all()
        if not rows:
            return []
        decided = [row.id for row in rows]
        db.execute(feedback.update().where(feedback.c.id.in_(decided), feedback.c.state == OPEN).values(
            state=EXAMPLE if decision == "example" else DISMISSED, decided_by=actor[:128], decided_at=moment,
            example_scenario=scenario[:64] if decision == "example" else None))
        _audit(db, actor, f"disputes_{decision}", {"ids": decided, "scenario": scenario or None})
    return [row.text for row in rows]


def open_counts(url: str | None = None) -> dict[str, int]:
    """How much waits for review (the overview's badge)."""
    with engine(url).connect() as db:
        return {
            "indicators": int(db.execute(select(func.count()).select_from(known.indicators).where(
                known.indicators.c.state == known.REPORTED)).scalar_one()),
            "texts": int(db.execute(select(func.count()).select_from(  # residents' texts: one per resident and text
                select(reports.c.reporter, reports.c.fingerprint).where(_open_texts()).distinct().subquery())
            ).scalar_one()),
            "disputes": int(db.execute(select(func.count()).select_from(feedback).where(
                feedback.c.verdict == WRONG, feedback.c.state == OPEN)).scalar_one()),
        }
