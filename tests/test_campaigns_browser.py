"""宣传 campaigns in a real browser (the stack of ``tests/test_admin_browser.py``: action server, Rasa with the trained
model, the admin; a temporary copy of the content files and store).

An officer plans a daily timely tip with the group-count preview and saves it; the scheduler (with a clock set to
the next morning) queues it and the outbox worker delivers it to the fake Telegram API; residents' quiz answers
are recorded as the quiz does; the results page shows the groups reached and the chart. Anonymous sees nothing.
"""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta

import pytest
import yaml

from bot.alerts.service import AlertService
from bot.alerts.worker import OutboxWorker
from bot.campaign_scheduler import CampaignScheduler
from bot.campaigns import Campaigns, campaign_runs
from bot.quiz import QuizStore
from bot.retention import CHINA
from bot.senders.telegram import TelegramSender, alerts_bot
from bot.store import GroupRegistry, engine
from core.campaign import Question
from core.knowledge import reload
from tests import test_admin_browser
from tests.fakes.telegram_api import FakeTelegram
from tests.test_admin_browser import NoRedirect, Stack, log_in, shot
from tests.test_campaigns import CONTENT

pytestmark = [pytest.mark.model]  # browser: tests/conftest.py BROWSER_MODULES
stack = test_admin_browser.stack
browser = test_admin_browser.browser

NAME = "朝阳区每日防骗提醒"
QUESTIONS = [
    Question("quiz_rebate_b", "task_rebate", "先返5元再让垫付500元，怎么办？", ("垫付", "不垫付，是诈骗"), 1,
             "刷单都是诈骗。"),
    Question("quiz_loan_b", "fake_loan", "放款前要交解冻费，怎么办？", ("交", "不交，是诈骗"), 1, "正规贷款不先收费。"),
]


def store(stack: Stack) -> str:
    return stack.env["FRAUDBOT_DB_URL"]


def deliver(url: str, telegram: FakeTelegram) -> None:
    """The outbox worker until nothing is left, on a thread of its own (Playwright's sync API holds this one's loop)."""
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, _deliver(url, telegram)).result(timeout=120)


async def _deliver(url: str, telegram: FakeTelegram) -> None:
    bot = alerts_bot("123456:TEST", telegram.base_url)
    await bot.initialize()
    await OutboxWorker(AlertService(url), {"telegram": TelegramSender(bot, overall_per_second=1000)}).run(
        until_idle=True, poll=0.05)
    await bot.shutdown()


def test_an_officer_plans_a_daily_campaign_and_reads_its_results(stack: Stack, browser: object,
                                                                  telegram: FakeTelegram,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDBOT_CONTENT_DIR", str(stack.live))  # the scheduler below reads the live content
    content = stack.live / "core" / "data" / "campaign.yml"
    if not content.exists():  # until the shipped content is there: this test's own few items
        content.write_text(yaml.safe_dump(CONTENT, allow_unicode=True), "utf-8")
    reload()
    registry = GroupRegistry(store(stack))
    for number in range(3):
        registry.record("telegram", str(-5000 - number), f"朝阳小区群{number}", "朝阳区")
    registry.record("telegram", "-5100", "海淀小区群", "海淀区")
    registry.record("wecom_robot", "robot-chaoyang", "朝阳网格群", "朝阳区")

    page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    log_in(page, stack, "wang")  # an officer
    page.click("#nav-campaigns")
    page.wait_for_url(re.compile(r".*/admin/campaigns$"))
    page.fill("#name", NAME)
    page.select_option("#kind", "daily_tip")
    page.fill("#regions", "朝阳区")
    page.uncheck("#channel-wecom_robot")
    page.uncheck("#channel-wecom_appchat")
    page.select_option("#schedule", "daily")
    page.fill("#at", "09:00")
    page.click("#preview-button")
    page.wait_for_selector("#preview")
    assert page.inner_text("#preview-groups") == "3"  # three Telegram groups in 朝阳区; 海淀 and the robot left out
    assert page.inner_text("#preview-sample").startswith("【反诈小贴士】")
    assert page.input_value("#name") == NAME  # the form kept what was typed
    shot(page, "40-campaign-preview")
    page.click("#save")
    page.wait_for_selector("#saved")
    row = page.locator("#campaigns tr", has_text=NAME)
    assert "进行中" in row.inner_text() and "每天 09:00" in row.inner_text() and "21:30–08:00" in row.inner_text()
    shot(page, "41-campaigns")
    campaign = int(row.get_attribute("data-id"))
    planned = Campaigns(store(stack)).get(campaign)
    assert planned is not None and planned.created_by == "web:wang" and planned.channels == ("telegram",)

    # the next morning at 09:00: the scheduler queues it, the worker delivers it
    tomorrow = datetime.now(CHINA).date() + timedelta(days=1)
    fired = CampaignScheduler(store(stack), clock=lambda: datetime.combine(tomorrow, time(9, 0), CHINA)).run_due()
    assert [(f.campaign_id, f.queued) for f in fired] == [(campaign, 3)]
    deliver(store(stack), telegram)
    assert sorted(int(call.params["chat_id"]) for call in telegram.sent()) == [-5002, -5001, -5000]
    quiz = QuizStore(store(stack), questions=lambda: QUESTIONS)
    for resident, (question, choice) in enumerate([("quiz_rebate_b", 1), ("quiz_rebate_b", 1), ("quiz_rebate_b", 0),
                                                   ("quiz_loan_b", 0), ("quiz_loan_b", 1)]):
        quiz.answer("telegram", 9000 + resident, question, choice, chat_id=-5000, campaign_id=campaign)

    row.locator("a.results").click()
    page.wait_for_url(re.compile(r".*/admin/campaigns/results\?id=\d+$"))
    assert page.inner_text("#reached") == "3" and page.inner_text("#answers") == "5"
    chart = page.locator("#quiz-chart")
    assert chart.locator("rect").count() == 4  # right and wrong for each of the two scenarios
    shares = chart.locator("text.share").all_text_contents()  # SVG text has no innerText
    assert shares == ["67%（2/3）", "50%（1/2）"]
    assert "刷单返利" in chart.inner_html() and page.locator("#reach-chart rect").count() == 2
    shot(page, "42-campaign-results")
    page.close()

    # anonymous: the login page, nothing of the campaigns; a pause is refused and changes nothing
    anonymous = browser.new_page(locale="zh-CN")
    anonymous.goto(f"{stack.admin}/admin/campaigns/results?id={campaign}")
    assert "/admin/login" in anonymous.url and NAME not in anonymous.content()
    anonymous.close()
    opener = urllib.request.build_opener(NoRedirect)
    for path, data in (("/admin/campaigns", None), (f"/admin/campaigns/results?id={campaign}", None),
                       ("/admin/campaigns/pause", f"id={campaign}".encode())):
        with pytest.raises(urllib.error.HTTPError) as answered:
            opener.open(urllib.request.Request(stack.admin + path, data=data), timeout=30)
        assert answered.value.code in (302, 401) and NAME not in answered.value.read().decode()
    assert Campaigns(store(stack)).get(campaign).active
    with engine(store(stack)).connect() as db:
        assert db.execute(campaign_runs.select()).all()  # what was sent stays on record
