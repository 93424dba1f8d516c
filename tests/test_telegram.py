"""Telegram channel end to end: real Rasa server and action server, PTB talking to a fake Bot API on loopback
(screenshots read by the real OCR); and the callback signer on its own."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot import health
from bot.alerts.service import AlertService
from bot.alerts.telegram_flow import CONVERSATION, StorePersistence
from bot.alerts.worker import OutboxWorker
from bot.channels.telegram import CallbackSigner, TelegramInput, callback_key
from bot.config import TelegramConfig
from bot.fallback import TRUNCATED_NOTICE
from bot.inbound import MAX_TEXT_CHARS
from bot.ocr import MAX_IMAGE_BYTES, PROBLEMS
from bot.senders.telegram import TelegramGroupSender, alerts_bot
from bot.store import GroupRegistry
from tests.conftest import start_rasa, stop
from tests.fakes.telegram_api import BOT_ID, BOT_USERNAME, FakeTelegram
from tests.screenshots import sms_screenshot
from tests.test_alerts import drain

SECRET = "s3cret-token"
OFFICER = 4242
ADMIN = 3003
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegram]:
    api = FakeTelegram(admins={ADMIN}).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def telegram(trained_model: Path, action_server: str, fake: FakeTelegram,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("telegram")
    credentials = tmp / "credentials.yml"
    credentials.write_text(
        "bot.channels.rest.SafeRestInput:\n"
        "bot.channels.telegram.TelegramInput:\n"
        f'  token: "123456:TEST"\n  webhook_secret: "{SECRET}"\n'
        f'  api_base_url: "{fake.base_url}"\n', encoding="utf-8")
    db = f"sqlite:///{tmp / 'store.db'}"
    AlertService(db).add_officer("张警官", telegram_id=str(OFFICER))
    # the fake API sets no limits, and these tests send a group more than Telegram's 20 a minute:
    # the shared budget (tested in test_senders and test_fleet_alerts) would make them wait
    process, url = start_rasa(trained_model, action_server, tmp, "rasa.log", credentials,
                              env={"FRAUDBOT_DB_URL": db, "FRAUDBOT_TELEGRAM_GROUP_PER_MINUTE": "1000"})
    assert fake.wait_for(lambda: fake.count("getMe") >= 1, 60), "the bot never initialised"
    yield {"url": url, "db": db, "log": tmp / "rasa.log"}
    stop(process)


def post(telegram: dict[str, Any], update: Any, secret: str | None = SECRET, raw: bytes | None = None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    body = raw if raw is not None else json.dumps(update, ensure_ascii=False).encode()
    request = urllib.request.Request(f"{telegram['url']}/webhooks/telegram_bot/webhook", data=body,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def user(uid: int) -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": "居民"}


def chat(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "type": "private", "first_name": "居民"} if chat_id > 0 else \
        {"id": chat_id, "type": "supergroup", "title": "幸福小区邻里群"}


def message(text: str, chat_id: int, uid: int, **extra: Any) -> dict[str, Any]:
    n = next(_ids)
    if text.startswith("/") and "entities" not in extra:  # Telegram marks a command it sees as a bot_command
        extra["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": n, "message": {"message_id": n, "date": int(time.time()), "chat": chat(chat_id),
                                        "from": user(uid), "text": text, **extra}}


def bot_message(chat_id: int, text: str = "…") -> dict[str, Any]:
    return {"message_id": next(_ids), "date": int(time.time()), "chat": chat(chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "反诈助手", "username": BOT_USERNAME},
            "text": text}


def texts(fake: FakeTelegram, chat_id: int, since: int = 0) -> list[str]:
    return [c.params.get("text", "") for c in fake.sent(chat_id)[since:]]


# -- private chats -----------------------------------------------------------------------------


def test_private_round_trip_through_the_real_model(telegram: dict, fake: FakeTelegram) -> None:
    assert post(telegram, message("刚才有人自称公安局说我涉嫌洗钱，让我转到安全账户", 1001, 1001)) == 200
    replies = "\n".join(texts(fake, 1001))
    assert "安全账户" in replies and "96110" in replies
    assert "\n" in replies  # paragraphs kept


def test_buttons_become_inline_keyboards_and_presses_are_payloads(telegram: dict, fake: FakeTelegram) -> None:
    post(telegram, message("被骗了，钱已经转过去了，怎么办啊", 1002, 1002))
    keyboard = fake.sent(1002)[-1].params["reply_markup"]["inline_keyboard"]
    button = next(b for row in keyboard for b in row if b["text"] == "建设银行")
    before = len(fake.sent(1002))
    press = {"update_id": next(_ids), "callback_query": {
        "id": "cb-1", "from": user(1002), "chat_instance": "x", "data": button["callback_data"],
        "message": bot_message(1002)}}
    assert post(telegram, press) == 200
    assert fake.count("answerCallbackQuery") >= 1
    assert "95533" in "\n".join(texts(fake, 1002, before))


def test_start_and_help(telegram: dict, fake: FakeTelegram) -> None:
    post(telegram, message("/start", 1003, 1003))
    assert "反诈助手" in texts(fake, 1003)[-1]
    post(telegram, message("/help", 1003, 1003))
    assert "我能帮您" in texts(fake, 1003)[-1]


def test_start_with_details_link_explains_the_scenario(telegram: dict, fake: FakeTelegram) -> None:
    post(telegram, message("/start s_romance", 1004, 1004))
    assert "杀猪盘" in "\n".join(texts(fake, 1004))


def test_non_text_message_in_private_gets_a_polite_answer(telegram: dict, fake: FakeTelegram) -> None:
    update = message("", 1005, 1005)
    del update["message"]["text"]
    update["message"]["sticker"] = {"file_id": "f", "file_unique_id": "u", "type": "regular",
                                    "width": 1, "height": 1, "is_animated": False, "is_video": False}
    post(telegram, update)
    assert "只能看文字" in texts(fake, 1005)[-1]


# -- groups ------------------------------------------------------------------------------------

GROUP = -100500


def test_group_chatter_gets_no_answer(telegram: dict, fake: FakeTelegram) -> None:
    before = len(fake.sent(GROUP))
    post(telegram, message("今天菜市场的青菜好便宜，大家快去买", GROUP, 2001))
    post(telegram, message("哈哈", GROUP, 2002))
    assert len(fake.sent(GROUP)) == before


def test_group_answers_when_mentioned_and_replies_in_the_group(telegram: dict, fake: FakeTelegram) -> None:
    before = len(fake.sent(GROUP))
    mention = f"@{BOT_USERNAME}"
    update = message(f"{mention} 有人让我下载腾讯会议开屏幕共享，说要给我退款", GROUP, 2003,
                     entities=[{"type": "mention", "offset": 0, "length": len(mention)}])
    post(telegram, update)
    sent = fake.sent(GROUP)[before:]
    assert sent and "屏幕共享" in "\n".join(c.params["text"] for c in sent)
    assert sent[0].params["reply_parameters"]["message_id"] == update["message"]["message_id"]


def test_group_never_says_it_did_not_understand(telegram: dict, fake: FakeTelegram) -> None:
    before = len(fake.sent(GROUP))
    post(telegram, message(f"@{BOT_USERNAME} asdfgh qwerty", GROUP, 2004))
    replies = "\n".join(texts(fake, GROUP, before))
    assert replies and "没太看明白" not in replies and "96110" in replies


def test_check_as_a_reply_checks_the_other_message(telegram: dict, fake: FakeTelegram) -> None:
    suspicious = message("兼职刷单，日结300，先垫付后返佣金，加QQ 123456789", GROUP, 2005)["message"]
    before = len(fake.sent(GROUP))
    post(telegram, message("/check", GROUP, 2006, reply_to_message=suspicious,
                           entities=[{"type": "bot_command", "offset": 0, "length": 6}]))
    sent = fake.sent(GROUP)[before:]
    assert "刷单" in "\n".join(c.params["text"] for c in sent)
    assert sent[0].params["reply_parameters"]["message_id"] == suspicious["message_id"]


def test_forwarded_scam_sms_gets_one_short_warning(telegram: dict, fake: FakeTelegram) -> None:
    before = len(fake.sent(GROUP))
    forwarded = message("【ETC服务】您的ETC认证已过期，请点击 http://etc-rz.top 重新认证，否则将停用", GROUP, 2007,
                        forward_origin={"type": "hidden_user", "date": int(time.time()),
                                        "sender_user_name": "某人"})
    post(telegram, forwarded)
    sent = fake.sent(GROUP)[before:]
    assert len(sent) == 1
    assert "虚假短信链接" in sent[0].params["text"]
    assert sent[0].params["reply_parameters"]["message_id"] == forwarded["message"]["message_id"]
    url = sent[0].params["reply_markup"]["inline_keyboard"][0][0]["url"]
    assert url == f"https://t.me/{BOT_USERNAME}?start=s_phishing_link"


def test_forwarded_genuine_notice_gets_no_warning(telegram: dict, fake: FakeTelegram) -> None:
    before = len(fake.sent(GROUP))
    post(telegram, message("【菜鸟驿站】您的快递已到小区东门驿站，取件码3-2-1106，请于今晚8点前领取", GROUP, 2008,
                           forward_origin={"type": "hidden_user", "date": int(time.time()),
                                           "sender_user_name": "驿站"}))
    assert len(fake.sent(GROUP)) == before


@pytest.mark.parametrize("text", [
    "转发：女儿当面找我借两万块钱付首付，说下个月就还，我已经答应她了，大家觉得呢",
    "【反诈提醒】凡是自称公检法要求转账到安全账户的都是诈骗，请大家谨防上当，转给家里老人看看",
    "我在营业厅当面办的宽带，工作人员说什么都不用交，回家收到开通短信，挺方便的",
])
def test_forwarded_genuine_lookalike_gets_no_warning(telegram: dict, fake: FakeTelegram, text: str) -> None:
    before = len(fake.sent(GROUP))
    post(telegram, message(text, GROUP, 2011, forward_origin={"type": "hidden_user", "date": int(time.time()),
                                                              "sender_user_name": "某人"}))
    assert len(fake.sent(GROUP)) == before


def test_only_admins_switch_auto_warning(telegram: dict, fake: FakeTelegram) -> None:
    group = -100600
    post(telegram, message("/quiet", group, 2009))
    assert "只有群管理员" in texts(fake, group)[-1]
    post(telegram, message("/quiet", group, ADMIN))
    assert "已关闭" in texts(fake, group)[-1]
    before = len(fake.sent(group))
    scam = "有人加我微信说高价收购银行卡和电话卡，一张800块，只要把卡寄过去就行，稳赚不亏"
    post(telegram, message(scam, group, 2010))
    assert len(fake.sent(group)) == before
    post(telegram, message("/autowarn", group, ADMIN))
    post(telegram, message(scam + "，大家要不要一起", group, 2010))
    assert "提醒" in texts(fake, group)[-1]


def test_joining_and_leaving_groups_is_recorded(telegram: dict, fake: FakeTelegram) -> None:
    group = -100700
    bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "反诈助手", "username": BOT_USERNAME}

    def membership(old: str, new: str) -> dict[str, Any]:
        return {"update_id": next(_ids), "my_chat_member": {
            "chat": {"id": group, "type": "group", "title": "三号楼住户群"}, "from": user(ADMIN),
            "date": int(time.time()), "old_chat_member": {"status": old, "user": bot_user},
            "new_chat_member": {"status": new, "user": bot_user,
                                **({"until_date": 0} if new == "kicked" else {})}}}

    registry = GroupRegistry(telegram["db"])
    post(telegram, membership("left", "member"))
    joined = registry.get("telegram", str(group))
    assert joined and joined.active and joined.title == "三号楼住户群"
    post(telegram, membership("member", "kicked"))
    left = registry.get("telegram", str(group))
    assert left and not left.active and left.removed_at is not None


# -- officers ----------------------------------------------------------------------------------


def test_alert_only_for_officers_on_the_roster(telegram: dict, fake: FakeTelegram) -> None:
    post(telegram, message("/alert", 1006, 1006))
    assert "只有登记过的民警" in texts(fake, 1006)[-1]
    refused = [row for row in AlertService(telegram["db"]).audit() if row["action"] == "refused"]
    assert refused and refused[0]["actor"] == "telegram:1006"


def test_officer_sends_an_alert_step_by_step_and_residents_ask_about_it(telegram: dict,
                                                                       fake: FakeTelegram) -> None:
    service = AlertService(telegram["db"])
    service.registry.record("telegram", str(GROUP), "幸福小区邻里群", "朝阳区")
    post(telegram, message("/alert", OFFICER, OFFICER))
    assert "第一行是标题" in texts(fake, OFFICER)[-1]
    text = "冒充客服退款诈骗高发\n近期有人冒充快递客服，以理赔为名让居民开屏幕共享。"
    post(telegram, message(text, OFFICER, OFFICER))
    assert "哪些地区" in texts(fake, OFFICER)[-1]
    post(telegram, message("朝阳区", OFFICER, OFFICER))
    preview = fake.sent(OFFICER)[-1]
    assert "冒充客服退款诈骗高发" in preview.params["text"] and "共 1 个群" in preview.params["text"]
    confirm = next(b for row in preview.params["reply_markup"]["inline_keyboard"] for b in row
                   if b["text"] == "确认发送")
    post(telegram, {"update_id": next(_ids), "callback_query": {
        "id": "cb-alert", "from": user(OFFICER), "chat_instance": "y", "data": confirm["callback_data"],
        "message": bot_message(OFFICER)}})
    confirmation = texts(fake, OFFICER)[-1]
    assert "已提交" in confirmation
    alert_id = int(re.search(r"#(\d+)", confirmation).group(1))
    assert service.status(alert_id)["channels"] == {"telegram": {"pending": 1}}

    # the worker delivers it; a resident replies to the alert in the group
    bot = alerts_bot("123456:TEST", fake.base_url)
    asyncio.run(drain(OutboxWorker(service, {"telegram": TelegramGroupSender(bot)}), bot))
    delivered = fake.sent(GROUP)[-1]
    assert "【警情通报】冒充客服退款诈骗高发" in delivered.params["text"]
    alert_message = {**bot_message(GROUP, delivered.params["text"]), "message_id": fake._next_message_id}
    before = len(fake.sent(GROUP))
    post(telegram, message("我昨天也接到过这种电话，他让我下载个软件", GROUP, 2011,
                           reply_to_message=alert_message))
    reply = "\n".join(texts(fake, GROUP, before))
    assert "警情通报《冒充客服退款诈骗高发》" in reply


# -- bad input and a struggling Telegram ------------------------------------------------------


def test_wrong_or_missing_secret_is_refused_and_not_processed(telegram: dict, fake: FakeTelegram) -> None:
    before = len(fake.sent(1007))
    assert post(telegram, message("你好", 1007, 1007), secret="wrong") == 403
    assert post(telegram, message("你好", 1007, 1007), secret=None) == 403
    assert len(fake.sent(1007)) == before


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2, 3]", b'"text"', b'{"update_id": "x", "message": 5}',
                                 b'{"update_id": 1, "message": {"chat": {}}}', b"\xff\xfe\x00"])
def test_malformed_updates_are_acknowledged_and_ignored(telegram: dict, fake: FakeTelegram, raw: bytes) -> None:
    assert post(telegram, None, raw=raw) == 200
    post(telegram, message("你好", 1008, 1008))
    assert "反诈助手" in texts(fake, 1008)[-1]  # still working


def test_429_is_waited_out_and_the_message_sent_once(telegram: dict, fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", 429, retry_after=1)
    post(telegram, message("你好", 1009, 1009))
    attempts = [c for c in fake.calls if c.method == "sendMessage" and int(c.params["chat_id"]) == 1009]
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0


def test_5xx_is_not_sent_again(telegram: dict, fake: FakeTelegram) -> None:
    """The one sender's policy: a 5xx answer may hide a delivery, so that message is never sent twice
    (a refused 429 is waited out and resent, above); the next message goes out as usual."""
    fake.fail_next("sendMessage", 502)
    post(telegram, message("谢谢你", 1010, 1010))
    calls = [c for c in fake.calls if c.method == "sendMessage" and int(c.params["chat_id"]) == 1010]
    assert calls and calls[0].status == 502
    assert [c.params["text"] for c in calls].count(calls[0].params["text"]) == 1  # not sent a second time
    post(telegram, message("你好", 1010, 1010))
    assert "反诈助手" in texts(fake, 1010)[-1]


# -- the door: replayed updates, forged buttons, long and odd texts ----------------------------

MARKER = "RAWTEXT13812345678"


def log_text(telegram: dict[str, Any]) -> str:
    return telegram["log"].read_text(encoding="utf-8", errors="replace")


def press(telegram: dict[str, Any], uid: int, data: str) -> int:
    """A resident or officer pressing an inline button with ``data`` in their private chat."""
    return post(telegram, {"update_id": next(_ids), "callback_query": {
        "id": f"cb-{next(_ids)}", "from": user(uid), "chat_instance": "z", "data": data,
        "message": bot_message(uid)}})


def test_replayed_update_is_acknowledged_and_processed_once(telegram: dict, fake: FakeTelegram) -> None:
    update = message("你好", 1012, 1012)
    assert post(telegram, update) == 200
    answered = len(fake.sent(1012))
    assert answered >= 1
    assert post(telegram, update) == 200
    changed = {**update, "message": {**update["message"], "text": "我刚用工商银行给对方转了3万，怎么办"}}
    assert post(telegram, changed) == 200  # the same update_id with another body: a replay all the same
    assert len(fake.sent(1012)) == answered
    post(telegram, message("你好", 1012, 1012))
    assert len(fake.sent(1012)) > answered  # a new update is answered as usual


def test_replayed_button_press_is_processed_once(telegram: dict, fake: FakeTelegram) -> None:
    post(telegram, message("被骗了，钱已经转过去了，怎么办啊", 1014, 1014))
    keyboard = fake.sent(1014)[-1].params["reply_markup"]["inline_keyboard"]
    data = next(b["callback_data"] for row in keyboard for b in row if b["text"] == "建设银行")
    update = {"update_id": next(_ids), "callback_query": {
        "id": "cb-replay", "from": user(1014), "chat_instance": "x", "data": data, "message": bot_message(1014)}}
    before = len(fake.sent(1014))
    assert post(telegram, update) == 200
    after = len(fake.sent(1014))
    assert after > before
    assert post(telegram, update) == 200
    assert len(fake.sent(1014)) == after


def _preview(telegram: dict[str, Any], fake: FakeTelegram) -> dict[str, str]:
    """An officer's alert up to its preview; the preview's button data by title."""
    AlertService(telegram["db"]).registry.record("telegram", str(GROUP), "幸福小区邻里群", "朝阳区")
    post(telegram, message("/alert", OFFICER, OFFICER))
    text = "假冒公检法诈骗提醒\n有人冒充公安局打电话说您涉嫌洗钱，要求转到安全账户。"
    post(telegram, message(text, OFFICER, OFFICER))
    post(telegram, message("朝阳区", OFFICER, OFFICER))
    preview = fake.sent(OFFICER)[-1].params
    assert "假冒公检法诈骗提醒" in preview["text"]
    return {b["text"]: b["callback_data"] for row in preview["reply_markup"]["inline_keyboard"] for b in row}


def test_forged_alert_buttons_are_refused_and_the_genuine_one_works(telegram: dict, fake: FakeTelegram) -> None:
    service = AlertService(telegram["db"])
    buttons = _preview(telegram, fake)
    confirm, cancel = buttons["确认发送"], buttons["取消"]
    assert all(len(data.encode()) <= 64 for data in buttons.values())
    alerts_before, sent_before = len(service.recent(1000)), len(fake.sent(OFFICER))
    head, _, mac = confirm.rpartition(":")
    forged = ["alert:confirm",  # the old unsigned form
              f"{head}:{'A' * len(mac)}",  # a made-up MAC
              f"{head}:{cancel.rpartition(':')[2]}",  # the cancel button's MAC on a confirm
              f"{head[:-1]}x:{mac}"]  # another draft
    for data in forged:
        assert press(telegram, OFFICER, data) == 200
    assert press(telegram, 2099, confirm) == 200  # someone else pressing the officer's button
    assert len(service.recent(1000)) == alerts_before
    assert len(fake.sent(OFFICER)) == sent_before  # refused without a word, the draft untouched
    log = log_text(telegram)
    assert log.count("forged alert button") >= len(forged) + 1
    assert not any(data in log for data in forged[1:])

    press(telegram, OFFICER, confirm)
    assert "已提交" in texts(fake, OFFICER)[-1]
    assert len(service.recent(1000)) == alerts_before + 1
    press(telegram, OFFICER, confirm)  # the same button again: the draft is gone
    assert "失效" in texts(fake, OFFICER)[-1]
    assert len(service.recent(1000)) == alerts_before + 1


def test_an_old_preview_cannot_confirm_a_new_draft(telegram: dict, fake: FakeTelegram) -> None:
    service = AlertService(telegram["db"])
    old = _preview(telegram, fake)
    press(telegram, OFFICER, old["取消"])
    assert "已取消" in texts(fake, OFFICER)[-1]
    new = _preview(telegram, fake)
    before = len(service.recent(1000))
    press(telegram, OFFICER, old["确认发送"])
    assert "失效" in texts(fake, OFFICER)[-1] and len(service.recent(1000)) == before
    press(telegram, OFFICER, new["取消"])
    assert "已取消" in texts(fake, OFFICER)[-1] and len(service.recent(1000)) == before


def test_very_long_message_is_answered_then_told_it_was_cut(telegram: dict, fake: FakeTelegram) -> None:
    paste = "刚才有人自称公安局说我涉嫌洗钱，让我转到安全账户，" + "我很害怕" * 5000 + MARKER
    assert len(paste) > 20_000
    assert post(telegram, message(paste, 1013, 1013)) == 200
    replies = texts(fake, 1013)
    assert replies[-1] == TRUNCATED_NOTICE and f"前{MAX_TEXT_CHARS}个字" in replies[-1]
    assert "安全账户" in "\n".join(replies[:-1]) and "96110" in "\n".join(replies[:-1])
    assert MARKER not in log_text(telegram)


def test_invisible_characters_and_lone_surrogates_are_cleaned(telegram: dict, fake: FakeTelegram) -> None:
    update = message("你\u200b好\ud800\u0007", 1015, 1015)
    raw = json.dumps(update).encode()  # ASCII escapes carry the lone surrogate as Telegram could
    assert post(telegram, None, raw=raw) == 200
    assert "反诈助手" in texts(fake, 1015)[-1]
    post(telegram, message("\u200b\u2060/start", 1015, 1015))  # a command behind invisible characters
    assert "反诈助手" in texts(fake, 1015)[-1]


def test_resident_text_never_reaches_the_log(telegram: dict, fake: FakeTelegram) -> None:
    secret = f"我的手机号{MARKER}，对方让我转账到安全账户"
    post(telegram, message(secret, 1016, 1016))
    group = message(f"@{BOT_USERNAME} {secret}", GROUP, 2012)
    post(telegram, group)
    assert texts(fake, 1016)
    assert MARKER not in log_text(telegram) and "13812345678" not in log_text(telegram)


# -- screenshots ---------------------------------------------------------------------------------

SCAM_SMS = "【ETC服务】您的ETC认证已过期，请点击 http://etc-rz.top 重新认证，否则将停用"
VERDICT = re.compile("高风险|需警惕")
PREVIEW = "我从图片里看到："


@pytest.fixture(scope="module")
def scam_png() -> bytes:
    return sms_screenshot([SCAM_SMS]).png


def photo_size(file_id: str, file_size: int, width: int = 1080, height: int = 2400) -> dict[str, Any]:
    return {"file_id": file_id, "file_unique_id": f"u-{file_id}", "width": width, "height": height,
            "file_size": file_size}


def media_message(chat_id: int, uid: int, **media: Any) -> dict[str, Any]:
    """A message without text carrying ``media`` (photo, document, caption, reply_to_message…)."""
    update = message("", chat_id, uid, **media)
    del update["message"]["text"]
    return update


def downloads(fake: FakeTelegram, since: int = 0) -> list[str]:
    """The file ids the bot asked for (getFile), in order, from call number ``since`` on."""
    return [c.params["file_id"] for c in fake.calls[since:] if c.method == "getFile"]


def test_private_photo_is_read_and_answered_like_its_text(telegram: dict, fake: FakeTelegram,
                                                          scam_png: bytes) -> None:
    fake.add_file("etc-large", scam_png)
    sizes = [photo_size("etc-thumb", 2_000, 90, 200), photo_size("etc-large", len(scam_png)),
             photo_size("etc-huge", MAX_IMAGE_BYTES + 1, 4320, 9600)]  # larger than the reader takes
    since = len(fake.calls)
    assert post(telegram, media_message(1030, 1030, photo=sizes)) == 200
    assert downloads(fake, since) == ["etc-large"]  # the largest size within the limit, only that one
    assert fake.count("file") >= 1
    replies = texts(fake, 1030)
    assert replies[0].startswith(PREVIEW) and "ETC" in replies[0]
    assert VERDICT.search("\n".join(replies[1:])), replies


def test_group_photo_is_read_only_when_the_bot_is_asked(telegram: dict, fake: FakeTelegram,
                                                        scam_png: bytes) -> None:
    fake.add_file("etc-group", scam_png)
    before, since = len(fake.sent(GROUP)), len(fake.calls)
    shared = media_message(GROUP, 2020, photo=[photo_size("etc-group", len(scam_png))], caption="大家看看")
    assert post(telegram, shared) == 200
    assert len(fake.sent(GROUP)) == before and downloads(fake, since) == []  # no auto-warning reads pictures
    check = message("/check", GROUP, 2021, reply_to_message=shared["message"],
                    entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    assert post(telegram, check) == 200
    assert downloads(fake, since) == ["etc-group"]
    sent = fake.sent(GROUP)[before:]
    assert sent[0].params["text"].startswith(PREVIEW)
    assert VERDICT.search("\n".join(c.params["text"] for c in sent[1:]))
    assert {c.params["reply_parameters"]["message_id"] for c in sent} == {shared["message"]["message_id"]}


def test_group_image_file_with_a_caption_mentioning_the_bot_is_read(telegram: dict, fake: FakeTelegram,
                                                                    scam_png: bytes) -> None:
    fake.add_file("etc-document", scam_png)
    caption = f"@{BOT_USERNAME} 这是真的吗"
    document = {"file_id": "etc-document", "file_unique_id": "u-doc", "file_name": "截图.png",
                "mime_type": "image/png", "file_size": len(scam_png)}
    update = media_message(GROUP, 2022, document=document, caption=caption,
                           caption_entities=[{"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}])
    before = len(fake.sent(GROUP))
    assert post(telegram, update) == 200
    sent = fake.sent(GROUP)[before:]
    assert sent[0].params["text"].startswith(PREVIEW)
    assert VERDICT.search("\n".join(c.params["text"] for c in sent[1:]))
    assert sent[0].params["reply_parameters"]["message_id"] == update["message"]["message_id"]


def test_photo_too_big_to_read_is_told_without_downloading(telegram: dict, fake: FakeTelegram) -> None:
    since = len(fake.calls)
    post(telegram, media_message(1031, 1031, photo=[photo_size("too-big", MAX_IMAGE_BYTES + 1)]))
    assert downloads(fake, since) == []
    told = texts(fake, 1031)
    assert len(told) == 1 and told[0].startswith(PROBLEMS["too_big"]) and "96110" in told[0]


def test_photo_telegram_cannot_hand_over_gets_an_answer_naming_96110(telegram: dict, fake: FakeTelegram) -> None:
    post(telegram, media_message(1032, 1032, photo=[photo_size("never-registered", 50_000)]))
    told = texts(fake, 1032)
    assert len(told) == 1 and "96110" in told[0] and "110" in told[0].replace("96110", "")


def test_other_files_still_get_the_note_of_what_the_bot_reads(telegram: dict, fake: FakeTelegram) -> None:
    since = len(fake.calls)
    document = {"file_id": "pdf-1", "file_unique_id": "u-pdf", "file_name": "合同.pdf",
                "mime_type": "application/pdf", "file_size": 30_000}
    post(telegram, media_message(1033, 1033, document=document))
    assert "只能看文字" in texts(fake, 1033)[-1] and downloads(fake, since) == []


def test_store_persistence_is_shared_by_replicas_and_a_draft_is_taken_once(tmp_path: Path) -> None:
    """Two processes' persistences on one store (no Rasa needed): what one writes the other reads, a
    restarted one loads it, a resident's empty user_data is never written, and a draft is taken once."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    draft = {"alert_draft": {"token": "0123456789ab", "title": "标题", "body": "正文", "regions": "全部"}}

    async def scenario() -> None:
        first, second = StorePersistence(url), StorePersistence(url)
        await first.update_conversation(CONVERSATION, (OFFICER, OFFICER), "confirm")
        await first.update_user_data(OFFICER, draft)
        await first.update_user_data(1001, {})  # a resident: nothing to keep
        restarted = StorePersistence(url)
        assert await restarted.get_conversations(CONVERSATION) == {(OFFICER, OFFICER): "confirm"}
        assert await restarted.get_user_data() == {OFFICER: draft}
        assert await second.conversation(CONVERSATION, (OFFICER, OFFICER)) == "confirm"
        seen_first, seen_second = {"stale": True}, {}
        await first.refresh_user_data(OFFICER, seen_first)
        await second.refresh_user_data(OFFICER, seen_second)
        assert seen_first == seen_second == draft
        assert await second.take_user_data(OFFICER) is True  # one press takes the draft
        assert await first.take_user_data(OFFICER) is False  # the other finds it gone
        assert await StorePersistence(url).get_user_data() == {}
        await second.update_conversation(CONVERSATION, (OFFICER, OFFICER), None)
        assert await first.conversation(CONVERSATION, (OFFICER, OFFICER)) is None

    asyncio.run(scenario())


def test_telegram_unreachable_at_start_is_reported_and_tried_again(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa must come up for its other channels when Telegram does not answer: the channel says so and retries."""
    monkeypatch.setenv("FRAUDBOT_DB_URL", f"sqlite:///{tmp_path / 'store.db'}")
    api = FakeTelegram().start()
    api.fail_next("getMe", 502)
    channel = TelegramInput(TelegramConfig(token="123456:TEST", api_base_url=api.base_url, webhook_secret=SECRET))

    async def no_dialogue(_message: Any) -> None:
        raise AssertionError("nothing was sent to the bot")

    async def until_ready() -> None:
        while not channel.ready:
            await asyncio.sleep(0.05)

    async def scenario() -> None:
        try:
            assert await channel.open(no_dialogue, no_dialogue) is False
            assert health.status()["problems"]["telegram"].startswith("cannot start")
            await asyncio.wait_for(until_ready(), 10)  # the second attempt, a second later, finds Telegram
            assert "telegram" not in health.status().get("problems", {})
            assert api.count("getMe") == 2
        finally:
            await channel.close()

    try:
        asyncio.run(scenario())
    finally:
        api.stop()


def test_callback_signer() -> None:
    signer = CallbackSigner(callback_key("123456:TEST"))
    data = signer.sign(OFFICER, "alert:confirm:0123456789ab")
    assert len(data.encode()) <= 64 and signer.verify(OFFICER, data) == "alert:confirm:0123456789ab"
    assert signer.verify(OFFICER + 1, data) is None
    assert CallbackSigner(callback_key("654321:OTHER")).verify(OFFICER, data) is None
    flipped = data[:-1] + ("A" if data[-1] != "A" else "B")
    assert signer.verify(OFFICER, flipped) is None
    assert all(signer.verify(OFFICER, bad) is None for bad in ("", ":", "alert:confirm", data.rpartition(":")[2]))
    with pytest.raises(ValueError):
        signer.sign(OFFICER, "x" * 60)


# -- a second process on the same store: polling, and an officer's draft in the store ---------------


@pytest.fixture(scope="module")
def polling(trained_model: Path, action_server: str, fake: FakeTelegram, telegram: dict[str, Any],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Another Rasa server, polling the same fake Bot API with PTB's Updater, on the first one's store."""
    tmp = tmp_path_factory.mktemp("telegram-polling")
    credentials = tmp / "credentials.yml"
    credentials.write_text(
        "bot.channels.rest.SafeRestInput:\nbot.channels.telegram.TelegramInput:\n"
        f'  token: "123456:TEST"\n  mode: polling\n  api_base_url: "{fake.base_url}"\n', encoding="utf-8")
    process, url = start_rasa(trained_model, action_server, tmp, "rasa.log", credentials,
                              env={"FRAUDBOT_DB_URL": telegram["db"], "FRAUDBOT_TELEGRAM_GROUP_PER_MINUTE": "1000"})
    try:
        assert fake.wait_for(lambda: fake.count("getUpdates") >= 1, 60), "the second process never polled"
        yield {"url": url, "log": tmp / "rasa.log"}
    finally:
        stop(process)


def test_polling_mode_answers_a_private_message(polling: dict, fake: FakeTelegram) -> None:
    fake.push_update(message("刚才有人自称公安局说我涉嫌洗钱，让我转到安全账户", 1011, 1011))
    # the reply comes in several messages and the hotlines close it: wait for them, not for a count
    assert fake.wait_for(lambda: "96110" in "\n".join(texts(fake, 1011)), 60)
    assert "安全账户" in "\n".join(texts(fake, 1011)) and "96110" in "\n".join(texts(fake, 1011))
    assert fake.count("deleteWebhook") == 1  # PTB's Updater drops a webhook before it polls


def test_a_draft_begun_on_one_process_is_confirmed_on_another_once(telegram: dict, polling: dict,
                                                                   fake: FakeTelegram) -> None:
    """The second process was running before the draft existed: it reads the draft from the store."""
    service = AlertService(telegram["db"])
    buttons = _preview(telegram, fake)  # /alert, text, regions: through the first process's webhook
    alerts_before, sent_before = len(service.recent(1000)), len(fake.sent(OFFICER))
    fake.push_update({"update_id": next(_ids), "callback_query": {
        "id": "cb-polled", "from": user(OFFICER), "chat_instance": "p", "data": buttons["确认发送"],
        "message": bot_message(OFFICER)}})
    assert fake.wait_for(lambda: len(fake.sent(OFFICER)) > sent_before, 60), "the second process did not answer"
    confirmation = texts(fake, OFFICER)[-1]
    assert "已提交" in confirmation
    alert_id = int(re.search(r"#(\d+)", confirmation).group(1))
    assert len(service.recent(1000)) == alerts_before + 1
    assert service.status(alert_id)["channels"] == {"telegram": {"pending": 1}}  # queued once, for the one group

    press(telegram, OFFICER, buttons["确认发送"])  # the same button on the first process: the draft is gone
    assert "失效" in texts(fake, OFFICER)[-1]
    assert len(service.recent(1000)) == alerts_before + 1
