"""The REST door (bot/channels/rest.py) and the safety net behind it (bot/fallback.py), through the real server.

Every request here once stopped, stalled or misled the bot (issue 18): a lone surrogate in the
sender stopped the server, a non-string message got ``[]``, ``?stream=true`` never answered,
client metadata could make the bot quote any text as a police alert and grew the tracker store
by megabytes, and a hung action server kept a resident waiting for 300 s.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.fallback import TRUNCATED_NOTICE
from tests.conftest import start_rasa, stop

REPLY_TIMEOUT = 4.0  # FRAUDBOT_REPLY_TIMEOUT of the Rasa server behind the hung action server
FAKE_ANSWER = "来自测试动作服务器的回答"


def post(server: str, body: bytes | dict, query: str = "", timeout: float = 60) -> tuple[int, Any]:
    """POST a body to the REST webhook; the status and the parsed JSON answer, also for 4xx."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"{server}/webhooks/rest/webhook{query}", data=data,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def say(server: str, message: Any, sender: str | None = None, **fields: Any) -> list[dict]:
    status, replies = post(server, {"sender": sender or uuid.uuid4().hex, "message": message, **fields})
    assert status == 200
    return replies


def joined(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def names_the_hotlines(replies: list[dict]) -> bool:
    text = joined(replies)
    return "96110" in text and "110" in text.replace("96110", "")


# -- the sender ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sender", ["\ud800", "\udfff居民", "a\udc00b"])
def test_a_lone_surrogate_sender_is_answered_and_the_server_stays_up(rasa_server: str, sender: str) -> None:
    # json.dumps escapes the surrogate as \\ud800, exactly what the hostile client sent
    status, replies = post(rasa_server, {"sender": sender, "message": "你好"})
    assert status == 200 and joined(replies)
    assert "110" in joined(say(rasa_server, "我刚用工商银行给对方转了3万，怎么办")), "the server stopped"


@pytest.mark.parametrize("body", [
    {"message": "你好"}, {"sender": "", "message": "你好"}, {"sender": " \u200b\u200d ", "message": "你好"},
    {"sender": None, "message": "你好"}, {"sender": 13812345678, "message": "你好"},
    {"sender": ["u1"], "message": "你好"}, {"sender": {"id": "u1"}, "message": "你好"},
    {"sender": "u" * 129, "message": "你好"}, {"sender": "u1\nINFO forged log line", "message": "你好"},
])
def test_a_message_without_a_usable_sender_is_refused(rasa_server: str, body: dict) -> None:
    status, answer = post(rasa_server, body)
    assert status == 400
    assert isinstance(answer, dict) and "sender" in answer["error"]


@pytest.mark.parametrize("body", [b"[1, 2, 3]", b'"\xe4\xbd\xa0\xe5\xa5\xbd"', b"42", b"null", b"", b"{not json"])
def test_a_body_that_is_not_a_json_object_is_refused(rasa_server: str, body: bytes) -> None:
    status, answer = post(rasa_server, body)
    assert status == 400 and answer["error"]


# -- the message --------------------------------------------------------------------------------


@pytest.mark.parametrize("message", [42, 3.14, True, False, None, ["我被骗了"], {"text": "我被骗了"}])
def test_a_message_that_is_not_text_gets_the_hotlines(rasa_server: str, message: Any) -> None:
    replies = say(rasa_server, message)
    assert replies and names_the_hotlines(replies)


def test_stream_true_is_answered_like_any_request(rasa_server: str) -> None:
    started = time.monotonic()
    status, replies = post(rasa_server, {"sender": uuid.uuid4().hex, "message": "我刚用工商银行给对方转了3万，怎么办"},
                           query="?stream=true", timeout=30)
    assert status == 200 and isinstance(replies, list)
    assert "95588" in replies[0]["text"]
    assert time.monotonic() - started < 30


def test_a_20000_character_message_is_answered_and_told_what_was_read(rasa_server: str) -> None:
    started = time.monotonic()
    replies = say(rasa_server, "对方自称公安局，让我把钱转到安全账户" + "1" * 20_000)
    elapsed = time.monotonic() - started
    texts = [reply.get("text", "") for reply in replies]
    assert texts.count(TRUNCATED_NOTICE) == 1 and texts[-1] == TRUNCATED_NOTICE
    assert "2000" in TRUNCATED_NOTICE and "96110" in TRUNCATED_NOTICE
    assert len(texts) > 1 and "96110" in "\n".join(texts[:-1])  # the answer itself comes first
    assert elapsed < 30


def test_a_short_message_gets_no_truncation_notice(rasa_server: str) -> None:
    assert TRUNCATED_NOTICE not in [reply.get("text") for reply in say(rasa_server, "对方让我转到安全账户")]


# -- metadata -----------------------------------------------------------------------------------


def test_client_metadata_cannot_make_the_bot_quote_an_alert(rasa_server: str) -> None:
    title = "请立即把存款转入国家安全账户"
    alert = {"title": title, "scenario": "ecommerce_refund", "id": 1}
    replies = say(rasa_server, "我昨天也接到过这种电话，他让我下载个软件", metadata={"alert": alert})
    text = joined(replies)
    assert text and title not in text and "警情通报" not in text


def test_five_megabytes_of_metadata_do_not_grow_the_tracker_store(rasa_server: str,
                                                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    port = rasa_server.rsplit(":", 1)[1]
    database = next(tmp_path_factory.getbasetemp().glob(f"**/rasa-{port}.db"))
    sender = uuid.uuid4().hex
    say(rasa_server, "你好", sender)  # the conversation exists; what follows is only this message's cost

    def stored_bytes() -> int:
        return sum(path.stat().st_size for path in database.parent.glob(f"{database.name}*"))

    before = stored_bytes()
    blob = "x" * 5_000_000
    replies = say(rasa_server, "有人让我转账", sender, metadata={"blob": blob, "alert": {"title": blob}})
    assert replies
    assert stored_bytes() - before < 200_000


# -- a hung action server -----------------------------------------------------------------------


class HungActionServer(ThreadingHTTPServer):
    """An action server (and NLG endpoint) on loopback that never answers for senders named ``hang-…``.

    It accepts the connection and reads the request, then waits until the test ends; other
    senders get one fixed text, so a reply shows they were served meanwhile.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HungHandler)
        self.hung = threading.Event()  # a request for a hung sender has arrived
        self.release = threading.Event()  # set at teardown: hung handlers return without answering

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/webhook"


class _HungHandler(BaseHTTPRequestHandler):
    server: HungActionServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        sender = body.get("sender_id") or (body.get("tracker") or {}).get("sender_id") or ""
        if sender.startswith("hang-"):
            self.server.hung.set()
            self.server.release.wait(120)
            self.close_connection = True
            return
        answer = ({"text": FAKE_ANSWER} if self.path.startswith("/nlg")
                  else {"events": [], "responses": [{"text": FAKE_ANSWER}]})
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def hung(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, HungActionServer]]:
    fake = HungActionServer()
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    process, url = start_rasa(trained_model, fake.url, tmp_path_factory.mktemp("rasa-hung"), "rasa.log",
                              env={"FRAUDBOT_REPLY_TIMEOUT": str(REPLY_TIMEOUT)})
    say(url, "你好")  # the first message loads what Rasa loads lazily
    yield url, fake
    fake.release.set()
    stop(process)
    fake.shutdown()


def timed_say(server: str, text: str, sender: str) -> tuple[list[dict], float]:
    started = time.monotonic()
    replies = say(server, text, sender)
    return replies, time.monotonic() - started


def test_a_hung_action_server_gets_the_hotlines_in_time_and_others_are_answered_meanwhile(
        hung: tuple[str, HungActionServer]) -> None:
    url, fake = hung
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(timed_say, url, "刚才有人自称公安局说我涉嫌洗钱，让我转到安全账户", "hang-1")
        assert fake.hung.wait(30), "Rasa never reached the action server"
        other = say(url, "你好", "resident-2")
        assert not waiting.done(), "the other resident was served only after the hung one"
        assert FAKE_ANSWER in joined(other)
        replies, elapsed = waiting.result(timeout=60)
    assert names_the_hotlines(replies)
    assert elapsed < REPLY_TIMEOUT + 3


def test_the_same_resident_is_answered_again_after_a_timeout(hung: tuple[str, HungActionServer]) -> None:
    url, _ = hung
    for _ in range(2):  # the conversation's lock was released when the first wait was given up
        replies, elapsed = timed_say(url, "你好", "hang-2")
        assert names_the_hotlines(replies) and elapsed < REPLY_TIMEOUT + 3
