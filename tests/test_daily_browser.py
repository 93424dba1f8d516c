"""The 每日研判 page in a real browser against the real bot (the stack of ``tests/test_admin_browser.py``: action
server, Rasa with the trained model and its SQL tracker store, the admin; a temporary store).

Residents talk to the live bot through the REST channel; the page counts what Rasa stored, an officer drafts the
early warning from the rising row and sends it from the alerts form.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from datetime import datetime

import pytest
from sqlalchemy import select

from bot import daily
from bot.alerts.model import audit_log
from bot.retention import CHINA
from bot.store import engine
from tests import test_admin_browser
from tests.test_admin_browser import NoRedirect, Stack, log_in, say, shot, signed_in

pytestmark = [pytest.mark.model]  # browser: tests/conftest.py BROWSER_MODULES
stack = test_admin_browser.stack
browser = test_admin_browser.browser

# Four residents ask about 刷单返利 (each read by the live model as task_rebate with confidence ≥ 0.999).
TASK_REBATE = ("网上有人让我做刷单任务，先垫付三百块，说完成后返佣金，这是真的吗",
               "兼职刷单，对方说做完任务返本金加佣金，现在要我先垫付2000",
               "我在做点赞刷单任务，客服说要充值才能提现佣金，要不要转",
               "刷单返利的兼职，前面返了小钱，现在让我垫付大额订单")


def store(stack: Stack) -> str:
    return stack.env["FRAUDBOT_DB_URL"]


def test_an_officer_drafts_and_sends_the_warning_of_a_rising_scam(stack: Stack, browser: object) -> None:
    for number, text in enumerate(TASK_REBATE):
        assert "刷单" in say(stack.rasa, text, f"daily-resident-{number}")
    today = datetime.now(CHINA).date().isoformat()

    page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    log_in(page, stack, "wang")
    page.click("#nav-daily")
    page.wait_for_url(re.compile(r".*/admin/daily$"))
    assert page.locator("#daily-error").count() == 0
    assert re.fullmatch(r"对话保存 \d+ 天后删除，统计数字长期保留。", page.inner_text("#retention").strip())
    page.goto(f"{stack.admin}/admin/daily?date={today}")
    assert int(page.inner_text("#total")) >= len(TASK_REBATE)
    row = page.locator("#rising tr[data-scenario='task_rebate']")
    assert row.count() == 1
    words = row.inner_text()
    assert "刷单返利" in words and f"{len(TASK_REBATE)} 次" in words and "不到千分之一" in words
    shot(page, "26-daily")

    row.locator("button.draft").click()
    page.wait_for_url(re.compile(r".*/admin/alerts\?"))
    assert "还没有发出" in page.inner_text("#drafted")
    assert "刷单返利" in page.input_value("#title") and page.input_value("#regions") == "全部"
    body = page.input_value("#body")
    assert f"{len(TASK_REBATE)}次" in body and "96110" in body and "不要再垫付任何钱" in body
    assert page.locator("#scenario").input_value() == "task_rebate"
    shot(page, "27-daily-warning-draft")
    page.click("#send")
    page.wait_for_selector("#saved")
    assert page.input_value("#title") == "" and "刷单返利" in page.inner_text("#recent")
    page.goto(f"{stack.admin}/admin/daily?date={today}")
    assert "已起草通报" in page.inner_text("#rising tr[data-scenario='task_rebate']")
    shot(page, "28-daily-drafted")
    page.close()

    found = daily.suggestions(store(stack), state=None)
    assert [(s.scenario, s.state, s.count) for s in found if s.scenario == "task_rebate"] == [
        ("task_rebate", daily.DRAFTED, len(TASK_REBATE))]
    with engine(store(stack)).connect() as db:
        drafted = [r.actor for r in db.execute(select(audit_log).where(audit_log.c.action == "warning_drafted"))]
    assert drafted == ["web:wang"]

    session, _ = signed_in(stack, "wang")  # the officer's CSV of the day
    csv = session.open(f"{stack.admin}/admin/daily.csv?date={today}", timeout=30).read().decode("utf-8")
    assert csv.startswith("day,scenario,region,count") and f"{today},task_rebate,national,{len(TASK_REBATE)}," in csv


def test_anonymous_gets_the_login_page(stack: Stack, browser: object) -> None:
    page = browser.new_page(locale="zh-CN")
    for path in ("/admin/daily", "/admin/daily.csv"):
        page.goto(stack.admin + path)
        assert "/admin/login" in page.url and page.locator("#signin").count() == 1
        assert "明显上升" not in page.content()
    page.close()
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(urllib.request.Request(stack.admin + "/admin/daily/draft",
                                           data=b"day=2026-11-29&scenario=task_rebate&region=national"), timeout=30)
    assert refused.value.code == 401
