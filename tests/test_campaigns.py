"""宣传 campaigns (bot/campaigns.py): schedules with an injected clock, quiet hours, alerts first, the timely tip,
pausing and results, against a store of their own and the fake Telegram API.

The content is a small ``campaign.yml`` of this test in a temporary ``FRAUDBOT_CONTENT_DIR`` (the other data files
copied from the repository), so the expectations do not move when administrators edit the shipped content.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

import pytest
import yaml
from sqlalchemy import create_engine, select, text

from bot.alerts.model import CAMPAIGN_PRIORITY, CANCELLED, DELIVERED, PENDING, outbox
from bot.alerts.service import AlertService
from bot.alerts.worker import OutboxWorker
from bot.campaign_messages import DAILY_TIP, QUIZ, TIP
from bot.campaign_scheduler import CampaignScheduler
from bot.campaigns import DAILY, ONCE, WEEKDAYS, Campaigns, InvalidCampaign, NotYours, campaign_for, campaign_runs
from bot.fleet import Postgres
from bot.migrations import upgrade
from bot.quiz import QuizStore
from bot.retention import CHINA, consultation_counts, consultation_days, day_start
from bot.senders.telegram import TelegramSender, alerts_bot
from bot.store import GroupRegistry, engine, now
from core.knowledge import reload
from tests.conftest import ROOT
from tests.fakes.telegram_api import FakeTelegram

CONTENT = {
    "tips": [
        {"id": "tip_police_1", "scenario": "impersonate_police",
         "text": "公检法不会在电话里办案，更没有“安全账户”。让您转账的“警察”都是骗子，挂断后打110核实。"},
        {"id": "tip_rebate_1", "scenario": "task_rebate",
         "text": "刷单返利都是骗局：先返小钱，再让您垫付大钱。一分钱也别垫，拿不准就打96110。"},
        {"id": "tip_loan_1", "scenario": "fake_loan",
         "text": "放款前要交“保证金”“解冻费”的贷款都是诈骗。正规贷款放款前不收钱，拿不准就打96110。"},
    ],
    "stories": [
        {"id": "story_rebate_1", "scenario": "task_rebate", "title": "点赞返佣金",
         "lines": ["李阿姨在群里做点赞任务，头两单返了8元。", "客服说要垫付500元才能领大单。",
                   "她转了钱，对方把她拉黑了。", "刷单返利都是诈骗，拿不准就打96110。"]},
    ],
    "quiz": [
        {"id": "quiz_rebate_1", "scenario": "task_rebate",
         "question": "网上有人让您做点赞任务，先返了5元，现在要您垫付500元，怎么办？",
         "choices": ["垫付，做完就返", "不垫付，这是刷单诈骗", "先垫一半试试"], "answer": 1,
         "explanation": "刷单返利先给甜头再骗大钱，所有刷单都是诈骗。"},
    ],
}
ALERT_TITLE = "冒充客服诈骗高发"


class Clock:
    """The scheduler's clock, moved by the test (China time)."""

    def __init__(self, moment: str) -> None:
        self.set(moment)

    def set(self, moment: str) -> Clock:
        self.moment = datetime.fromisoformat(moment).replace(tzinfo=CHINA)
        return self

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "content"
    shutil.copytree(ROOT / "core" / "data", root / "core" / "data")
    (root / "core" / "data" / "campaign.yml").write_text(yaml.safe_dump(CONTENT, allow_unicode=True), "utf-8")
    monkeypatch.setenv("FRAUDBOT_CONTENT_DIR", str(root))
    reload()
    yield root
    reload()


@pytest.fixture
def store(tmp_path: Path, content: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def add_groups(store: str, region: str, ids: range, channel: str = "telegram") -> None:
    registry = GroupRegistry(store)
    for number in ids:
        registry.record(channel, str(-1000 - number) if channel == "telegram" else f"robot-{number}", f"群{number}",
                        region)


def runs(store: str) -> Counter:
    """(campaign, day, channel, chat) -> claims: exactly once means every value is 1."""
    with engine(store).connect() as db:
        return Counter((r.campaign_id, r.day, r.channel, r.chat_id) for r in db.execute(select(campaign_runs)))


def days_sent(store: str, campaign_id: int) -> Counter:
    """Messages per day of one campaign."""
    return Counter(day for (cid, day, _channel, _chat) in runs(store) if cid == campaign_id)


def campaign_rows(store: str) -> list[Any]:
    with engine(store).connect() as db:
        return db.execute(select(outbox).where(outbox.c.priority == CAMPAIGN_PRIORITY).order_by(outbox.c.id)).all()


def plan(store: str, clock: Clock, **changes: Any) -> int:
    fields = {"name": "每日防骗提醒", "kind": TIP, "regions": "朝阳区", "channels": ["telegram", "wecom_robot"],
              "schedule": DAILY, "at": "09:00", "scenario": "task_rebate"}
    return Campaigns(store, clock=clock).plan("web:wang", **{**fields, **changes})


# -- schedules ---------------------------------------------------------------------------------------------


def test_a_daily_schedule_fires_once_per_day_per_group_across_restarts_and_clock_jumps(store: str) -> None:
    add_groups(store, "朝阳区", range(3))
    add_groups(store, "朝阳区", range(1), channel="wecom_robot")
    add_groups(store, "海淀区", range(10, 12))  # another region: never reached
    clock = Clock("2026-12-01T08:00:00")
    campaign = plan(store, clock)
    scheduler = CampaignScheduler(store, clock=clock)

    assert scheduler.run_due() == [] and not runs(store)  # 08:00: not yet
    clock.set("2026-12-01T09:00:00")
    (fired,) = scheduler.run_due()
    assert (fired.day, fired.queued) == (date(2026, 12, 1), 4)
    assert scheduler.run_due() == []  # a minute later, the same process
    assert CampaignScheduler(store, clock=clock.set("2026-12-01T09:01:00")).run_due() == []  # restarted

    add_groups(store, "朝阳区", range(3, 4))  # a group that joins at noon gets the day's tip, once
    assert [f.queued for f in CampaignScheduler(store, clock=clock.set("2026-12-01T12:00:00")).run_due()] == [1]
    assert CampaignScheduler(store, clock=clock).run_due() == []

    clock.set("2026-12-03T09:30:00")  # jumps two days ahead: that day's send, not a backlog of the day between
    assert [f.day for f in CampaignScheduler(store, clock=clock).run_due()] == [date(2026, 12, 3)]
    for back in ("2026-12-02T10:00:00", "2026-12-01T09:00:00", "2026-12-03T09:00:00"):  # and back again
        assert CampaignScheduler(store, clock=clock.set(back)).run_due() == []
    clock.set("2026-12-04T09:00:00")
    assert [f.day for f in CampaignScheduler(store, clock=clock).run_due()] == [date(2026, 12, 4)]

    claims = runs(store)
    assert set(claims.values()) == {1}  # never twice for a (campaign, day, group)
    assert days_sent(store, campaign) == {date(2026, 12, 1): 5, date(2026, 12, 3): 5, date(2026, 12, 4): 5}
    assert not {chat for (_c, _d, _ch, chat) in claims} & {"-1010", "-1011"}
    rows = campaign_rows(store)
    assert len(rows) == sum(claims.values()) and {r.alert_id for r in rows} == {None}
    assert {r.text for r in rows} == {"【反诈小贴士】" + CONTENT["tips"][1]["text"]}


def test_quiet_hours_hold_a_due_send_until_they_end(store: str) -> None:
    add_groups(store, "朝阳区", range(2))
    clock = Clock("2026-12-01T12:00:00")
    late = plan(store, clock, name="夜里的提醒", at="22:00", channels=["telegram"])
    evening = plan(store, clock, name="晚上的提醒", at="21:00", channels=["telegram"], scenario="fake_loan")
    scheduler = CampaignScheduler(store, clock=clock)

    clock.set("2026-12-01T21:00:00")
    assert [(f.campaign_id, f.queued) for f in scheduler.run_due()] == [(evening, 2)]
    clock.set("2026-12-01T21:29:30")  # quiet hours begin within the scheduler's next look: what is queued waits
    assert scheduler.run_due() == []
    ends = datetime(2026, 12, 2, 8, 0, tzinfo=CHINA).timestamp()
    assert [row.next_attempt_at for row in campaign_rows(store)] == [ends, ends]
    telegram = FakeTelegram().start()
    try:
        asyncio.run(drain(store, telegram, clock=lambda: ends - 60))  # the worker at 07:59: nothing is due
        assert telegram.sent() == [] and {r.state for r in campaign_rows(store)} == {PENDING}
        for moment in ("2026-12-01T22:00:00", "2026-12-02T03:00:00", "2026-12-02T07:59:00"):
            clock.set(moment)
            assert scheduler.run_due() == []
        assert days_sent(store, late) == {}

        clock.set("2026-12-02T08:00:00")  # the end of quiet hours: last night's 22:00 send goes now, once
        assert [(f.campaign_id, f.day) for f in scheduler.run_due()] == [(late, date(2026, 12, 1))]
        assert scheduler.run_due() == []
        assert days_sent(store, late) == {date(2026, 12, 1): 2}
        asyncio.run(drain(store, telegram, clock=lambda: ends + 1))  # the worker at 08:00: all four
        assert len(telegram.sent()) == 4 and {r.state for r in campaign_rows(store)} == {DELIVERED}
    finally:
        telegram.stop()


def test_weekdays_only_skips_saturday_and_sunday(store: str) -> None:
    add_groups(store, "朝阳区", range(2))
    clock = Clock("2026-12-04T08:00:00")  # a Friday
    campaign = plan(store, clock, schedule=WEEKDAYS)
    for moment in ("2026-12-04T09:00:00", "2026-12-05T09:00:00", "2026-12-05T20:00:00", "2026-12-06T09:00:00",
                   "2026-12-07T08:59:00", "2026-12-07T09:00:00"):
        CampaignScheduler(store, clock=clock.set(moment)).run_due()
    assert days_sent(store, campaign) == {date(2026, 12, 4): 2, date(2026, 12, 7): 2}

    saturday = Clock("2026-12-05T10:00:00")  # planned on a Saturday: Friday's send is not owed
    later = plan(store, saturday, name="周末安排的", schedule=WEEKDAYS)
    for moment in ("2026-12-05T10:01:00", "2026-12-06T09:00:00", "2026-12-07T09:00:00"):
        CampaignScheduler(store, clock=saturday.set(moment)).run_due()
    assert days_sent(store, later) == {date(2026, 12, 7): 2}


def test_once_fires_once_and_a_time_already_past_is_refused(store: str) -> None:
    add_groups(store, "朝阳区", range(2))
    clock = Clock("2026-12-01T08:00:00")
    with pytest.raises(InvalidCampaign, match="已经过了"):
        plan(store, clock, schedule=ONCE, on_day="2026-12-01", at="07:00")
    with pytest.raises(InvalidCampaign, match="渠道"):
        plan(store, clock, channels=[])
    campaign = plan(store, clock, schedule=ONCE, on_day="2026-12-02", at="10:00", kind="story", scenario="")
    for moment in ("2026-12-01T10:00:00", "2026-12-02T10:00:00", "2026-12-02T18:00:00", "2026-12-03T10:00:00"):
        CampaignScheduler(store, clock=clock.set(moment)).run_due()
    assert days_sent(store, campaign) == {date(2026, 12, 2): 2}
    assert campaign_rows(store)[0].text.startswith("【反诈故事】点赞返佣金\n李阿姨")


# -- alerts first ----------------------------------------------------------------------------------------


class Recording(TelegramSender):
    """The real Telegram sender (against the fake API) that notes what it delivered, in order."""

    def __init__(self, bot: Any, after: Callable[[int], Awaitable[None]] | None = None,
                 order: list[str] | None = None) -> None:
        super().__init__(bot, overall_per_second=1000)
        self.order: list[str] = [] if order is None else order  # shared by several workers' senders
        self.after = after

    async def deliver(self, target: str, text: str) -> Any:
        result = await super().deliver(target, text)
        self.order.append("alert" if text.startswith("【警情通报】") else "campaign")
        if self.after is not None:
            await self.after(len(self.order))
        return result


async def drain(store: str, telegram: FakeTelegram, clock: Callable[[], float] | None = None,
                sender: Recording | None = None) -> FakeTelegram:
    bot = alerts_bot("123456:TEST", telegram.base_url)
    await bot.initialize()
    chosen = sender or Recording(bot)
    chosen.bot = bot
    worker = OutboxWorker(AlertService(store), {"telegram": chosen}, backoff=0.05,
                          **({"clock": clock} if clock else {}))
    await worker.run(until_idle=clock is None, poll=0.05) if clock is None else await _one_pass(worker)
    await bot.shutdown()
    return telegram


async def _one_pass(worker: OutboxWorker) -> None:
    """Claim and send what is due by the worker's clock once (a clock that does not move never idles)."""
    rows = await worker._db(worker._claim, 100)
    slots = asyncio.Semaphore(worker.concurrency)
    await asyncio.gather(*(worker._one(row, None, slots) for row in rows))


def officer_alert(store: str, regions: str = "朝阳区") -> int:
    service = AlertService(store)
    if not any(row["action"] == "officer_added" for row in service.audit()):
        service.add_officer("张警官", "officer", login="zhang")
    return service.create(service.authorize("login", "zhang"), ALERT_TITLE, "近期有人冒充客服要求退款，请勿转账。",
                          regions)


def test_a_campaign_yields_to_an_alert_queued_at_the_same_time(store: str) -> None:
    add_groups(store, "朝阳区", range(40))
    clock = Clock("2026-12-01T09:00:00")
    plan(store, clock.set("2026-12-01T08:00:00"), channels=["telegram"])
    assert CampaignScheduler(store, clock=clock.set("2026-12-01T09:00:00")).run_due()[0].queued == 40
    officer_alert(store)  # queued after the campaign's rows (higher ids), at the same moment

    telegram = FakeTelegram().start()
    try:
        bot = alerts_bot("123456:TEST", telegram.base_url)
        sender = Recording(bot)
        asyncio.run(drain(store, telegram, sender=sender))
        per_group = Counter(int(call.params["chat_id"]) for call in telegram.sent())
    finally:
        telegram.stop()
    assert sender.order == ["alert"] * 40 + ["campaign"] * 40  # every alert message before any campaign message
    assert set(per_group.values()) == {2} and len(per_group) == 40


def test_an_alert_queued_during_a_campaign_waits_for_one_small_batch_at_most(store: str) -> None:
    add_groups(store, "朝阳区", range(60))
    clock = Clock("2026-12-01T08:00:00")
    plan(store, clock, channels=["telegram"])
    CampaignScheduler(store, clock=clock.set("2026-12-01T09:00:00")).run_due()
    queued_at: list[int] = []

    async def alert_after_ten(delivered: int) -> None:
        if delivered == 10:  # the campaign is under way: the officer sends an alert now
            await asyncio.to_thread(officer_alert, store)
            queued_at.append(delivered)

    telegram = FakeTelegram().start()
    try:
        sender = Recording(alerts_bot("123456:TEST", telegram.base_url), after=alert_after_ten)
        asyncio.run(drain(store, telegram, sender=sender))
    finally:
        telegram.stop()
    last_alert = max(i for i, kind in enumerate(sender.order) if kind == "alert")
    campaign_meanwhile = sender.order[queued_at[0]:last_alert].count("campaign")
    assert queued_at == [10] and sender.order.count("alert") == 60 and sender.order.count("campaign") == 60
    assert campaign_meanwhile < OutboxWorker(AlertService(store), {}).concurrency  # the rest of the batch in flight


def test_fleet_schedulers_and_workers_on_postgresql_claim_once_and_send_alerts_first(
        postgres: Postgres, content: Path) -> None:
    url = postgres.create_database("campaigns_fleet")
    upgrade(url)
    add_groups(url, "朝阳区", range(30))
    clock = Clock("2026-12-01T08:00:00")
    plan(url, clock, channels=["telegram"])
    clock.set("2026-12-01T09:00:00")
    start = threading.Barrier(4)

    def look(_: int) -> list[Any]:  # four schedulers look at the same moment
        start.wait()
        return CampaignScheduler(url, clock=clock).run_due()

    with ThreadPoolExecutor(4) as pool:
        fired = [f for looked in pool.map(look, range(4)) for f in looked]
    assert sum(f.queued for f in fired) == 30 and set(runs(url).values()) == {1} and len(campaign_rows(url)) == 30
    officer_alert(url)

    async def two_workers(telegram: FakeTelegram) -> list[str]:
        order: list[str] = []
        bots = [alerts_bot("123456:TEST", telegram.base_url) for _ in range(2)]
        for bot in bots:
            await bot.initialize()
        workers = [OutboxWorker(AlertService(url), {"telegram": Recording(bot, order=order)}, backoff=0.05)
                   for bot in bots]
        await asyncio.gather(*(worker.run(until_idle=True, poll=0.05) for worker in workers))
        for bot in bots:
            await bot.shutdown()
        return order

    telegram = FakeTelegram().start()
    try:
        order = asyncio.run(two_workers(telegram))
        per_group = Counter(int(call.params["chat_id"]) for call in telegram.sent())
    finally:
        telegram.stop()
    assert order == ["alert"] * 30 + ["campaign"] * 30 and set(per_group.values()) == {2}


# -- timely choice ---------------------------------------------------------------------------------------


def seed_consultations(store: str, tracker: str, today: date) -> None:
    """Rolled-up days in the store, today's in the tracker store's events (as Rasa keeps them)."""
    with engine(store).begin() as db:
        for day, rows in ((today - timedelta(days=3), [("task_rebate", "朝阳区", 5), ("fake_loan", "朝阳区", 2)]),
                          (today - timedelta(days=8), [("impersonate_police", "朝阳区", 100)])):  # out of the week
            db.execute(consultation_counts.insert(), [
                {"day": day, "scenario": s, "region": r, "intent": "consult", "count": n} for s, r, n in rows])
            db.execute(consultation_days.insert().values(day=day, rolled_at=now()))
    events = create_engine(tracker, future=True)
    with events.begin() as db:
        db.execute(text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, "
                        "timestamp REAL, intent_name TEXT, data TEXT)"))
        for number, (scenario, region) in enumerate([("fake_loan", "海淀区")] * 3 + [("fake_loan", "朝阳区")] * 2
                                                    + [("none", "西城区")] * 9):
            data = {"event": "user", "parse_data": {"scenario": {"name": scenario}}, "metadata": {"region": region}}
            db.execute(text("INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) "
                            "VALUES (:s, 'user', :t, 'consult', :d)"),
                       {"s": f"r{number}", "t": day_start(today) + 3600 + number, "d": json.dumps(data)})
    events.dispose()


def test_the_timely_tip_is_the_top_scenario_of_each_groups_region(store: str, tmp_path: Path) -> None:
    tracker = f"sqlite:///{tmp_path / 'rasa.db'}"
    today = date(2026, 12, 1)
    seed_consultations(store, tracker, today)
    add_groups(store, "朝阳区", range(1))
    add_groups(store, "海淀区", range(1, 2))
    add_groups(store, "西城区", range(2, 3))  # only "none" consultations there: the rotation
    clock = Clock("2026-12-01T08:00:00")
    campaign = plan(store, clock, kind=DAILY_TIP, regions="全部", channels=["telegram"], scenario="")

    preview = Campaigns(store, tracker, clock).preview(name="x", kind=DAILY_TIP, regions="朝阳区",
                                                        channels=["telegram"], schedule=DAILY, at="09:00")
    assert preview.groups == 1 and CONTENT["tips"][1]["text"] in preview.sample and "最近7天" in preview.note

    scenarios: dict[date, dict[str, str]] = {}
    for day in ("2026-12-01", "2026-12-02"):
        CampaignScheduler(store, tracker, clock.set(f"{day}T09:00:00")).run_due()
        with engine(store).connect() as db:
            scenarios[date.fromisoformat(day)] = {r.chat_id: r.scenario for r in db.execute(
                select(campaign_runs).where(campaign_runs.c.campaign_id == campaign,
                                            campaign_runs.c.day == date.fromisoformat(day)))}
    first = scenarios[today]
    assert first["-1000"] == "task_rebate"  # 5 in the week (the 100 older ones do not count) against 2 + 2
    assert first["-1001"] == "fake_loan"  # today's three, still in the tracker store
    rotation = {scenarios[day]["-1002"] for day in scenarios}
    assert len(rotation) == 2 and rotation <= {"impersonate_police", "task_rebate", "fake_loan"}
    texts = {r.chat_id: r.text for r in campaign_rows(store) if r.chat_id == "-1001"}
    assert texts == {"-1001": "【反诈小贴士】" + CONTENT["tips"][2]["text"]}


# -- pausing and results ---------------------------------------------------------------------------------


def test_pausing_cancels_what_is_queued_and_only_the_planner_or_an_admin_may(store: str) -> None:
    add_groups(store, "朝阳区", range(3))
    clock = Clock("2026-12-01T08:00:00")
    campaign = plan(store, clock)
    CampaignScheduler(store, clock=clock.set("2026-12-01T09:00:00")).run_due()
    campaigns = Campaigns(store, clock=clock)
    with pytest.raises(NotYours):
        campaigns.set_active(campaign, False, "web:li", is_admin=False)
    assert {r.state for r in campaign_rows(store)} == {PENDING}
    assert not campaigns.set_active(campaign, False, "web:wang", is_admin=False).active
    assert {r.state for r in campaign_rows(store)} == {CANCELLED}
    assert CampaignScheduler(store, clock=clock.set("2026-12-02T09:00:00")).run_due() == []

    clock.set("2026-12-02T09:01:00")
    campaigns.set_active(campaign, True, "web:chen", is_admin=True)  # resumed after the 2nd's send was due
    assert CampaignScheduler(store, clock=clock.set("2026-12-02T09:05:00")).run_due() == []  # not owed
    assert [f.day for f in CampaignScheduler(store, clock=clock.set("2026-12-03T09:00:00")).run_due()] == [
        date(2026, 12, 3)]
    actions = [row["action"] for row in AlertService(store).audit()]
    assert {"campaign_planned", "campaign_paused", "campaign_resumed", "campaign_sent", "refused"} <= set(actions)


def test_results_count_groups_reached_and_quiz_answers_per_scenario(store: str) -> None:
    add_groups(store, "朝阳区", range(3))
    clock = Clock("2026-12-01T08:00:00")
    campaign = plan(store, clock, kind=QUIZ, channels=["telegram"])
    CampaignScheduler(store, clock=clock.set("2026-12-01T09:00:00")).run_due()
    telegram = FakeTelegram().start()
    try:
        asyncio.run(drain(store, telegram))
        sent = telegram.sent()
    finally:
        telegram.stop()
    assert len(sent) == 3 and "A. 垫付，做完就返" in sent[0].params["text"] and "/quiz" in sent[0].params["text"]

    asked = campaign_for("telegram", -1000, "quiz_rebate_1", date(2026, 12, 1), store)
    assert asked == campaign and campaign_for("telegram", -1000, "quiz_rebate_1", date(2026, 12, 5), store) is None
    quiz = QuizStore(store)
    quiz.answer("telegram", 501, "quiz_rebate_1", 1, chat_id=-1000, campaign_id=asked)
    quiz.answer("telegram", 502, "quiz_rebate_1", 0, chat_id=-1000, campaign_id=asked)
    quiz.answer("telegram", 503, "quiz_rebate_1", 1)  # answered outside the campaign: not its result

    results = Campaigns(store, clock=clock).results(campaign)
    assert results.reached == 3 and results.channels == {"telegram": {DELIVERED: 3}}
    assert results.days == [(date(2026, 12, 1), 3, 3)] and results.sent == {"task_rebate": 3}
    assert [(r.scenario, r.answered, r.right) for r in results.quiz] == [("task_rebate", 2, 1)]
    listed = Campaigns(store, clock=clock).recent()
    assert [(c.id, queued, delivered) for c, queued, delivered in listed] == [(campaign, 3, 3)]
