"""Residents' 举报 and their word on a verdict, through the dialogue: the real trained model, the real action
server and one Rasa server with the REST, Telegram (fake Bot API) and WeChat Official Account (fake API)
channels, all on one store; and the words of core/reporting.py on their own."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import xmltodict
from sqlalchemy import select

from bot import known, reports
from bot.privacy import hash_id
from bot.store import GroupRegistry, engine
from core import reporting
from core.reporting import (
    claim_of,
    feedback_payload,
    is_own,
    report_content,
    report_payload,
    wants_to_report,
)
from tests.channel_stack import channel_stack
from tests.fakes.telegram_api import BOT_USERNAME, FakeTelegram
from tests.test_telegram import bot_message, message, post, texts, user
from tests.test_wechat import OA, http, signed_query, text_xml

CONFIRMED_PHONE = "13900002222"
GROUP = -100777
GROUP_REGION = "朝阳区"
PHONE = re.compile(r"1[3-9]\d{9}")


# -- the words, on their own ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, content", [
    ("举报 13800001111", "13800001111"),
    ("我要举报这个号码13800001111", "13800001111"),
    ("举报这个链接 http://etc-rz.top", "http://etc-rz.top"),
    ("举报", ""),
    ("帮我举报一下这个骗子", ""),
    ("【ETC服务】您的ETC认证已过期，请点击 http://etc-rz.top 重新认证\n举报",
     "【ETC服务】您的ETC认证已过期，请点击 http://etc-rz.top 重新认证"),
    ("13800001111 帮我举报一下", "13800001111"),
])
def test_a_report_in_words_and_what_it_reports(text: str, content: str) -> None:
    assert wants_to_report(text, "consult")
    assert report_content(text) == content


@pytest.mark.parametrize("text", [
    "怎么举报诈骗电话", "举报诈骗短信发到哪", "那我想举报它 怎么弄", "我想把这个骗子号码17099887766举报了 要怎么弄",
    "举报了有奖励吗", "闲鱼上有人说要举报我，我会被封号吗", "我已经打12321举报过这个号了",
])
def test_questions_about_reporting_and_others_reports_are_not_reports_even_for_the_classifier(text: str) -> None:
    assert not wants_to_report(text, "report")


def test_the_classifier_alone_never_makes_a_story_a_report() -> None:
    assert not wants_to_report("这个人是骗子 13800001111 他让我转账", "report")
    assert wants_to_report("这个号码天天骗人 必须举报", "report")


@pytest.mark.parametrize("text, claim", [
    ("是诈骗", "scam"), ("不是诈骗", "not_scam"), ("类型不对", "wrong_type"), ("其实就是骗子", "scam"),
    ("我觉得这不是诈骗", "not_scam"), ("是真的，是我儿子", "not_scam"), ("不是这种骗局", "wrong_type"),
    ("这是不是诈骗", None), ("是诈骗吗", None), ("好的", None),
])
def test_typed_answers_to_what_was_wrong(text: str, claim: str | None) -> None:
    assert claim_of(text) == claim


def test_the_claims_are_the_stores() -> None:
    assert reporting.CLAIMS == reports.CLAIMS


def test_the_report_button_carries_the_numbers_the_conversation_will_mask_within_telegrams_limit() -> None:
    found = report_payload([{"entity": "phone", "value": "13900002222"}, {"entity": "url", "value": "http://a.top"},
                            {"entity": "bank_card", "value": "6222021234567890123"},
                            {"entity": "phone", "value": "138******11"}])
    assert found == '/report{"phone":"13900002222","bank_card":"6222021234567890123"}'
    assert len(found.encode()) <= reporting.CALLBACK_BYTES
    many = [{"entity": "phone", "value": f"1390000{n:04d}"} for n in range(10)]
    assert len(report_payload(many).encode()) <= reporting.CALLBACK_BYTES
    assert report_payload([]) == "/report"


def test_rest_feedback_fields_become_payloads() -> None:
    assert feedback_payload("useful") == "/feedback_useful"
    assert feedback_payload("wrong", "not_scam") == '/feedback_wrong{"claim":"not_scam"}'
    for bad in (("great", None), ("wrong", "maybe"), ("useful", "scam")):
        with pytest.raises(ValueError):
            feedback_payload(*bad)


# -- the dialogue, end to end ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bot(trained_model: Path) -> Iterator[dict[str, Any]]:
    """One store, one action server, one Rasa with REST, Telegram and WeChat on it."""
    def seed(url: str) -> None:
        known.confirm("phone", CONFIRMED_PHONE, officer="王警官", url=url)
        GroupRegistry(url).record("telegram", str(GROUP), "幸福小区邻里群", regions=GROUP_REGION)

    with channel_stack(trained_model, seed=seed) as running:
        yield running


def say(bot: dict[str, Any], sender: str, text: str) -> list[dict[str, Any]]:
    answer = requests.post(f"{bot['url']}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                           timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def joined(replies: list[dict[str, Any]]) -> str:
    return "\n".join(item.get("text") or "" for item in replies)


def count(bot: dict[str, Any], kind: str, value: str) -> int:
    found = known.lookup([(kind, value)], bot["db"])
    return found[0].report_count if found else 0


def rows(bot: dict[str, Any], table: Any) -> list[dict[str, Any]]:
    with engine(bot["db"]).connect() as db:
        return [dict(row._mapping) for row in db.execute(select(table).order_by(table.c.id))]


def buttons_of(replies: list[dict[str, Any]]) -> list[str]:
    return [button["title"] for item in replies for button in item.get("buttons") or []]


def test_a_number_reported_over_rest_is_counted_once(bot: dict[str, Any]) -> None:
    first = joined(say(bot, "rest-reporter-1", "举报 13800001111"))
    assert "谢谢您的举报" in first and "民警会核实" in first and "96110" in first
    assert count(bot, "phone", "13800001111") == 1
    again = joined(say(bot, "rest-reporter-1", "我要举报这个号码 138-0000-1111"))
    assert "您已经举报过了" in again and "96110" in again
    assert count(bot, "phone", "13800001111") == 1


def test_the_sixth_report_in_an_hour_is_limited(bot: dict[str, Any]) -> None:
    for n in range(5):
        assert "谢谢您的举报" in joined(say(bot, "rest-reporter-busy", f"举报 1360000{n:04d}"))
    sixth = joined(say(bot, "rest-reporter-busy", "举报 13600009999"))
    assert "很多" in sixth and "96110" in sixth and "110" in sixth.replace("96110", "")
    assert count(bot, "phone", "13600009999") == 0


def test_report_alone_reports_the_message_just_judged(bot: dict[str, Any]) -> None:
    sender = "rest-reporter-alone"
    assert "您要举报什么" in joined(say(bot, sender, "举报"))  # nothing judged yet: asked for it
    verdict = say(bot, sender, "【ETC服务】您的ETC认证已过期，请点击 http://etc-renzheng.top/a 重新认证，否则将停用")
    assert "高风险" in verdict[0]["text"] and buttons_of(verdict) == ["举报", "有用", "判断不对"]
    assert "谢谢您的举报" in joined(say(bot, sender, "举报"))
    assert count(bot, "domain", "etc-renzheng.top") == 1
    reported = [row for row in rows(bot, reports.reports) if row["value"] == "etc-renzheng.top"]
    assert len(reported) == 1 and "ETC认证已过期" in reported[0]["text"] and reported[0]["channel"] == "rest"


def test_a_reported_number_is_mentioned_with_its_count(bot: dict[str, Any]) -> None:
    for sender in ("rest-neighbour-1", "rest-neighbour-2"):
        say(bot, sender, "举报 13700003333")
    answer = joined(say(bot, "rest-asker", "13700003333 发短信说我的快递丢了，要给我理赔，让我加他微信"))
    assert "这个号码已有2位居民举报过" in answer


def test_feedback_as_a_rest_field(bot: dict[str, Any]) -> None:
    sender = "rest-feedback"
    say(bot, sender, "有人加我微信说带我炒虚拟币，稳赚不赔，让我先充5000进他给的平台")
    answer = requests.post(f"{bot['url']}/webhooks/rest/webhook", timeout=60,
                           json={"sender": sender, "feedback": "wrong", "claim": "wrong_type"})
    assert answer.status_code == 200 and "民警会复核" in joined(answer.json())
    row = rows(bot, reports.feedback)[-1]
    assert (row["verdict"], row["claim"], row["channel"]) == ("wrong", "wrong_type", "rest")
    assert "虚拟币" in row["text"] and row["answer"] and row["risk"]
    useful = requests.post(f"{bot['url']}/webhooks/rest/webhook", timeout=60,
                           json={"sender": sender, "feedback": "useful"})
    assert "谢谢您的反馈" in joined(useful.json())
    assert rows(bot, reports.feedback)[-1]["verdict"] == "useful"  # the resident's word replaced, not added
    for body in ({"sender": sender, "feedback": "great"}, {"sender": sender, "feedback": "wrong", "claim": "maybe"},
                 {"sender": sender, "feedback": "useful", "message": "有用"}, {"sender": sender, "claim": "scam"}):
        refused = requests.post(f"{bot['url']}/webhooks/rest/webhook", json=body, timeout=60)
        assert refused.status_code == 400 and ("feedback" in refused.json()["error"]
                                               or "claim" in refused.json()["error"])


def test_feedback_with_no_verdict_and_a_dispute_from_a_new_resident(bot: dict[str, Any]) -> None:
    polite = joined(say(bot, "rest-new-1", "有用"))
    assert "把原文发给我" in polite and "96110" in polite
    judged = joined(say(bot, "rest-new-2", "我觉得这不是诈骗吧"))
    assert "已记下" not in judged and "96110" in judged  # judged like any message, never eaten
    new = reports.reporter_key("rest", "rest-new-2")
    assert not [row for row in rows(bot, reports.feedback) if row["reporter"] == new]


@pytest.mark.parametrize("wrong, answer, claim", [
    ("你判断错了", "这就是骗子，我邻居被骗了", "scam"),
    ("判断不对", "是我儿子本人，不是骗子", "not_scam"),
    ("不准", "不是这种骗局，是刷单", "wrong_type"),
])
def test_natural_answers_to_what_was_wrong(bot: dict[str, Any], wrong: str, answer: str, claim: str) -> None:
    sender = f"rest-dispute-{claim}"
    say(bot, sender, "我儿子发微信说他手机掉水里了，换了个新号，让我先转3000给他朋友")
    assert "哪里不对" in joined(say(bot, sender, wrong))
    assert "民警会复核" in joined(say(bot, sender, answer))
    mine = [row for row in rows(bot, reports.feedback) if row["reporter"] == reports.reporter_key("rest", sender)]
    assert [(row["verdict"], row["claim"]) for row in mine] == [("wrong", claim)]
    assert "民警会复核" not in joined(say(bot, sender, answer))  # asked once: the same words again are judged


def test_the_call_check_keeps_its_yes_no_buttons(bot: dict[str, Any]) -> None:
    sender = "rest-call-check"
    start = say(bot, sender, "刚才有个人打电话说是快递客服，说我的包裹丢了要理赔")
    assert buttons_of(start) == ["有", "没有"]
    say(bot, sender, "没有")
    say(bot, sender, "没有")
    verdict = say(bot, sender, "还没有")
    assert "不像诈骗" in joined(verdict) and buttons_of(verdict) == ["有用", "判断不对"]
    assert "哪里不对" in joined(say(bot, sender, "判断不对"))


def test_telegram_buttons_under_a_high_risk_verdict_and_the_report_pressed(bot: dict[str, Any]) -> None:
    fake: FakeTelegram = bot["telegram"]
    chat = 3101
    post(bot, message("刚才13600007777打电话，自称公安局说我涉嫌洗钱，让我把钱转到安全账户", chat, chat))
    keyboard = fake.sent(chat)[-1].params["reply_markup"]["inline_keyboard"]
    titles = [b["text"] for row in keyboard for b in row]
    assert titles == ["举报", "有用", "判断不对"]
    report = next(b["callback_data"] for row in keyboard for b in row if b["text"] == "举报")
    assert report.startswith("/report") and len(report.encode()) <= 64
    before = len(fake.sent(chat))
    post(bot, {"update_id": 910001, "callback_query": {"id": "cb-report", "from": user(chat), "chat_instance": "r",
                                                      "data": report, "message": bot_message(chat)}})
    assert "谢谢您的举报" in "\n".join(texts(fake, chat, before))
    assert count(bot, "phone", "13600007777") == 1  # the number, though the conversation holds it masked
    row = [r for r in rows(bot, reports.reports) if r["value"] == "13600007777"][0]
    assert row["channel"] == "telegram_bot" and "安全账户" in row["text"] and "13600007777" not in row["text"]


def test_a_report_in_a_telegram_group_counts_for_the_groups_region(bot: dict[str, Any]) -> None:
    fake: FakeTelegram = bot["telegram"]
    mention = f"@{BOT_USERNAME}"
    before = len(fake.sent(GROUP))
    post(bot, message(f"{mention} 举报 13500001234", GROUP, 3201,
                      entities=[{"type": "mention", "offset": 0, "length": len(mention)}]))
    assert "谢谢您的举报" in "\n".join(texts(fake, GROUP, before))
    row = [r for r in rows(bot, reports.reports) if r["value"] == "13500001234"][0]
    assert row["region"] == GROUP_REGION


def test_a_confirmed_number_over_telegram_is_named(bot: dict[str, Any]) -> None:
    fake: FakeTelegram = bot["telegram"]
    post(bot, message(f"刚才{CONFIRMED_PHONE}给我打电话，说是快递客服要给我理赔", 3301, 3301))
    answer = "\n".join(texts(fake, 3301))
    assert "高风险" in answer and "这个号码已被公安机关确认为诈骗号码" in answer
    post(bot, message(f"举报 {CONFIRMED_PHONE}", 3301, 3301))
    assert "已被公安机关确认" in texts(fake, 3301)[-1]  # the report's answer says so too


def wechat(bot: dict[str, Any], text: str, openid: str) -> str:
    status, reply = http(bot["url"], OA, signed_query(), text_xml(text, openid=openid).encode())
    assert status == 200
    return xmltodict.parse(reply)["xml"]["Content"]


def test_wechat_typed_wrong_then_not_a_scam_goes_to_review(bot: dict[str, Any]) -> None:
    openid = "oReportsWrong"
    first = wechat(bot, "刚才13711112222打电话说我儿子出车祸了在医院抢救，让我马上转5万手术费到他给的卡上", openid)
    assert "（可以直接回复：举报 / 有用 / 判断不对）" in first
    assert "谢谢您的举报" in wechat(bot, "举报", openid)
    assert count(bot, "phone", "13711112222") == 1  # typed: the number the verdict kept for it (no button here)
    asked = wechat(bot, "判断不对", openid)
    assert "哪里不对" in asked and "（可以直接回复：是诈骗 / 不是诈骗 / 类型不对）" in asked
    assert "民警会复核" in wechat(bot, "不是诈骗", openid)
    row = rows(bot, reports.feedback)[-1]
    assert (row["verdict"], row["claim"], row["channel"]) == ("wrong", "not_scam", "wechat_oa")
    assert "出车祸" in row["text"] and "137******22" in row["text"] and "13711112222" not in row["text"]
    assert "高风险" in row["answer"] and row["risk"] == "high"


def test_a_confirmed_number_over_wechat_is_named(bot: dict[str, Any]) -> None:
    answer = wechat(bot, f"{CONFIRMED_PHONE}发短信说我的快递丢了，让我联系客服理赔", "oReportsConfirmed")
    assert "高风险" in answer and "这个号码已被公安机关确认为诈骗号码" in answer


def test_the_store_holds_no_sender_and_no_unmasked_number_outside_the_reported_value(bot: dict[str, Any]) -> None:
    sender = "rest-privacy-13312345678"  # a client may name a conversation after the resident's phone
    say(bot, sender, "刚才15011112222打电话说我涉嫌洗钱，让我把钱转到安全账户，我的号码是13312345678")
    say(bot, sender, "举报")
    say(bot, sender, "判断不对")
    say(bot, sender, "是诈骗")
    kept = rows(bot, reports.reports) + rows(bot, reports.feedback)
    mine = [row for row in kept if row["reporter"] == reports.reporter_key("rest", sender)]
    # the report of the caller's number (kept by the verdict for a typed 举报), never the resident's own, and
    # the dispute
    assert [(row.get("kind"), row.get("value")) for row in mine if "kind" in row] == [("phone", "15011112222")]
    assert len(mine) == 2 and count(bot, "phone", "13312345678") == 0
    senders = {"rest-reporter-1", "rest-reporter-busy", "rest-feedback", sender, "tg:3101", "oReportsWrong"}
    for row in kept:
        assert row["reporter"] not in {hash_id(s) for s in senders}  # not the conversation's key either
        for column, value in row.items():
            if not isinstance(value, str):
                continue
            assert not any(s in value for s in senders), column
            if column != "value":
                assert not PHONE.search(value), (column, value)


def test_the_residents_own_number_is_never_reported(bot: dict[str, Any]) -> None:
    answer = joined(say(bot, "rest-own-number", "举报 15022223333，他冒充客服骗我，我的电话是13344445555"))
    assert "谢谢您的举报" in answer
    assert count(bot, "phone", "15022223333") == 1 and count(bot, "phone", "13344445555") == 0


@pytest.mark.parametrize(("text", "value", "own"), [
    ("我的号码是13312345678", "13312345678", True),
    ("本人卡号：6222020200112233445", "6222020200112233445", True),
    ("我手机13912345678收到一条短信", "13912345678", True),
    ("举报 13312345678 他骗我", "13312345678", False),
    ("对方的微信号是 abc12345", "abc12345", False),
])
def test_own_numbers_are_told_apart(text: str, value: str, own: bool) -> None:
    assert is_own(text, {"value": value}) is own
