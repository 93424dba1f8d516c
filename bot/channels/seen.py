"""Bounded, expiring memory of what a channel has already seen (message ids, update ids, signatures).

Platforms retry and attackers replay; a channel answers each message once by remembering
its key for a while. Memory stays bounded whatever arrives. It is per process: with several
replicas a replay that reaches another replica is not caught (the fleet issue moves this to Redis).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Callable, Hashable


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


class SeenMessages:
    """Message ids seen in the last ``ttl`` seconds (WeChat retries within about 15 s)."""

    def __init__(self, ttl: float = 300, limit: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._seen = ExpiringMap(ttl, limit, clock)

    def first_time(self, key: Hashable) -> bool:
        """True the first time ``key`` is seen; False for a retry."""
        if self._seen.get(key) is not None:
            return False
        self._seen.put(key, True)
        return True
