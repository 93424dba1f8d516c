"""宣传内容 in a real browser against the real stack of ``tests/test_admin_browser.py`` (action server, Rasa
with the trained model, the admin; a temporary copy of the content files): an administrator edits a tip, is
refused a tip that is too long (next to the field, the draft untouched), saves a valid one, puts it live by the
runtime path (no training) and the live file has it; an officer is refused the pages.
"""

from __future__ import annotations

import pytest
import yaml

from core import campaign
from tests import test_admin_browser
from tests.test_admin_browser import Stack, log_in, shot, wait_for_job

pytestmark = [pytest.mark.model]  # browser: tests/conftest.py BROWSER_MODULES
# The admin browser test's fixtures: this module gets a stack of its own (module scope), started the same way.
stack = test_admin_browser.stack
browser = test_admin_browser.browser

NEW_TIP = "有人让您下载会议软件、开屏幕共享？那是骗子想看您的验证码。立刻挂断，拿不准就打96110。"
TOO_LONG = "骗子" * 100  # 200 characters: a tip is at most 120


def tip_in(path: object, tip_id: str) -> str:
    data = yaml.safe_load(path.read_text("utf-8"))  # type: ignore[attr-defined]
    return next(t["text"] for t in data["tips"] if t["id"] == tip_id)


def test_an_admin_edits_a_tip_and_puts_it_live(stack: Stack, browser: object) -> None:
    draft_file = stack.tmp / "admin" / "draft" / "core" / "data" / "campaign.yml"
    live_file = stack.live / "core" / "data" / "campaign.yml"
    tip = next(t for t in campaign.tips() if t.scenario == "impersonate_police" and "会议软件" in t.text)
    assert tip_in(live_file, tip.id) == tip.text

    page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    log_in(page, stack)
    page.click("#nav-campaign-content")
    assert f"{len(campaign.tips())} 条小贴士" in page.inner_text("#totals")
    assert "冒充公检法" in page.inner_text("#scenario-impersonate_police")
    shot(page, "40-campaign-content")
    page.click(f"#item-{tip.id} a")
    assert page.input_value("#text") == tip.text and tip.text in page.inner_text("#preview")

    # a 200-character tip is refused, with the reason under the field; the draft is untouched
    page.fill("#text", TOO_LONG)
    page.click("#save")
    error = page.locator("#text ~ p.error").first.inner_text()
    assert "最多 120 个字，现在有 200 个" in error
    assert page.input_value("#text") == TOO_LONG  # what was typed stays, to be shortened
    shot(page, "41-campaign-tip-refused")
    assert tip_in(draft_file, tip.id) == tip.text

    page.fill("#text", NEW_TIP)
    page.click("#save")
    page.wait_for_selector("#saved")
    assert NEW_TIP in page.inner_text("#preview")
    shot(page, "42-campaign-tip-edit")
    assert tip_in(draft_file, tip.id) == NEW_TIP and tip_in(live_file, tip.id) == tip.text

    # put live: data only, so no training
    page.goto(f"{stack.admin}/admin/publish")
    assert NEW_TIP in page.inner_text("#diff") and "不用训练" in page.inner_text("main")
    page.fill("#summary", "更新一条反诈小贴士")
    page.click("#publish")
    assert "已上线" in wait_for_job(page, 60)
    assert tip_in(live_file, tip.id) == NEW_TIP
    page.close()


def test_an_officer_is_refused_the_campaign_content(stack: Stack, browser: object) -> None:
    live_file = stack.live / "core" / "data" / "campaign.yml"
    before = live_file.read_text("utf-8")
    tip = campaign.tips()[0]
    page = browser.new_page(locale="zh-CN")
    log_in(page, stack, "wang")
    assert "宣传内容" not in page.inner_text("header")
    for path in ("/admin/campaign-content", f"/admin/campaign-content/{tip.id}"):
        answer = page.goto(stack.admin + path)
        assert answer.status == 403 and "只有管理员可以修改" in page.inner_text("main")
        assert tip.text not in page.content()
    shot(page, "43-campaign-officer-refused")
    page.close()
    assert live_file.read_text("utf-8") == before
