"""Senders and crypto, for real: HTTP to fake Telegram and WeChat APIs on loopback, wechatpy's own crypto.

The retry policy of the one Telegram sender and the WeCom robot sender: what Telegram refused
is sent again after its wait, what never left (no connection) is sent again, what may have
arrived (no answer, a 5xx) is never sent again and comes back uncertain.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Iterator

import pytest
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

from bot.channels.wechat_common import UnsafeXml, checked_xml, merge_replies
from bot.processes import free_port
from bot.senders import DeliveryResult
from bot.senders.budget import LocalWindows, SendBudget, Slot
from bot.senders.telegram import TelegramSender, alerts_bot
from bot.senders.wechat import (
    OfficialAccountClient,
    OfficialAccountMassSender,
    WeComAppChatSender,
    WeComClient,
    WeComRobotSender,
)
from bot.store import StoreSessionStorage
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.wechat_api import FakeWeChat

XML_BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<xml><Content>&lol4;</Content></xml>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]><xml><Content>&secret;</Content></xml>"""


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    api = FakeWeChat().start()
    yield api
    api.stop()


def test_official_wecom_crypto_vector() -> None:
    crypto = WeComCrypto("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
    echo = crypto.check_signature(
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780",
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==")
    assert (echo.decode() if isinstance(echo, bytes) else echo) == "1616140317555161061"


@pytest.mark.parametrize("body", [XML_BOMB, EXTERNAL_ENTITY, "<xml><unclosed></xml>", "not xml", ""])
def test_unsafe_or_broken_xml_is_refused(body: str) -> None:
    with pytest.raises(UnsafeXml):
        checked_xml(body)


def test_plain_xml_passes() -> None:
    assert checked_xml(b"<xml><Content>\xe4\xbd\xa0\xe5\xa5\xbd</Content></xml>").endswith("</xml>")


def test_replies_are_merged_within_the_passive_limit() -> None:
    merged = merge_replies([{"text": "第一段"}, {"text": "第二段", "buttons": [{"title": "工商银行"}]}])
    assert merged == ["第一段\n\n第二段\n（可以直接回复：工商银行）"]
    long = merge_replies([{"text": "长" * 600}, {"text": "短" * 600}])
    assert len(long) == 2 and all(len(t.encode()) <= 2048 for t in long)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_robot_keeps_20_messages_a_minute(fake: FakeWeChat) -> None:
    clock = FakeClock()
    sender = WeComRobotSender(fake.base_url, SendBudget(None, sleep=clock.sleep, clock=clock))
    sent_at = []

    async def run() -> None:
        for i in range(45):
            result = await sender.send("robot-key-1", f"警情通报 {i}")
            assert result.ok, result
            sent_at.append(clock.now)
        await sender.close()

    asyncio.run(run())
    calls = fake.of("webhook/send")
    assert len(calls) == 45 and {c.query["key"] for c in calls} == {"robot-key-1"}
    assert calls[0].body == {"msgtype": "text", "text": {"content": "警情通报 0"}}
    for i in range(len(sent_at)):  # no 60-second window ever holds more than 20 sends
        assert sum(1 for t in sent_at if sent_at[i] <= t < sent_at[i] + 60) <= 20
    assert sent_at[20] - sent_at[0] >= 60 and sent_at[40] - sent_at[0] >= 120


def test_robot_results_say_what_to_do(fake: FakeWeChat) -> None:
    sender = WeComRobotSender(fake.base_url)
    fake.fail_next("webhook/send", 200, errcode=45009, errmsg="api freq out of limit")
    fake.fail_next("webhook/send", 200, errcode=93000, errmsg="invalid webhook url")
    fake.fail_next("webhook/send", 502)

    async def run() -> list:
        results = [await sender.send("k", "x") for _ in range(4)]
        await sender.close()
        return results

    limited, gone, bad_gateway, ok = asyncio.run(run())
    assert not limited.ok and limited.retryable and not limited.gone
    assert not gone.ok and gone.gone and not gone.retryable
    # a 502 proves nothing about delivery: never retried, reported uncertain
    assert not bad_gateway.ok and bad_gateway.uncertain and not bad_gateway.retryable
    assert bad_gateway.error.startswith("uncertain:")
    assert ok.ok
    assert len(fake.of("webhook/send", ok_only=False)) == 4


def test_long_robot_text_is_cut_to_2048_bytes(fake: FakeWeChat) -> None:
    sender = WeComRobotSender(fake.base_url)
    asyncio.run(sender.send("k", "警" * 2000))
    assert len(fake.of("webhook/send")[0].body["text"]["content"].encode()) <= 2048


def test_access_tokens_are_fetched_once_and_shared(fake: FakeWeChat, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    wecom = WeComAppChatSender(WeComClient("corp", "secret", fake.base_url, session=StoreSessionStorage(url)))
    # a second client (another sender, another replica) with the same store reuses the token
    wecom_again = WeComAppChatSender(WeComClient("corp", "secret", fake.base_url,
                                                 session=StoreSessionStorage(url)))
    mass = OfficialAccountMassSender(OfficialAccountClient("appid", "secret", fake.base_url,
                                                           session=StoreSessionStorage(url)))

    async def run() -> list:
        results = [await wecom.send("chat-1", "通报") for _ in range(3)]
        results.append(await wecom_again.send("chat-2", "通报"))
        results.append(await mass.send("101", "通报"))
        results.append(await mass.send("102", "通报"))
        return results

    results = asyncio.run(run())
    assert all(r.ok for r in results)
    assert len(fake.of("gettoken")) == 1 and len(fake.of("token")) == 1
    assert {c.query["access_token"] for c in fake.of("appchat/send")} == {"wecom-token"}
    assert fake.of("message/mass/sendall")[0].body["filter"] == {"is_to_all": False, "tag_id": 101}
    assert results[-1].message_id == "34182"


def test_appchat_gone_and_quota_errors(fake: FakeWeChat, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    wecom = WeComAppChatSender(WeComClient("corp", "secret", fake.base_url, session=StoreSessionStorage(url)))
    mass = OfficialAccountMassSender(OfficialAccountClient("appid", "secret", fake.base_url,
                                                           session=StoreSessionStorage(url)))
    fake.fail_next("appchat/send", 200, errcode=86003, errmsg="chat not found")
    fake.fail_next("message/mass/sendall", 200, errcode=45028, errmsg="has no masssend quota")
    gone = asyncio.run(wecom.send("chat-x", "通报"))
    quota = asyncio.run(mass.send("101", "通报"))
    assert gone.gone and not gone.ok
    assert not quota.ok and not quota.retryable and "45028" in quota.error


# -- the send budget in one process ------------------------------------------------------------


def test_local_windows_take_every_slot_or_none() -> None:
    clock = FakeClock()
    windows = LocalWindows(clock)
    overall, group = Slot("bot", 3, 1.0), Slot("bot:group", 2, 60.0)
    assert windows.take([overall, group]) == 0 and windows.take([overall, group]) == 0
    assert windows.take([overall, group]) == pytest.approx(60.0)  # the group is full: nothing taken
    assert windows.take([overall]) == 0  # so the overall window still had room for one
    assert windows.take([overall]) == pytest.approx(1.0)
    clock.now += 1.0
    assert windows.take([overall]) == 0


# -- the one Telegram sender's retry policy ----------------------------------------------------



def recording_sleep(waits: list[float]):  # noqa: ANN201
    async def sleep(seconds: float) -> None:
        waits.append(seconds)
    return sleep


def test_retry_after_is_waited_out_and_sent_once(telegram: FakeTelegram) -> None:
    telegram.fail_next("sendMessage", 429, retry_after=3)
    waits: list[float] = []
    sender = TelegramSender(alerts_bot("123456:TEST", telegram.base_url), budget=SendBudget(None),
                            sleep=recording_sleep(waits))
    result = asyncio.run(sender.send_message(-100123, "警情通报", reply_to_message_id=42))
    assert result.ok and result.message_id
    assert waits == [3.0]
    assert [c.status for c in telegram.calls if c.method == "sendMessage"] == [429, 200]
    assert len(telegram.sent(-100123)) == 1
    assert telegram.sent()[0].params["reply_parameters"]["message_id"] == 42


def test_a_long_retry_after_goes_back_to_the_caller(telegram: FakeTelegram) -> None:
    telegram.fail_next("sendMessage", 429, retry_after=60)
    sender = TelegramSender(alerts_bot("123456:TEST", telegram.base_url), budget=SendBudget(None))
    result = asyncio.run(sender.send_message(5, "你好"))
    assert not result.ok and result.retryable and result.retry_after == 60 and not result.uncertain
    assert telegram.count("sendMessage") == 1


def test_timeout_after_the_request_arrived_is_not_retried(telegram: FakeTelegram) -> None:
    telegram.answer_late(1)
    waits: list[float] = []
    sender = TelegramSender(alerts_bot("123456:TEST", telegram.base_url, read_timeout=0.3),
                            budget=SendBudget(None), sleep=recording_sleep(waits))
    result = asyncio.run(sender.send_message(-100123, "警情通报"))
    assert not result.ok and result.uncertain and not result.retryable
    assert result.error.startswith("uncertain:")
    assert waits == [] and telegram.count("sendMessage") == 1  # it arrived once and was not sent again


def test_a_5xx_answer_is_uncertain(telegram: FakeTelegram) -> None:
    telegram.fail_next("sendMessage", 502)
    sender = TelegramSender(alerts_bot("123456:TEST", telegram.base_url), budget=SendBudget(None))
    result = asyncio.run(sender.send_message(7, "你好"))
    assert result.uncertain and telegram.count("sendMessage") == 1


def test_refused_connection_is_retried() -> None:
    port = free_port()
    api = FakeTelegram()
    waits: list[float] = []

    async def sleep_then_start(seconds: float) -> None:  # the API comes up while the sender backs off
        waits.append(seconds)
        if api.server is None:
            api.start(port)

    sender = TelegramSender(alerts_bot("123456:TEST", f"http://127.0.0.1:{port}/bot"), budget=SendBudget(None),
                            sleep=sleep_then_start)
    try:
        result = asyncio.run(sender.send_message(-100123, "警情通报"))
    finally:
        api.stop()
    assert result.ok and waits == [0.5]
    assert len(api.sent(-100123)) == 1


def test_gone_chats_and_refusals_say_so(telegram: FakeTelegram) -> None:
    telegram.fail_next("sendMessage", 403)
    telegram.fail_next("sendMessage", 400)
    sender = TelegramSender(alerts_bot("123456:TEST", telegram.base_url), budget=SendBudget(None))

    async def run() -> list[DeliveryResult]:
        return [await sender.send_message(-1, "x"), await sender.send_message(-2, "x")]

    forbidden, bad = asyncio.run(run())
    assert forbidden.gone and not forbidden.retryable and not forbidden.uncertain
    assert not bad.ok and not bad.retryable and not bad.uncertain


def test_the_telegram_budget_keeps_the_group_and_overall_limits(telegram: FakeTelegram) -> None:
    clock = FakeClock()
    budget = SendBudget(None, sleep=clock.sleep, clock=clock)
    sender = TelegramSender(alerts_bot("123456:TEST", telegram.base_url), overall_per_second=5,
                            group_per_minute=3, budget=budget)
    sent_at: dict[int, list[float]] = {-1: [], 2: []}

    async def run() -> None:
        for _ in range(6):
            for chat in (-1, 2):
                assert (await sender.send_message(chat, "x")).ok
                sent_at[chat].append(clock.now)

    asyncio.run(run())
    group, private = sent_at[-1], sent_at[2]
    assert all(sum(1 for t in group if start <= t < start + 60) <= 3 for start in group)
    everything = sorted(group + private)
    assert all(sum(1 for t in everything if start <= t < start + 1) <= 5 for start in everything)
    assert group[3] - group[0] >= 60  # the fourth group message waited for the minute
    assert sender.slots("-1")[0].key == sender.slots("2")[0].key and "123456" not in sender.slots("-1")[1].key


def test_robot_retries_a_refused_connection_only() -> None:
    port = free_port()
    api = FakeWeChat()
    waits: list[float] = []

    async def sleep_then_start(seconds: float) -> None:
        waits.append(seconds)
        if api.server is None:
            api.start(port)

    sender = WeComRobotSender(f"http://127.0.0.1:{port}/cgi-bin/", SendBudget(None), sleep=sleep_then_start)

    async def run() -> DeliveryResult:
        try:
            return await sender.send("robot-key", "通报")
        finally:
            await sender.close()

    try:
        result = asyncio.run(run())
    finally:
        api.stop()
    assert result.ok and waits == [0.5] and len(api.of("webhook/send")) == 1
    assert "robot-key" not in sender.slots("robot-key")[0].key
