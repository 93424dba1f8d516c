"""The send budget: at most N sends per period per key, shared by every process that sends.

Telegram counts about 30 messages a second per bot token and 20 a minute per group, WeCom 20
a minute per robot — whoever sends them. The Telegram channel, the alerts worker and a second
worker all send with the same token, so a limit kept in one process's memory lets the fleet
together go over it and be refused (or, for Telegram, be muted for a while). With
``FRAUDBOT_REDIS_URL`` the windows live in Redis and one Lua script checks and takes every
slot a message needs at once (the bot-wide slot and the group's), so two processes never both
take the last slot. Without Redis (the embedded default: one process) they live in memory.

A send is never stopped because Redis is down: the budget falls back to the in-process
windows (each process then keeps the limits on its own), says so once through
:func:`bot.health.degraded`, and tries Redis again every :data:`REDIS_RETRY_SECONDS`.

Keys name what is limited, never a secret: :func:`secret_key` hashes a bot token or a robot key.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

from bot import health
from bot.config import redis_url

logger = logging.getLogger(__name__)

HEALTH_COMPONENT = "send_budget"
REDIS_RETRY_SECONDS = 5.0  # how long the fallback lasts before Redis is asked again
REDIS_TIMEOUT_SECONDS = 0.5  # a budget that hangs would hold every send: fail over quickly
KEY_PREFIX = "fraudbot:budget:"
# Windows are counted a tenth longer than the service's period: slots are taken here, but the
# service counts on arrival, and network jitter must not push an 11th message into its second.
SAFETY = 1.1


@dataclass(frozen=True)
class Slot:
    """One limit a send must fit in: at most ``limit`` sends per ``period`` seconds under ``key``."""

    key: str
    limit: int
    period: float


def secret_key(secret: str) -> str:
    """A short stable name for a token or robot key: budgets are shared by it, logs and Redis never see it."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


class LocalWindows:
    """Sliding windows in this process's memory (the embedded default, and the fallback)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}

    def take(self, slots: Sequence[Slot]) -> float:
        """Take one send in every slot and return 0, or take nothing and return the seconds to wait."""
        now = self._clock()
        wait = 0.0
        for slot in slots:
            sent = self._sent.setdefault(slot.key, deque())
            while sent and sent[0] <= now - slot.period:
                sent.popleft()
            if len(sent) >= slot.limit:
                wait = max(wait, sent[len(sent) - slot.limit] + slot.period - now)
        if wait > 0:
            return wait
        for slot in slots:
            self._sent[slot.key].append(now)
        return 0.0


# Sliding windows in sorted sets, all slots checked and taken in one atomic step. Redis's own
# clock is used so that processes on different machines agree on "now".
# KEYS: the windows; ARGV: a unique member, then limit and period (ms) for each key.
# Returns 0 when taken, else the milliseconds until every slot has room.
TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local period = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local free_at = tonumber(oldest[2]) + period
    if free_at - now > wait then wait = free_at - now end
  end
end
if wait > 0 then return math.max(1, math.ceil(wait)) end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 * i + 1])) + 1000)
end
return 0
"""


class SendBudget:
    """``await budget.take([Slot(...), ...])`` returns once one more send fits in every slot.

    ``url`` is a Redis URL (``None``: in-process only). One budget per process is enough:
    :func:`shared_budget` gives every sender of the process the same one.
    """

    def __init__(self, url: str | None = None, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url or None
        self._sleep = sleep
        self._clock = clock
        self.local = LocalWindows(clock)
        self._scripts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._redis_down_until = 0.0  # use the local windows until then
        self._down_since: float | None = None  # when Redis last failed, until a later call succeeds

    def _script(self) -> Any:
        """The take script on a Redis client of the running loop (a connection belongs to its loop)."""
        loop = asyncio.get_running_loop()
        if loop not in self._scripts:
            import redis.asyncio as aioredis  # only deployments with Redis need the client

            client = aioredis.from_url(self.url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                       socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
            self._scripts[loop] = client.register_script(TAKE_SCRIPT)
        return self._scripts[loop]

    @property
    def shared(self) -> bool:
        """Whether the budget is kept in Redis right now (not in this process's fallback)."""
        return self.url is not None and self._clock() >= self._redis_down_until

    async def take(self, slots: Sequence[Slot]) -> None:
        """Wait until one more send fits in every slot, and count it in all of them."""
        while True:
            wait = await self._try(slots)
            if wait <= 0:
                return
            await self._sleep(wait)

    async def _try(self, slots: Sequence[Slot]) -> float:
        if self.shared:
            started = self._clock()
            try:
                wait = await self._try_redis(slots)
            except Exception as error:  # any Redis failure: keep sending on the local windows
                self._redis_down_until = self._clock() + REDIS_RETRY_SECONDS
                self._down_since = self._clock()
                logger.info("send budget falls back to this process: %s", type(error).__name__)
                health.degraded(HEALTH_COMPONENT, "Redis unreachable: limits kept per process")
            else:
                # only a call begun after the failure proves Redis back (one begun before may end after it)
                if self._down_since is not None and started >= self._down_since:
                    self._down_since = None
                    health.recovered(HEALTH_COMPONENT)
                return wait
        return self.local.take(slots)

    async def _try_redis(self, slots: Sequence[Slot]) -> float:
        args: list[str | int] = [uuid.uuid4().hex]
        for slot in slots:
            args += [slot.limit, int(slot.period * 1000)]
        waited_ms = await self._script()(keys=[KEY_PREFIX + slot.key for slot in slots], args=args)
        return int(waited_ms) / 1000

    async def close(self) -> None:
        """Close this loop's Redis client (tests and short scripts; a server keeps it for its life)."""
        try:
            script = self._scripts.pop(asyncio.get_running_loop(), None)
        except RuntimeError:
            return
        if script is not None:
            await script.registered_client.close()


_budgets: dict[str | None, SendBudget] = {}


def shared_budget() -> SendBudget:
    """The process's one budget for the configured ``FRAUDBOT_REDIS_URL``: every sender of the process uses it."""
    url = redis_url() or None
    if url not in _budgets:
        _budgets[url] = SendBudget(url)
    return _budgets[url]
