"""A local fake of the Telegram Bot API on loopback, for tests that use python-telegram-bot for real.

It answers the methods the bot uses, records every call (with the moment it arrived), and can
be told to fail the next calls of a method with 429 (``retry_after``) or a 5xx, like Telegram
under load, to take ``latency`` seconds per message, or to act on the next messages but answer
them only when :meth:`FakeTelegram.release` is called (a client that gave up waiting cannot know
they arrived). Files registered
with :meth:`FakeTelegram.add_file` are described by ``getFile`` and served under ``/file/bot<token>/``
(recorded as the method ``file``); an unknown file id gets Telegram's 400.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from tests.fakes import LoopbackJsonServer

BOT_ID = 777000111
BOT_USERNAME = "fanzha_test_bot"


@dataclass
class Call:
    """One request the bot made: method, parameters, when, and the HTTP status it got."""

    method: str
    params: dict[str, Any]
    at: float
    status: int


@dataclass
class FakeTelegram(LoopbackJsonServer):
    """State of the fake API; start it with :meth:`start`."""

    admins: set[int] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)  # served by getUpdates (polling)
    flaky_rate: float = 0.0  # share of sendMessage calls answered 502 at random
    _random: random.Random = field(default_factory=lambda: random.Random(2026))
    _failures: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_message_id: int = 5000
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # file_id -> (file_path, bytes)
    latency: float = 0.0  # seconds each sendMessage takes before its answer (after it was recorded)
    _late: int = 0  # how many of the next sendMessage calls are held unanswered until release()
    _released: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        return f"{self.address}/bot"

    def add_file(self, file_id: str, data: bytes) -> str:
        """Serve ``data`` as the file ``file_id`` (getFile, then the download); returns its file_path."""
        path = f"photos/{file_id}.png"
        with self._lock:
            self.files[file_id] = (path, data)
        return path

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue ``update`` for the bot's next getUpdates (polling), safely while the server answers."""
        with self._lock:
            self.updates.append(update)

    def fail_next(self, method: str, status: int, times: int = 1, retry_after: int | None = None) -> None:
        with self._lock:
            self._failures.setdefault(method, []).extend([(status, retry_after)] * times)

    def answer_late(self, times: int = 1) -> None:
        """Deliver the next ``times`` messages but hold their answers until :meth:`release`."""
        with self._lock:
            self._late += times
            self._released.clear()

    def release(self) -> None:
        """Answer the held messages now (a test's ``finally`` calls it so no thread waits on)."""
        self._released.set()

    def sent(self, chat_id: int | None = None, ok_only: bool = True) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == "sendMessage" and (not ok_only or c.status == 200)
                    and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)]

    def callback_answers(self, callback_query_id: str | None = None) -> list[dict[str, Any]]:
        """The parameters of each answerCallbackQuery (the text and show_alert a member saw), in order."""
        with self._lock:
            return [c.params for c in self.calls if c.method == "answerCallbackQuery" and c.status == 200
                    and (callback_query_id is None or c.params.get("callback_query_id") == callback_query_id)]

    def count(self, method: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c.method == method)

    def respond(self, path: str, query: str, content_type: str, body: str) -> tuple[int, dict[str, Any] | bytes]:
        if path.startswith("/file/"):
            return self._download(unquote(path).split("/", 3)[-1])
        method = path.rsplit("/", 1)[-1]
        status, answer = self._answer(method, _params(content_type, body))
        if method == "sendMessage":
            with self._lock:
                held = status == 200 and self._late > 0
                self._late -= held
            if held:
                self._released.wait(30)
            elif self.latency:
                time.sleep(self.latency)
        return status, answer

    def _download(self, file_path: str) -> tuple[int, dict[str, Any] | bytes]:
        with self._lock:
            data = next((d for p, d in self.files.values() if p == file_path), None)
            status = 200 if data is not None else 404
            self.calls.append(Call("file", {"file_path": file_path}, time.monotonic(), status))
        return (200, data) if data is not None else (404, {"ok": False, "error_code": 404, "description": "Not Found"})

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            queue = self._failures.get(method)
            failure = queue.pop(0) if queue else None
            if failure is None and method == "sendMessage" and self._random.random() < self.flaky_rate:
                failure = (502, None)
            if failure is None and method == "getFile" and params.get("file_id") not in self.files:
                failure = (400, None)
            status = failure[0] if failure else 200
            self.calls.append(Call(method, params, time.monotonic(), status))
            if failure:
                body: dict[str, Any] = {"ok": False, "error_code": status, "description": "fake failure"}
                if failure[1] is not None:
                    body["parameters"] = {"retry_after": failure[1]}
                    body["description"] = f"Too Many Requests: retry after {failure[1]}"
                return status, body
            return 200, {"ok": True, "result": self._result(method, params)}

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "反诈助手", "username": BOT_USERNAME}
        if method == "getMe":
            return {**bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False}
        if method == "sendMessage":
            self._next_message_id += 1
            chat_id = int(params.get("chat_id", 0))
            chat = {"id": chat_id, "type": "group" if chat_id < 0 else "private"}
            if chat_id < 0:
                chat["title"] = "测试群"
            return {"message_id": self._next_message_id, "date": int(time.time()), "chat": chat,
                    "from": bot_user, "text": params.get("text", "")}
        if method == "getFile":
            path, data = self.files[params["file_id"]]
            return {"file_id": params["file_id"], "file_unique_id": f"u-{params['file_id']}",
                    "file_size": len(data), "file_path": path}
        if method == "getChatMember":
            user_id = int(params.get("user_id", 0))
            status = "administrator" if user_id in self.admins else "member"
            member = {"status": status, "user": {"id": user_id, "is_bot": False, "first_name": "居民"}}
            if status == "administrator":
                member.update({"can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
                               "can_delete_messages": True, "can_manage_video_chats": True,
                               "can_restrict_members": True, "can_promote_members": False,
                               "can_change_info": True, "can_invite_users": True,
                               "can_post_stories": False, "can_edit_stories": False,
                               "can_delete_stories": False})
            return member
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            pending = [u for u in self.updates if u["update_id"] >= offset]
            self.updates = pending
            if not pending:
                self._lock.release()  # long polling: wait a little without blocking other calls
                try:
                    time.sleep(0.2)
                finally:
                    self._lock.acquire()
            return pending
        return True  # setWebhook, deleteWebhook, answerCallbackQuery, close, logOut


def _params(content_type: str, body: str) -> dict[str, Any]:
    if "json" in content_type:
        return json.loads(body or "{}")
    params: dict[str, Any] = {}
    for key, values in parse_qs(body).items():
        value = values[-1]
        try:
            params[key] = json.loads(value) if value[:1] in "{[" else value
        except json.JSONDecodeError:
            params[key] = value
    return params
