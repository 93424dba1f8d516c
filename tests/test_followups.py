"""回访: a resident whose money is gone is asked once whether the bot may check back; with consent, the next day
at 10:00 the follow-up job starts the questions in Rasa and delivers them; the answers make an anonymous case
card. End to end with the real model, the real action server and one Rasa server (REST, Telegram on the fake
Bot API, WeChat Official Account on the fake WeChat API) on one store; the job on an injected clock (Rasa on
the real one). Then the store and the job on their own, and the words of core/followup.py."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
import xmltodict
from sqlalchemy import String, select

from bot import followups
from bot.channels.telegram import sender_id
from bot.followup_job import FollowupJob
from bot.processes import free_port
from bot.retention import CHINA
from bot.senders.budget import SendBudget
from bot.senders.telegram import TelegramSender, alerts_bot
from bot.senders.wechat import OfficialAccountClient, OfficialAccountCustomerSender
from bot.store import StoreSessionStorage, engine
from core import followup
from core.followup import (
    ABOVE_100K,
    BELOW_1K,
    CONTACT,
    POLICE,
    RECEIPT,
    STOP,
    UP_TO_10K,
    UP_TO_100K,
    amount_band,
    amount_in,
    consent_of,
    read_answer,
    wants_to_stop,
)
from tests.channel_stack import channel_stack
from tests.fakes.telegram_api import BOT_USERNAME
from tests.fakes.wechat_api import FakeWeChat
from tests.test_telegram import bot_message, message, post, user
from tests.test_wechat import APPID, OA, http, signed_query, text_xml

RASA_TOKEN = "followup-test-token"
PHONE = re.compile(r"1[3-9]\d{9}")
MONEY_GONE = "我刚用工商银行给对方转了3万，怎么办"
OWN_NUMBER = "我刚用工商银行给对方转了3万，我的电话是13312345678，怎么办"
OFFER = "明天上午我再来问问您"
GROUP = -100888
_updates = itertools.count(880_000_000)
ROOT = Path(__file__).resolve().parents[1]
SAID: set[str] = {MONEY_GONE, OWN_NUMBER}
"""Every resident's text these tests send: no column of the follow-up tables may hold one."""


# -- the words, on their own ---------------------------------------------------------------------------------

@pytest.mark.parametrize("amount, band", [
    (None, None), (0, None), (1, BELOW_1K), (999.99, BELOW_1K), (1000, UP_TO_10K), (9999, UP_TO_10K),
    (10_000, UP_TO_100K), (100_000, UP_TO_100K), (100_001, ABOVE_100K), (3_000_000, ABOVE_100K),
])
def test_amount_bands(amount: float | None, band: str | None) -> None:
    assert amount_band(amount) == band


def test_the_amount_is_the_largest_money_entity() -> None:
    entities = [{"entity": "money", "value": "5000"}, {"entity": "bank", "value": "工商银行"},
                {"entity": "money", "value": "30000"}, {"entity": "money", "value": "三万多"}]
    assert amount_in(entities) == 30000
    assert amount_in([{"entity": "bank", "value": "工商银行"}]) is None


@pytest.mark.parametrize("question, text, intent, value", [
    (POLICE, "/affirm", "affirm", "yes"), (POLICE, "/deny", "deny", "no"), (POLICE, "报了", None, "yes"),
    (POLICE, "打了110", None, "yes"), (POLICE, "去派出所了", None, "yes"), (POLICE, "还没报", None, "no"),
    (POLICE, "没有", None, "no"), (POLICE, "冇有", "affirm", "no"), (POLICE, "那倒没有", None, "no"),
    (POLICE, "今天天气很好", None, None),
    (STOP, "止付了，来得及", None, "in_time"), (STOP, "打了，没来得及", None, "too_late"),
    (STOP, "还没联系", None, "not_tried"), (STOP, "银行说钱已经被转走了", None, "too_late"),
    (STOP, "冻结了一部分", None, "in_time"), (STOP, "没有", "deny", "not_tried"), (STOP, "打了", None, None),
    (RECEIPT, "拿到了", None, "yes"), (RECEIPT, "/deny", "deny", "no"), (RECEIPT, "没给", None, "no"),
    (CONTACT, "电话", None, "phone"), (CONTACT, "短信", None, "sms"), (CONTACT, "微信QQ", None, "im"),
    (CONTACT, "网站APP", None, "web_app"), (CONTACT, "其他", None, "other"),
    (CONTACT, "先打电话，后来加了微信", None, "phone"), (CONTACT, "对方在抖音上私信我", None, "im"),
    (CONTACT, "不记得了", None, None),
    (STOP, "in_time", None, "in_time"),  # a value the store kept reads as itself (a resumed follow-up)
])
def test_answers_by_buttons_and_typed_words(question: str, text: str, intent: str | None, value: str | None) -> None:
    assert read_answer(question, text, intent) == value


@pytest.mark.parametrize("text, stop", [
    ("不用了", True), ("别问了", True), ("不要再联系我", True), ("不用回访了", True), ("不想回答", True),
    ("可以", False), ("报了", False), ("用了银行的APP", False),
])
def test_the_words_that_stop_it(text: str, stop: bool) -> None:
    assert wants_to_stop(text) is stop


@pytest.mark.parametrize("text, intent, said", [
    ("可以", "affirm", True), ("好的", None, True), ("没问题", None, True), ("/affirm", "affirm", True),
    ("不用了", "deny", False), ("不可以", None, False), ("/deny", "deny", False), ("别问了", "followup_stop", False),
    ("我好害怕", "consult", None), ("对，他还让我下载了一个APP，说是能退款", "affirm", None),
])
def test_consent_is_never_guessed(text: str, intent: str | None, said: bool | None) -> None:
    assert consent_of(text, intent) is said


def test_a_resident_who_did_not_report_is_not_asked_for_the_receipt() -> None:
    assert followup.next_question({POLICE: "no"}) == STOP
    assert followup.next_question({POLICE: "no", STOP: "too_late"}) == CONTACT
    assert followup.next_question({POLICE: "yes", STOP: "too_late"}) == RECEIPT
    assert followup.card_values({POLICE: "no", STOP: "not_tried", CONTACT: "sms"}) == {
        "reached_police": False, "stop_payment": "not_tried", "has_receipt": False, "contact": "sms"}
    assert followup.closing({POLICE: "no"})[0] == "utter_followup_tip_police"
    assert followup.closing({POLICE: "yes", STOP: "in_time", RECEIPT: "yes"}) == [
        "utter_followup_recovery_warning", "utter_followup_thanks"]


def test_the_payment_route_is_a_known_name_or_other() -> None:
    assert followup.payment_route("工商银行") == "工商银行" and followup.payment_route("支付宝") == "支付宝"
    assert followup.payment_route("13812345678") == followup.OTHER_ROUTE  # a forged button's payload
    assert followup.payment_route(None) is None


def test_only_private_chats_on_channels_that_write_first() -> None:
    assert followups.address_of("telegram_bot", sender_id(5101, None, False), {"group": False}) == ("telegram", "5101")
    assert followups.address_of("telegram_bot", sender_id(GROUP, 5101, True), {"group": True}) is None
    assert followups.address_of("telegram_bot", "tg:5101", {}) is None  # not known to be private
    assert followups.address_of("wechat_oa", "wx:oAbc-1_2", None) == ("wechat_oa", "oAbc-1_2")
    assert followups.address_of("wecom", "wecom:zhangsan", None) == ("wecom", "zhangsan")
    assert followups.address_of("rest", "wx:oAbc", None) is None
    assert followups.address_of(None, "tg:5101", {"group": False}) is None


def test_due_the_next_day_at_ten_china_time() -> None:
    late = datetime(2026, 11, 30, 23, 50, tzinfo=CHINA)
    assert followups.due_after(late) == datetime(2026, 12, 1, 10, 0, tzinfo=CHINA)
    early = datetime(2026, 11, 30, 16, 30, tzinfo=timezone.utc)  # 00:30 on 1 December in China
    assert followups.due_after(early) == datetime(2026, 12, 2, 10, 0, tzinfo=CHINA)


# -- the store and the job, no model --------------------------------------------------------------------------

@pytest.fixture
def store() -> Iterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="fraudbot-"))
    folder.chmod(0o755)
    try:
        yield f"sqlite:///{folder / 'store.db'}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def row_of(url: str, followup_id: int) -> dict[str, Any]:
    with engine(url).connect() as db:
        return dict(db.execute(select(followups.followups).where(followups.followups.c.id == followup_id)).one()
                    ._mapping)


def test_rasa_unreachable_gives_the_follow_up_back_and_late_ones_expire(store: str) -> None:
    agreed = datetime(2026, 11, 30, 20, 0, tzinfo=CHINA)
    first = followups.consent("tg:61", "telegram", "61", "task_rebate", "工商银行", UP_TO_100K, store,
                              clock=lambda: agreed)
    second = followups.consent("tg:62", "telegram", "62", None, None, None, store, clock=lambda: agreed)
    assert followups.consent("tg:61", "telegram", "61", None, None, None, store).id == first.id  # one at a time
    due = followups.due_after(agreed)
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    async def look(moment: datetime) -> list[int]:
        job = FollowupJob(closed, "t", {"telegram": object()}, store, clock=lambda: moment)
        try:
            return await job.run_due()
        finally:
            await job.close()

    assert asyncio.run(look(due)) == []
    assert row_of(store, first.id)["state"] == followups.PENDING  # nothing was said: tried again next time
    assert row_of(store, first.id)["address"] == "61"
    followups.stop("tg:62", store)
    assert asyncio.run(look(due + followups.LATE_LIMIT + timedelta(minutes=1))) == []
    late = row_of(store, first.id)
    assert late["state"] == followups.EXPIRED and late["address"] is None and late["conversation_id"] is None
    assert late["conversation_key"] is None
    assert row_of(store, second.id)["state"] == followups.STOPPED  # a stopped one stays stopped


def test_an_asked_follow_up_left_unanswered_ends(store: str) -> None:
    agreed = datetime(2026, 11, 30, 20, 0, tzinfo=CHINA)
    row = followups.consent("wx:oLate", "wechat_oa", "oLate", None, None, None, store, clock=lambda: agreed)
    assert followups.claim(row.id, followups.due_after(agreed), store)
    assert not followups.claim(row.id, followups.due_after(agreed), store)  # claimed once
    assert followups.expire(followups.due_after(agreed) + timedelta(days=2), store) == 0
    assert followups.expire(followups.due_after(agreed) + followups.ANSWER_WINDOW, store) == 1
    assert followups.active("wx:oLate", store) is None and row_of(store, row.id)["state"] == followups.EXPIRED


def test_card_counts_per_field_and_csv(store: str) -> None:
    for n, (police, contact) in enumerate([("yes", "sms"), ("no", "sms"), ("yes", None)]):
        conversation = f"tg:{70 + n}"
        row = followups.consent(conversation, "telegram", str(70 + n), "task_rebate", "工商银行", UP_TO_10K, store)
        assert followups.begin(conversation, store) is not None
        assert followups.finish(conversation, {POLICE: police, STOP: "too_late", CONTACT: contact}, store)
        assert row_of(store, row.id)["state"] == followups.DONE
    today = datetime.now(CHINA).date()
    counts = followups.card_counts(today, today, store)
    assert counts["total"] == {"": 3}
    assert counts["reached_police"] == {"yes": 2, "no": 1}
    assert counts["contact"] == {"sms": 2, "unknown": 1}
    assert counts["has_receipt"] == {"no": 1, "unknown": 2}  # no report, no receipt; the others were not asked
    assert followups.card_counts(today - timedelta(days=2), today - timedelta(days=1), store)["total"] == {"": 0}
    csv = followups.cards_csv(followups.list_cards(today, today, store)).splitlines()
    assert csv[0] == "day,scenario,channel,contact,payment_route,amount_band,reached_police,stop_payment,has_receipt"
    assert csv[1] == f"{today},task_rebate,telegram,sms,工商银行,1千–1万,yes,too_late,unknown"


def test_fraudbot_followup_cards_lists_only_categories(store: str) -> None:
    followups.consent("wx:oCli", "wechat_oa", "oCli", "impersonate_police", "支付宝", ABOVE_100K, store)
    followups.begin("wx:oCli", store)
    followups.finish("wx:oCli", {POLICE: "yes", STOP: "in_time", RECEIPT: "no", CONTACT: "phone"}, store)
    env = {**os.environ, "FRAUDBOT_DB_URL": store}
    command = [sys.executable, "-m", "bot.cli", "followup", "cards"]
    listed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split("\t")[1:] == [
        "冒充公检法", "wechat_oa", "phone", "支付宝", ">10万", "yes", "in_time", "no"]
    tomorrow = (datetime.now(CHINA).date() + timedelta(days=1)).isoformat()
    later = subprocess.run([*command, "--since", tomorrow, "--format", "csv"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert later.returncode == 0 and later.stdout.splitlines()[1:] == []
    assert "oCli" not in listed.stdout + later.stdout


def test_the_daily_loop_runs_the_follow_up_job_at_every_look_and_survives_its_failure(store: str) -> None:
    from bot.daily import DailyJob

    looks: list[int] = []

    async def serve() -> None:
        stop_event = asyncio.Event()

        async def also() -> None:
            looks.append(1)
            if len(looks) == 1:
                raise RuntimeError("the store is down")
            stop_event.set()

        daily = DailyJob(None, store, clock=lambda: datetime(2026, 11, 30, 6, 0, tzinfo=CHINA))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("bot.daily.CHECK_SECONDS", 0.01)
            await asyncio.wait_for(daily.serve(stop_event, also=also), timeout=10)

    asyncio.run(serve())
    assert len(looks) == 2


# -- the dialogue, end to end -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bot(trained_model: Path) -> Iterator[dict[str, Any]]:
    """One store, one action server, one Rasa (its HTTP API on, with a token) with REST, Telegram and WeChat."""
    with channel_stack(trained_model, env={"FRAUDBOT_RASA_TOKEN": RASA_TOKEN}, rasa_args=("--enable-api",)) as running:
        yield running


def rows(bot: dict[str, Any], table: Any = followups.followups) -> list[dict[str, Any]]:
    with engine(bot["db"]).connect() as db:
        return [dict(row._mapping) for row in db.execute(select(table).order_by(table.c.id))]


def sent(bot: dict[str, Any], chat: int) -> list[dict[str, Any]]:
    return [call.params for call in bot["telegram"].sent(chat)]


def texts(found: list[dict[str, Any]]) -> list[str]:
    return [params.get("text", "") for params in found]


def titles(params: dict[str, Any]) -> list[str]:
    return [button["text"] for row in (params.get("reply_markup") or {}).get("inline_keyboard", []) for button in row]


def tg(bot: dict[str, Any], chat: int, text: str) -> list[dict[str, Any]]:
    """A resident types ``text`` in their private chat; what the bot sent back."""
    SAID.add(text)
    before = len(sent(bot, chat))
    assert post(bot, message(text, chat, chat)) == 200
    return sent(bot, chat)[before:]


def press(bot: dict[str, Any], chat: int, title: str) -> list[dict[str, Any]]:
    """The resident presses the button ``title`` of the bot's latest keyboard that has one."""
    keyboard = next(params for params in reversed(sent(bot, chat)) if title in titles(params))
    data = next(b["callback_data"] for row in keyboard["reply_markup"]["inline_keyboard"] for b in row
                if b["text"] == title)
    before = len(sent(bot, chat))
    assert post(bot, {"update_id": next(_updates), "callback_query": {
        "id": f"cb-{chat}-{before}", "from": user(chat), "chat_instance": "f", "data": data,
        "message": bot_message(chat)}}) == 200
    return sent(bot, chat)[before:]


def wechat(bot: dict[str, Any], openid: str, text: str) -> str:
    SAID.add(text)
    status, reply = http(bot["url"], OA, signed_query(), text_xml(text, openid=openid).encode())
    assert status == 200
    return xmltodict.parse(reply)["xml"]["Content"]


def run_job(bot: dict[str, Any], moment: datetime, times: int = 1) -> list[int]:
    """The follow-up job, as ``fraudbot daily`` runs it, looking ``times`` times at an injected clock."""

    async def look() -> list[int]:
        telegram = TelegramSender(alerts_bot("123456:TEST", bot["telegram"].base_url), budget=SendBudget(None))
        await telegram.bot.initialize()
        client = OfficialAccountClient(APPID, "oa-secret", bot["wechat"].base_url,
                                       session=StoreSessionStorage(bot["db"]), timeout=10)
        job = FollowupJob(bot["url"], RASA_TOKEN, {"telegram": telegram,
                                                   "wechat_oa": OfficialAccountCustomerSender(client)},
                          store_url=bot["db"], clock=lambda: moment)
        try:
            return [n for _ in range(times) for n in await job.run_due()]
        finally:
            await job.close()
            await telegram.bot.shutdown()

    return asyncio.run(look())


def agreed(bot: dict[str, Any], chat: int, text: str = MONEY_GONE) -> dict[str, Any]:
    """Money gone over Telegram, 可以 pressed: the follow-up row."""
    answer = tg(bot, chat, text)
    assert OFFER in answer[-1]["text"] and titles(answer[-1]) == ["可以", "不用了"]
    assert "明天上午10点左右" in press(bot, chat, "可以")[-1]["text"]
    mine = [row for row in rows(bot) if row["conversation_key"] == followups.conversation_key(f"tg:{chat}")]
    assert len(mine) == 1
    return mine[0]


def due_of(row: dict[str, Any]) -> datetime:
    due = row["due_at"]
    return (due if due.tzinfo else due.replace(tzinfo=timezone.utc)).astimezone(CHINA)


def test_telegram_money_gone_consent_next_day_questions_and_the_card(bot: dict[str, Any]) -> None:
    chat = 5101
    before = datetime.now(CHINA)
    answer = tg(bot, chat, OWN_NUMBER)
    assert "110" in answer[0]["text"] and "95588" in answer[0]["text"]  # the urgent answer first, unchanged
    assert OFFER in answer[-1]["text"] and titles(answer[-1]) == ["可以", "不用了"]
    assert all(OFFER not in params["text"] for params in answer[:-1])
    assert "明天上午10点左右" in press(bot, chat, "可以")[-1]["text"]
    after = datetime.now(CHINA)
    [row] = [r for r in rows(bot) if r["conversation_key"] == followups.conversation_key(f"tg:{chat}")]
    assert (row["state"], row["channel"], row["address"], row["conversation_id"]) == (
        "pending", "telegram", str(chat), f"tg:{chat}")
    assert (row["payment_route"], row["amount_band"]) == ("工商银行", UP_TO_100K)
    assert due_of(row) in {followups.due_after(before), followups.due_after(after)}
    assert due_of(row).time().isoformat() == "10:00:00" and due_of(row).date() == before.date() + timedelta(days=1)

    quiet = len(sent(bot, chat))
    assert run_job(bot, due_of(row) - timedelta(minutes=1)) == []
    assert len(sent(bot, chat)) == quiet  # 09:59: nothing
    assert run_job(bot, due_of(row), times=2) == [row["id"]]  # 10:00, twice: once
    assert run_job(bot, due_of(row) + timedelta(minutes=1)) == []  # a new job object (a restart): still once
    first = sent(bot, chat)[quiet:]
    assert len(first) == 2 and "昨天您说钱被转走了" in first[0]["text"]
    assert "报警了吗" in first[1]["text"] and titles(first[1]) == ["报了", "还没报"]
    asked = rows(bot)[[r["id"] for r in rows(bot)].index(row["id"])]
    assert asked["state"] == "asked" and asked["address"] is None and asked["conversation_id"] is None

    assert "止付" in press(bot, chat, "报了")[-1]["text"]
    assert "回执" in tg(bot, chat, "打了，没来得及")[-1]["text"]
    assert "怎么联系您的" in tg(bot, chat, "拿到了")[-1]["text"]
    end = "\n".join(texts(press(bot, chat, "短信")))
    assert "二次诈骗" in end and "追回" in end and "96110" in end and "110" in end.replace("96110", "")
    done = rows(bot)[[r["id"] for r in rows(bot)].index(row["id"])]
    assert done["state"] == "done" and done["address"] is None and done["conversation_key"] is None
    card = rows(bot, followups.cards)[-1]
    assert {k: card[k] for k in ("channel", "contact", "payment_route", "amount_band", "reached_police",
                                 "stop_payment", "has_receipt")} == {
        "channel": "telegram", "contact": "sms", "payment_route": "工商银行", "amount_band": UP_TO_100K,
        "reached_police": True, "stop_payment": "too_late", "has_receipt": True}
    assert card["day"] in (due_of(row).date(), datetime.now(CHINA).date())  # the answers came in today, China time


def test_stop_before_the_next_day_message(bot: dict[str, Any]) -> None:
    chat = 5102
    row = agreed(bot, chat)
    assert "不会再来问您了" in tg(bot, chat, "不用了")[-1]["text"]
    stopped = rows(bot)[[r["id"] for r in rows(bot)].index(row["id"])]
    assert stopped["state"] == "stopped" and stopped["address"] is None and stopped["conversation_id"] is None
    quiet = len(sent(bot, chat))
    assert run_job(bot, due_of(row)) == []
    assert len(sent(bot, chat)) == quiet


def test_stop_after_the_next_day_message(bot: dict[str, Any]) -> None:
    chat = 5103
    row = agreed(bot, chat)
    assert run_job(bot, due_of(row)) == [row["id"]]
    cards = len(rows(bot, followups.cards))
    assert "不会再来问您了" in tg(bot, chat, "别问了")[-1]["text"]
    assert rows(bot)[[r["id"] for r in rows(bot)].index(row["id"])]["state"] == "stopped"
    assert len(rows(bot, followups.cards)) == cards  # no card
    quiet = len(sent(bot, chat))
    assert run_job(bot, due_of(row) + timedelta(minutes=5)) == []
    assert len(sent(bot, chat)) == quiet
    assert "来得及吗" not in "\n".join(texts(tg(bot, chat, "报了")))  # no question goes on


def test_a_story_instead_of_an_answer_is_judged_and_ends_the_follow_up(bot: dict[str, Any]) -> None:
    chat = 5107
    row = agreed(bot, chat)
    assert run_job(bot, due_of(row)) == [row["id"]]
    assert "来得及吗" in press(bot, chat, "报了")[-1]["text"]
    cards = len(rows(bot, followups.cards))
    answer = "\n".join(texts(tg(bot, chat, "今天又有人打电话说交3000元手续费就能帮我把钱追回来")))
    assert "追回" in answer and "96110" in answer and OFFER not in answer
    assert [r for r in rows(bot) if r["id"] == row["id"]][0]["state"] == "done"
    card = rows(bot, followups.cards)[cards]
    assert (card["reached_police"], card["stop_payment"], card["contact"]) == (True, None, None)


def test_without_consent_nothing_is_kept(bot: dict[str, Any]) -> None:
    chat = 5104
    kept = len(rows(bot))
    answer = tg(bot, chat, MONEY_GONE)
    assert OFFER in answer[-1]["text"]
    assert "不打扰您" in press(bot, chat, "不用了")[-1]["text"]
    assert len(rows(bot)) == kept
    assert all(OFFER not in t for t in texts(tg(bot, chat, "我又用建设银行转了5000")))  # asked once


def test_the_bank_question_comes_first(bot: dict[str, Any]) -> None:
    chat = 5105
    answer = tg(bot, chat, "被骗了，钱已经转过去了，怎么办啊")
    assert "哪家银行" in answer[-1]["text"] and all(OFFER not in t for t in texts(answer))
    named = press(bot, chat, "建设银行")
    assert "95533" in "\n".join(texts(named)) and OFFER in named[-1]["text"]


def test_a_group_and_rest_are_never_asked(bot: dict[str, Any]) -> None:
    mention = f"@{BOT_USERNAME}"
    before = len(sent(bot, GROUP))
    assert post(bot, message(f"{mention} {MONEY_GONE}", GROUP, 5106,
                             entities=[{"type": "mention", "offset": 0, "length": len(mention)}])) == 200
    group = texts(sent(bot, GROUP)[before:])
    assert any("110" in t for t in group) and all(OFFER not in t for t in group)
    rest = requests.post(f"{bot['url']}/webhooks/rest/webhook", json={"sender": "rest-followup", "message": MONEY_GONE},
                         timeout=60).json()
    assert "110" in rest[0]["text"] and all(OFFER not in (m.get("text") or "") for m in rest)


def test_wechat_official_account_full_round(bot: dict[str, Any]) -> None:
    openid = "oFollowupRound1"
    first = wechat(bot, openid, "我用支付宝转了5000元给对方，怎么办")
    assert "110" in first and OFFER in first and "（可以直接回复：可以 / 不用了）" in first
    assert "明天上午10点左右" in wechat(bot, openid, "可以")
    [row] = [r for r in rows(bot) if r["conversation_key"] == followups.conversation_key(f"wx:{openid}")]
    assert (row["channel"], row["address"], row["payment_route"], row["amount_band"]) == (
        "wechat_oa", openid, "支付宝", UP_TO_10K)
    fake: FakeWeChat = bot["wechat"]
    before = len(fake.of("message/custom/send"))
    assert run_job(bot, due_of(row), times=2) == [row["id"]]
    [delivered] = fake.of("message/custom/send")[before:]
    assert delivered.body["touser"] == openid
    assert "报警了吗" in delivered.body["text"]["content"] and "（可以直接回复：报了 / 还没报）" in \
        delivered.body["text"]["content"]
    assert "止付" in wechat(bot, openid, "报了")
    # the conversation's session ends before the next answer (a resident answers after lunch): the follow-up
    # goes on from the store, at the next question
    events = requests.post(f"{bot['url']}/conversations/wx:{openid}/tracker/events", params={"token": RASA_TOKEN},
                           json=[{"event": "session_started"}, {"event": "action", "name": "action_listen"}],
                           timeout=30)
    assert events.status_code == 200, events.text
    tracker = requests.get(f"{bot['url']}/conversations/wx:{openid}/tracker", params={"token": RASA_TOKEN}, timeout=30)
    assert not tracker.json().get("active_loop") and tracker.json()["slots"]["followup_police"] is None
    assert "回执" in wechat(bot, openid, "止付了，来得及")
    assert "怎么联系您的" in wechat(bot, openid, "拿到了")
    end = wechat(bot, openid, "微信")
    assert "二次诈骗" in end and "96110" in end
    card = rows(bot, followups.cards)[-1]
    assert {k: card[k] for k in ("channel", "contact", "payment_route", "amount_band", "reached_police",
                                 "stop_payment", "has_receipt")} == {
        "channel": "wechat_oa", "contact": "im", "payment_route": "支付宝", "amount_band": UP_TO_10K,
        "reached_police": True, "stop_payment": "in_time", "has_receipt": True}
    done = [r for r in rows(bot) if r["id"] == row["id"]][0]
    assert done["state"] == "done" and done["address"] is None


def test_no_column_holds_a_number_an_address_or_a_residents_text(bot: dict[str, Any]) -> None:
    kept = rows(bot) + rows(bot, followups.cards)
    assert kept, "the dialogue tests ran first"
    string_columns = {column.name for table in (followups.followups, followups.cards)
                      for column in table.columns if isinstance(column.type, String)}
    for row in kept:
        for column, value in row.items():
            if column not in string_columns or value is None:
                continue
            assert not PHONE.search(value), (column, value)
            assert not any(text in value or (len(value) > 4 and value in text) for text in SAID), (column, value)
        if row.get("state") in (followups.DONE, followups.STOPPED, followups.EXPIRED):
            assert row["address"] is None and row["conversation_id"] is None and row["conversation_key"] is None


def test_the_daily_process_finds_a_sender_for_each_configured_channel(monkeypatch: pytest.MonkeyPatch,
                                                                     store: str) -> None:
    from bot.followup_job import senders_for_followups

    monkeypatch.setenv("FRAUDBOT_DB_URL", store)  # where the clients would share their access tokens

    for name in ("WECHAT_APPID", "WECHAT_SECRET", "WECOM_CORP_ID", "WECOM_SECRET", "WECOM_AGENT_ID"):
        monkeypatch.delenv(name, raising=False)
    telegram = object()
    assert senders_for_followups({"telegram": telegram}) == {"telegram": telegram}
    monkeypatch.setenv("WECHAT_APPID", APPID)
    monkeypatch.setenv("WECHAT_SECRET", "oa-secret")
    monkeypatch.setenv("WECOM_CORP_ID", "ww-corp")
    monkeypatch.setenv("WECOM_SECRET", "wecom-secret")
    monkeypatch.setenv("WECOM_AGENT_ID", "1000002")
    found = senders_for_followups({})
    assert sorted(found) == ["wechat_oa", "wecom"]
    assert [sender.channel for sender in found.values()] == ["wechat_oa", "wecom"]
