"""The 宣传 scheduler: queues each active campaign's due send into the alerts outbox, once per day per group.

It runs in the daily job's loop (``fraudbot daily``, every minute: :meth:`bot.daily.DailyJob.serve` calls
:func:`tick`) rather than in the alerts worker: that loop already is the one clock-driven job with an injected
clock and knows the tracker store the timely tip counts from, and the worker stays a deliverer whose only new
rule is "alerts first". Exactly once per day per group, across restarts, clock jumps and several schedulers: a
send is claimed by a ``campaign_runs`` row under a unique key, inserted in the same transaction as its outbox
row (see :mod:`bot.campaigns`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.alerts.model import CAMPAIGN_PRIORITY, PENDING, outbox
from bot.campaign_messages import compose
from bot.campaigns import (
    Campaign,
    Campaigns,
    Clock,
    audited,
    campaign_of,
    campaign_runs,
    campaigns,
    outbox_rows_of,
    quiet_ends,
)
from bot.retention import CHINA
from bot.store import now

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class Fired:
    """What one look at the clock queued for one campaign."""

    campaign_id: int
    day: date
    queued: int


class CampaignScheduler:
    """Queues each active campaign's due send into the outbox, once per day per group; the clock is injected."""

    def __init__(self, url: str | None = None, tracker_url: str | None = None,
                 clock: Clock = lambda: datetime.now(CHINA)) -> None:
        self.campaigns = Campaigns(url, tracker_url, clock)
        self.engine, self.clock = self.campaigns.engine, clock

    def run_due(self) -> list[Fired]:
        """One look at the clock: queue what is due, hold what quiet hours hold. Blocking (a thread in the loop)."""
        moment = self.clock().astimezone(CHINA)
        with self.engine.connect() as db:
            active = [campaign_of(row) for row in db.execute(select(campaigns).where(campaigns.c.active.is_(True)))]
        fired = []
        for plan in active:
            if plan.quiet_soon(moment):
                self._hold(plan, moment)
                continue
            planned = plan.due(moment)
            if planned is not None:
                queued = self._fire(plan, planned.date())
                if queued:
                    fired.append(Fired(plan.id, planned.date(), queued))
        return fired

    def _fire(self, plan: Campaign, day: date) -> int:
        """Queue the day's message for every target not claimed yet; 0 when another scheduler got there first,
        or when a later day was already sent (a clock moved back: days only move forward)."""
        with self.engine.connect() as db:
            latest = db.execute(select(func.max(campaign_runs.c.day)).where(
                campaign_runs.c.campaign_id == plan.id)).scalar()
            if latest is not None and latest > day:
                return 0
            claimed = {(r.channel, r.chat_id) for r in db.execute(
                select(campaign_runs.c.channel, campaign_runs.c.chat_id).where(
                    campaign_runs.c.campaign_id == plan.id, campaign_runs.c.day == day))}
            turn = db.execute(select(func.count(func.distinct(campaign_runs.c.day))).where(
                campaign_runs.c.campaign_id == plan.id, campaign_runs.c.day < day)).scalar_one()
        missing = [t for t in self.campaigns.targets(plan.regions, plan.channels) if (t[0], t[1]) not in claimed]
        if not missing:
            return 0
        messages = compose(plan, day, missing, int(turn), self.campaigns.tracker_url, self.campaigns.url)
        if not messages:
            return 0
        moment = now()
        try:
            with self.engine.begin() as db:
                runs = []
                for (channel, chat_id), message in messages.items():
                    outbox_id = db.execute(outbox.insert().values(
                        alert_id=None, channel=channel, chat_id=chat_id, state=PENDING, attempts=0,
                        next_attempt_at=0.0, updated_at=moment, priority=CAMPAIGN_PRIORITY, text=message.text)
                    ).inserted_primary_key[0]
                    runs.append({"campaign_id": plan.id, "day": day, "channel": channel, "chat_id": chat_id,
                                 "content_id": message.content_id, "scenario": message.scenario,
                                 "outbox_id": outbox_id, "created_at": moment})
                db.execute(campaign_runs.insert(), runs)  # the claims: a unique key per (campaign, day, target)
                audited(db, "scheduler", "campaign_sent", f"#{plan.id} {day.isoformat()} to {len(runs)} targets")
        except IntegrityError:  # another scheduler claimed some of them meanwhile: the next look sends the rest
            logger.info("campaign %s %s: claimed elsewhere meanwhile", plan.id, day)
            return 0
        logger.info("campaign %s %s: %d messages queued", plan.id, day, len(runs))
        return len(runs)

    def _hold(self, plan: Campaign, moment: datetime) -> int:
        """Quiet hours: the campaign's rows still queued wait until they end (``next_attempt_at``)."""
        until = quiet_ends(plan.quiet_start, plan.quiet_end, moment).timestamp()
        with self.engine.begin() as db:
            return db.execute(outbox.update().where(outbox.c.id.in_(outbox_rows_of(plan.id)), outbox.c.state == PENDING,
                                                    outbox.c.next_attempt_at < until)
                              .values(next_attempt_at=until)).rowcount


async def tick(clock: Clock, tracker_url: str | None = None, store_url: str | None = None) -> list[Fired]:
    """The daily job's look at the clock (:meth:`bot.daily.DailyJob.serve`): never raises, so a campaign that
    fails (a database away for a moment) leaves the daily job and the next look alone."""
    try:
        return await asyncio.to_thread(CampaignScheduler(store_url, tracker_url, clock).run_due)
    except Exception:  # noqa: BLE001 - logged; the next look tries again
        logger.exception("campaign scheduler failed")
        return []
