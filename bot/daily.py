"""The daily job: retention, the 每日研判 report to officers, and early-warning suggestions, once a day.

At :func:`daily_at` China time (``FRAUDBOT_DAILY_AT``, default 07:30, before officers' morning
meeting) the job deletes old conversations (:mod:`bot.retention`), builds yesterday's report
(:mod:`bot.daily_report`), records one suggestion per scenario and area that rose significantly,
and sends a short summary to the officers' chats named in ``FRAUDBOT_REPORT_TARGETS``
(``telegram:<chat id>``, ``wecom_robot:<key>``, ``wecom_appchat:<chat id>``, comma-separated) through
the same senders as alerts.

"Once a day" holds across restarts, a clock that jumps and several processes: the day is claimed
by inserting its row into ``daily_runs`` (a primary key), and only the process whose insert
succeeded does the work. A suggestion is a row of ``early_warnings`` keyed by (day, scenario,
region): a rise gives one suggestion, not one per message or per run. Nothing is sent to residents:
an officer turns a suggestion into a 警情通报 draft in the admin and sends it himself.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Column, Date, DateTime, Float, Integer, String, Table, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError

from bot import daily_report, health, retention
from bot.retention import CHINA
from bot.store import engine, metadata, now
from core.knowledge import scenarios

logger = logging.getLogger(__name__)

DEFAULT_AT = time(7, 30)
CHECK_SECONDS = 60.0
"""The job looks at the clock at least this often, so a clock moved forward is noticed within a minute."""

daily_runs = Table(
    "daily_runs", metadata,
    Column("day", Date, primary_key=True),  # the China-time day the job ran on (the report is of the day before)
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("outcome", String(256)),
)

OPEN, DRAFTED, DISMISSED = "open", "drafted", "dismissed"

early_warnings = Table(
    "early_warnings", metadata,
    Column("id", Integer, primary_key=True),
    Column("day", Date, nullable=False),  # the day whose consultations rose
    Column("scenario", String(64), nullable=False),
    Column("region", String(64), nullable=False),
    Column("count", Integer, nullable=False),
    Column("mean_28", Float, nullable=False),
    Column("p_value", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False, default=OPEN),
    Column("decided_by", String(128)),
    Column("decided_at", DateTime(timezone=True)),
    UniqueConstraint("day", "scenario", "region", name="one_warning_per_day_scenario_region"),
)


def daily_at() -> time:
    """``FRAUDBOT_DAILY_AT`` as HH:MM China time; :data:`DEFAULT_AT` when unset or not a time."""
    try:
        hours, minutes = os.environ.get("FRAUDBOT_DAILY_AT", "").split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        return DEFAULT_AT


def report_targets() -> list[tuple[str, str]]:
    """(channel, target) pairs of ``FRAUDBOT_REPORT_TARGETS``; malformed items are skipped with a warning."""
    found = []
    for item in filter(None, (part.strip() for part in os.environ.get("FRAUDBOT_REPORT_TARGETS", "").split(","))):
        channel, _, target = item.partition(":")
        if channel and target:
            found.append((channel, target))
        else:
            logger.warning("FRAUDBOT_REPORT_TARGETS: %r is not channel:target; skipped", item[:40])
    return found


def record_suggestions(report: daily_report.DailyReport, store_url: str | None = None) -> list[int]:
    """One ``early_warnings`` row per rising (scenario, region) of the report; returns the ids of new ones."""
    created = []
    for row in report.rising:
        try:
            with engine(store_url).begin() as db:
                result = db.execute(early_warnings.insert().values(
                    day=report.day, scenario=row.scenario, region=row.region, count=row.count, mean_28=row.mean_28,
                    p_value=row.p_value, created_at=now(), state=OPEN))
                created.append(int(result.inserted_primary_key[0]))
        except IntegrityError:  # already suggested for that day
            continue
    return created


@dataclass(frozen=True)
class Suggestion:
    id: int
    day: date
    scenario: str
    region: str
    count: int
    mean_28: float
    p_value: float
    state: str


def suggestions(store_url: str | None = None, state: str | None = OPEN, limit: int = 50) -> list[Suggestion]:
    query = select(early_warnings).order_by(early_warnings.c.day.desc(), early_warnings.c.p_value).limit(limit)
    if state:
        query = query.where(early_warnings.c.state == state)
    with engine(store_url).connect() as db:
        return [Suggestion(r.id, r.day, r.scenario, r.region, r.count, r.mean_28, r.p_value, r.state)
                for r in db.execute(query)]


def claim(day: date, store_url: str | None = None) -> bool:
    """True for the one caller that gets to run ``day``'s job."""
    try:
        with engine(store_url).begin() as db:
            db.execute(daily_runs.insert().values(day=day, started_at=now()))
        return True
    except IntegrityError:
        return False


class DailyJob:
    """Runs the day's work when it is due; the clock is injected so that tests move it."""

    def __init__(self, tracker_url: str | None, store_url: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(CHINA), at: time | None = None,
                 targets: list[tuple[str, str]] | None = None, senders: dict[str, object] | None = None) -> None:
        self.tracker_url, self.store_url, self.clock = tracker_url, store_url, clock
        self.at = at or daily_at()
        self.targets = report_targets() if targets is None else targets
        self.senders = senders or {}

    def due(self) -> date | None:
        """Today's China-time date when the job's time has come, else None."""
        moment = self.clock().astimezone(CHINA)
        return moment.date() if moment.time() >= self.at else None

    async def run_due(self) -> daily_report.DailyReport | None:
        """Do today's work if it is due and nobody did it yet; returns the report it sent."""
        today = self.due()
        if today is None or not claim(today, self.store_url):
            return None
        outcome = []
        if self.tracker_url:
            kept = await asyncio.to_thread(retention.run, self.tracker_url, self.store_url, None, today)
            outcome.append(f"retention: {kept.conversations_deleted} conversations, {kept.events_deleted} events")
        report = await asyncio.to_thread(daily_report.build, today - timedelta(days=1), self.tracker_url,
                                         self.store_url)
        new = await asyncio.to_thread(record_suggestions, report, self.store_url)
        outcome.append(f"{len(new)} suggestions")
        text = daily_report.to_chat(report, {sid: info.name for sid, info in scenarios().items()})
        sent = 0
        for channel, target in self.targets:
            sender = self.senders.get(channel)
            if sender is None:
                logger.warning("daily report: no %s sender configured; not sent there", channel)
                continue
            result = await sender.send(target, text)  # type: ignore[attr-defined]
            if result.ok:
                sent += 1
            else:
                health.degraded("daily_report", f"{channel}: {result.error}")
        outcome.append(f"sent to {sent} of {len(self.targets)}")
        with engine(self.store_url).begin() as db:
            db.execute(daily_runs.update().where(daily_runs.c.day == today).values(
                finished_at=now(), outcome="; ".join(outcome)[:256]))
        logger.info("daily job %s: %s", today, "; ".join(outcome))
        return report

    async def serve(self, stop: asyncio.Event) -> None:
        """Until ``stop``: run the job when due, looking at the clock every :data:`CHECK_SECONDS` at most."""
        while not stop.is_set():
            try:
                await self.run_due()
            except Exception:  # noqa: BLE001 - one bad day must not end the job for the next ones
                logger.exception("daily job failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=CHECK_SECONDS)
            except asyncio.TimeoutError:
                pass
