"""A local fake of the WeChat Official Account and WeCom APIs (and WeCom group robots) on loopback.

It hands out access tokens, accepts customer-service, mass, app and app-chat messages and robot
webhooks, records every call, and can fail the next calls of a path with an errcode or HTTP status.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse


@dataclass
class Call:
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    at: float
    status: int


@dataclass
class FakeWeChat:
    calls: list[Call] = field(default_factory=list)
    _failures: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/cgi-bin/"

    def fail_next(self, path: str, status: int = 200, times: int = 1, **body: Any) -> None:
        """Fail the next ``times`` calls of ``path`` (e.g. ``webhook/send``) with a status and body."""
        with self._lock:
            self._failures.setdefault(path, []).extend([(status, body)] * times)

    def of(self, path: str, ok_only: bool = True) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == path and (not ok_only or c.status == 200)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    def start(self) -> FakeWeChat:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                try:
                    body = json.loads(raw) if raw else {}
                except json.JSONDecodeError:
                    body = {"_raw": raw}
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                path = url.path.removeprefix("/cgi-bin/")
                status, payload = fake._answer(path, query, body)
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _handle  # noqa: N815
            do_POST = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def _answer(self, path: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            queue = self._failures.get(path)
            status, payload = queue.pop(0) if queue else (200, None)
            failed = payload is not None and (status != 200 or payload.get("errcode", 0) != 0)
            self.calls.append(Call(path, query, body, time.monotonic(), 599 if failed and status == 200
                                   else status))
            if payload is not None:
                return status, payload
        if path == "token":
            return 200, {"access_token": "oa-token", "expires_in": 7200}
        if path == "gettoken":
            return 200, {"errcode": 0, "errmsg": "ok", "access_token": "wecom-token", "expires_in": 7200}
        if path == "message/mass/sendall":
            return 200, {"errcode": 0, "errmsg": "send job submission success", "msg_id": 34182}
        return 200, {"errcode": 0, "errmsg": "ok"}
