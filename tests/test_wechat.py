"""WeChat Official Account and WeCom channels end to end: real Rasa + action server, real crypto,
a fake WeChat API on loopback for customer-service messages and picture downloads (screenshots read by
the real OCR); and the replay guard with a fake clock."""

from __future__ import annotations

import hashlib
import itertools
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPConnection
from pathlib import Path
from typing import Iterator

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

from bot.channels.seen import SeenMessages
from bot.channels.wechat_common import MAX_BODY_BYTES, ReplayGuard, Seen, fetch_media
from bot.fallback import TRUNCATED_NOTICE
from bot.inbound import MAX_TEXT_CHARS
from bot.ocr import MAX_IMAGE_BYTES, NOT_RECEIVED, PROBLEMS
from bot.senders.wechat import OfficialAccountClient
from tests.conftest import start_rasa, stop
from tests.fakes.wechat_api import FakeWeChat
from tests.screenshots import sms_screenshot
from tests.test_senders import EXTERNAL_ENTITY, XML_BOMB

TOKEN = "fanzhaToken2026"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat issues them
APPID = "wx1234567890abcdef"
CORP_ID = "ww1234567890abcdef"
_ids = itertools.count(10_000_000)


def credentials(path: Path, oa_timeout: float) -> Path:
    path.write_text(
        "bot.channels.rest.SafeRestInput:\n"
        "bot.channels.wechat.OfficialAccountInput:\n"
        f'  token: "{TOKEN}"\n  aes_key: "{AES_KEY}"\n  appid: "{APPID}"\n  secret: "oa-secret"\n'
        f"  passive_timeout: {oa_timeout}\n"
        "bot.channels.wecom.WeComInput:\n"
        f'  token: "{TOKEN}"\n  aes_key: "{AES_KEY}"\n  corp_id: "{CORP_ID}"\n  secret: "app-secret"\n'
        '  agent_id: "1000002"\n', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWeChat]:
    api = FakeWeChat().start()
    yield api
    api.stop()


def _server(model: Path, actions: str, fake: FakeWeChat, tmp: Path, oa_timeout: float) -> tuple:
    return start_rasa(model, actions, tmp, "rasa.log", credentials(tmp / "credentials.yml", oa_timeout),
                      env={"WECHAT_API_BASE_URL": fake.base_url, "WECOM_API_BASE_URL": fake.base_url,
                           "FRAUDBOT_DB_URL": f"sqlite:///{tmp / 'store.db'}"})


@pytest.fixture(scope="module")
def running(trained_model: Path, action_server: str, fake: FakeWeChat,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The server's URL and its log file."""
    tmp = tmp_path_factory.mktemp("wechat")
    process, url = _server(trained_model, action_server, fake, tmp, 4.0)
    yield url, tmp / "rasa.log"
    stop(process)


@pytest.fixture(scope="module")
def server(running: tuple[str, Path]) -> str:
    return running[0]


@pytest.fixture(scope="module")
def slow_server(trained_model: Path, action_server: str, fake: FakeWeChat,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The passive-reply window set below any real answer time: every answer is 'slow'."""
    process, url = _server(trained_model, action_server, fake, tmp_path_factory.mktemp("wechat-slow"), 0.001)
    yield url
    stop(process)


def sha1_of(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted parts joined."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def signed_query(extra: dict[str, str] | None = None, signature: str | None = None,
                 timestamp: int | None = None) -> dict[str, str]:
    stamp, nonce = str(int(time.time()) if timestamp is None else timestamp), str(next(_ids))
    return {"signature": signature if signature is not None else sha1_of(TOKEN, stamp, nonce),
            "timestamp": stamp, "nonce": nonce, **(extra or {})}


def http(url: str, path: str, query: dict[str, str], body: bytes | None = None) -> tuple[int, str]:
    full = f"{url}{path}?{urllib.parse.urlencode(query)}"
    request = urllib.request.Request(full, data=body, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def text_xml(content: str, openid: str = "oResident1", msg_id: int | None = None, kind: str = "text",
             **fields: str) -> str:
    body = f"<Content><![CDATA[{content}]]></Content>" if kind == "text" else ""
    body += "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return (f"<xml><ToUserName><![CDATA[gh_police]]></ToUserName><FromUserName><![CDATA[{openid}]]>"
            f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>"
            f"{body}<MsgId>{msg_id or next(_ids)}</MsgId></xml>")


def content_of(reply_xml: str) -> str:
    return xmltodict.parse(reply_xml)["xml"]["Content"]


OA = "/webhooks/wechat_oa/webhook"
WECOM = "/webhooks/wecom/webhook"


# -- Official Account ---------------------------------------------------------------------------


def test_url_verification(server: str) -> None:
    assert http(server, OA, signed_query({"echostr": "hello-echo"})) == (200, "hello-echo")
    assert http(server, OA, signed_query({"echostr": "x"}, signature="0" * 40))[0] == 403


def test_plain_text_gets_a_passive_reply(server: str) -> None:
    xml = text_xml("刚才有人自称公安局说我涉嫌洗钱，让我转到安全账户")
    status, reply = http(server, OA, signed_query(), xml.encode())
    assert status == 200
    parsed = xmltodict.parse(reply)["xml"]
    assert parsed["ToUserName"] == "oResident1" and parsed["MsgType"] == "text"
    assert "安全账户" in parsed["Content"] and "96110" in parsed["Content"]
    assert len(parsed["Content"].encode()) <= 2048


def test_forged_or_missing_signature_is_refused(server: str, fake: FakeWeChat) -> None:
    before = len(fake.calls)
    assert http(server, OA, signed_query(signature="f" * 40), text_xml("你好").encode())[0] == 403
    assert http(server, OA, {}, text_xml("你好").encode())[0] == 403
    assert len(fake.calls) == before


def test_safe_mode_round_trip(server: str) -> None:
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    timestamp, nonce = str(int(time.time())), "998877"
    envelope = crypto.encrypt_message(text_xml("我刚用建行给对方转了5000"), nonce, timestamp)
    fields = xmltodict.parse(envelope)["xml"]
    query = signed_query({"encrypt_type": "aes", "msg_signature": fields["MsgSignature"]})
    query.update(timestamp=timestamp, nonce=nonce)
    query["signature"] = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()
    status, reply = http(server, OA, query, envelope.encode())
    assert status == 200
    answer = xmltodict.parse(reply)["xml"]
    plain = crypto.decrypt_message(reply, answer["MsgSignature"], answer["TimeStamp"], answer["Nonce"])
    text = content_of(plain)
    assert text.index("110") < text.index("95533")


def test_safe_mode_with_a_forged_message_signature(server: str) -> None:
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    envelope = crypto.encrypt_message(text_xml("你好"), "1", str(int(time.time())))
    query = signed_query({"encrypt_type": "aes", "msg_signature": "0" * 40})
    assert http(server, OA, query, envelope.encode())[0] == 403


def test_subscribe_gets_the_welcome(server: str) -> None:
    event = (f"<xml><ToUserName>gh</ToUserName><FromUserName>oNew</FromUserName><CreateTime>{int(time.time())}"
             "</CreateTime><MsgType>event</MsgType><Event>subscribe</Event></xml>")
    assert "欢迎关注" in content_of(http(server, OA, signed_query(), event.encode())[1])


def test_voice_recognition_is_treated_as_text(server: str) -> None:
    voice = text_xml("", kind="voice", MediaId="m1", Format="amr", Recognition="有人让我把银行卡借给他用，给我五百块钱")
    assert "帮信罪" in content_of(http(server, OA, signed_query(), voice.encode())[1])


def test_other_media_get_a_polite_answer(server: str) -> None:
    video = text_xml("", kind="video", MediaId="m2", ThumbMediaId="t2")
    assert "只能看文字" in content_of(http(server, OA, signed_query(), video.encode())[1])


def test_retried_message_is_answered_once(server: str, fake: FakeWeChat) -> None:
    xml = text_xml("你好", msg_id=424242).encode()
    first = http(server, OA, signed_query(), xml)
    second = http(server, OA, signed_query(), xml)
    third = http(server, OA, signed_query(), xml)
    assert "反诈助手" in content_of(first[1])
    assert second == (200, "success") and third == (200, "success")


@pytest.mark.parametrize("body", [XML_BOMB, EXTERNAL_ENTITY, "<xml><Content>broken", "\xff\xfe"])
def test_unsafe_xml_is_refused_without_expanding(server: str, body: str) -> None:
    started = time.monotonic()
    status, _ = http(server, OA, signed_query(), body.encode("utf-8", errors="surrogatepass"))
    assert status == 400 and time.monotonic() - started < 5


def test_slow_answer_says_success_then_sends_a_customer_service_message(slow_server: str,
                                                                        fake: FakeWeChat) -> None:
    xml = text_xml("刚才有人自称公安局说我涉嫌洗钱，让我转到安全账户", openid="oSlow", msg_id=777).encode()
    assert http(slow_server, OA, signed_query(), xml) == (200, "success")
    assert http(slow_server, OA, signed_query(), xml) == (200, "success")  # WeChat's retry

    def sent() -> list:
        return [c for c in fake.of("message/custom/send") if c.body.get("touser") == "oSlow"]

    assert fake.wait_for(lambda: len(sent()) >= 1, 30)
    time.sleep(1)
    messages = sent()
    assert len(messages) == 1  # processed once, answered once
    assert messages[0].query["access_token"] == "oa-token"
    assert "安全账户" in messages[0].body["text"]["content"]


# -- WeCom app ----------------------------------------------------------------------------------


def wecom_query(crypto: WeComCrypto, envelope: str | None = None) -> dict[str, str]:
    if envelope is None:
        return {}
    fields = xmltodict.parse(envelope)["xml"]
    return {"msg_signature": fields["MsgSignature"], "timestamp": fields["TimeStamp"], "nonce": fields["Nonce"]}


def test_wecom_url_verification(server: str) -> None:
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    envelope = crypto.encrypt_message("echo-123456", "5566", str(int(time.time())))
    fields = xmltodict.parse(envelope)["xml"]
    query = {"msg_signature": fields["MsgSignature"], "timestamp": fields["TimeStamp"], "nonce": fields["Nonce"],
             "echostr": fields["Encrypt"]}
    assert http(server, WECOM, query) == (200, "echo-123456")
    query["msg_signature"] = "1" * 40
    assert http(server, WECOM, query)[0] == 403


def test_wecom_encrypted_round_trip(server: str) -> None:
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    inner = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[gridworker01]]>"
             f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
             "<Content><![CDATA[帮楼下王阿姨问一下：有人说她中了一辆车，要先交两万税费才能领奖]]></Content>"
             f"<MsgId>{next(_ids)}</MsgId><AgentID>1000002</AgentID></xml>")
    envelope = crypto.encrypt_message(inner, "7788", str(int(time.time())))
    status, reply = http(server, WECOM, wecom_query(crypto, envelope), envelope.encode())
    assert status == 200
    fields = xmltodict.parse(reply)["xml"]
    text = content_of(crypto.decrypt_message(reply, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]))
    assert "中奖" in text and "96110" in text


def test_wecom_forged_signature_and_xml_bomb(server: str) -> None:
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    envelope = crypto.encrypt_message(text_xml("你好"), "1", str(int(time.time())))
    query = wecom_query(crypto, envelope)
    forged = {**query, "msg_signature": "2" * 40}
    assert http(server, WECOM, forged, envelope.encode())[0] == 403
    assert http(server, WECOM, query, XML_BOMB.encode())[0] == 400




# -- the door: timestamp window, replayed signatures, body size, malformed bodies --------------


@pytest.mark.parametrize("skew", [-400, 400, -86_400])
def test_old_or_future_timestamp_is_refused_and_not_processed(server: str, skew: int) -> None:
    msg_id = next(_ids)
    xml = text_xml("你好", openid="oClock", msg_id=msg_id).encode()
    assert http(server, OA, signed_query(timestamp=int(time.time()) + skew), xml) == (403, "forbidden")
    assert http(server, OA, signed_query({"echostr": "e"}, timestamp=int(time.time()) + skew))[0] == 403
    # the refused request left no trace: the same MsgId, sent fresh, is answered rather than deduplicated
    assert "反诈助手" in content_of(http(server, OA, signed_query(), xml)[1])


@pytest.mark.parametrize("timestamp", ["", "abc", "1e9", "-"])
def test_missing_or_garbled_timestamp_is_refused(server: str, timestamp: str) -> None:
    query = {**signed_query(), "timestamp": timestamp}
    assert http(server, OA, query, text_xml("你好").encode())[0] == 403


def test_wecom_old_timestamp_is_refused(server: str) -> None:
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    envelope = crypto.encrypt_message(text_xml("你好"), "31337", str(int(time.time()) - 600))
    assert http(server, WECOM, wecom_query(crypto, envelope), envelope.encode()) == (403, "forbidden")


def test_replayed_plaintext_signature_with_another_body_is_refused(server: str) -> None:
    query = signed_query()
    genuine = text_xml("你好", openid="oGenuine").encode()
    assert "反诈助手" in content_of(http(server, OA, query, genuine)[1])
    forged = text_xml("我刚用工商银行给对方转了3万，怎么办", openid="oAttacker").encode()
    assert http(server, OA, query, forged) == (403, "forbidden")
    # WeChat's own retry (same query, same bytes) is still answered, as a retry
    assert http(server, OA, query, genuine) == (200, "success")


def test_safe_mode_signature_cannot_carry_another_body(server: str) -> None:
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    timestamp, nonce = str(int(time.time())), str(next(_ids))
    envelope = crypto.encrypt_message(text_xml("你好", openid="oSafe"), nonce, timestamp)
    query = {"signature": sha1_of(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
             "encrypt_type": "aes", "msg_signature": xmltodict.parse(envelope)["xml"]["MsgSignature"]}
    status, reply = http(server, OA, query, envelope.encode())
    assert status == 200 and reply.startswith("<xml>")
    # the captured signature sent again: as plaintext with a new message, or with another envelope
    plaintext = {k: v for k, v in query.items() if k not in ("encrypt_type", "msg_signature")}
    assert http(server, OA, plaintext, text_xml("转账到安全账户", openid="oAttacker").encode()) == (403, "forbidden")
    other = crypto.encrypt_message(text_xml("转账到安全账户", openid="oAttacker"), nonce, timestamp)
    assert http(server, OA, query, other.encode())[0] == 403
    assert http(server, OA, query, envelope.encode()) == (200, "success")  # the genuine retry


def test_wecom_replayed_signature_with_another_body_is_refused(server: str) -> None:
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    timestamp, nonce = str(int(time.time())), str(next(_ids))
    envelope = crypto.encrypt_message(text_xml("你好", openid="gridworker02"), nonce, timestamp)
    query = wecom_query(crypto, envelope)
    assert http(server, WECOM, query, envelope.encode())[0] == 200
    other = crypto.encrypt_message(text_xml("转账到安全账户", openid="gridworker03"), nonce, timestamp)
    assert http(server, WECOM, query, other.encode())[0] == 403
    assert http(server, WECOM, query, envelope.encode()) == (200, "success")


def test_retry_with_a_new_nonce_is_answered_once(server: str, fake: FakeWeChat) -> None:
    xml = text_xml("有人让我把银行卡借给他用，给我五百块钱", openid="oRetry", msg_id=next(_ids)).encode()
    replies = [http(server, OA, signed_query(), xml) for _ in range(4)]  # the first and WeChat's 3 retries
    assert replies[0][0] == 200 and "帮信罪" in content_of(replies[0][1])
    assert replies[1:] == [(200, "success")] * 3
    assert not [c for c in fake.calls if c.body.get("touser") == "oRetry"]


def test_oversized_body_gets_413_quickly_and_the_server_stays_up(server: str) -> None:
    huge = b"<xml><Content>" + b"A" * (21 * 1024 * 1024) + b"</Content></xml>"
    for path, query in ((OA, signed_query()), (WECOM, {"timestamp": str(int(time.time())), "nonce": "1",
                                                        "msg_signature": "0" * 40})):
        started = time.monotonic()
        status, _ = http(server, path, query, huge)
        assert status == 413 and time.monotonic() - started < 5
    assert http(server, OA, signed_query(), (b"<xml>" + b" " * MAX_BODY_BYTES + b"</xml>"))[0] == 413
    assert "反诈助手" in content_of(http(server, OA, signed_query(), text_xml("你好").encode())[1])


def test_chunked_oversized_body_is_not_read_to_the_end(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    connection = HTTPConnection(host, int(port), timeout=30)
    chunks = iter([b"<xml><Content>"] + [b"B" * 16_384] * 5 + [b"</Content></xml>"])  # 80 KB, no length
    connection.request("POST", f"{OA}?{urllib.parse.urlencode(signed_query())}", body=chunks,
                       encode_chunked=True)
    assert connection.getresponse().status == 413
    connection.close()
    assert "反诈助手" in content_of(http(server, OA, signed_query(), text_xml("你好").encode())[1])


MARKER = "RAWBODY13812345678"


@pytest.mark.parametrize("body", [
    "<xml></xml>", f"<a>{MARKER}</a>", f"<xml><MsgType>text</MsgType><Content>{MARKER}</Content></xml>",
    f"<xml><MsgType><a>{MARKER}</a></MsgType></xml>", "<xml><MsgType>text</MsgType><MsgType>text</MsgType></xml>",
    f"<xml><MsgType>text</MsgType><FromUserName>o1</FromUserName><MsgId>{MARKER}</MsgId></xml>",
    f"<xml><FromUserName><x>{MARKER}</x></FromUserName><MsgType>text</MsgType></xml>"])
def test_malformed_messages_get_400_and_never_reach_the_log(running: tuple[str, Path], body: str) -> None:
    url, log = running
    assert http(url, OA, signed_query(), body.encode()) == (400, "bad request")
    assert MARKER not in log.read_text(encoding="utf-8", errors="replace")


def test_safe_mode_garbage_envelope_gets_400(running: tuple[str, Path]) -> None:
    url, log = running
    timestamp, nonce, encrypt = str(int(time.time())), str(next(_ids)), f"!!{MARKER}!!"
    query = {"signature": sha1_of(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
             "encrypt_type": "aes", "msg_signature": sha1_of(TOKEN, timestamp, nonce, encrypt)}
    envelope = f"<xml><ToUserName>gh</ToUserName><Encrypt>{encrypt}</Encrypt></xml>"
    assert http(url, OA, query, envelope.encode()) == (400, "bad request")
    assert MARKER not in log.read_text(encoding="utf-8", errors="replace")


def test_very_long_message_is_answered_with_the_truncation_note(running: tuple[str, Path],
                                                                fake: FakeWeChat) -> None:
    url, log = running
    paste = "刚才有人自称公安局说我涉嫌洗钱，让我转到安全账户，" + "我很害怕" * 5000 + MARKER
    assert len(paste) > 20_000
    status, reply = http(url, OA, signed_query(), text_xml(paste, openid="oLong").encode())
    assert status == 200

    def received() -> str:
        later = [c.body["text"]["content"] for c in fake.of("message/custom/send") if c.body.get("touser") == "oLong"]
        return "\n".join(([content_of(reply)] if reply != "success" else []) + later)

    assert fake.wait_for(lambda: TRUNCATED_NOTICE in received(), 60), received()
    answer = received()
    assert f"前{MAX_TEXT_CHARS}个字" in answer and "96110" in answer
    assert answer.index("96110") < answer.index(TRUNCATED_NOTICE)  # the answer first, then the note
    assert MARKER not in log.read_text(encoding="utf-8", errors="replace")


def wecom_texts(server: str, fake: FakeWeChat, user_id: str, text: str, until: str) -> str:
    """Everything a WeCom user is told about ``text`` (passive reply and later app messages), once ``until`` shows."""
    return wecom_told(server, fake, user_id, text_xml(text, openid=user_id), re.escape(until))


def wecom_told(server: str, fake: FakeWeChat, user_id: str, xml: str, until: str) -> str:
    """Everything a WeCom user is told about the message ``xml``, once the pattern ``until`` shows."""
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    envelope = crypto.encrypt_message(xml, str(next(_ids)), str(int(time.time())))
    status, reply = http(server, WECOM, wecom_query(crypto, envelope), envelope.encode())
    assert status == 200
    passive = []
    if reply != "success":
        fields = xmltodict.parse(reply)["xml"]
        plain = xmltodict.parse(crypto.decrypt_message(reply, fields["MsgSignature"], fields["TimeStamp"],
                                                       fields["Nonce"]))["xml"]
        assert plain["ToUserName"] == user_id
        passive = [plain["Content"]]

    def received() -> str:
        later = [c.body["text"]["content"] for c in fake.of("message/send") if c.body.get("touser") == user_id]
        return "\n".join(passive + later)

    assert fake.wait_for(lambda: re.search(until, received()) is not None, 60), received()
    return received()


def test_wecom_cleans_invisible_characters_and_cuts_long_texts(server: str, fake: FakeWeChat) -> None:
    hidden = "有人让我把银\u200b行\u2060卡借给他用，给我五百块钱"
    assert "帮信罪" in wecom_texts(server, fake, "gridworker04", hidden, "帮信罪")
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    odd_id = crypto.encrypt_message(text_xml(hidden, openid="grid\u200bworker05"), str(next(_ids)),
                                    str(int(time.time())))
    assert http(server, WECOM, wecom_query(crypto, odd_id), odd_id.encode()) == (400, "bad request")
    told = wecom_texts(server, fake, "gridworker06", hidden + "，真的" * 1500, TRUNCATED_NOTICE)
    assert told.endswith(TRUNCATED_NOTICE) and len(told) > len(TRUNCATED_NOTICE) + 20


# -- screenshots ---------------------------------------------------------------------------------

SCAM_SMS = "【ETC服务】您的ETC认证已过期，请点击 http://etc-rz.top 重新认证，否则将停用"
VERDICT = "高风险|需警惕"
PREVIEW = "我从图片里看到："


@pytest.fixture(scope="module")
def scam_png() -> bytes:
    return sms_screenshot([SCAM_SMS]).png


def image_xml(media_id: str, openid: str, msg_id: int | None = None) -> str:
    return text_xml("", openid=openid, msg_id=msg_id, kind="image", PicUrl="http://mmbiz.example/1.jpg",
                    MediaId=media_id)


def oa_told(server: str, fake: FakeWeChat, openid: str, xml: str, until: str) -> str:
    """Everything a resident is told about the message ``xml`` (passive reply and later customer-service
    messages), once the pattern ``until`` shows."""
    status, reply = http(server, OA, signed_query(), xml.encode())
    assert status == 200
    passive = [content_of(reply)] if reply != "success" else []

    def received() -> str:
        later = [c.body["text"]["content"] for c in fake.of("message/custom/send") if c.body.get("touser") == openid]
        return "\n".join(passive + later)

    assert fake.wait_for(lambda: re.search(until, received()) is not None, 60), received()
    return received()


def media_calls(fake: FakeWeChat, media_id: str) -> list:
    return [c for c in fake.of("media/get", ok_only=False) if c.query.get("media_id") == media_id]


def test_oa_picture_is_read_and_answered_like_its_text(server: str, fake: FakeWeChat, scam_png: bytes) -> None:
    fake.add_media("etc-oa", scam_png)
    told = oa_told(server, fake, "oPicture", image_xml("etc-oa", "oPicture"), VERDICT)
    assert told.startswith(PREVIEW) and "ETC" in told.splitlines()[0] and "96110" in told
    assert [c.query["access_token"] for c in media_calls(fake, "etc-oa")] == ["oa-token"]


def test_oa_slow_picture_says_success_then_answers_by_customer_service_message(slow_server: str, fake: FakeWeChat,
                                                                               scam_png: bytes) -> None:
    fake.add_media("etc-slow", scam_png)
    xml = image_xml("etc-slow", "oSlowPicture", msg_id=next(_ids)).encode()
    assert http(slow_server, OA, signed_query(), xml) == (200, "success")
    assert http(slow_server, OA, signed_query(), xml) == (200, "success")  # WeChat's retry

    def sent() -> list[str]:
        return [c.body["text"]["content"] for c in fake.of("message/custom/send")
                if c.body.get("touser") == "oSlowPicture"]

    assert fake.wait_for(lambda: re.search(VERDICT, "\n".join(sent())) is not None, 60), sent()
    assert sent()[0].startswith(PREVIEW)
    assert len(media_calls(fake, "etc-slow")) == 1  # the retry was not fetched or read again


def test_oa_picture_that_cannot_be_fetched_gets_an_answer_naming_96110(server: str, fake: FakeWeChat) -> None:
    told = oa_told(server, fake, "oLostPicture", image_xml("no-such-media", "oLostPicture"), "96110")
    assert told.startswith(PROBLEMS[NOT_RECEIVED]) and PREVIEW not in told
    assert [c.status for c in media_calls(fake, "no-such-media")] == [599]  # the fake's errcode 40007
    fake.add_media("too-big", b"\xff\xd8" + b"\0" * MAX_IMAGE_BYTES)
    told = oa_told(server, fake, "oHugePicture", image_xml("too-big", "oHugePicture"), "96110")
    assert told.startswith(PROBLEMS["too_big"])


def test_wecom_picture_is_read_and_answered_like_its_text(server: str, fake: FakeWeChat, scam_png: bytes) -> None:
    fake.add_media("etc-wecom", scam_png)
    xml = image_xml("etc-wecom", "gridworker10").replace("</xml>", "<AgentID>1000002</AgentID></xml>")
    told = wecom_told(server, fake, "gridworker10", xml, VERDICT)
    assert told.startswith(PREVIEW) and "96110" in told
    assert [c.query["access_token"] for c in media_calls(fake, "etc-wecom")] == ["wecom-token"]
    lost = image_xml("wecom-lost", "gridworker11").replace("</xml>", "<AgentID>1000002</AgentID></xml>")
    assert wecom_told(server, fake, "gridworker11", lost, "96110").startswith(PROBLEMS[NOT_RECEIVED])


def test_media_download_renews_an_expired_token_and_stops_at_the_limit(fake: FakeWeChat) -> None:
    client = OfficialAccountClient(APPID, "oa-secret", fake.base_url, timeout=10)  # token in memory, not the store
    fake.add_media("small", b"\x89PNG-not-really")
    fake.fail_next("media/get", errcode=40001, errmsg="invalid credential")
    tokens = len(fake.of("token"))
    assert fetch_media(client, "small") == b"\x89PNG-not-really"
    assert len(fake.of("token")) == tokens + 2  # the first token, then a new one after 40001
    assert fetch_media(client, "small", limit=5) == "too_big"
    assert fetch_media(client, "missing") == NOT_RECEIVED


# -- the replay guard and the message memory, with a fake clock ---------------------------------


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_guard_window_is_five_minutes_either_way() -> None:
    clock = Clock()
    guard = ReplayGuard(clock=clock)
    now = int(clock.now)
    assert guard.fresh(str(now)) and guard.fresh(str(now - 300)) and guard.fresh(str(now + 300))
    assert not guard.fresh(str(now - 301)) and not guard.fresh(str(now + 301))
    assert not any(guard.fresh(bad) for bad in ("", "abc", "1.5e9", " ", "١٨٠٠٠٠٠٠٠٠"))


def test_guard_tells_new_retry_and_replay_apart_until_the_key_expires() -> None:
    clock = Clock()
    guard = ReplayGuard(clock=clock)
    key = (str(int(clock.now)), "nonce-1", "sig")
    assert guard.check(key, b"<xml>a</xml>") is Seen.NEW
    assert guard.check(key, b"<xml>a</xml>") is Seen.RETRY
    assert guard.check(key, b"<xml>b</xml>") is Seen.REPLAY
    assert guard.check((key[0], "nonce-2", "sig"), b"<xml>b</xml>") is Seen.NEW
    clock.now += 2 * guard.window - 1
    assert guard.check(key, b"<xml>b</xml>") is Seen.REPLAY  # still remembered while it could be fresh
    clock.now += 2
    assert not guard.fresh(key[0])  # by the time it is forgotten, the timestamp is refused anyway
    assert guard.check(key, b"<xml>b</xml>") is Seen.NEW


def test_guard_and_message_memory_stay_bounded() -> None:
    clock = Clock()
    guard = ReplayGuard(limit=100, clock=clock)
    for n in range(1000):
        guard.check(("t", str(n), "s"), b"x")
    assert len(guard._keys) == 100
    assert guard.check(("t", "999", "s"), b"y") is Seen.REPLAY  # the newest are kept
    seen = SeenMessages(ttl=10, limit=50, clock=clock)
    assert all(seen.first_time(n) for n in range(500))
    assert not seen.first_time(499) and seen.first_time(0)
    clock.now += 11
    assert seen.first_time(499)
