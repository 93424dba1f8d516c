"""Local fakes of outside APIs, served on loopback for tests that use the real client libraries."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlparse


class _Server(ThreadingHTTPServer):
    """A listen backlog for bursts: with the default 5, the sixth of many new connections at once loses
    its SYN and arrives a second late (TCP's retry), which a test of timing would misread."""

    request_queue_size = 128


class LoopbackJsonServer:
    """A threaded HTTP server on 127.0.0.1 whose subclasses answer JSON in :meth:`respond`
    (or raw bytes, served as ``application/octet-stream``: a file or media download)."""

    server: ThreadingHTTPServer | None = None

    def respond(self, path: str, query: str, content_type: str, body: str) -> tuple[int, dict[str, Any] | bytes]:
        raise NotImplementedError

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, port: int = 0) -> Any:
        """Serve on ``port`` (0: any free one; a fixed one lets a test start the API after a client tried it)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _handle(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if len(raw) < length:  # the client died mid-request: a real API never acts on half a body
                    self.close_connection = True
                    return
                body = raw.decode("utf-8")
                status, payload = fake.respond(url.path, url.query, self.headers.get("Content-Type", ""), body)
                if isinstance(payload, bytes):  # a file or media download
                    data, kind = payload, "application/octet-stream"
                else:
                    data = json.dumps(payload, ensure_ascii=False).encode() if status != 204 else b""
                    kind = "application/json"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client hung up (a download it refused)
                    self.close_connection = True

            do_GET = _handle  # noqa: N815
            do_POST = _handle  # noqa: N815
            do_PUT = _handle  # noqa: N815

        self.server = _Server(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    @staticmethod
    def wait_for(predicate: Callable[[], bool], timeout: float = 30) -> bool:
        """Poll ``predicate`` until it holds or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()
