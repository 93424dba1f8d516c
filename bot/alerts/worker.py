"""The outbox worker: delivers each (alert, target) row once, within each channel's limits.

For every due row: wait until the channel's limits allow a message (``reserve``), record
``sending``, make the request (``deliver``), record the result. Retryable failures (429, 5xx,
network) come back with exponential backoff, or Telegram's own wait; after ``max_attempts``
the row is ``failed`` with the reason. A target that is gone is marked inactive.

Exactly once, and its one limit: a row is never sent twice, because only ``pending`` rows
are sent and a row leaves ``pending`` before its request. A crash (even SIGKILL) between
recording ``sending`` and recording the result leaves the row ``sending``: on restart it
becomes ``uncertain`` and is reported, not resent. Telegram and WeCom offer no way to ask
whether a request arrived, so these few rows (at most ``concurrency``, usually none) are the
officer's call: ``fraudbot alert resend-uncertain`` sends them again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

from sqlalchemy import and_, select

from bot.alerts.model import CANCELLED, DELIVERED, FAILED, PENDING, SENDING, UNCERTAIN, alerts, outbox
from bot.alerts.service import Alert, AlertService, render
from bot.senders import DeliveryResult, Sender
from bot.store import groups, now

logger = logging.getLogger(__name__)


class OutboxWorker:
    """Drains the outbox; ``await run(until_idle=True)`` returns once nothing is left to send."""

    def __init__(self, service: AlertService, senders: dict[str, Sender], max_attempts: int = 6,
                 concurrency: int = 8, backoff: float = 2.0, clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self.senders = senders
        self.max_attempts = max_attempts
        self.concurrency = concurrency
        self.backoff = backoff
        self.clock = clock
        self._engine = service.engine

    def recover(self) -> int:
        """Rows left ``sending`` by a crash become ``uncertain`` (never resent on their own)."""
        with self._engine.begin() as db:
            result = db.execute(outbox.update().where(outbox.c.state == SENDING).values(
                state=UNCERTAIN, updated_at=now(),
                last_error="interrupted while sending: may or may not have arrived"))
        if result.rowcount:
            logger.warning("%d alert messages were in flight at the last stop; marked uncertain", result.rowcount)
        return result.rowcount

    def resend_uncertain(self, alert_id: int) -> int:
        """The officer's decision: send the uncertain rows of an alert again (a duplicate is possible)."""
        with self._engine.begin() as db:
            result = db.execute(outbox.update().where(outbox.c.alert_id == alert_id, outbox.c.state == UNCERTAIN)
                                .values(state=PENDING, next_attempt_at=0.0, updated_at=now()))
        return result.rowcount

    async def run(self, until_idle: bool = False, poll: float = 0.2) -> None:
        self.recover()
        while True:
            rows = self._due(self.concurrency * 4)
            if rows:
                slots = asyncio.Semaphore(self.concurrency)
                # read once per batch: a recall or expiry is seen within one batch of rows
                batch_alerts = {alert_id: self._alert(alert_id) for alert_id in {r.alert_id for r in rows}}
                await asyncio.gather(*(self._one(row, batch_alerts[row.alert_id], slots) for row in rows))
                continue
            await self.delete_recalled()
            if until_idle and not self._waiting():
                return
            await asyncio.sleep(poll)

    def _due(self, limit: int) -> list[Any]:
        with self._engine.connect() as db:
            return db.execute(select(outbox).where(and_(outbox.c.state == PENDING,
                                                        outbox.c.next_attempt_at <= self.clock()))
                              .order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit)).all()

    def _waiting(self) -> bool:
        with self._engine.connect() as db:
            return db.execute(select(outbox.c.id).where(outbox.c.state == PENDING).limit(1)).first() is not None

    def _alert(self, alert_id: int) -> Alert:
        with self._engine.connect() as db:
            return Alert(**db.execute(select(alerts).where(alerts.c.id == alert_id)).one()._mapping)

    def _set(self, row_id: int, expected: str, **values: Any) -> bool:
        """Move a row on only if it is still in ``expected`` state (one writer wins)."""
        with self._engine.begin() as db:
            result = db.execute(outbox.update().where(outbox.c.id == row_id, outbox.c.state == expected)
                                .values(updated_at=now(), **values))
        return result.rowcount == 1

    async def _one(self, row: Any, alert: Alert, slots: asyncio.Semaphore) -> None:
        async with slots:
            if not alert.live:
                self._set(row.id, PENDING, state=CANCELLED,
                          last_error="recalled" if alert.recalled_at else "expired before delivery")
                return
            sender = self.senders.get(row.channel)
            if sender is None:
                self._set(row.id, PENDING, state=FAILED, last_error=f"no sender configured for {row.channel}")
                return
            await sender.reserve(row.chat_id)
            if not self._set(row.id, PENDING, state=SENDING, attempts=row.attempts + 1):
                return  # someone else took it
            try:
                result = await sender.deliver(row.chat_id, render(alert, row.channel))
            except Exception as error:  # a sender bug must not leave the row in doubt
                logger.exception("sender %s raised", row.channel)
                result = DeliveryResult(False, row.channel, row.chat_id, error=repr(error), retryable=True)
            self._record(row, result)

    def _record(self, row: Any, result: DeliveryResult) -> None:
        attempts = row.attempts + 1
        if result.ok:
            self._set(row.id, SENDING, state=DELIVERED, message_id=result.message_id, last_error=None)
        elif result.gone:
            self._set(row.id, SENDING, state=FAILED, last_error=f"target gone: {result.error}")
            with self._engine.begin() as db:
                db.execute(groups.update().where(groups.c.channel == row.channel, groups.c.chat_id == row.chat_id)
                           .values(active=False, removed_at=now()))
        elif result.retryable and attempts < self.max_attempts:
            delay = result.retry_after if result.retry_after else self.backoff * 2 ** (attempts - 1)
            self._set(row.id, SENDING, state=PENDING, next_attempt_at=self.clock() + delay,
                      last_error=result.error)
        else:
            self._set(row.id, SENDING, state=FAILED, last_error=f"{result.error} (after {attempts} attempts)")

    async def delete_recalled(self) -> int:
        """Delete delivered Telegram messages of recalled alerts; other channels keep the 'recalled' mark."""
        telegram = self.senders.get("telegram")
        if telegram is None or not hasattr(telegram, "delete"):
            return 0
        with self._engine.connect() as db:
            rows = db.execute(select(outbox).join(alerts, alerts.c.id == outbox.c.alert_id).where(
                alerts.c.recalled_at.is_not(None), outbox.c.state == DELIVERED,
                outbox.c.channel == "telegram", outbox.c.message_id.is_not(None))).all()
        deleted = 0
        for row in rows:
            if await telegram.delete(row.chat_id, row.message_id):
                deleted += 1
                note = "recalled: message deleted"
            else:  # older than 48 hours, or the bot lost its rights: tried once, reported
                note = "recalled: Telegram did not allow deleting the message"
            self._set(row.id, DELIVERED, state=CANCELLED, last_error=note)
        return deleted
