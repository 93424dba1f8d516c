"""The review queue's pages without a browser: the real admin app on loopback, its store seeded the way the
chat side writes it (``bot.reports.submit_report`` / ``submit_feedback``), every decision read back from the
store and the audit log. The CLI's indicator decisions are audited the same way."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from sanic import Sanic
from sqlalchemy import select

from bot import known, scam_library
from bot.admin.accounts import Accounts
from bot.admin.content import add_example, example_file, read_files, write_files
from bot.admin.validation import Problem
from bot.alerts.model import audit_log
from bot.config import AdminConfig
from bot.reports import EXAMPLE, OPEN, feedback, submit_feedback, submit_report
from bot.store import engine, now

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long enough password"
NUMBER = "13912345678"
REPORTED = f"举报 {NUMBER} 自称京东客服，说我的会员要扣费，让我开屏幕共享"
SMS = "【ETC服务】您的ETC认证已过期，车辆将无法通行，请点击链接重新认证，逾期停用"
DISPUTED = "网上认识的一个朋友说带我玩游戏赚钱，先充值一百块进去"


class Refusing:
    """A draft validator that refuses while told to (the real one runs Rasa: the browser test uses it)."""

    def __init__(self) -> None:
        self.problem: Problem | None = None

    def __call__(self, files: dict[str, str]) -> list[Problem]:
        return [self.problem] if self.problem else []


@pytest.fixture
def validator() -> Refusing:
    return Refusing()


@pytest.fixture
def admin_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validator: Refusing) -> Sanic:
    from bot.admin.app import create_app

    monkeypatch.setenv("FRAUDBOT_DB_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setattr(Sanic, "test_mode", True)
    live = tmp_path / "live"
    write_files(live, read_files(ROOT))
    config = AdminConfig(live_root=live, admin_dir=tmp_path / "admin", rasa_urls=(), rasa_token="",
                         live_model=tmp_path / "model.tar.gz", endpoints=tmp_path / "endpoints.yml",
                         secure_cookies=False)
    app = create_app(config, validate=validator)
    accounts = Accounts()
    accounts.create("li", "李警官", "admin", PASSWORD)
    accounts.create("wang", "王警官", "officer", PASSWORD)
    return app


def seed() -> None:
    """What residents sent: a number reported twice, one SMS without an indicator, a disputed verdict."""
    entities = [{"entity": "phone", "value": NUMBER}]
    submit_report("resident-1", "telegram", REPORTED, entities, region="示例县")
    submit_report("resident-2", "rest", REPORTED, entities)
    submit_report("resident-3", "wechat", SMS, [])
    submit_report("resident-4", "wechat", SMS.replace("逾期停用", "逾期将停用"), [])
    for sender, claim in (("resident-5", "wrong_type"), ("resident-6", "wrong_type"), ("resident-7", "scam")):
        submit_feedback(sender, "rest", "wrong", DISPUTED, "⚠️ 需警惕：这有「网络赌博」诈骗的特征", scenario="gambling",
                        risk="medium", claim=claim)


@asynccontextmanager
async def serving(app: Sanic) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


class Client:
    """A signed-in browser without a browser: cookies kept, the page's CSRF token at hand."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url, self.csrf = http, url, ""

    async def login(self, login: str) -> None:
        async with self.http.get(f"{self.url}/admin/login") as page:
            token = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
        form = {"csrf": token, "login": login, "password": PASSWORD, "next": "/admin/"}
        async with self.http.post(f"{self.url}/admin/login", data=form, allow_redirects=False) as answer:
            assert answer.status == 303
        status, page = await self.get("/admin/")
        assert status == 200
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.url + path, allow_redirects=False) as page:
            return page.status, await page.text()

    async def post(self, path: str, form: dict[str, str], csrf: bool = True) -> tuple[int, str, str]:
        """The answer's status, its redirect target and its page."""
        data = {**form, "csrf": self.csrf} if csrf else form
        async with self.http.post(self.url + path, data=data, allow_redirects=False) as answer:
            return answer.status, answer.headers.get("Location", ""), await answer.text()


def run(app: Sanic, steps: object) -> object:
    """``steps(client)`` against the app served on loopback, with a fresh cookie jar."""
    async def scenario() -> object:
        async with serving(app) as url, aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            return await steps(Client(http, url))  # type: ignore[operator]

    return asyncio.run(scenario())


def row(page: str, table: str, words: str) -> str:
    """The row of ``table`` that shows ``words``."""
    section = page.split(f'<table id="{table}">', 1)[1].split("</table>", 1)[0]
    (found,) = [part for part in section.split("<tr")[1:] if words in part]
    return found


def group_ids(page: str, table: str, words: str) -> str:
    """The ids of the group whose row shows ``words``, as its forms send them."""
    return re.search(r'data-ids="([\d,]+)"', row(page, table, words)).group(1)


def audit(action: str) -> list[tuple[str, dict]]:
    with engine().connect() as db:
        return [(row.actor, json.loads(row.detail)) for row in
                db.execute(select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id))]


def test_the_queue_shows_reports_and_disputes_grouped_and_waits_in_the_navigation(admin_app: Sanic) -> None:
    seed()

    async def steps(client: Client) -> tuple[str, str]:
        await client.login("wang")
        return (await client.get("/admin/review"))[1], (await client.get("/admin/"))[1]

    page, overview = run(admin_app, steps)
    indicators = page.split('<table id="indicators">')[1].split("</table>")[0]
    assert f'data-value="{NUMBER}"' in indicators and "2 人" in indicators and "电话号码" in indicators
    assert "Telegram" in indicators and "网页/App" in indicators and "示例县" in indicators
    assert "<td>举报 139******78 自称京东客服" in indicators  # the sample as stored: redacted
    etc = row(page, "texts", "ETC认证已过期")  # two near-duplicate SMS from two residents, one row
    assert "<td>2 人</td>" in etc and etc.count("ETC认证已过期") == 1
    disputes = row(page, "disputes", DISPUTED)
    assert "<td>3 人</td>" in disputes and "网络赌博" in disputes and "需警惕" in disputes
    assert "类型不对 2" in disputes and "是诈骗 1" in disputes
    assert "生成训练样例" not in page and "/admin/review/example" not in page  # an officer's page
    assert re.search(r'id="review-badge"[^>]*>8<', page)  # 1 number + 4 residents' texts + 3 disputes
    assert re.search(r'id="waiting-indicators">1<', overview) and re.search(r'id="waiting-texts">4<', overview)
    assert re.search(r'id="waiting-disputes">3<', overview)


def test_an_officer_confirms_a_number_audited_with_an_alert_draft(admin_app: Sanic) -> None:
    seed()

    async def steps(client: Client) -> tuple:
        await client.login("wang")
        confirmed = await client.post("/admin/review/indicator", {
            "kind": "phone", "value": NUMBER, "decision": "confirm", "expires_days": "30"})
        after = (await client.get(confirmed[1]))[1]
        link = re.search(r'id="draft-alert" href="([^"]+)"', after).group(1).replace("&amp;", "&")
        alerts = (await client.get(link))[1]
        bad_days = [await client.post("/admin/review/indicator", {
            "kind": "phone", "value": NUMBER, "decision": "confirm", "expires_days": days})
            for days in ("-3", "²", "0")]
        return confirmed, after, link, alerts, bad_days

    confirmed, after, link, alerts, bad_days = run(admin_app, steps)
    assert confirmed[0] == 303 and confirmed[1].startswith("/admin/review?done=confirm")
    (stored,) = known.lookup([("phone", NUMBER)])
    assert stored.state == known.CONFIRMED and stored.confirmed_by == "web:wang"
    assert timedelta(days=29) < stored.expires_at - now() <= timedelta(days=30)
    ((actor, detail),) = audit("indicator_confirm")
    assert actor == "web:wang" and detail["value"] == NUMBER and detail["reports"] == 2
    assert "已确认为诈骗电话号码" in after and f'data-value="{NUMBER}"' not in after  # left the queue
    query = parse_qs(urlsplit(link).query)
    assert urlsplit(link).path == "/admin/alerts" and NUMBER in query["title"][0]
    assert NUMBER in query["body"][0] and "96110" in query["body"][0] and "开屏幕共享" in query["body"][0]
    assert query["scenario"] == ["none"]  # no known scam matches the sample
    assert f'value="{query["title"][0]}"' in alerts and "开屏幕共享" in alerts.split('id="body"')[1]
    with engine().connect() as db:  # prefilled, not sent: nothing in the alerts table
        assert db.execute(select(audit_log).where(audit_log.c.action == "alert_sent")).first() is None
    assert all(status == 422 and "有效期" in page for status, _, page in bad_days)


def test_reject_and_expire_and_a_wrong_value(admin_app: Sanic) -> None:
    seed()
    known.report("domain", "http://pay-etc.top/x")

    async def steps(client: Client) -> list:
        await client.login("wang")
        return [await client.post("/admin/review/indicator", {"kind": kind, "value": value, "decision": decision})
                for kind, value, decision in (("phone", NUMBER, "reject"), ("domain", "pay-etc.top", "expire"),
                                              ("phone", "12345", "confirm"), ("phone", NUMBER, "erase"))]

    rejected, expired, wrong, unknown = run(admin_app, steps)
    assert rejected[0] == expired[0] == 303
    assert {(i.value, i.state) for i in known.listing()} == {
        (NUMBER, known.REJECTED), ("pay-etc.top", known.EXPIRED)}
    assert [a for a, _ in audit("indicator_reject")] == ["web:wang"] and len(audit("indicator_expire")) == 1
    assert wrong[0] == 422 and "不是一个电话号码" in wrong[2]
    assert unknown[0] == 422 and not audit("indicator_confirm")


def test_reported_texts_join_the_library_or_are_dismissed(admin_app: Sanic) -> None:
    seed()
    submit_report("resident-9", "rest", "有人出500块一个月租我的银行卡，说只是走个流水，让我明天带卡去见面", [])

    async def steps(client: Client) -> tuple:
        await client.login("wang")
        page = (await client.get("/admin/review"))[1]
        etc_ids, rent_ids = group_ids(page, "texts", "ETC认证"), group_ids(page, "texts", "租我的银行卡")
        accepted = await client.post("/admin/review/reports", {
            "ids": etc_ids, "decision": "accept", "scenario": "phishing_link", "title": "冒充ETC的短信"})
        again = await client.post("/admin/review/reports", {"ids": etc_ids, "decision": "accept"})
        dismissed = await client.post("/admin/review/reports", {"ids": rent_ids, "decision": "dismiss"})
        return accepted, again, dismissed, (await client.get("/admin/review"))[1]

    accepted, again, dismissed, after = run(admin_app, steps)
    assert accepted[1] == "/admin/review?done=accept&count=2"
    assert again[1] == "/admin/review?done=nothing&count=0"  # decided already: nothing added twice
    assert dismissed[1] == "/admin/review?done=dismiss&count=1"
    match = scam_library.KnownIndex().match(
        "收到短信：您的ETC认证已过期，车辆将无法通行，请点击链接重新认证，逾期会停用")
    assert match is not None and match.scenario == "phishing_link" and match.title == "冒充ETC的短信"
    assert "ETC认证" not in after.split('<table id="texts">')[1] and "租我的银行卡" not in after
    assert "自称京东客服" in after.split('<table id="texts">')[1]  # the other group still waits
    assert [detail["scenario"] for _, detail in audit("reports_accept")] == ["phishing_link"]
    assert [actor for actor, _ in audit("reports_dismiss")] == ["web:wang"]


def test_an_admin_turns_a_dispute_into_a_draft_example(admin_app: Sanic, validator: Refusing) -> None:
    seed()
    draft = admin_app.ctx.admin.draft
    path = example_file("task_rebate")
    before = draft.read(path)

    async def steps(client: Client) -> tuple:
        await client.login("li")
        page = (await client.get("/admin/review"))[1]
        ids = group_ids(page, "disputes", DISPUTED)
        unchosen = await client.post("/admin/review/example", {"ids": ids, "scenario": ""})
        validator.problem = Problem(path, "例句「…」同时出现在好几个意图下，请只保留一处。")
        refused = await client.post("/admin/review/example", {"ids": ids, "scenario": "task_rebate"})
        validator.problem = None
        made = await client.post("/admin/review/example", {"ids": ids, "scenario": "task_rebate"})
        return page, unchosen, refused, made, (await client.get(made[1]))[1]

    page, unchosen, refused, made, after = run(admin_app, steps)
    assert "生成训练样例" in page and 'value="none">不是诈骗' in page
    assert unchosen[0] == 422 and "请先选择" in unchosen[2]
    assert refused[0] == 422 and "同时出现在好几个意图下" in refused[2]
    assert made[0] == 303 and made[1].startswith("/admin/review?done=example")
    assert "/admin/publish" in after and "还没有生效" in after
    assert draft.read(path) == add_example(path, before, "task_rebate", DISPUTED) != before
    assert DISPUTED not in (admin_app.ctx.admin.config.live_root / path).read_text("utf-8")  # the draft only
    with engine().connect() as db:
        rows = db.execute(select(feedback.c.state, feedback.c.example_scenario, feedback.c.decided_by)).all()
    assert {tuple(row) for row in rows} == {(EXAMPLE, "task_rebate", "web:li")}
    ((actor, detail),) = audit("disputes_example")
    assert actor == "web:li" and detail["scenario"] == "task_rebate" and len(detail["ids"]) == 3


def test_an_officer_cannot_make_training_data_and_anonymous_sees_nothing(admin_app: Sanic) -> None:
    seed()
    draft_before = read_files(admin_app.ctx.admin.draft.root)

    async def officer(client: Client) -> tuple:
        await client.login("wang")
        ids = group_ids((await client.get("/admin/review"))[1], "disputes", DISPUTED)
        forged = await client.post("/admin/review/example", {"ids": ids, "scenario": "task_rebate"})
        no_token = await client.post("/admin/review/disputes", {"ids": ids, "decision": "dismiss"}, csrf=False)
        return ids, forged, no_token

    async def dismiss(client: Client) -> tuple:
        await client.login("wang")
        return await client.post("/admin/review/disputes", {"ids": ids, "decision": "dismiss"})

    async def anonymous(client: Client) -> tuple:
        page = await client.get("/admin/review")
        posts = [await client.post(path, {"ids": "1,2,3", "decision": "dismiss", "kind": "phone", "value": NUMBER,
                                          "scenario": "task_rebate"}, csrf=False)
                 for path in ("/admin/review/indicator", "/admin/review/reports", "/admin/review/disputes",
                              "/admin/review/example")]
        return page, posts

    page, posts = run(admin_app, anonymous)
    assert page[0] == 302 and NUMBER not in page[1] and DISPUTED not in page[1] and "判断不对" not in page[1]
    assert {status for status, _, _ in posts} == {401} and all(NUMBER not in body for _, _, body in posts)
    with engine().connect() as db:
        assert {row.state for row in db.execute(select(feedback.c.state))} == {OPEN}
    ids, forged, no_token = run(admin_app, officer)
    assert forged[0] == 403 and "只有管理员" in forged[2]
    assert no_token[0] == 403
    with engine().connect() as db:  # refused twice: still open, nothing audited, the draft untouched
        assert {row.state for row in db.execute(select(feedback.c.state))} == {OPEN}
    assert not audit("disputes_example") and read_files(admin_app.ctx.admin.draft.root) == draft_before
    dismissed = run(admin_app, dismiss)
    assert dismissed[1] == "/admin/review?done=dismiss&count=3"
    assert [actor for actor, _ in audit("disputes_dismiss")] == ["web:wang"]
    assert {(known.lookup([("phone", NUMBER)])[0].state)} == {known.REPORTED}  # the anonymous POSTs did nothing


def test_the_alerts_form_is_prefilled_only_with_what_it_accepts(admin_app: Sanic) -> None:
    async def steps(client: Client) -> tuple[str, str]:
        await client.login("wang")
        good = (await client.get("/admin/alerts?title=%E8%AD%A6%E6%83%95&body=%E6%AD%A3%E6%96%87"
                                 "&scenario=phishing_link&severity=medium"))[1]
        odd = (await client.get("/admin/alerts?scenario=nonsense&severity=%3Cscript%3E&title=" + "x" * 500))[1]
        return good, odd

    good, odd = run(admin_app, steps)
    assert 'id="title" name="title" value="警惕"' in good and ">正文</textarea>" in good and 'id="drafted"' in good
    assert '<option value="phishing_link" selected>' in good and '<option value="medium" selected>' in good
    assert '<option value="none" selected>' in odd and '<option value="high" selected>' in odd
    assert 'value="' + "x" * 200 + '"' in odd and "x" * 201 not in odd


def test_add_example_appends_once_to_the_scenarios_block() -> None:
    for scenario in ("task_rebate", "none"):
        path = example_file(scenario)
        text = (ROOT / path).read_text("utf-8")
        added = add_example(path, text, scenario, DISPUTED + "\n第二行")
        assert added.count(f"- {DISPUTED} 第二行\n") == 1
        assert len(added.splitlines()) == len(text.splitlines()) + 1  # one line, the rest as it was
        assert add_example(path, added, scenario, DISPUTED + " 第二行") == added
    with pytest.raises(ValueError):
        example_file("made_up")
    with pytest.raises(ValueError):
        add_example(example_file("none"), (ROOT / example_file("none")).read_text("utf-8"), "none", "  ")


def test_the_command_line_decisions_are_audited(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {**os.environ, "FRAUDBOT_DB_URL": url}

    def fraudbot(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.cli", "indicator", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    confirmed = fraudbot("confirm", "+86 139-1234-5678", "--kind", "phone", "--officer", "王警官",
                         "--expires-days", "7")
    expired = fraudbot("expire", NUMBER, "--kind", "phone", "--officer", "李警官")
    rejected = fraudbot("reject", "pay-etc.top", "--kind", "domain", "--officer", "李警官")
    wrong = fraudbot("confirm", "12345", "--kind", "phone", "--officer", "王警官")
    assert confirmed.stdout.strip() == f"phone {NUMBER}: confirmed", confirmed.stderr
    assert expired.stdout.strip() == f"phone {NUMBER}: expired" and rejected.returncode == 0
    assert wrong.returncode == 2 and "not a phone" in wrong.stderr
    with engine(url).connect() as db:
        rows = [(row.actor, row.action, json.loads(row.detail)) for row in
                db.execute(select(audit_log).order_by(audit_log.c.id))]
    assert [(actor, action) for actor, action, _ in rows] == [
        ("cli:王警官", "indicator_confirm"), ("cli:李警官", "indicator_expire"), ("cli:李警官", "indicator_reject")]
    assert rows[0][2]["value"] == NUMBER and rows[0][2]["expires_at"] is not None
