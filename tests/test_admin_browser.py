"""The web admin in a real browser (Debian's Chromium driven by Playwright) against the real bot.

The stack is the real one on loopback: the action server with its NLG endpoint, the Rasa
server with the trained model and its HTTP API, and the admin, all reading a temporary
copy of the content files (the repository's files are never touched). Every page is
saved as a screenshot (under docs/screenshots/ for the README with `make screenshots`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from bot.admin.content import read_files, write_files
from bot.processes import free_port, spawn, start_action_server, stop, wait_http
from tests.conftest import ROOT, start_rasa
from tests.test_rest_e2e import joined
from tests.test_rest_e2e import say as rest_say

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Screenshots go to a temporary folder, so a test run leaves the tracked ones alone; `make screenshots`
# points FRAUDBOT_SCREENSHOT_DIR at docs/screenshots/ to renew them for the README.
SCREENSHOTS = Path(os.environ.get("FRAUDBOT_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="fraudbot-screenshots-"))
PASSWORD = "correct-horse-battery"
TOKEN = "test-rasa-token"
POLICE_STORY = "有人打电话自称公安局的，说我涉嫌洗钱，让我把钱转到安全账户配合调查"
NEW_TRUTH = "【新提醒】真警察绝不会在电话里让你转账，凡是要你转到“安全账户”的，都是骗子。"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = pytest.mark.model


def say(rasa: str, text: str, sender: str) -> str:
    """What the live bot answers through the REST channel, all messages joined."""
    return joined(rest_say(rasa, text, sender))


class Stack:
    def __init__(self, tmp: Path, rasa: str, admin: str, live: Path, env: dict[str, str]) -> None:
        self.tmp, self.rasa, self.admin, self.live, self.env = tmp, rasa, admin, live, env


@pytest.fixture(scope="module")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not Path(CHROMIUM).exists():
        pytest.fail("the browser test needs Debian's chromium: apt-get install chromium (make test does it as root)")
    tmp = tmp_path_factory.mktemp("admin")
    live = tmp / "live"
    write_files(live, read_files(ROOT))
    (tmp / "models").mkdir()
    model = tmp / "models" / "fraudbot.tar.gz"
    os.link(trained_model, model) if trained_model.stat().st_dev == model.parent.stat().st_dev \
        else shutil.copyfile(trained_model, model)
    env = {**os.environ, "FRAUDBOT_CONTENT_DIR": str(live), "FRAUDBOT_DB_URL": f"sqlite:///{tmp / 'store.db'}",
           "FRAUDBOT_ADMIN_DIR": str(tmp / "admin"), "FRAUDBOT_RASA_TOKEN": TOKEN, "FRAUDBOT_MODEL": str(model)}
    action_port = free_port()
    processes = [start_action_server(action_port, log=tmp / "actions.log", env=env)]
    try:
        rasa_process, rasa = start_rasa(model, f"http://127.0.0.1:{action_port}/webhook", tmp, "rasa.log",
                                        env={**env, "FRAUDBOT_RASA_TOKEN": TOKEN}, args=("--enable-api",))
        processes.append(rasa_process)
        env["FRAUDBOT_RASA_URLS"] = rasa
        env["FRAUDBOT_ENDPOINTS"] = str(tmp / f"endpoints-{rasa.rsplit(':', 1)[1]}.yml")
        for login, role in (("chen", "admin"), ("wang", "officer")):
            subprocess.run([sys.executable, "-m", "bot.cli", "admin", "create-user", login, "--role", role,
                            "--name", f"{login}警官", "--password-stdin"], input=PASSWORD + "\n", text=True,
                           env=env, cwd=ROOT, check=True, capture_output=True)
        admin_port = free_port()
        admin = spawn("bot.cli", "admin", "serve", "--port", str(admin_port), log=tmp / "admin.log", env=env)
        processes.append(admin)
        wait_http(f"http://127.0.0.1:{admin_port}/admin/login", 90, admin)
        yield Stack(tmp, rasa, f"http://127.0.0.1:{admin_port}", live, env)
    finally:
        for process in reversed(processes):
            stop(process)


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def shot(page: object, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(page: object, stack: Stack, login: str = "chen") -> None:
    page.goto(f"{stack.admin}/admin/")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.wait_for_url(re.compile(r".*/admin/$"))


def wait_for_job(page: object, timeout_s: int) -> str:
    """The text of the job's result once the page (reloaded by its script) shows one."""
    page.wait_for_function(
        "() => { const r = document.getElementById('job-result'); return r && r.textContent.trim().length > 0; }",
        timeout=timeout_s * 1000)
    return page.inner_text("#job-result")


def test_admin_edits_tries_puts_live_and_restores(stack: Stack, browser: object) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    old_answer = say(stack.rasa, POLICE_STORY, "resident-1")
    assert "公检法机关不会打电话办案" in old_answer and NEW_TRUTH not in old_answer

    # anonymous: sent to the login page; a wrong password is refused in Chinese
    page.goto(f"{stack.admin}/admin/scenarios/impersonate_police")
    assert "/admin/login" in page.url
    page.fill("#login", "chen")
    page.fill("#password", "wrong password")
    page.click("#signin")
    assert "用户名或密码不对" in page.inner_text("#login-error")
    shot(page, "01-login")
    log_in(page, stack)
    shot(page, "02-overview")
    assert int(page.inner_text("#total")) >= 1  # the consultation above, counted from the tracker store
    assert "冒充公检法" in page.inner_text("#per-scenario")

    # edit the advice of a scenario; the draft changes, the live bot does not
    page.goto(f"{stack.admin}/admin/scenarios")
    shot(page, "03-scenarios")
    page.click("a[href='/admin/scenarios/impersonate_police']")
    page.fill("#truth", NEW_TRUTH)
    page.click("#save")
    page.wait_for_selector("#saved")
    shot(page, "04-scenario-edit")
    assert NEW_TRUTH in (stack.tmp / "admin" / "draft" / "core" / "data" / "scenarios.yml").read_text("utf-8")
    assert NEW_TRUTH not in (stack.live / "core" / "data" / "scenarios.yml").read_text("utf-8")

    # try it: the candidate answers with the draft, the live bot still with the old text
    page.goto(f"{stack.admin}/admin/try")
    page.wait_for_selector("#candidate[data-ready='1']", timeout=300_000)
    page.fill("#message", POLICE_STORY)
    page.click("#say button[type=submit]")
    page.wait_for_function(f"() => document.getElementById('chat').innerText.includes({json.dumps(NEW_TRUTH)})",
                           timeout=60_000)
    shot(page, "05-try")
    assert NEW_TRUTH not in say(stack.rasa, POLICE_STORY, "resident-2")

    # put live: runtime-only change, no retraining; the live bot answers with the new text
    page.goto(f"{stack.admin}/admin/publish")
    assert NEW_TRUTH in page.inner_text("#diff")
    assert "不用训练" in page.inner_text("main")
    shot(page, "06-publish")
    page.fill("#summary", "更新冒充公检法的提醒")
    page.click("#publish")
    assert "已上线" in wait_for_job(page, 60)
    shot(page, "07-published")
    assert NEW_TRUTH in say(stack.rasa, POLICE_STORY, "resident-3")

    # a broken rule is refused with the reason next to it; nothing changes anywhere
    rules_live = (stack.live / "stories" / "rules.yml").read_text("utf-8")
    page.goto(f"{stack.admin}/admin/stories/rules.yml")
    broken = page.input_value("#yaml") + "\n  - rule: broken\n    steps:\n      - intent: no_such_intent\n" \
                                         "      - action: utter_greet\n"
    page.fill("#yaml", broken)
    page.click("#save")
    problems = page.inner_text("#problems")
    assert "no_such_intent" in problems and "domain.yml 里没有这个意图" in problems
    shot(page, "08-story-rejected")
    assert (stack.tmp / "admin" / "draft" / "stories" / "rules.yml").read_text("utf-8") == rules_live
    assert (stack.live / "stories" / "rules.yml").read_text("utf-8") == rules_live
    assert NEW_TRUTH in say(stack.rasa, POLICE_STORY, "resident-4")

    # rules that contradict each other pass the checks but fail training: the old model stays live
    page.goto(f"{stack.admin}/admin/stories/rules.yml")
    page.fill("#yaml", rules_live + "\n  - rule: contradicting\n    steps:\n      - intent: affirm\n"
                                    "      - action: utter_thanks\n")
    page.click("#save")
    page.wait_for_selector("#saved")
    page.goto(f"{stack.admin}/admin/publish")
    assert "重新训练" in page.inner_text("main")
    page.click("#publish")
    failure = wait_for_job(page, 300)
    assert "训练失败" in failure and "contradicting" in failure
    shot(page, "09-training-failed")
    assert (stack.live / "stories" / "rules.yml").read_text("utf-8") == rules_live
    assert "我是反诈助手，是一个自动回复的程序" in say(stack.rasa, "你是机器人吗", "resident-5")

    # a valid rule change: retrained in the background, loaded into the running server
    page.goto(f"{stack.admin}/admin/stories/rules.yml")
    changed = rules_live.replace("      - intent: bot_challenge\n      - action: utter_iamabot\n",
                                 "      - intent: bot_challenge\n      - action: utter_iamabot\n"
                                 "      - action: utter_what_i_can_do\n")
    assert changed != rules_live
    page.fill("#yaml", changed)
    page.click("#save")
    page.wait_for_selector("#saved")
    # the candidate needs a model for this draft: trained from the try page, then tried
    page.goto(f"{stack.admin}/admin/try")
    page.wait_for_selector("#needs-training:not([hidden])", timeout=60_000)
    page.click("#train")
    page.wait_for_selector("#candidate[data-ready='1']", timeout=600_000)
    page.fill("#message", "你是机器人吗")
    page.click("#say button[type=submit]")
    page.wait_for_function("() => document.getElementById('chat').innerText.includes('我能帮您')", timeout=60_000)
    assert "我能帮您" not in say(stack.rasa, "你是机器人吗", "resident-5b")
    # a resident is in the middle of the three-question check while the new model is loaded
    assert "转账" in say(stack.rasa, "刚才有个人打电话说是快递客服，说我的包裹丢了要理赔", "resident-form")
    assert "验证码" in say(stack.rasa, "/deny", "resident-form")
    page.goto(f"{stack.admin}/admin/publish")
    page.fill("#summary", "问是不是机器人时，顺便说能做什么")
    page.click("#publish")
    assert "已上线" in wait_for_job(page, 600)
    assert "转出去" in say(stack.rasa, "/deny", "resident-form")  # the conversation went on where it was
    answer = say(stack.rasa, "你是机器人吗", "resident-6")
    assert "自动回复的程序" in answer and "我能帮您" in answer
    assert NEW_TRUTH in say(stack.rasa, POLICE_STORY, "resident-7")

    # history: who, when, what; restore the first version in one click (model and texts)
    page.goto(f"{stack.admin}/admin/history")
    history = page.inner_text("#versions")
    assert "chen" in history and "更新冒充公检法的提醒" in history and "重新训练" in history
    shot(page, "10-history")
    page.click("a[href='/admin/history/2']")
    assert NEW_TRUTH in page.inner_text("#diff")
    shot(page, "11-version")
    page.goto(f"{stack.admin}/admin/history")
    page.locator("form[action='/admin/history/1/restore'] button").click()
    assert "已上线" in wait_for_job(page, 600)
    assert "公检法机关不会打电话办案" in say(stack.rasa, POLICE_STORY, "resident-8")
    assert "我能帮您" not in say(stack.rasa, "你是机器人吗", "resident-9")
    assert read_files(stack.live) == read_files(ROOT)

    # the other editing pages render, for the screenshots
    pages = (("12-responses", "/admin/responses"), ("13-response-edit", "/admin/responses/utter_greet"),
             ("14-lines", "/admin/lines"), ("15-regions", "/admin/regions"), ("16-examples", "/admin/examples"),
             ("17-examples-edit", "/admin/examples/nlu/data/scenarios/impersonate_police.yml"),
             ("18-alerts", "/admin/alerts"))
    for name, url in pages:
        page.goto(stack.admin + url)
        assert page.locator("h1").count() == 1
        shot(page, name)
    page.close()


def test_a_response_edit_is_live_through_the_nlg_endpoint(stack: Stack, browser: object) -> None:
    greeting = "您好！我是社区反诈助手，有拿不准的电话、短信，发给我看看。"
    page = browser.new_page(locale="zh-CN")
    log_in(page, stack)
    page.goto(f"{stack.admin}/admin/responses/utter_greet")
    page.fill("#text_0", greeting)
    page.click("#save")
    page.wait_for_selector("#saved")
    page.goto(f"{stack.admin}/admin/publish")
    assert "不用训练" in page.inner_text("main")
    page.fill("#summary", "新的问候语")
    page.click("#publish")
    assert "已上线" in wait_for_job(page, 60)
    assert say(stack.rasa, "你好", "resident-greeting") == greeting
    page.close()


def test_invalid_number_is_shown_next_to_its_field(stack: Stack, browser: object) -> None:
    page = browser.new_page(locale="zh-CN")
    log_in(page, stack)
    page.goto(f"{stack.admin}/admin/regions")
    page.fill("#key_1", "test_county")
    page.fill("#name_1", "测试县")
    page.fill("#region_1", "测试县反诈中心 | 0571-8765432一 | 本地民警接听")
    page.click("#save")
    error = page.locator("#region_1 ~ p.error").first.inner_text()
    assert "不是一个电话号码" in error
    assert "test_county" not in (stack.tmp / "admin" / "draft" / "core" / "data" / "regions.yml").read_text("utf-8")
    page.goto(f"{stack.admin}/admin/responses/utter_hotline_fallback")
    page.fill("#text_0", "抱歉，我没看明白。")
    page.click("#save")
    assert "96110" in page.locator("#text_0 ~ p.error").first.inner_text()
    page.close()


def test_officer_sends_an_alert_but_cannot_edit(stack: Stack, browser: object) -> None:
    page = browser.new_page(locale="zh-CN")
    log_in(page, stack, "wang")
    navigation = page.inner_text("header")
    assert "警情通报" in navigation and "场景建议" not in navigation and "上线" not in navigation
    page.goto(f"{stack.admin}/admin/alerts")
    page.fill("#title", "警惕冒充公检法诈骗")
    page.fill("#body", "近期有骗子冒充公安局民警来电，称居民涉嫌洗钱，要求转账到安全账户。")
    page.click("#send")
    page.wait_for_selector("#saved")
    assert "警惕冒充公检法诈骗" in page.inner_text("#recent")
    shot(page, "19-officer-alert-sent")
    page.goto(f"{stack.admin}/admin/scenarios/impersonate_police")
    assert "只有管理员可以修改" in page.inner_text("main")
    shot(page, "20-officer-refused")
    page.close()


def admin_urls() -> list[tuple[str, str]]:
    """Every route of the admin app, with sample values for its parameters."""
    from bot.admin.app import create_app

    app = create_app()
    samples = {"name": "utter_greet", "sid": "impersonate_police", "path": "nlu/data/general/intents.yml",
               "version_id": "1"}
    urls = []
    for route in app.router.routes:
        path = "/" + route.path.lstrip("/")
        path = re.sub(r"<(\w+)(:[^>]*)?>", lambda m: samples[m[1]], path)
        urls.extend((method, path) for method in route.methods if method in ("GET", "POST"))
    return sorted(set(urls))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def signed_in(stack: Stack, login: str) -> tuple[urllib.request.OpenerDirector, str]:
    """A cookie-keeping client signed in as ``login``, and its session's CSRF token."""
    session = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(), NoRedirect)
    page = session.open(stack.admin + "/admin/login", timeout=30).read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = f"csrf={csrf}&login={login}&password={PASSWORD}&next=/admin/".encode()
    with pytest.raises(urllib.error.HTTPError) as redirected:
        session.open(urllib.request.Request(stack.admin + "/admin/login", data=form), timeout=30)
    assert redirected.value.code == 303
    page = session.open(stack.admin + "/admin/", timeout=30).read().decode()
    return session, re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_malformed_input_gets_a_clear_answer_and_changes_nothing(stack: Stack) -> None:
    before = read_files(stack.tmp / "admin" / "draft")
    session, csrf = signed_in(stack, "chen")
    cases = [("/admin/regions", f"csrf={csrf}&count=abc".encode(), 422, "不能删除"),
             ("/admin/stories/rules.yml", f"csrf={csrf}&yaml=%00%FF%FE%3A%20%5B".encode(), 422, "格式"),
             ("/admin/responses/utter_greet", f"csrf={csrf}&count=-5&text_0=".encode(), 422, "不能是空的")]
    for path, body, status, words in cases:
        with pytest.raises(urllib.error.HTTPError) as answered:
            session.open(urllib.request.Request(stack.admin + path, data=body), timeout=60)
        assert answered.value.code == status, (path, answered.value.code)
        assert words in answered.value.read().decode("utf-8", "replace"), path
    request = urllib.request.Request(stack.admin + "/admin/try/message", data=b"{not json",
                                     headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as answered:
        session.open(request, timeout=30)
    assert answered.value.code == 400 and "请输入" in json.loads(answered.value.read())["error"]
    # a body over the limit (4 MB) is refused, or the connection is cut while it is sent
    huge = f"csrf={csrf}&line_police_number=".encode() + b"1" * (6 * 1024 * 1024)
    with pytest.raises(urllib.error.URLError) as answered:
        session.open(urllib.request.Request(stack.admin + "/admin/lines", data=huge), timeout=60)
    refused = answered.value
    assert refused.code == 413 if isinstance(refused, urllib.error.HTTPError) else isinstance(refused.reason, OSError)
    assert read_files(stack.tmp / "admin" / "draft") == before


def test_anonymous_and_forged_requests_are_refused(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("FRAUDBOT_CONTENT_DIR", "FRAUDBOT_DB_URL", "FRAUDBOT_ADMIN_DIR", "FRAUDBOT_MODEL"):
        monkeypatch.setenv(key, stack.env[key])
    before = read_files(stack.live)
    urls = admin_urls()
    assert len(urls) >= 25

    opener = urllib.request.build_opener(NoRedirect)
    for method, path in urls:
        if path == "/admin/login":
            continue
        body = b"csrf=x" if method == "POST" else None
        request = urllib.request.Request(stack.admin + path, method=method, data=body)
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(request, timeout=30)
        assert refused.value.code in (302, 401), (method, path, refused.value.code)
        if refused.value.code == 302:
            assert refused.value.headers["Location"].startswith("/admin/login"), path

    # an officer may not edit content; a signed-in admin without the CSRF token may not post
    for login, path, expected in (("wang", "/admin/scenarios/impersonate_police", 403),
                                  ("chen", "/admin/publish", 403)):
        session, _ = signed_in(stack, login)
        with pytest.raises(urllib.error.HTTPError) as refused:
            session.open(urllib.request.Request(stack.admin + path, data=b"csrf=forged&summary=x"), timeout=30)
        assert refused.value.code == expected
    assert read_files(stack.live) == before
