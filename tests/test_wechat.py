"""WeChat Official Account and WeCom channels end to end: real Rasa + action server, real crypto,
a fake WeChat API on loopback for customer-service messages."""

from __future__ import annotations

import hashlib
import itertools
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

from tests.conftest import start_rasa, stop
from tests.fakes.wechat_api import FakeWeChat
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
def server(trained_model: Path, action_server: str, fake: FakeWeChat,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url = _server(trained_model, action_server, fake, tmp_path_factory.mktemp("wechat"), 4.0)
    yield url
    stop(process)


@pytest.fixture(scope="module")
def slow_server(trained_model: Path, action_server: str, fake: FakeWeChat,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The passive-reply window set below any real answer time: every answer is 'slow'."""
    process, url = _server(trained_model, action_server, fake, tmp_path_factory.mktemp("wechat-slow"), 0.001)
    yield url
    stop(process)


def signed_query(extra: dict[str, str] | None = None, signature: str | None = None) -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), str(next(_ids))
    digest = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()
    return {"signature": signature if signature is not None else digest, "timestamp": timestamp,
            "nonce": nonce, **(extra or {})}


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


def test_images_get_a_polite_answer(server: str) -> None:
    image = text_xml("", kind="image", PicUrl="http://x/1.jpg", MediaId="m2")
    assert "只能看文字" in content_of(http(server, OA, signed_query(), image.encode())[1])


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


