"""A local fake of the WeChat Official Account and WeCom APIs (and WeCom group robots) on loopback.

It hands out access tokens, accepts customer-service, mass, app and app-chat messages and robot
webhooks, serves the media registered with :meth:`FakeWeChat.add_media` from ``media/get`` (an
unknown media id gets errcode 40007, as WeChat answers), records every call, and can fail the
next calls of a path with an errcode or HTTP status.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from tests.fakes import LoopbackJsonServer


@dataclass
class Call:
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    at: float
    status: int


@dataclass
class FakeWeChat(LoopbackJsonServer):
    calls: list[Call] = field(default_factory=list)
    _failures: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    flaky_rate: float = 0.0  # share of robot webhook calls answered 503 at random
    _random: random.Random = field(default_factory=lambda: random.Random(2027))
    media: dict[str, bytes] = field(default_factory=dict)  # media_id -> bytes served by media/get

    @property
    def base_url(self) -> str:
        return f"{self.address}/cgi-bin/"

    def fail_next(self, path: str, status: int = 200, times: int = 1, **body: Any) -> None:
        """Fail the next ``times`` calls of ``path`` (e.g. ``webhook/send``) with a status and body."""
        with self._lock:
            self._failures.setdefault(path, []).extend([(status, body)] * times)

    def add_media(self, media_id: str, data: bytes) -> None:
        """Serve ``data`` from ``media/get`` for ``media_id`` (Official Account and WeCom alike)."""
        with self._lock:
            self.media[media_id] = data

    def of(self, path: str, ok_only: bool = True) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == path and (not ok_only or c.status == 200)]

    def respond(self, path: str, query: str, content_type: str, body: str) -> tuple[int, dict[str, Any] | bytes]:
        try:
            data = json.loads(body) if body else {}
        except json.JSONDecodeError:
            data = {"_raw": body}
        return self._answer(path.removeprefix("/cgi-bin/"), {k: v[-1] for k, v in parse_qs(query).items()}, data)

    def _answer(self, path: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, Any] | bytes]:
        with self._lock:
            queue = self._failures.get(path)
            status, payload = queue.pop(0) if queue else (200, None)
            if payload is None and path == "media/get" and query.get("media_id") not in self.media:
                payload = {"errcode": 40007, "errmsg": "invalid media_id"}
            if payload is None and path == "webhook/send" and self._random.random() < self.flaky_rate:
                status, payload = 503, {"errcode": -1, "errmsg": "fake busy"}
            failed = payload is not None and (status != 200 or payload.get("errcode", 0) != 0)
            self.calls.append(Call(path, query, body, time.monotonic(), 599 if failed and status == 200
                                   else status))
            if payload is not None:
                return status, payload
        if path == "media/get":
            return 200, self.media[query["media_id"]]
        if path == "token":
            return 200, {"access_token": "oa-token", "expires_in": 7200}
        if path == "gettoken":
            return 200, {"errcode": 0, "errmsg": "ok", "access_token": "wecom-token", "expires_in": 7200}
        if path == "message/mass/sendall":
            return 200, {"errcode": 0, "errmsg": "send job submission success", "msg_id": 34182}
        return 200, {"errcode": 0, "errmsg": "ok"}
