"""Known scam indicators: numbers, links and accounts officers confirm or residents report.

Phone numbers, domains, bank cards, QQ/WeChat ids and app names, normalised by :mod:`core.indicators`, are in
one of the states ``reported`` (by residents, with a count and when first and last seen), ``confirmed`` (by an
officer, who and when, optional expiry), ``rejected`` or ``expired``. A message's indicators cost one query
(:func:`lookup`). Residents' 举报 (:mod:`bot.reports`) report them; the review queue (:mod:`bot.review`) and
``fraudbot indicator`` confirm, reject or expire them. :func:`lookups_for` is what a consultation gets: the
stored indicators among its entities and the known scam text it copies (:mod:`bot.scam_library`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, DateTime, Integer, String, Table, Text, UniqueConstraint, and_, or_, select
from sqlalchemy.engine import Engine

from bot.scam_library import known_index
from bot.store import aware, engine, metadata, now
from core.indicators import KINDS, from_entities, lookup_keys, normalise
from nlu.entities import redact

logger = logging.getLogger(__name__)

REPORTED, CONFIRMED, REJECTED, EXPIRED = "reported", "confirmed", "rejected", "expired"
STATES = (REPORTED, CONFIRMED, REJECTED, EXPIRED)

indicators = Table(
    "indicators", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # core.indicators.KINDS
    Column("value", String(256), nullable=False),  # normalised (core.indicators.normalise)
    Column("state", String(16), nullable=False),
    Column("report_count", Integer, nullable=False, default=0),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("confirmed_by", String(128)),
    Column("confirmed_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    Column("note", Text),
    UniqueConstraint("kind", "value", name="uq_indicators_kind_value"),
)



@dataclass(frozen=True)
class Indicator:
    kind: str
    value: str
    state: str
    report_count: int
    first_seen: datetime
    last_seen: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None
    expires_at: datetime | None
    note: str | None

    def as_case(self) -> dict[str, object]:
        """What the verdict reads (plain data: core/ never imports the store)."""
        return {"kind": self.kind, "value": self.value, "state": self.state, "report_count": self.report_count,
                "confirmed_at": self.confirmed_at.date().isoformat() if self.confirmed_at else None}


def _indicator(row: object) -> Indicator:
    values = dict(row._mapping)  # type: ignore[attr-defined]
    values.pop("id", None)
    for name in ("first_seen", "last_seen", "confirmed_at", "expires_at"):
        values[name] = aware(values[name])
    return Indicator(**values)


def _key(kind: str, value: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown indicator kind {kind!r}: one of {', '.join(KINDS)}")
    found = normalise(kind, value)
    if not found:
        raise ValueError(f"not a {kind}: {redact(value)}")
    return found


def lookup(pairs: Iterable[tuple[str, str]], url: str | None = None) -> list[Indicator]:
    """The stored indicators (not rejected, not expired) for normalised (kind, value) pairs, in one query.

    A domain also finds its confirmed parent domains (``pay.evil.top`` finds ``evil.top``); a confirmed
    indicator past its ``expires_at`` is left out. Confirmed first. ``(kind = ? AND value = ?) OR …`` lets
    SQLite search the unique (kind, value) index once per pair (0.1 ms with 1,000,000 rows), where a row-value
    ``(kind, value) IN (…)`` reads the whole table (90 ms)."""
    wanted = {(kind, key) for kind, value in pairs for key in lookup_keys(kind, value)}
    if not wanted:
        return []
    condition = or_(*(and_(indicators.c.kind == kind, indicators.c.value == value) for kind, value in wanted))
    with engine(url).connect() as db:
        rows = [_indicator(row) for row in db.execute(
            select(indicators).where(condition, indicators.c.state.in_((REPORTED, CONFIRMED))))]
    moment = now()
    live = [r for r in rows if r.state == REPORTED or r.expires_at is None or r.expires_at > moment]
    return sorted(live, key=lambda r: (r.state != CONFIRMED, r.kind, r.value))


def report(kind: str, value: str, url: str | None = None, note: str | None = None) -> Indicator:
    """A resident reported an indicator: counted, first/last seen kept; a confirmed one stays confirmed."""
    key = _key(kind, value)
    moment = now()
    with engine(url).begin() as db:
        found = db.execute(select(indicators).where(indicators.c.kind == kind, indicators.c.value == key)).first()
        if found is None:
            db.execute(indicators.insert().values(kind=kind, value=key, state=REPORTED, report_count=1,
                                                  first_seen=moment, last_seen=moment, note=note))
        else:
            db.execute(indicators.update().where(indicators.c.id == found.id).values(
                report_count=indicators.c.report_count + 1, last_seen=moment))
        return _indicator(db.execute(select(indicators).where(indicators.c.kind == kind,
                                                              indicators.c.value == key)).one())


def _set_state(kind: str, value: str, url: str | None, **values: object) -> Indicator:
    key = _key(kind, value)
    moment = now()
    with engine(url).begin() as db:
        found = db.execute(select(indicators.c.id).where(indicators.c.kind == kind, indicators.c.value == key)).first()
        if found is None:
            db.execute(indicators.insert().values(kind=kind, value=key, report_count=0, first_seen=moment,
                                                  last_seen=moment, **values))
        else:
            db.execute(indicators.update().where(indicators.c.id == found.id).values(**values))
        return _indicator(db.execute(select(indicators).where(indicators.c.kind == kind,
                                                              indicators.c.value == key)).one())


def confirm(kind: str, value: str, officer: str, url: str | None = None, expires_in: timedelta | None = None,
            note: str | None = None) -> Indicator:
    """An officer confirmed the indicator as a scam's (created if nobody reported it); optional expiry."""
    if not officer.strip():
        raise ValueError("confirming needs the officer's name")
    moment = now()
    values: dict[str, object] = {"state": CONFIRMED, "confirmed_by": officer.strip()[:128], "confirmed_at": moment,
                                 "expires_at": moment + expires_in if expires_in else None}
    if note is not None:
        values["note"] = note
    return _set_state(kind, value, url, **values)


def expire(kind: str, value: str, url: str | None = None) -> Indicator:
    """No longer a scam's (a number reassigned, a domain taken down): not matched any more, kept for history."""
    return _set_state(kind, value, url, state=EXPIRED, expires_at=now())


def reject(kind: str, value: str, url: str | None = None, note: str | None = None) -> Indicator:
    """Reviewed and not a scam's: residents' reports of it are no longer mentioned."""
    values: dict[str, object] = {"state": REJECTED}
    if note is not None:
        values["note"] = note
    return _set_state(kind, value, url, **values)


def listing(url: str | None = None, state: str | None = None, limit: int = 100) -> list[Indicator]:
    query = select(indicators).order_by(indicators.c.last_seen.desc()).limit(limit)
    if state:
        query = query.where(indicators.c.state == state)
    with engine(url).connect() as db:
        return [_indicator(row) for row in db.execute(query)]


def import_indicators(items: Iterable[dict[str, str]], url: str | None = None, officer: str | None = None,
                      db_engine: Engine | None = None, batch: int = 5000) -> int:
    """Bulk import ({"kind", "value", "state"?, "note"?}): new rows only, in batches; confirmed ones get
    ``officer`` (or "import"). Values that do not normalise are skipped. Returns how many were added."""
    moment = now()
    added = 0
    target = db_engine or engine(url)
    for chunk in _chunks(items, batch):
        rows = {}
        for item in chunk:
            kind = str(item.get("kind") or "")
            value = normalise(kind, str(item.get("value") or "")) if kind in KINDS else None
            state = str(item.get("state") or CONFIRMED)
            if not value or state not in STATES:
                continue
            confirmed = state == CONFIRMED
            rows[(kind, value)] = {"kind": kind, "value": value, "state": state,
                                   "report_count": int(item.get("report_count") or 0),
                                   "first_seen": moment, "last_seen": moment,
                                   "confirmed_by": (officer or "import") if confirmed else None,
                                   "confirmed_at": moment if confirmed else None, "expires_at": None,
                                   "note": item.get("note")}
        with target.begin() as db:
            existing = set()
            for kind in {k for k, _ in rows}:
                values = [v for k, v in rows if k == kind]
                existing |= {(kind, v) for (v,) in db.execute(select(indicators.c.value).where(
                    indicators.c.kind == kind, indicators.c.value.in_(values)))}
            fresh = [row for key, row in rows.items() if key not in existing]
            if fresh:
                db.execute(indicators.insert(), fresh)
            added += len(fresh)
    return added


def _chunks(items: Iterable[dict[str, str]], size: int) -> Iterator[list[dict[str, str]]]:
    chunk: list[dict[str, str]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- what a consultation gets ------------------------------------------------------------------------

def lookups_for(text: str, entities: Iterable[dict[str, object]], url: str | None = None
                ) -> tuple[dict[str, object] | None, list[dict[str, object]]]:
    """The plain data a :class:`core.verdict.Case` carries: the known scam ``text`` matches (or None) and the
    stored indicators among ``entities``. A store that cannot be read gives nothing (the verdict stands
    on the message alone) rather than no answer."""
    try:
        found = known_index(url).match(text)
        stored = lookup(from_entities(entities), url)
    except Exception:  # noqa: BLE001 - the resident still gets the verdict of the message itself
        logger.exception("known scams: lookup failed, answering without it")
        return None, []
    known = None
    if found is not None:
        known = {**found.as_json(), "title": found.title, "scenario": found.scenario,
                 "added_at": found.added_at.date().isoformat()}
    return known, [item.as_case() for item in stored]
