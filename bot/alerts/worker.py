"""The outbox worker: delivers each (alert, target) row once, within each channel's limits, on one or many workers.

For every due row: claim it, wait until the shared send budget allows a message
(``reserve``), record ``sending``, make the request (``deliver``), record the result.
Refusals (429, WeCom's frequency limits, no connection) come back with exponential backoff,
or Telegram's own wait; after ``max_attempts`` the row is ``failed`` with the reason. A target
that is gone is marked inactive.

Several workers (processes, machines) share one PostgreSQL outbox. A worker claims rows with
``SELECT … FOR UPDATE SKIP LOCKED``: two workers never take the same row. A claim names the
worker and lasts ``FRAUDBOT_ALERT_LEASE`` seconds; the worker renews its claims every third of
that while it lives. A pending row whose claim ran out is free again (it was never sent); a
``sending`` row whose claim ran out belonged to a worker that died mid-request and becomes
``uncertain``. A live worker's in-flight rows are never touched by another. Leases are unix
times: the workers' machines must agree on the time to well within a lease (NTP does).

Exactly once, and its one limit: a row is never sent twice, because only ``pending`` rows
are sent and a row leaves ``pending`` before its request. A request that may have arrived —
its worker was killed, or it got no answer (timeout, lost connection, 5xx) — makes the row
``uncertain``: reported, not resent. Telegram and WeCom offer no way to ask whether a request
arrived, so these few rows (at most ``concurrency`` per killed worker, usually none) are the
officer's call: ``fraudbot alert resend-uncertain`` sends them again.

Alerts first: 宣传 campaign rows (:mod:`bot.campaigns`, ``priority`` CAMPAIGN_PRIORITY, their text in the
row, no alert) share this outbox, its senders and budgets, but a worker claims them only while no alert row
is due or in flight at any worker, and then at most ``concurrency`` at a time: an alert queued meanwhile
waits for that small batch at most, never for a whole campaign (``bench/campaign.py`` measures it).

On SQLite (the embedded default: one worker) a worker that starts marks every ``sending`` row
uncertain at once, as there is no other worker whose row it could be.

Database calls run in threads (:func:`asyncio.to_thread`): the event loop keeps sending while
PostgreSQL answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Callable, TypeVar

from sqlalchemy import and_, or_, select

from bot.alerts.model import ALERT_PRIORITY, CANCELLED, DELIVERED, FAILED, PENDING, SENDING, UNCERTAIN, alerts, outbox
from bot.alerts.service import Alert, AlertService, render
from bot.config import alert_lease_seconds
from bot.senders import DeliveryResult, Sender
from bot.store import groups, now

logger = logging.getLogger(__name__)

T = TypeVar("T")
INTERRUPTED = "interrupted while sending: may or may not have arrived"


def worker_name() -> str:
    """This worker's name in its claims: host and process (for an operator), and a random part (unique)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutboxWorker:
    """Drains the outbox; ``await run(until_idle=True)`` returns once nothing is left to send."""

    def __init__(self, service: AlertService, senders: dict[str, Sender], max_attempts: int = 6,
                 concurrency: int = 8, backoff: float = 2.0, clock: Callable[[], float] = time.time,
                 lease: float | None = None, name: str | None = None) -> None:
        self.service = service
        self.senders = senders
        self.max_attempts = max_attempts
        self.concurrency = concurrency
        self.backoff = backoff
        self.clock = clock
        self.lease = lease or alert_lease_seconds()
        self.name = name or worker_name()
        self._engine = service.engine
        self._single = self._engine.dialect.name == "sqlite"  # the embedded store: one worker
        # SQLite takes one writer at a time and makes the others sleep and retry: one thread is
        # faster there. PostgreSQL takes each in-flight row's writes on their own connection.
        self._executor = ThreadPoolExecutor(1 if self._single else concurrency + 2, thread_name_prefix="outbox-db")

    # -- recovery and the officer's decision (synchronous: the command line calls them too) --------

    def recover(self, everything: bool | None = None) -> int:
        """Rows left ``sending`` by a worker that is gone become ``uncertain`` (never resent on their own).

        Gone means its claim ran out; with ``everything`` (the default on SQLite, where only one
        worker runs) every ``sending`` row is taken as left over from the last stop.
        """
        everything = self._single if everything is None else everything
        stale = outbox.c.state == SENDING
        if not everything:
            stale = and_(stale, or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < self.clock()))
        with self._engine.begin() as db:
            result = db.execute(outbox.update().where(stale).values(
                state=UNCERTAIN, updated_at=now(), claimed_by=None, lease_until=None, last_error=INTERRUPTED))
        if result.rowcount:
            logger.warning("%d alert messages were in flight when their worker stopped; marked uncertain",
                           result.rowcount)
        return result.rowcount

    def resend_uncertain(self, alert_id: int) -> int:
        """The officer's decision: send the uncertain rows of an alert again (a duplicate is possible)."""
        with self._engine.begin() as db:
            result = db.execute(outbox.update().where(outbox.c.alert_id == alert_id, outbox.c.state == UNCERTAIN)
                                .values(state=PENDING, next_attempt_at=0.0, updated_at=now(), claimed_by=None,
                                        lease_until=None))
        return result.rowcount

    # -- the loop ------------------------------------------------------------------------------

    async def run(self, until_idle: bool = False, poll: float = 0.2) -> None:
        await self._db(self.recover)
        heartbeat = asyncio.create_task(self._renew_claims())
        try:
            while True:
                rows = await self._db(self._claim, self.concurrency * 4)
                if rows:
                    slots = asyncio.Semaphore(self.concurrency)
                    # read once per batch: a recall or expiry is seen within one batch of rows
                    batch_alerts = {alert_id: await self._db(self._alert, alert_id)
                                    for alert_id in {r.alert_id for r in rows} if alert_id is not None}
                    await asyncio.gather(*(self._one(row, batch_alerts.get(row.alert_id), slots) for row in rows))
                    continue
                await self._db(self.recover, False)  # rows of workers that died meanwhile
                await self.delete_recalled()
                if until_idle and not await self._db(self._waiting):
                    return
                await asyncio.sleep(poll)
        finally:
            heartbeat.cancel()
            await self._db(self._release)

    async def _db(self, call: Callable[..., T], *args: Any) -> T:
        """A database call off the event loop: sends in flight go on while the database answers."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    async def _renew_claims(self) -> None:
        """Renew this worker's claims every third of the lease, so no one takes them while it lives."""
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                await self._db(self._renew)
            except Exception:  # the database is away for a moment: the next renewal may work
                logger.exception("could not renew the outbox claims of %s", self.name)

    def _renew(self) -> None:
        with self._engine.begin() as db:
            db.execute(outbox.update().where(outbox.c.claimed_by == self.name,
                                             outbox.c.state.in_((PENDING, SENDING)))
                       .values(lease_until=self.clock() + self.lease))

    def _release(self) -> None:
        """Give back the pending rows this worker claimed but did not send (a stop, not a crash)."""
        with self._engine.begin() as db:
            db.execute(outbox.update().where(outbox.c.claimed_by == self.name, outbox.c.state == PENDING)
                       .values(claimed_by=None, lease_until=None))

    def _claim(self, limit: int) -> list[Any]:
        """Claim up to ``limit`` due rows for this worker and return them: alert rows, or, when no alert row
        is due or in flight anywhere, up to ``concurrency`` campaign rows (alerts first, see the module).

        On PostgreSQL the rows are locked with ``FOR UPDATE SKIP LOCKED`` while claimed: a
        second worker skips them instead of waiting or taking them too. SQLite has no row locks
        (and writes one transaction at a time); the update's own condition keeps a claim single.
        """
        moment = self.clock()
        free = and_(outbox.c.state == PENDING, outbox.c.next_attempt_at <= moment,
                    or_(outbox.c.claimed_by.is_(None), outbox.c.lease_until.is_(None),
                        outbox.c.lease_until < moment))
        with self._engine.begin() as db:
            urgent = outbox.c.priority == ALERT_PRIORITY
            ids = db.execute(select(outbox.c.id).where(free, urgent).order_by(outbox.c.next_attempt_at, outbox.c.id)
                             .limit(limit).with_for_update(skip_locked=True)).scalars().all()
            if not ids and not self._alerts_busy(db, moment):
                ids = db.execute(select(outbox.c.id).where(free).order_by(outbox.c.next_attempt_at, outbox.c.id)
                                 .limit(min(limit, self.concurrency)).with_for_update(skip_locked=True)).scalars().all()
            if not ids:
                return []
            db.execute(outbox.update().where(outbox.c.id.in_(ids), free)
                       .values(claimed_by=self.name, lease_until=moment + self.lease))
            return db.execute(select(outbox).where(outbox.c.id.in_(ids), outbox.c.claimed_by == self.name)
                              .order_by(outbox.c.next_attempt_at, outbox.c.id)).all()

    @staticmethod
    def _alerts_busy(db: Any, moment: float) -> bool:
        """An alert row is due or in flight at some worker: campaign rows wait (alerts first)."""
        due = and_(outbox.c.state == PENDING, outbox.c.next_attempt_at <= moment)
        return db.execute(select(outbox.c.id).where(outbox.c.priority == ALERT_PRIORITY,
                                                    or_(outbox.c.state == SENDING, due)).limit(1)).first() is not None

    def _waiting(self) -> bool:
        """Rows still to send, or in flight at some worker (whose end, or death, is still to be recorded)."""
        with self._engine.connect() as db:
            return db.execute(select(outbox.c.id).where(outbox.c.state.in_((PENDING, SENDING))).limit(1)
                              ).first() is not None

    def _alert(self, alert_id: int) -> Alert:
        with self._engine.connect() as db:
            return Alert(**db.execute(select(alerts).where(alerts.c.id == alert_id)).one()._mapping)

    def _set(self, row_id: int, expected: str, mine: bool = True, **values: Any) -> bool:
        """Move a row on only if it is still in ``expected`` state and (``mine``) claimed by this worker."""
        where = [outbox.c.id == row_id, outbox.c.state == expected]
        if mine:
            where.append(outbox.c.claimed_by == self.name)
        with self._engine.begin() as db:
            result = db.execute(outbox.update().where(*where).values(updated_at=now(), **values))
        return result.rowcount == 1

    async def _one(self, row: Any, alert: Alert | None, slots: asyncio.Semaphore) -> None:
        """Send one claimed row: an alert's (rendered for its channel) or a campaign's (``alert`` None: its text)."""
        async with slots:
            if alert is not None and not alert.live:
                await self._db(partial(self._set, row.id, PENDING, state=CANCELLED, claimed_by=None,
                                       last_error="recalled" if alert.recalled_at else "expired before delivery"))
                return
            sender = self.senders.get(row.channel)
            if sender is None:
                await self._db(partial(self._set, row.id, PENDING, state=FAILED, claimed_by=None,
                                       last_error=f"no sender configured for {row.channel}"))
                return
            await sender.reserve(row.chat_id)
            if not await self._db(partial(self._set, row.id, PENDING, state=SENDING, attempts=row.attempts + 1,
                                          lease_until=self.clock() + self.lease)):
                return  # recalled meanwhile, or the claim ran out and another worker took it
            try:
                result = await sender.deliver(row.chat_id, render(alert, row.channel) if alert else row.text)
            except Exception as error:  # a sender bug: whether the request left is unknown
                logger.exception("sender %s raised", row.channel)
                result = DeliveryResult.in_doubt(row.channel, row.chat_id, repr(error))
            await self._db(self._record, row, result)

    def _record(self, row: Any, result: DeliveryResult) -> None:
        attempts = row.attempts + 1
        done = {"claimed_by": None, "lease_until": None}
        if result.ok:
            recorded = self._set(row.id, SENDING, state=DELIVERED, message_id=result.message_id, last_error=None,
                                 **done)
        elif result.uncertain:
            recorded = self._set(row.id, SENDING, state=UNCERTAIN, last_error=result.error, **done)
        elif result.gone:
            recorded = self._set(row.id, SENDING, state=FAILED, last_error=f"target gone: {result.error}", **done)
            with self._engine.begin() as db:
                db.execute(groups.update().where(groups.c.channel == row.channel, groups.c.chat_id == row.chat_id)
                           .values(active=False, removed_at=now()))
        elif result.retryable and attempts < self.max_attempts:
            delay = result.retry_after if result.retry_after else self.backoff * 2 ** (attempts - 1)
            recorded = self._set(row.id, SENDING, state=PENDING, next_attempt_at=self.clock() + delay,
                                 last_error=result.error, **done)
        else:
            recorded = self._set(row.id, SENDING, state=FAILED,
                                 last_error=f"{result.error} (after {attempts} attempts)", **done)
        if not recorded:  # this worker stalled past its lease and another reported the row uncertain
            logger.warning("outbox row %s was taken over while in flight (ok=%s); it stays uncertain",
                           row.id, result.ok)

    async def delete_recalled(self) -> int:
        """Delete delivered Telegram messages of recalled alerts; other channels keep the 'recalled' mark.

        Each row is first moved to ``cancelled`` (one worker wins it), then its message deleted.
        """
        telegram = self.senders.get("telegram")
        if telegram is None or not hasattr(telegram, "delete"):
            return 0
        rows = await self._db(self._recalled_deliveries)
        deleted = 0
        for row in rows:
            if not await self._db(partial(self._set, row.id, DELIVERED, mine=False, state=CANCELLED,
                                          last_error="recalled: deleting the message")):
                continue  # another worker has it
            if await telegram.delete(row.chat_id, row.message_id):
                deleted += 1
                note = "recalled: message deleted"
            else:  # older than 48 hours, or the bot lost its rights: tried once, reported
                note = "recalled: Telegram did not allow deleting the message"
            await self._db(partial(self._set, row.id, CANCELLED, mine=False, last_error=note))
        return deleted

    def _recalled_deliveries(self) -> list[Any]:
        with self._engine.connect() as db:
            return db.execute(select(outbox).join(alerts, alerts.c.id == outbox.c.alert_id).where(
                alerts.c.recalled_at.is_not(None), outbox.c.state == DELIVERED,
                outbox.c.channel == "telegram", outbox.c.message_id.is_not(None))).all()
