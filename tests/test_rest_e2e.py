"""End to end: the real Rasa server and action server, talked to through the REST channel."""

import json
import sqlite3
import urllib.error
import urllib.request
import uuid

import pytest


def say(server: str, text: str, sender: str | None = None) -> list[dict]:
    body = json.dumps({"sender": sender or uuid.uuid4().hex, "message": text}).encode()
    request = urllib.request.Request(f"{server}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def joined(messages: list[dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def test_money_sent_through_a_named_bank(rasa_server: str) -> None:
    replies = say(rasa_server, "我刚用工商银行给对方转了3万，怎么办")
    assert "110" in replies[0]["text"] and "95588" in replies[0]["text"]


def test_money_sent_then_bank_named(rasa_server: str) -> None:
    sender = uuid.uuid4().hex
    first = say(rasa_server, "被骗了，钱已经转过去了，怎么办啊", sender)
    assert "110" in first[0]["text"]
    assert any(button["title"] == "建设银行" for button in first[-1].get("buttons", []))
    second = say(rasa_server, '/inform{"bank":"建设银行"}', sender)
    assert "95533" in second[0]["text"]


def test_fake_police_safe_account_is_explained(rasa_server: str) -> None:
    text = joined(say(rasa_server, "刚才有人自称公安局说我涉嫌洗钱，让我转到安全账户，是真的吗"))
    assert "高风险" in text and "安全账户" in text and "96110" in text


def test_call_check_form(rasa_server: str) -> None:
    sender = uuid.uuid4().hex
    first = joined(say(rasa_server, "刚才有个人打电话说是快递客服，说我的包裹丢了要理赔", sender))
    assert "转账" in first  # the first question of the form
    assert "验证码" in joined(say(rasa_server, "/deny", sender))
    # a demand confirmed settles it: the verdict at once, no third question
    verdict = joined(say(rasa_server, "/affirm", sender))
    assert "高风险" in verdict and "96110" in verdict and "转出去了吗" not in verdict


def test_phishing_sms(rasa_server: str) -> None:
    text = joined(say(rasa_server, "【ETC服务】您的ETC认证已过期，请点击 http://etc-rz.top 重新认证"))
    assert "12321" in text and "链接" in text


def test_card_renting_is_a_crime(rasa_server: str) -> None:
    text = joined(say(rasa_server, "有人出500块一个月租我的银行卡，说只是走个流水，可以吗"))
    assert "帮信罪" in text


def test_gibberish_gets_96110(rasa_server: str) -> None:
    assert "96110" in joined(say(rasa_server, "asdkjh qwe zzxc 啊啊啊"))


def test_huge_message_gets_a_reply(rasa_server: str) -> None:
    replies = say(rasa_server, "对方让我转账到安全账户" + "啊" * 20_000)
    assert replies and "96110" in joined(replies)


@pytest.mark.parametrize("text", ["", " ", "\x00\x01\x02"])
def test_empty_and_binary_messages_get_a_reply(rasa_server: str, text: str) -> None:
    assert "96110" in joined(say(rasa_server, text))


def test_malformed_json_is_refused_cleanly(rasa_server: str) -> None:
    request = urllib.request.Request(f"{rasa_server}/webhooks/rest/webhook", data=b"{not json",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=30)
    assert 400 <= error.value.code < 500
    assert say(rasa_server, "你好")  # and the server is still fine


def test_action_server_down_still_answers_with_hotlines(rasa_server_without_actions: str) -> None:
    text = joined(say(rasa_server_without_actions, "刚才有人自称公安局说我涉嫌洗钱，让我转到安全账户"))
    assert "96110" in text and "110" in text


def test_stored_conversations_keep_no_personal_numbers(rasa_server: str,
                                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    say(rasa_server, "骗子用13812345678打给我，让我往6222021234567890123这张卡转钱")
    port = rasa_server.rsplit(":", 1)[1]
    database = next(tmp_path_factory.getbasetemp().glob(f"**/rasa-{port}.db"))
    stored = "\n".join(row[0] for row in sqlite3.connect(database).execute("select data from events"))
    assert "138******78" in stored
    assert "13812345678" not in stored and "6222021234567890123" not in stored
