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
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Column, Date, DateTime, Float, Integer, String, Table, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError

from bot import campaign_scheduler, daily_report, health, new_scripts, retention
from bot.alerts.model import audit_log
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


def _suggestion(row: Any) -> Suggestion:
    return Suggestion(row.id, row.day, row.scenario, row.region, row.count, row.mean_28, row.p_value, row.state)


def suggestions(store_url: str | None = None, state: str | None = OPEN, limit: int = 50,
                since: date | None = None) -> list[Suggestion]:
    """Suggestions in ``state`` (every state when None) of the days from ``since`` on, the newest day first."""
    query = select(early_warnings).order_by(early_warnings.c.day.desc(), early_warnings.c.p_value).limit(limit)
    if state:
        query = query.where(early_warnings.c.state == state)
    if since:
        query = query.where(early_warnings.c.day >= since)
    with engine(store_url).connect() as db:
        return [_suggestion(r) for r in db.execute(query)]


DECISIONS = (DRAFTED, DISMISSED)


def decide_suggestion(day: date, scenario: str, region: str, decision: str, actor: str,
                      row: daily_report.Row | None = None, store_url: str | None = None) -> Suggestion | None:
    """An officer's decision on the suggestion of (``day``, ``scenario``, ``region``): ``drafted`` (he turned it
    into a 警情通报 draft) or ``dismissed``, with a row of ``audit_log`` in the same transaction (a decision
    whose audit row cannot be written is not made).

    When the daily job has not recorded the suggestion (a day it did not cover, or today), it is recorded now
    from ``row``, the report's rising row, so that a day × scenario × area still has one suggestion however
    often the button is pressed; without ``row`` only a recorded suggestion is decided (None when there is
    none). A suggestion already in that state is returned as it is, and no second audit row is written."""
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}")
    this = (early_warnings.c.day == day, early_warnings.c.scenario == scenario, early_warnings.c.region == region)
    for attempt in (1, 2):
        try:
            with engine(store_url).begin() as db:
                found = db.execute(select(early_warnings).where(*this).with_for_update()).first()
                if found is None:
                    if row is None:
                        return None
                    db.execute(early_warnings.insert().values(
                        day=day, scenario=scenario, region=region, count=row.count, mean_28=row.mean_28,
                        p_value=row.p_value, created_at=now(), state=OPEN))
                    found = db.execute(select(early_warnings).where(*this)).one()
                if found.state == decision:
                    return _suggestion(found)
                db.execute(early_warnings.update().where(early_warnings.c.id == found.id).values(
                    state=decision, decided_by=actor[:128], decided_at=now()))
                detail = {"id": found.id, "day": day.isoformat(), "scenario": scenario, "region": region,
                          "count": found.count, "previous": found.state}
                db.execute(audit_log.insert().values(at=now(), actor=actor[:256], action=f"warning_{decision}",
                                                     detail=json.dumps(detail, ensure_ascii=False, sort_keys=True)))
                return _suggestion(db.execute(select(early_warnings).where(early_warnings.c.id == found.id)).one())
        except IntegrityError:  # the job (or another officer) recorded it meanwhile: decide that one
            if attempt == 2:
                raise
    return None


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
        scripts = await asyncio.to_thread(new_scripts.record, report.day, report.scripts, self.store_url)
        outcome.append(f"{len(new)} suggestions, {scripts} new scripts")
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
        if sent == len(self.targets):
            health.recovered("daily_report")
        with engine(self.store_url).begin() as db:
            db.execute(daily_runs.update().where(daily_runs.c.day == today).values(
                finished_at=now(), outcome="; ".join(outcome)[:256]))
        logger.info("daily job %s: %s", today, "; ".join(outcome))
        return report

    async def serve(self, stop: asyncio.Event, also: Callable[[], Awaitable[object]] | None = None) -> None:
        """Until ``stop``: run the job when due, looking at the clock every :data:`CHECK_SECONDS` at most;
        ``also`` runs at every look (the 回访 job, :class:`bot.followup_job.FollowupJob`)."""
        while not stop.is_set():
            await campaign_scheduler.tick(self.clock, self.tracker_url, self.store_url)  # 宣传 due now; never raises
            try:
                await self.run_due()
            except Exception:  # noqa: BLE001 - one bad day must not end the job for the next ones
                logger.exception("daily job failed")
            if also is not None:
                try:
                    await also()
                except Exception:  # noqa: BLE001 - the next look tries again
                    logger.exception("follow-up job failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=CHECK_SECONDS)
            except asyncio.TimeoutError:
                pass
