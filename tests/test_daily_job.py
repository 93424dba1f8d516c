"""The daily job: once a day across restarts and clock jumps, one suggestion per rise, the report in the
officers' chat through the real sender and the fake Telegram API (bot/daily.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import daily, health, migrations
from bot.retention import CHINA
from bot.senders.budget import SendBudget
from bot.senders.telegram import TelegramSender, alerts_bot
from bot.store import engine
from tests.fakes.telegram_api import FakeTelegram
from tests.test_daily_report import DAY, consult
from tests.test_retention import events_table

OFFICERS = -100777



class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def china(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(DAY + timedelta(days=day_offset), time(hour, minute), CHINA)


@pytest.fixture
def stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.setenv("FRAUDBOT_REGION", "national")
    tracker, store = f"sqlite:///{tmp_path / 'rasa.db'}", f"sqlite:///{tmp_path / 'store.db'}"
    migrations.upgrade(store)
    events_table(tracker)
    for back in range(1, 29):
        consult(tracker, DAY - timedelta(days=back), "task_rebate", "朝阳")
    consult(tracker, DAY, "task_rebate", "朝阳", n=6)  # rises on DAY
    consult(tracker, DAY + timedelta(days=1), "gambling", "海淀", n=4)  # rises on the day after
    return tracker, store


def job(stores: tuple[str, str], clock: Clock, telegram: FakeTelegram) -> daily.DailyJob:
    sender = TelegramSender(alerts_bot("123456:TEST", telegram.base_url), budget=SendBudget(None))
    return daily.DailyJob(stores[0], stores[1], clock=clock, at=time(7, 30),
                          targets=[("telegram", str(OFFICERS))], senders={"telegram": sender})


def runs(store: str) -> list[object]:
    with engine(store).connect() as db:
        return [row.day for row in db.execute(select(daily.daily_runs).order_by(daily.daily_runs.c.day))]


def test_once_a_day_across_restarts_and_clock_jumps(stores: tuple[str, str], telegram: FakeTelegram) -> None:
    clock = Clock(china(1, 6, 59))
    first = job(stores, clock, telegram)
    assert asyncio.run(first.run_due()) is None  # not yet 07:30
    clock.moment = china(1, 7, 31)
    report = asyncio.run(first.run_due())
    assert report is not None and report.day == DAY
    assert asyncio.run(first.run_due()) is None  # the same day again: nothing
    assert asyncio.run(job(stores, clock, telegram).run_due()) is None  # a restarted process: nothing

    messages = telegram.sent(OFFICERS)
    assert len(messages) == 1
    text = messages[0].params["text"]
    assert text.startswith(f"【每日研判】{DAY:%m月%d日}") and "刷单返利（朝阳）6 次" in text

    clock.moment = china(3, 9, 0)  # the clock jumps two days: one run for the day it lands on
    assert asyncio.run(first.run_due()).day == DAY + timedelta(days=2)
    clock.moment = china(2, 8, 0)  # and back: that day was never run, so it runs now, once
    assert asyncio.run(first.run_due()).day == DAY + timedelta(days=1)
    assert asyncio.run(first.run_due()) is None
    assert runs(stores[1]) == [DAY + timedelta(days=d) for d in (1, 2, 3)]
    assert len(telegram.sent(OFFICERS)) == 3


def test_a_rise_gives_one_suggestion_and_a_flat_day_none(stores: tuple[str, str], telegram: FakeTelegram) -> None:
    clock = Clock(china(1, 7, 30))
    asyncio.run(job(stores, clock, telegram).run_due())
    found = daily.suggestions(stores[1])
    assert [(s.day, s.scenario, s.region, s.count) for s in found] == [(DAY, "task_rebate", "朝阳", 6)]
    report = daily.daily_report.build(DAY, *stores)
    assert daily.record_suggestions(report, stores[1]) == []  # built again: still one suggestion

    flat_day = DAY - timedelta(days=5)
    assert daily.daily_report.build(flat_day, *stores).rising == []

    clock.moment = china(2, 7, 45)
    asyncio.run(job(stores, clock, telegram).run_due())
    assert {(s.scenario, s.region) for s in daily.suggestions(stores[1])} == {
        ("task_rebate", "朝阳"), ("gambling", "海淀")}


def test_a_failing_chat_is_reported_and_the_day_still_counts(stores: tuple[str, str], telegram: FakeTelegram) -> None:
    telegram.fail_next("sendMessage", 400)
    clock = Clock(china(1, 8, 0))
    assert asyncio.run(job(stores, clock, telegram).run_due()) is not None
    assert telegram.sent(OFFICERS) == []
    with engine(stores[1]).connect() as db:
        outcome = db.execute(select(daily.daily_runs.c.outcome)).scalar_one()
    assert "sent to 0 of 1" in outcome
    assert health.status()["problems"]["daily_report"].startswith("telegram:")
    clock.moment = china(2, 8, 0)  # the next day's report reaches the chat: recovered
    assert asyncio.run(job(stores, clock, telegram).run_due()) is not None
    assert len(telegram.sent(OFFICERS)) == 1 and "daily_report" not in health.status().get("problems", {})


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDBOT_DAILY_AT", "06:15")
    assert daily.daily_at() == time(6, 15)
    monkeypatch.setenv("FRAUDBOT_DAILY_AT", "morning")
    assert daily.daily_at() == daily.DEFAULT_AT
    monkeypatch.setenv("FRAUDBOT_REPORT_TARGETS", "telegram:-100123, wecom_robot:abc-key ,nonsense")
    assert daily.report_targets() == [("telegram", "-100123"), ("wecom_robot", "abc-key")]
