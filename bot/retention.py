"""Conversations are kept for a limited time; what officers count is kept for good.

Residents tell the bot about their money, their family and the scams they met. The tracker store
does not need those conversations after a few weeks, so :func:`run` (``fraudbot retention run``, and
the daily job of a deployment) deletes them after :func:`retention_days` days
(``FRAUDBOT_RETENTION_DAYS``, default 30), after rolling each finished day's consultations up into
``consultation_counts`` (day × scenario × region × intent, counts only), which the admin's overview reads for
days whose events are gone.

Order matters, and each step can be repeated: a day is rolled up once (``consultation_days`` says
which), and only rolled-up days lose events. Two rules delete, neither touching a conversation's
current session (Rasa reads a tracker from its last ``session_started`` event on, so removing rows
of that session under a live conversation could make the next save write them twice):

- a conversation whose newest event is older than the cutoff is deleted whole;
- in a conversation still going, the events older than the cutoff that precede its current session.

Everything that counts consultations (the daily report, the timely campaign tip) reads them through
:func:`daily_counts`: rolled-up days from the store, the others from the tracker store's events.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import yaml
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Integer,
    String,
    Table,
    bindparam,
    create_engine,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection

from bot.config import PROJECT_ROOT
from bot.store import engine, metadata, now, shared_values
from core.knowledge import region_key

DEFAULT_DAYS = 30
CHINA = timezone(timedelta(hours=8))  # days are counted as residents live them
CONSULT_INTENTS = ("consult", "money_already_sent", "inform")
"""A consultation is a resident's message the NLU read as describing a case (the overview counts the same)."""

consultation_counts = Table(
    "consultation_counts", metadata,
    Column("day", Date, primary_key=True),
    Column("scenario", String(64), primary_key=True),
    Column("region", String(64), primary_key=True),  # consultation_key: the group's area, or the deployment's
    Column("intent", String(32), primary_key=True),
    Column("count", Integer, nullable=False),
)

consultation_days = Table(
    "consultation_days", metadata,
    Column("day", Date, primary_key=True),  # a China-time day whose consultations are in consultation_counts
    Column("rolled_at", DateTime(timezone=True), nullable=False),
)


def tracker_db_url(endpoints: Path) -> str | None:
    """The SQLAlchemy URL of the live tracker store, from endpoints.yml (``${VAR}`` expanded)."""
    raw = re.sub(r"\$\{(\w+)\}", lambda m: os.environ.get(m[1], ""), endpoints.read_text(encoding="utf-8"))
    store = (yaml.safe_load(raw) or {}).get("tracker_store") or {}
    dialect = store.get("dialect", "sqlite")
    if dialect == "sqlite":
        db = Path(store.get("db") or "rasa.db")
        return f"sqlite:///{db if db.is_absolute() else PROJECT_ROOT / db}"
    if not store.get("url"):
        return None
    from sqlalchemy.engine import URL

    return str(URL.create(dialect, username=store.get("username"), password=store.get("password"),
                          host=store.get("url"), port=store.get("port"), database=store.get("db")))


def retention_days() -> int:
    """``FRAUDBOT_RETENTION_DAYS`` (at least 1), :data:`DEFAULT_DAYS` when unset or not a number."""
    try:
        return max(1, int(os.environ.get("FRAUDBOT_RETENTION_DAYS", DEFAULT_DAYS)))
    except ValueError:
        return DEFAULT_DAYS


def consultation_key(data: str | None) -> tuple[str, str]:
    """(scenario, region) of a stored user event: the scenario the classifier gave it (``none`` when it has
    none) and the region its channel put in the metadata (a registered group's area), else the deployment's
    (``FRAUDBOT_REGION``). Never guessed from the text."""
    try:
        event = json.loads(data or "{}")
        scenario = (event.get("parse_data") or {}).get("scenario") or {}
        region = (event.get("metadata") or {}).get("region")
        return (str(scenario.get("name") or "none")[:64],
                str(region)[:64] if isinstance(region, str) and region else region_key())
    except (ValueError, AttributeError):
        return "none", region_key()


def scenario_of(data: str | None) -> str:
    """The scenario the classifier gave a stored user event (``none`` when it has none)."""
    return consultation_key(data)[0]


def day_start(day: date) -> float:
    """Unix time of a China-time day's midnight: the tracker store keeps unix timestamps."""
    return datetime.combine(day, datetime.min.time(), CHINA).timestamp()


def rolled_days(store_url: str | None = None) -> set[date]:
    with engine(store_url).connect() as db:
        return {row.day for row in db.execute(select(consultation_days.c.day))}


def rolled_counts(days: list[date], store_url: str | None = None) -> dict[date, Counter[str]]:
    """Consultations per scenario for those of ``days`` that were rolled up (others are absent)."""
    if not days:
        return {}
    with engine(store_url).connect() as db:
        found = {row.day: Counter() for row in db.execute(
            select(consultation_days.c.day).where(consultation_days.c.day.in_(days)))}
        for row in db.execute(select(consultation_counts.c.day, consultation_counts.c.scenario,
                                     func.sum(consultation_counts.c.count).label("n"))
                              .where(consultation_counts.c.day.in_(list(found)))
                              .group_by(consultation_counts.c.day, consultation_counts.c.scenario)):
            found[row.day][row.scenario] += int(row.n)
    return found


def consultations_since(since: float, until: float | None = None) -> object:
    """The query of consultations (time, intent, stored event, conversation) in ``[since, until)``: the overview,
    the roll-up, the daily report and the new scripts read the same messages."""
    query = text("SELECT timestamp, intent_name, data, sender_id FROM events WHERE type_name = 'user' "
                 "AND timestamp >= :since AND timestamp < :until AND intent_name IN :intents"
                 ).bindparams(bindparam("intents", expanding=True))
    return query.bindparams(since=since, until=until if until is not None else float("inf"),
                            intents=list(CONSULT_INTENTS))


def roll_up(tracker: Connection, store_url: str | None, today: date) -> list[date]:
    """Count every finished day (before ``today``) that has consultations and is not rolled up yet.

    Only events after the latest rolled-up day are read: days are rolled up in order, and a conversation's
    events are never written into the past."""
    done = rolled_days(store_url)
    since = day_start(max(done) + timedelta(days=1)) if done else 0.0
    rows = tracker.execute(consultations_since(since, day_start(today)))
    counts: dict[date, Counter[tuple[str, str, str]]] = {}
    for timestamp, intent, data, _sender in rows:
        day = datetime.fromtimestamp(timestamp, CHINA).date()
        if day not in done:
            counts.setdefault(day, Counter())[(*consultation_key(data), intent)] += 1
    moment = now()
    with engine(store_url).begin() as db:
        for day, per_key in sorted(counts.items()):
            db.execute(consultation_counts.insert(), [
                {"day": day, "scenario": scenario, "region": region, "intent": intent, "count": n}
                for (scenario, region, intent), n in per_key.items()])
            db.execute(consultation_days.insert().values(day=day, rolled_at=moment))
    return sorted(counts)


@dataclass(frozen=True)
class RetentionResult:
    cutoff: date  # events before this China-time day are gone
    rolled: list[date]
    conversations_deleted: int
    events_deleted: int


def run(tracker_url: str, store_url: str | None = None, days: int | None = None,
        today: date | None = None) -> RetentionResult:
    """Roll up finished days, then delete what is older than ``days`` (see the module's rules)."""
    today = today or datetime.now(CHINA).date()
    cutoff = today - timedelta(days=days or retention_days())
    until = day_start(cutoff)
    with engine(store_url).begin() as db:  # short-lived values past their time (numbers kept for a 举报)
        db.execute(shared_values.delete().where(shared_values.c.expires_at < time.time()))
    tracker_engine = create_engine(tracker_url, future=True)
    try:
        with tracker_engine.begin() as tracker:
            if not inspect(tracker).has_table("events"):
                return RetentionResult(cutoff, [], 0, 0)
            rolled = roll_up(tracker, store_url, today)
            idle = [row[0] for row in tracker.execute(text(
                "SELECT sender_id FROM events GROUP BY sender_id HAVING MAX(timestamp) < :until"), {"until": until})]
            deleted = 0
            for start in range(0, len(idle), 500):
                deleted += tracker.execute(text("DELETE FROM events WHERE sender_id IN :ids").bindparams(
                    bindparam("ids", expanding=True)), {"ids": idle[start:start + 500]}).rowcount
            older = tracker.execute(text(
                "DELETE FROM events WHERE timestamp < :until AND id < (SELECT MAX(s.id) FROM events s "
                "WHERE s.sender_id = events.sender_id AND s.type_name = 'session_started')"),
                {"until": until}).rowcount
    finally:
        tracker_engine.dispose()
    return RetentionResult(cutoff, rolled, len(idle), deleted + older)


Key = tuple[str, str, str]  # scenario, region, intent


def daily_counts(first: date, last: date, tracker_url: str | None, store_url: str | None = None
                 ) -> dict[date, Counter[Key]]:
    """Consultations per (scenario, region, intent) for every day from ``first`` to ``last``: rolled-up days
    from the store, the others from the tracker store's events."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    counts: dict[date, Counter[Key]] = {day: Counter() for day in days}
    rolled = rolled_days(store_url) & set(days)
    if rolled:
        with engine(store_url).connect() as db:
            for row in db.execute(select(consultation_counts).where(consultation_counts.c.day.in_(sorted(rolled)))):
                counts[row.day][(row.scenario, row.region, row.intent)] += row.count
    if tracker_url and len(rolled) < len(days):
        tracker = create_engine(tracker_url, future=True)
        try:
            with tracker.connect() as db:
                for start, end in _runs([day for day in days if day not in rolled]):
                    for timestamp, intent, data, _sender in db.execute(
                            consultations_since(day_start(start), day_start(end + timedelta(days=1)))):
                        day = datetime.fromtimestamp(timestamp, CHINA).date()
                        if day in counts and day not in rolled:
                            counts[day][(*consultation_key(data), intent)] += 1
        except Exception:  # noqa: BLE001 - no events table yet: nobody has talked to the bot
            pass
        finally:
            tracker.dispose()
    return counts


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) ranges: one query per range of days still in the events."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(days):
        if ranges and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges
