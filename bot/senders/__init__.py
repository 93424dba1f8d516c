"""Senders: one per kind of group target, each with its channel's real limits.

Every sender answers ``await sender.send(target, text)`` with a :class:`DeliveryResult`
that an alerts outbox can record as it is: delivered, retry later, or give up (and whether
the target is gone for good).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import Awaitable, Callable, Protocol


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one message for one target."""

    ok: bool
    channel: str
    target: str
    message_id: str | None = None
    error: str | None = None
    retryable: bool = False  # try again later (rate limit, 5xx, network)
    retry_after: float | None = None  # seconds the service asked us to wait
    gone: bool = False  # the target no longer exists: mark it inactive

    @classmethod
    def delivered(cls, channel: str, target: str, message_id: str | None = None) -> DeliveryResult:
        return cls(True, channel, target, message_id)


class Sender(Protocol):
    """Sends one text to one target of its kind.

    ``reserve`` waits until the channel's limits allow one more message to ``target``;
    ``deliver`` then makes the request at once. ``send`` does both. The alerts worker records
    "sending" between the two, so a crash leaves as few messages as possible in doubt.
    """

    channel: str

    async def reserve(self, target: str) -> None: ...

    async def deliver(self, target: str, text: str) -> DeliveryResult: ...

    async def send(self, target: str, text: str) -> DeliveryResult: ...


class RateWindow:
    """At most ``limit`` sends per ``period`` seconds for each key, waiting when full.

    A sliding window, per process: WeCom robots take 20 messages a minute each, and a
    request over that is refused, so we wait instead of sending into a refusal.
    """

    def __init__(self, limit: int, period: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.limit, self.period = limit, period
        self._clock, self._sleep = clock, sleep
        self._sent: dict[str, deque[float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def acquire(self, key: str) -> None:
        """Return when one more send for ``key`` fits in the window (and count it)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            sent = self._sent.setdefault(key, deque())
            while True:
                now = self._clock()
                while sent and sent[0] <= now - self.period:
                    sent.popleft()
                if len(sent) < self.limit:
                    sent.append(now)
                    return
                await self._sleep(sent[0] + self.period - now)


def utf8_truncate(text: str, limit_bytes: int) -> str:
    """``text`` cut to at most ``limit_bytes`` of UTF-8 without breaking a character."""
    data = text.encode("utf-8")
    if len(data) <= limit_bytes:
        return text
    return data[: limit_bytes - 3].decode("utf-8", errors="ignore") + "…"


class PacedSender:
    """Base of the senders: ``send`` is ``reserve`` (the channel's pace) then ``deliver``."""

    channel = ""

    def __init__(self, window: RateWindow | None = None) -> None:
        self._window = window

    async def reserve(self, target: str) -> None:
        if self._window is not None:
            await self._window.acquire(target)

    async def send(self, target: str, text: str) -> DeliveryResult:
        await self.reserve(target)
        return await self.deliver(target, text)

    async def deliver(self, target: str, text: str) -> DeliveryResult:
        raise NotImplementedError
