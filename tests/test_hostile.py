"""Issue 18's hostile findings, shown through the real servers: REST on loopback, real Rasa and actions.

One Rasa server for the module, started the project's own way (``python -m bot.rasa_server``,
as ``fraudbot serve`` does: no ``-i``, the API token in the environment), so its listening
address and command line are those production gets. Its action endpoint is a small relay on
loopback in front of the real action server, so a test can make the action server hang or
vanish without starting a second Rasa. A watchdog kills Rasa above ``RSS_KILL_BYTES``: the
issue's random paste took 10-20 GB, which would take a shared machine down with it.

The tests run in file order; the tracker-store faults come last and put the database back.
Findings 9 (admin) and 10 (WeChat/Telegram) are not on the Rasa REST port and are not here.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest

from bot.processes import free_port, start_action_server
from core.knowledge import domain_responses
from tests.conftest import listening_addresses, start_rasa, stop, tracker_db
from tests.hostile_inputs import INJECTIONS, digits, fuzz_messages, gibberish, random_paste

pytestmark = pytest.mark.model

WEBHOOK = "/webhooks/rest/webhook"
MONEY_GONE_ALARM = "🚨 钱已经转出去了"
MONEY_SENT = "我刚用工商银行给对方转了3万，怎么办"
SCAM_STORY = "刚才有人自称公安局说我涉嫌洗钱，让我转到安全账户，是真的吗"
REPLY_TIMEOUT = 10.0  # FRAUDBOT_REPLY_TIMEOUT's default, which this module's Rasa runs with
RSS_KILL_BYTES = 4 * 1024**3
FUZZ_MESSAGES = 2_000
FUZZ_CONCURRENCY = 4
FUZZ_RSS_GROWTH_BYTES = 500 * 1024**2
METADATA_GROWTH_BYTES = 1024**2
POLICE = re.compile(r"(?<!\d)110(?!\d)")  # 110 itself, not the tail of 96110


# ---------------------------------------------------------------- servers


class RssWatchdog:
    """Samples a process's resident memory every 50 ms; kills it above ``limit`` bytes."""

    def __init__(self, process: subprocess.Popen, limit: int = RSS_KILL_BYTES) -> None:
        self.process, self.limit = process, limit
        self.peak = 0
        self.killed_at: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def rss(self) -> int:
        """Current VmRSS in bytes (0 once the process is gone)."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        return int(found[1]) * 1024 if found else 0

    def reset_peak(self) -> None:
        self.peak = self.rss()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            rss = self.rss()
            self.peak = max(self.peak, rss)
            if rss > self.limit and self.process.poll() is None:
                self.killed_at = rss
                self.process.kill()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class Relay:
    """An HTTP relay on loopback in front of the action server: ``forward``, ``hang`` or ``drop``.

    ``hang`` holds each request without answering (a stuck action server); ``drop`` closes the
    connection without a reply (a dead one, as the client sees it).
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.mode = "forward"
        self.release = threading.Event()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                mode = relay.mode  # as when the request came: a held request is never answered
                if mode == "hang":
                    relay.release.wait(120)
                if mode != "forward":
                    self.close_connection = True
                    return
                status, answer = relay.forward(self.command, self.path, body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:  # Rasa gave up on this call (its reply timeout) and hung up
                    self.close_connection = True

            do_GET = do_POST = _relay

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def forward(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(self.target + path, data=body if method == "POST" else None,
                                         method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            return 502, b"{}"

    def set_mode(self, mode: str) -> None:
        if mode == "hang":
            self.release = threading.Event()
        else:
            self.release.set()
        self.mode = mode

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@dataclass
class Bot:
    """The servers under test and where they keep their traces."""

    url: str
    rasa: subprocess.Popen
    actions: subprocess.Popen
    actions_port: int
    relay: Relay
    watchdog: RssWatchdog
    database: Path
    rasa_log: Path
    actions_log: Path
    token: str


@pytest.fixture(scope="module")
def bot(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    tmp = tmp_path_factory.mktemp("hostile")
    actions_port = free_port()
    actions = start_action_server(actions_port, log=tmp / "actions.log")
    relay = Relay(f"http://127.0.0.1:{actions_port}")
    token = "t" + secrets.token_urlsafe(24)  # a leading "-" is its own test below
    try:
        # as ``fraudbot serve`` starts it: bot.rasa_server, API on, token from the environment, no -i
        # (an empty FRAUDBOT_RASA_HOST leaves the project's default interface)
        rasa, url = start_rasa(trained_model, f"{relay.url}/webhook", tmp, "rasa.log", args=("--enable-api",),
                               env={"FRAUDBOT_RASA_TOKEN": token, "FRAUDBOT_RASA_HOST": ""},
                               module="bot.rasa_server", interface=None)
    except Exception:
        stop(actions)
        relay.close()
        raise
    watchdog = RssWatchdog(rasa)
    yield Bot(url, rasa, actions, actions_port, relay, watchdog, tracker_db(tmp, urlsplit(url).port), tmp / "rasa.log",
              tmp / "actions.log", token)
    watchdog.close()
    stop(rasa)
    stop(actions)
    relay.close()


# ---------------------------------------------------------------- HTTP helpers


@dataclass
class Answer:
    status: int
    body: bytes
    seconds: float

    def replies(self) -> list[dict]:
        """The bubbles of a 200 answer; fails the test on anything else."""
        assert self.status == 200, f"HTTP {self.status}: {self.body[:300]!r}"
        replies = json.loads(self.body)
        assert isinstance(replies, list) and replies, f"no reply: {self.body[:300]!r}"
        return replies


def post(url: str, body: bytes, path: str = WEBHOOK, timeout: float = 120.0) -> Answer:
    request = urllib.request.Request(url + path, data=body, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.read(), time.perf_counter() - started)
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(), time.perf_counter() - started)


def body(**fields: Any) -> bytes:
    """A JSON request body; lone surrogates become raw ``\\udxxx`` escapes (ensure_ascii)."""
    return json.dumps(fields).encode("ascii")


def say(bot: Bot, message: Any, sender: str | None = None, timeout: float = 120.0, **extra: Any) -> list[dict]:
    return post(bot.url, body(sender=sender or uuid.uuid4().hex, message=message, **extra), timeout=timeout).replies()


def text(replies: list[dict]) -> str:
    return "\n".join(str(reply.get("text") or "") for reply in replies)


def names_hotlines(words: str) -> bool:
    """96110 and 110 both named (110 on its own, not only inside 96110)."""
    return "96110" in words and bool(POLICE.search(words))


def told_truncated(replies: list[dict]) -> bool:
    """One bubble says only the first 2000 characters were read."""
    return any(mark in str(reply.get("text") or "") for reply in replies for mark in ("2000", "2,000", "两千"))


def health(bot: Bot) -> dict:
    with urllib.request.urlopen(f"{bot.url}/health", timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def wait_for(predicate: Any, seconds: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def assert_alive(bot: Bot) -> None:
    assert bot.watchdog.killed_at is None, f"Rasa killed by the watchdog at {bot.watchdog.killed_at / 1024**3:.1f} GB"
    assert bot.rasa.poll() is None, f"Rasa exited with {bot.rasa.returncode}"
    assert bot.actions.poll() is None, f"the action server exited with {bot.actions.returncode}"
    assert "110" in text(say(bot, MONEY_SENT, timeout=30))


# ---------------------------------------------------------------- 1. one request stops everything


@pytest.mark.parametrize("raw", [
    b'{"sender":"\\ud800","message":"\xe4\xbd\xa0\xe5\xa5\xbd"}',
    b'{"sender":"\\udfff\\ud800","message":"\\ud800\xe4\xbd\xa0\xe5\xa5\xbd"}',
    b'{"sender":"resident-\\udc00","message":"\\ud83d\xe8\xbd\xac\xe8\xb4\xa6"}',
    b'{"sender":"resident-meta","message":"hi","metadata":{"\\ud800":"\\udfff","alert":{"title":"\\udc00"}}}',
], ids=["lone-high-sender", "reversed-pair", "lone-low-and-half-emoji", "in-metadata"])
def test_lone_surrogates_are_answered_and_nothing_stops(bot: Bot, raw: bytes) -> None:
    assert post(bot.url, raw, timeout=30).replies()
    assert_alive(bot)


# ---------------------------------------------------------------- 2. one message stalls the server


def _send_in_background(url: str, payload: bytes) -> tuple[threading.Thread, threading.Event, dict]:
    """POST ``payload``; ``sent`` is set once the whole body is on the wire."""
    host, port = url.removeprefix("http://").split(":")
    sent, result = threading.Event(), {}

    def run() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=180)
        started = time.perf_counter()
        try:
            connection.request("POST", WEBHOOK, payload, {"Content-Type": "application/json"})
            sent.set()
            response = connection.getresponse()
            result["answer"] = Answer(response.status, response.read(), time.perf_counter() - started)
        except OSError as error:
            result["error"] = error
        finally:
            sent.set()
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, sent, result


@pytest.mark.parametrize("kind", ["digits", "random-paste"])
def test_a_20000_character_message_is_answered_and_stalls_nobody(
        bot: Bot, kind: str, record_property: Any) -> None:
    long_text = digits(20_000) if kind == "digits" else random_paste(20_000)
    bot.watchdog.reset_peak()
    thread, sent, result = _send_in_background(bot.url, body(sender=uuid.uuid4().hex, message=long_text))
    assert sent.wait(30)
    money = post(bot.url, body(sender=uuid.uuid4().hex, message=MONEY_SENT), timeout=120)
    thread.join(180)
    record_property(f"{kind}_other_resident_s", round(money.seconds, 3))
    print(f"\n{kind}: other resident answered in {money.seconds:.2f} s; ", end="")
    assert "answer" in result, f"the long message got no answer: {result.get('error')!r}"
    long_answer: Answer = result["answer"]
    record_property(f"{kind}_long_message_s", round(long_answer.seconds, 3))
    print(f"the 20,000 characters in {long_answer.seconds:.2f} s; peak RSS {bot.watchdog.peak / 1024**2:.0f} MB")
    assert_alive(bot)
    replies = long_answer.replies()
    assert told_truncated(replies), text(replies)
    assert "96110" in text(replies)
    assert "110" in text(money.replies())
    assert money.seconds < 10, f"a money-already-sent message waited {money.seconds:.1f} s behind the paste"


# ---------------------------------------------------------------- 3. phishing links vouched for

ASKING_ABOUT = "工商银行发短信说我的账户异常，让我登录 {} 验证一下，这个网址是官方的吗"


def test_the_official_domain_is_still_recognised(bot: Bot) -> None:
    """The control: without it the look-alike test below would pass on a bot that never says ✅."""
    assert "属于官方网站域名" in text(say(bot, ASKING_ABOUT.format("https://www.icbc.com.cn")))


@pytest.mark.parametrize("link", [
    "https://icbc-safe.top?.icbc.com.cn", "https://icbc-safe.top#.icbc.com.cn", "https://icbc.com.cn@evil.top",
    "icbc-com.cn", "https://ıcbc.com.cn", "http://icbc-safe.top\\.icbc.com.cn", "https://icbc.com.cn.evil.top",
])
def test_look_alike_links_are_never_called_official(bot: Bot, link: str) -> None:
    words = text(say(bot, ASKING_ABOUT.format(link)))
    assert "属于官方网站域名" not in words and "✅" not in words, words


# ---------------------------------------------------------------- 4. no hotline, or nothing


@pytest.mark.parametrize("message", [5, 3.5, ["你好"], {"text": "你好"}, True, False, None],
                         ids=["int", "float", "list", "object", "true", "false", "null"])
def test_a_message_that_is_not_a_string_still_gets_the_hotlines(bot: Bot, message: Any) -> None:
    assert names_hotlines(text(say(bot, message, timeout=30)))


def test_stream_true_is_answered_within_a_deadline(bot: Bot) -> None:
    answer = post(bot.url, body(sender=uuid.uuid4().hex, message=SCAM_STORY), path=WEBHOOK + "?stream=true",
                  timeout=20)
    assert "96110" in text(answer.replies())


def test_a_hung_action_server_is_not_waited_on(bot: Bot, record_property: Any) -> None:
    bot.relay.set_mode("hang")
    try:
        answer = post(bot.url, body(sender=uuid.uuid4().hex, message=SCAM_STORY), timeout=60)
    finally:
        bot.relay.set_mode("forward")
    record_property("hung_action_server_s", round(answer.seconds, 2))
    assert names_hotlines(text(answer.replies()))
    assert answer.seconds < REPLY_TIMEOUT + 5, f"answered after {answer.seconds:.1f} s"
    assert "高风险" in text(say(bot, SCAM_STORY, timeout=30))  # and the real answer is back


def test_health_names_an_unreachable_action_server(bot: Bot) -> None:
    bot.relay.set_mode("drop")
    try:
        assert names_hotlines(text(say(bot, SCAM_STORY, timeout=30)))
        report = health(bot)
        assert report["status"] == "degraded", report
        assert any("action" in name.lower() for name in report["problems"]), report
    finally:
        bot.relay.set_mode("forward")
    assert wait_for(lambda: health(bot)["status"] == "ok", 15, 0.5), health(bot)


# ---------------------------------------------------------------- 5. personal numbers kept

CHINESE_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
PHONE_AS_SENDER = "13912345678"
DISCONNECTING_SENDER = "13012345678"
ZERO_WIDTH_PHONE = "\u200b".join("13412345678")
PRIVATE = {  # the number -> the forms it was written in, each searched verbatim too
    PHONE_AS_SENDER: [PHONE_AS_SENDER],
    "13812345678": ["13812345678"],
    "6222021234567890123": ["6222021234567890123"],
    "13712345678": ["13712345678"],
    "6217001234567890123": ["6217001234567890123"],
    "13612345678": ["１３６１２３４５６７８"],
    "13512345678": ["一三五一二三四五六七八"],
    "13412345678": [ZERO_WIDTH_PHONE],
    "987654321": ["987654321"],
    "110101199003078888": ["110101199003078888"],
    "13312345678": ["13312345678"],
    "13212345678": ["13212345678"],
    "13112345678": ["13112345678"],
    DISCONNECTING_SENDER: [DISCONNECTING_SENDER],
    "6228480402564890018": ["6228480402564890018"],
}
SESSION = [
    "骗子的电话138123456786222021234567890123，让我往这张卡转钱",  # a phone directly followed by a card
    "他发来的链接 http://pay-safe.top/login?phone=13712345678&card=6217001234567890123 让我填信息",
    "对方电话是１３６１２３４５６７８，说是银行的",
    "他说他的号码是一三五一二三四五六七八，让我回电",
    f"加他微信，号码{ZERO_WIDTH_PHONE}，说能退款",
    "他让我加QQ号：987654321，说能退款",
    "对方要我把身份证号110101199003078888发过去",
    '/inform{"phone":"13212345678"',  # a payload that fails to parse
]


def digits_only(dump: str) -> str:
    """Every digit of ``dump`` in a row (full-width and Chinese numerals as digits), separators gone."""
    return "".join(ch for ch in dump.translate(FULL_WIDTH_DIGITS).translate(CHINESE_DIGITS) if ch.isdigit())


def dump_database(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        tables = [row[0] for row in connection.execute("select name from sqlite_master where type='table'")]
        return "\n".join(repr(row) for table in tables for row in connection.execute(f'select * from "{table}"'))


def _disconnect_mid_request(bot: Bot) -> None:
    """Send a message with numbers, then hang up before the answer (a log line once leaked it)."""
    host, port = bot.url.removeprefix("http://").split(":")
    payload = body(sender=DISCONNECTING_SENDER, message="我的卡号6228480402564890018被冻结了，对方让我转账解冻")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(f"POST {WEBHOOK} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)


def test_no_personal_number_is_stored_or_logged(bot: Bot) -> None:
    for message in SESSION:
        say(bot, message, sender=PHONE_AS_SENDER, timeout=30)
    say(bot, "这个号码13312345678是谁", sender=PHONE_AS_SENDER, metadata={"phone": "13312345678"}, timeout=30)
    say(bot, "帮我看看这条短信", sender=PHONE_AS_SENDER, input_channel="13112345678", timeout=30)
    _disconnect_mid_request(bot)
    # The conversation lock serialises this sender's messages: once this is answered, the one
    # whose client hung up has been handled (or dropped), and its traces are written.
    say(bot, "你好", sender=DISCONNECTING_SENDER, timeout=30)
    dumps = {"tracker store": dump_database(bot.database),
             "Rasa log": bot.rasa_log.read_text(encoding="utf-8", errors="replace"),
             "action server log": bot.actions_log.read_text(encoding="utf-8", errors="replace")}
    found = [f"{number} ({form!r}) in the {where}"
             for where, dump in dumps.items() for number, forms in PRIVATE.items()
             for form in forms if form in dump or number in dump or number in digits_only(dump)]
    assert not found, found


# ---------------------------------------------------------------- 6. gibberish sets off the alarm


def test_gibberish_never_gets_the_money_gone_alarm(bot: Bot) -> None:
    messages = ["1' OR '1'='1", *gibberish(200)]
    with ThreadPoolExecutor(FUZZ_CONCURRENCY) as pool:
        answers = list(pool.map(lambda message: text(say(bot, message, timeout=60)), messages))
    wrong = [(message, words[:80]) for message, words in zip(messages, answers, strict=True)
             if MONEY_GONE_ALARM in words or not names_hotlines(words)]
    assert not wrong, f"{len(wrong)} of {len(messages)}: {wrong[:10]}"


# ---------------------------------------------------------------- 8. REST input trusted too far


@pytest.mark.parametrize("fields", [{}, {"sender": ""}, {"sender": 123}, {"sender": None}, {"sender": ["a"]}],
                         ids=["none", "empty", "number", "null", "list"])
def test_a_message_without_a_sender_is_refused(bot: Bot, fields: dict) -> None:
    answer = post(bot.url, body(message="你好", **fields), timeout=30)
    assert answer.status == 400, (answer.status, answer.body[:200])
    assert json.loads(answer.body).get("error")


def test_a_client_cannot_make_the_bot_quote_an_alert_title(bot: Bot) -> None:
    title = "警情通报测试标题QX7Z请立即转账到安全账户"
    words = text(say(bot, SCAM_STORY, metadata={"alert": {"title": title, "scenario": "fake_police"}}))
    assert "QX7Z" not in words
    assert "QX7Z" not in dump_database(bot.database)


def test_a_5_mb_metadata_does_not_swell_the_tracker_store(bot: Bot) -> None:
    before = bot.database.stat().st_size
    metadata = {"blob": "啊" * (5 * 1024**2 // 3), "alert": {"title": "x" * 1000}, "nested": [[["y"] * 1000]]}
    assert say(bot, "你好", metadata=metadata)
    grown = bot.database.stat().st_size - before
    assert grown < METADATA_GROWTH_BYTES, f"rasa.db grew {grown / 1024**2:.1f} MB"


# ---------------------------------------------------------------- 11. operations, seen from outside


LOOPBACK = {"0100007F", "00000000000000000000000001000000"}


def test_rasa_and_the_action_server_listen_on_loopback_only(bot: Bot) -> None:
    rasa_port = int(bot.url.rsplit(":", 1)[1])
    for name, port in (("Rasa", rasa_port), ("action server", bot.actions_port)):
        addresses = listening_addresses(port)
        assert addresses and addresses <= LOOPBACK, f"{name} listens on {addresses}"


def test_the_rasa_token_is_not_on_the_command_line_but_works(bot: Bot) -> None:
    command_line = Path(f"/proc/{bot.rasa.pid}/cmdline").read_bytes().decode(errors="replace")
    assert bot.token not in command_line
    with urllib.request.urlopen(f"{bot.url}/status?token={bot.token}", timeout=10) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{bot.url}/status", timeout=10)
    assert refused.value.code == 401


def test_a_rasa_token_starting_with_a_dash_is_passed_to_rasa_intact() -> None:
    """``secrets.token_urlsafe`` starts with "-" once in 64 draws; Rasa must still get it as the token.

    Found by this file's fixture: ``rasa run: error: argument -t/--auth-token: expected one argument``.
    """
    from rasa.__main__ import create_argument_parser

    from bot.rasa_server import rasa_argv

    token = "-" + secrets.token_urlsafe(24)
    try:
        parsed = create_argument_parser().parse_args(rasa_argv(["run", "--enable-api"], token, "127.0.0.1")[1:])
    except SystemExit as refused:
        pytest.fail(f"Rasa's command line refused the token (exit {refused.code})")
    assert parsed.auth_token == token


# ---------------------------------------------------------------- fuzz


def _known_answers() -> list[str]:
    """The starts of the domain's answers to understood small talk and form questions (no hotline needed)."""
    names = ["utter_greet", "utter_goodbye", "utter_thanks", "utter_what_i_can_do", "utter_iamabot",
             "utter_out_of_scope", "utter_noted", "utter_call_check_intro", "utter_ask_asked_money",
             "utter_ask_asked_code", "utter_ask_money_moved", "utter_answer_yes_no"]
    responses = domain_responses()
    return [variation["text"].split("{")[0][:12] for name in names for variation in responses.get(name) or ()
            if isinstance(variation, dict) and variation.get("text")]


def understood(replies: list[dict], known: list[str]) -> bool:
    """A verdict (it lists the lines to call) or one of the domain's small-talk and form answers."""
    texts = [str(reply.get("text") or "") for reply in replies]
    return any("求助电话" in t or "求助電話" in t for t in texts) or any(
        t.startswith(start) for t in texts for start in known)


def _fuzz_one(bot: Bot, message: str, known: list[str]) -> str | None:
    """What is wrong with the answer to ``message``, or None."""
    try:
        answer = post(bot.url, body(sender=uuid.uuid4().hex, message=message), timeout=60)
    except OSError as error:
        return f"no answer: {error!r}"
    if answer.status != 200:
        return f"HTTP {answer.status}"
    replies = json.loads(answer.body)
    if not isinstance(replies, list) or not replies or not text(replies).strip():
        return f"empty reply {answer.body[:80]!r}"
    if not understood(replies, known) and not names_hotlines(text(replies)):
        return f"not understood, and no 96110/110: {text(replies)[:80]!r}"
    return None


def test_fuzz_2000_hostile_messages(bot: Bot, record_property: Any) -> None:
    messages = [*INJECTIONS, *fuzz_messages(FUZZ_MESSAGES)]
    known = _known_answers()
    assert_alive(bot)
    rss_before = bot.watchdog.rss()
    started = time.perf_counter()
    with ThreadPoolExecutor(FUZZ_CONCURRENCY) as pool:
        problems = list(pool.map(lambda message: _fuzz_one(bot, message, known), messages))
    grown = bot.watchdog.rss() - rss_before
    record_property("fuzz_seconds", round(time.perf_counter() - started, 1))
    record_property("fuzz_rss_growth_mb", round(grown / 1024**2))
    print(f"\nfuzz: {len(messages)} messages in {time.perf_counter() - started:.0f} s, "
          f"RSS {rss_before / 1024**2:.0f} MB -> +{grown / 1024**2:.0f} MB")
    wrong = [(message[:60], problem) for message, problem in zip(messages, problems, strict=True) if problem]
    assert not wrong, f"{len(wrong)} of {len(messages)}: {wrong[:10]}"
    assert_alive(bot)
    assert grown < FUZZ_RSS_GROWTH_BYTES, f"Rasa grew {grown / 1024**2:.0f} MB"


# ---------------------------------------------------------------- 7. a broken tracker store is silent


@contextmanager
def _block_the_journal(database: Path) -> Iterator[None]:
    """Every access fails, even as root: a directory where SQLite must create its journal.

    chmod does not stop root, so the database cannot be made read-only that way; SQLite
    checks ``rasa.db-journal`` before reading and must create it to write, and a directory of
    that name makes both fail with "disk I/O error" (OperationalError), as a vanished or
    corrupt volume would.
    """
    journal = database.with_name(database.name + "-journal")
    journal.mkdir()
    try:
        yield
    finally:
        journal.rmdir()


@contextmanager
def _refuse_writes(database: Path) -> Iterator[None]:
    """Reads work, writes fail, even as root: a trigger that aborts every insert into ``events``."""
    with sqlite3.connect(database) as connection:
        connection.execute("create trigger hostile_read_only before insert on events "
                           "begin select raise(abort, 'attempt to write a readonly database'); end")
    try:
        yield
    finally:
        with sqlite3.connect(database) as connection:
            connection.execute("drop trigger hostile_read_only")


@pytest.mark.parametrize("fault", [_refuse_writes, _block_the_journal], ids=["writes-refused", "every-access-fails"])
def test_a_broken_tracker_store_is_reported_and_replies_continue(bot: Bot, fault: Any) -> None:
    log_lines_before = len(bot.rasa_log.read_text(encoding="utf-8", errors="replace").splitlines())
    with fault(bot.database):
        words = text(say(bot, MONEY_SENT, timeout=30))
        assert names_hotlines(words), words
        report = health(bot)
        assert report["status"] == "degraded", report
        assert any("tracker" in name.lower() for name in report["problems"]), report

        def logged() -> bool:
            new = bot.rasa_log.read_text(encoding="utf-8", errors="replace").splitlines()[log_lines_before:]
            return any("FRAUDBOT_DEGRADED" in line and "tracker" in line.lower() for line in new)

        assert wait_for(logged, 10), "no FRAUDBOT_DEGRADED line about the tracker store in the Rasa log"
        # The symptom: every conversation forgot its last turn, so the bank question looped.
        sender = uuid.uuid4().hex
        assert any(button.get("title") == "建设银行" for button in say(bot, "被骗了，钱已经转过去了，怎么办啊",
                                                                        sender, timeout=30)[-1].get("buttons", []))
        assert "95533" in text(say(bot, '/inform{"bank":"建设银行"}', sender, timeout=30))

    def recovered() -> bool:
        say(bot, "你好", timeout=30)
        return health(bot)["status"] == "ok"

    assert wait_for(recovered, 30, 1), health(bot)

