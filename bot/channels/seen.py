"""Bounded, expiring memory of what a channel has already seen (message ids, update ids, signatures).

Platforms retry and attackers replay; a channel answers each message once by remembering
its key for a while. Memory stays bounded whatever arrives. In a fleet (``FRAUDBOT_REDIS_URL``)
message ids are remembered in Redis, so a WeChat retry or a Telegram update that the balancer
sends to another replica is still answered once; if Redis cannot be reached, each process
goes on with its own memory and ``/health`` says so.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any, Callable, Hashable

from bot import health
from bot.config import redis_url

logger = logging.getLogger(__name__)


class ExpiringMap:
    """Keys remembered for ``ttl`` seconds, at most ``limit`` of them (the oldest go first).

    Memory stays bounded whatever arrives: entries leave in insertion order, which is also
    their expiry order because every entry lives equally long.
    """

    def __init__(self, ttl: float, limit: int, clock: Callable[[], float]) -> None:
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._ttl, self._limit, self._clock = ttl, limit, clock

    def _expire(self) -> float:
        now = self._clock()
        while self._entries and next(iter(self._entries.values()))[0] < now - self._ttl:
            self._entries.popitem(last=False)
        return now

    def get(self, key: Hashable) -> Any:
        """The value kept for ``key``, or None when it was never seen or has expired."""
        self._expire()
        entry = self._entries.get(key)
        return entry[1] if entry else None

    def put(self, key: Hashable, value: Any) -> None:
        """Remember ``key`` from now on (a key already present keeps its first time)."""
        now = self._expire()
        if key in self._entries:
            return
        while len(self._entries) >= self._limit:
            self._entries.popitem(last=False)
        self._entries[key] = (now, value)

    def __len__(self) -> int:
        return len(self._entries)


class SharedFirst:
    """Which replica saw a key first, kept in the fleet's Redis (``SET NX`` with an expiry).

    Used by every channel memory that must hold across replicas (seen message ids, the WeChat
    replay guard). When there is no Redis (the embedded default) or it fails, :meth:`claim` says
    so with None and the caller keeps to its own memory; the failure is reported once through
    :mod:`bot.health` as ``component`` and its end as recovered.
    """

    def __init__(self, component: str, url: str | None = None) -> None:
        self.component = component
        self._redis = shared_redis(url)
        self._failing = False

    def claim(self, name: str, value: str, ttl: int) -> tuple[bool, str | None] | None:
        """``(True, None)`` when this call stored ``value`` first; ``(False, stored)`` when another
        call did (``stored`` its value, None if it expired meanwhile); None without a working Redis."""
        if self._redis is None:
            return None
        try:
            # one round trip of well under a millisecond on loopback, atomic across replicas
            if self._redis.set(f"fraudbot:{name}", value, nx=True, ex=ttl):
                result: tuple[bool, str | None] = (True, None)
            else:
                stored = self._redis.get(f"fraudbot:{name}")
                result = (False, stored.decode() if stored is not None else None)
        except Exception as error:  # Redis down: each replica still guards with its own memory
            if not self._failing:
                self._failing = True
                health.degraded(self.component, f"redis unreachable ({type(error).__name__})")
            return None
        if self._failing:
            self._failing = False
            health.recovered(self.component)
        return result


class SeenMessages:
    """Message ids seen in the last ``ttl`` seconds (WeChat retries within about 15 s).

    ``namespace`` keeps the channels' ids apart in the shared Redis (``telegram:update``,
    ``wechat:msg`` …); without ``FRAUDBOT_REDIS_URL`` only this process's memory is used.
    """

    COMPONENT = "seen_messages"

    def __init__(self, ttl: float = 300, limit: int = 100_000,
                 clock: Callable[[], float] = time.monotonic, namespace: str = "seen",
                 url: str | None = None) -> None:
        self._seen = ExpiringMap(ttl, limit, clock)
        self._ttl = max(1, int(ttl))
        self._namespace = namespace
        self._shared = SharedFirst(self.COMPONENT, url)

    def first_time(self, key: Hashable) -> bool:
        """True the first time ``key`` is seen (by any replica sharing Redis); False for a retry."""
        local = self._seen.get(key) is None
        self._seen.put(key, True)
        shared = self._shared.claim(f"{self._namespace}:{key}", "1", self._ttl)
        return local if shared is None else shared[0] and local


def shared_redis(url: str | None = None) -> Any:
    """A client of the fleet's Redis (``url``, default ``FRAUDBOT_REDIS_URL``), or None in the embedded default.

    Short timeouts: a channel asks it while a resident waits, and falls back to its own memory.
    """
    url = redis_url() if url is None else url
    if not url:
        return None
    import redis

    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
