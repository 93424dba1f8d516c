"""No personal number is kept or logged: sender ids hashed, every log line redacted (issue 18, finding 5).

The unit tests pin :mod:`bot.privacy` down; the scripted session sends numbers in every form
through the real REST server, then reads every table of the tracker store and of the project's
store, and the Rasa log (at DEBUG, where Rasa logs the resident's text), for any of them.
"""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import sqlite3
import unicodedata
import urllib.request
import warnings
from pathlib import Path
from typing import Iterator

import pytest

from bot import health, privacy
from bot.privacy import RedactingFilter, hash_id, install, redact_log_text
from tests.conftest import start_rasa, stop


@pytest.fixture
def salt(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(privacy.SALT_ENV, "unit-test-salt")
    privacy._salt.cache_clear()
    yield
    privacy._salt.cache_clear()


# --- sender ids ---------------------------------------------------------------------------

def test_sender_ids_hash_stably_per_salt_and_carry_no_digits(salt: None, monkeypatch: pytest.MonkeyPatch) -> None:
    key = hash_id("13800001111")
    assert key == hash_id("13800001111") != hash_id("13800001112")
    assert re.fullmatch("[a-p]{32}", key)
    monkeypatch.setenv(privacy.SALT_ENV, "another-salt")
    privacy._salt.cache_clear()
    assert hash_id("13800001111") != key
    assert hash_id("\ud800")  # a lone surrogate hashes instead of raising


def test_without_a_configured_salt_one_is_generated_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(privacy.SALT_ENV, raising=False)
    salt_file = tmp_path / "var" / "id_salt"
    monkeypatch.setattr(privacy, "SALT_FILE", salt_file)
    privacy._salt.cache_clear()
    try:
        first = hash_id("u1")
        assert salt_file.stat().st_mode & 0o777 == 0o600 and len(salt_file.read_bytes()) == 64
        privacy._salt.cache_clear()  # a restart reads the same secret
        assert hash_id("u1") == first
        assert list(salt_file.parent.iterdir()) == [salt_file]
    finally:
        privacy._salt.cache_clear()


def test_a_salt_that_cannot_be_kept_is_reported_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(privacy.SALT_ENV, raising=False)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setattr(privacy, "SALT_FILE", blocker / "id_salt")
    privacy._salt.cache_clear()
    try:
        assert hash_id("u1") == hash_id("u1")
        assert "FRAUDBOT_ID_SALT" in health.status()["problems"]["id_salt"]
    finally:
        privacy._salt.cache_clear()
        health.recovered("id_salt")


def test_gitignore_keeps_the_salt_out_of_the_repository() -> None:
    assert "var/" in Path(".gitignore").read_text(encoding="utf-8").split()


# --- logs -------------------------------------------------------------------------------

@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """A logger with its own handler, as Rasa, Sanic or a --log-file would add one."""
    install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(request)s", defaults={"request": ""}))
    logger = logging.getLogger("privacy-test")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    install()  # picks up the new handler for `extra` fields
    yield stream
    logger.removeHandler(handler)


def test_every_log_record_is_redacted(log_lines: io.StringIO) -> None:
    logger = logging.getLogger("privacy-test")
    logger.debug("Received user message '%s' from %s", "我电话１３８００００１１１１", "13900002222")
    logger.info({"text": "卡号6222021234567890123"})
    try:
        raise ValueError("bad text 一三八零零零零一一一一")
    except ValueError:
        logger.exception("failed for %s", "幺三八零零零零二二二二")
    logger.warning("request done", extra={"request": "POST /webhooks/rest/webhook?phone=13700003333"})
    # Rasa's structured logs are JSON, with Chinese and full-width text escaped.
    logger.debug(json.dumps({"event": "processor.message.parse", "parse_data_text": "电话１３６００００４４４４"}))
    logger.error("lone surrogate \ud800 with 13500005555")
    logger.info("official lines 110 96110 95588 stay")
    text = log_lines.getvalue()
    for secret in ("00001111", "13900002222", "6222021234567890123", "零零零零", "13700003333", "00004444",
                   "13500005555"):
        assert secret not in text
    assert "１３８******１１" in text and "幺三八******二二" in text and "Traceback" in text
    assert "official lines 110 96110 95588 stay" in text
    assert "\ud800" not in text


def test_a_handler_added_after_install_is_still_redacted() -> None:
    install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("privacy-test-late")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("call %s", "13800001111")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "call 138******11\n"


def test_warnings_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa warns with the text of a /intent message it cannot parse."""
    shown: list[str] = []
    monkeypatch.setattr(warnings, "showwarning", lambda message, *_: shown.append(str(message)))
    privacy._wrap_warnings()
    warnings.showwarning(UserWarning("Failed to parse '/inform{phone:13800001111'"), UserWarning, "x.py", 1)
    assert shown == ["Failed to parse '/inform{phone:138******11'"]


def test_the_filter_redacts_records_it_did_not_see_created() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "call %s", ("13800001111",), None)
    record._fraudbot_redacted = False
    record.request = "GET /?id=110101199003071234"
    RedactingFilter().filter(record)
    assert record.getMessage() == "call 138******11" and "110101199003071234" not in record.request


def test_redact_log_text_reads_json_escapes() -> None:
    assert redact_log_text('"\\uff11\\uff13\\uff18\\uff10\\uff10\\uff10\\uff10\\uff11\\uff11\\uff11\\uff11"') \
        == '"１３８******１１"'


def test_dict_keys_are_redacted_every_time_and_only_clean_ones_are_remembered(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys are remembered to save time (issue 14): the result is redact's, a key it would mask is never kept."""
    from nlu.entities import redact

    monkeypatch.setattr(privacy, "_CLEAN_KEYS", set())
    value = {"13812345678": {"QQ号：88886666": "x"}, "event": "user", "wx_abcdefg": 1, "name": "13912345678"}
    expected = {redact(key): item for key, item in value.items()}
    expected["138******78"] = {redact("QQ号：88886666"): "x"}
    expected["name"] = "139******78"
    assert privacy.redacted(value) == privacy.redacted(value) == expected  # the second time from memory
    assert privacy._CLEAN_KEYS == {"event", "name"}  # "wx_abcdefg" reads as a WeChat id and is masked

    monkeypatch.setattr(privacy, "MAX_CLEAN_KEYS", 2)
    assert privacy.redacted({"slot": 1, "value": 2}) == {"slot": 1, "value": 2}
    assert privacy._CLEAN_KEYS == {"event", "name"}  # bounded: beyond it, keys are simply redacted again


# --- the scripted session through the real server --------------------------------------------

PERSONAL = {
    "plain": "13800001111",
    "full-width": "13912345678",
    "chinese numerals": "13700002222",
    "yao": "13600003333",
    "zero-width": "13500004444",
    "spaced": "13400005555",
    "dashed": "13300006666",
    "dotted": "13200007777",
    "url query": "13100008888",
    "glued phone": "15000009999",
    "glued card": "6222021234567890123",
    "plus 86": "13000009999",
    "id number": "11010119900307123",
    "qq": "987654321",
    "sender": "18800001234",
    "sender 2": "18700005678",
    "metadata": "18600007777",
    "metadata card": "6222021234567890777",
    "slash message": "13900005555",
}
WECHAT_ID = "fraudvictimabc"
OFFICIAL = ("95588", "96110")

SCRIPT = [
    (PERSONAL["sender"], "刚才有人打电话13800001111说是公安局的，让我转到安全账户"),
    (PERSONAL["sender"], "他的号码是１３９１２３４５６７８，还有一个一三七零零零零二二二二"),
    (PERSONAL["sender"], "短信里写幺三六零零零零三三三三，还有135\u200b0000\u200b4444"),
    (PERSONAL["sender"], "对方留了134 0000 5555、133-0000-6666和132.0000.7777，说95588和96110都打不通"),
    (PERSONAL["sender 2"], "让我点 http://pay-safe.top/verify?phone=13100008888&step=2 验证身份"),
    (PERSONAL["sender 2"], "他让我把150000099996222021234567890123发给他"),
    (PERSONAL["sender 2"], "对方电话+86 130 0000 9999，要我身份证号11010119900307123X"),
    (PERSONAL["sender 2"], f"加了他QQ号：987654321，微信号：{WECHAT_ID}"),
    (PERSONAL["sender 2"], '/inform{"phone": "13900005555"'),
    (f"微信用户{PERSONAL['sender 2']}", "有人出500块一个月租我的银行卡"),
]
METADATA = {"phone": PERSONAL["metadata"], "note": "卡号6222 0212 3456 7890 777",
            PERSONAL["metadata"]: "as a key", "alert": {"title": "打13800001111"}}

_CN_DIGITS = str.maketrans("零〇一二两三四五六七八九幺壹贰叁肆伍陆柒捌玖", "0012234567891123456789")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def readable(dump: str) -> str:
    """A dump as a person would read it: JSON escapes read, full-width halved, invisible characters gone."""
    dump = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), dump)
    dump = unicodedata.normalize("NFKC", dump)
    return re.sub("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]", "", dump)


def digits_only(dump: str) -> str:
    return re.sub("[^0-9]", "", readable(dump).translate(_CN_DIGITS))


def every_table(db: Path) -> str:
    connection = sqlite3.connect(db)
    try:
        tables = [name for (name,) in connection.execute("select name from sqlite_master where type='table'")]
        rows = [row for table in tables for row in connection.execute(f'select * from "{table}"')]
    finally:
        connection.close()
    return "\n".join(str(value) for row in rows for value in row)


def post(url: str, sender: str, text: str, metadata: dict | None = None) -> list[dict]:
    body = json.dumps({"sender": sender, "message": text, "metadata": metadata or {}}).encode()
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def disconnect_mid_request(url: str, sender: str, text: str) -> None:
    """Send a whole request and hang up before the answer (Rasa logged the raw text when this happened)."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"sender": sender, "message": text}).encode()
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


@pytest.fixture(scope="module")
def session(trained_model: Path, action_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run the script against a Rasa server of its own (DEBUG logs), stop it, and return what it left behind."""
    tmp = tmp_path_factory.mktemp("privacy")
    store = tmp / "fraudbot.db"
    process, url = start_rasa(trained_model, action_server, tmp, "rasa.log", args=("--debug",), env={
        "FRAUDBOT_ID_SALT": "privacy-test-salt", "FRAUDBOT_DB_URL": f"sqlite:///{store}", "LOG_LEVEL": "DEBUG"})
    replies: list[str] = []
    try:
        disconnect_mid_request(url, PERSONAL["sender"], "我的卡号6222021234567890123")
        for sender, text in SCRIPT:
            replies.append(json.dumps(post(url, sender, text, METADATA), ensure_ascii=False))
    finally:
        stop(process)  # every log line and row is written before anything is read
    databases = sorted(tmp.glob("rasa-*.db")) + ([store] if store.exists() else [])
    return {
        "replies": "\n".join(replies),
        "tracker store": every_table(databases[0]),
        "stores": "\n".join(every_table(db) for db in databases),
        "log": (tmp / "rasa.log").read_text(encoding="utf-8", errors="replace"),
    }


def test_the_session_was_answered_and_stored(session: dict[str, str]) -> None:
    replies = [json.loads(line) for line in session["replies"].splitlines()]
    assert len(replies) == len(SCRIPT) and all(reply for reply in replies)
    assert "96110" in session["replies"]
    stored = readable(session["tracker store"])
    assert "安全账户" in stored and "138******11" in stored  # the conversation is there, masked
    assert "Received user message" in session["log"] or "parse_data_text" in session["log"]  # DEBUG was on


@pytest.mark.parametrize("where", ["stores", "log"])
@pytest.mark.parametrize("name", list(PERSONAL))
def test_no_personal_number_is_kept_or_logged(session: dict[str, str], where: str, name: str) -> None:
    dump = session[where]
    number = PERSONAL[name]
    assert number not in dump
    assert number not in readable(dump)
    assert number not in digits_only(dump)


@pytest.mark.parametrize("where", ["stores", "log"])
def test_no_wechat_id_is_kept_or_logged(session: dict[str, str], where: str) -> None:
    assert WECHAT_ID not in readable(session[where])


def test_official_lines_stay_readable_in_the_store(session: dict[str, str]) -> None:
    stored = readable(session["tracker store"])
    for number in OFFICIAL:
        assert number in stored


def test_a_telegram_bot_token_never_reaches_a_log() -> None:
    """httpx logs every Bot API request's URL at INFO under PTB, in the channel and the alert workers alike."""
    install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("httpx")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        logger.info('HTTP Request: POST %s "HTTP/1.1 200 OK"',
                    "https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in stream.getvalue()
    assert "/bot<token>/sendMessage" in stream.getvalue()
