"""The 每日研判 page without a browser: the real admin app on loopback, reading a tracker store seeded the way Rasa
writes it (the events of ``tests/test_daily_report.py``) and the project's store; every decision read back from
``early_warnings`` and the audit log (bot/admin/routes/daily.py, bot/daily.py)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sanic import Sanic
from sqlalchemy import create_engine, select, text

from bot import daily, daily_report, retention, scam_library
from bot.admin.accounts import Accounts
from bot.admin.content import read_files, write_files
from bot.alerts.model import audit_log
from bot.config import AdminConfig
from bot.reports import submit_report
from bot.store import engine
from tests.test_daily_report import consult
from tests.test_retention import events_table
from tests.test_review_routes import PASSWORD, ROOT, Client, row, run

TODAY = datetime.now(retention.CHINA).date()
DAY = TODAY - timedelta(days=1)  # the page's default: yesterday, China time
NUMBER = "13912345678"


@pytest.fixture
def admin_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sanic:
    """The admin with a tracker store where 刷单返利 rose in 朝阳 yesterday (5 against one a day), 海淀's did not
    (2 against one a day), 网络赌博 is new in 海淀 with 3 residents, and one resident's money had gone."""
    from bot.admin.app import create_app

    monkeypatch.setenv("FRAUDBOT_DB_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("FRAUDBOT_REGION", "national")
    monkeypatch.setenv("FRAUDBOT_RETENTION_DAYS", "45")
    monkeypatch.setattr(Sanic, "test_mode", True)
    tracker = tmp_path / "rasa.db"
    (tmp_path / "endpoints.yml").write_text(
        f'tracker_store:\n  type: bot.tracker_store.RedactingSQLTrackerStore\n  dialect: sqlite\n  db: "{tracker}"\n',
        encoding="utf-8")
    url = f"sqlite:///{tracker}"
    events_table(url)
    for back in range(1, 29):
        consult(url, DAY - timedelta(days=back), "task_rebate", "朝阳")
        consult(url, DAY - timedelta(days=back), "task_rebate", "海淀")
    consult(url, DAY, "task_rebate", "朝阳", n=5)
    consult(url, DAY, "task_rebate", "海淀", n=2)
    consult(url, DAY, "gambling", "海淀", n=3)
    consult(url, DAY, "none", "朝阳", n=4)  # rises too, but is not a scam: nothing to warn of
    consult(url, DAY, "impersonate_police", None, intent="money_already_sent")
    live = tmp_path / "live"
    write_files(live, read_files(ROOT))
    config = AdminConfig(live_root=live, admin_dir=tmp_path / "admin", rasa_urls=(), rasa_token="",
                         live_model=tmp_path / "model.tar.gz", endpoints=tmp_path / "endpoints.yml",
                         secure_cookies=False)
    app = create_app(config, validate=lambda files: [])
    accounts = Accounts()
    accounts.create("li", "李警官", "admin", PASSWORD)
    accounts.create("wang", "王警官", "officer", PASSWORD)
    app.ctx.tracker_url = url
    return app


def warnings() -> list[tuple]:
    with engine().connect() as db:
        return [tuple(r) for r in db.execute(select(
            daily.early_warnings.c.day, daily.early_warnings.c.scenario, daily.early_warnings.c.region,
            daily.early_warnings.c.count, daily.early_warnings.c.state, daily.early_warnings.c.decided_by))]


def audited(action: str) -> list[tuple[str, dict]]:
    with engine().connect() as db:
        return [(r.actor, json.loads(r.detail)) for r in
                db.execute(select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id))]


def form(day: date, scenario: str, region: str) -> dict[str, str]:
    return {"day": day.isoformat(), "scenario": scenario, "region": region}


def test_the_page_shows_the_day_what_rose_and_the_policy(admin_app: Sanic) -> None:
    submit_report("resident-1", "telegram", f"举报 {NUMBER} 自称客服让我开屏幕共享",
                  [{"entity": "phone", "value": NUMBER}], region="朝阳")

    async def steps(client: Client) -> tuple[str, ...]:
        await client.login("wang")
        return ((await client.get("/admin/daily"))[1], (await client.get(f"/admin/daily?date={TODAY}"))[1],
                (await client.get("/admin/"))[1])

    page, today, overview = run(admin_app, steps)
    assert f'<span id="day">{DAY}</span>' in page
    assert re.search(r'id="total">15<', page) and re.search(r'id="money-sent">1<', page)
    rising = page.split('<table id="rising">')[1].split("</table>")[0]
    chaoyang = row(page, "rising", 'data-scenario="task_rebate" data-region="朝阳"')
    assert "刷单返利" in chaoyang and "5 次" in chaoyang and "<td>1.0</td>" in chaoyang
    assert "可能性约千分之4" in chaoyang and "起草预警" in chaoyang  # p = 0.0037 in plain words
    assert "网络赌博" in row(page, "rising", 'data-scenario="gambling"') and "不到千分之一" in rising
    assert 'data-scenario="task_rebate" data-region="海淀"' not in rising
    nothing = row(page, "rising", 'data-scenario="none"')
    assert "不用预警" in nothing and "起草预警" not in nothing
    assert "<td>2</td>" in row(page, "rows", 'data-scenario="task_rebate" data-region="海淀"')
    assert "全国（未分地区）" in row(page, "rows", 'data-scenario="impersonate_police"')
    assert f'href="/admin/daily?date={DAY - timedelta(days=1)}" id="previous-day"' in page
    assert f'href="/admin/daily?date={TODAY}" id="next-day"' in page and 'id="next-day"' not in today
    assert f'href="/admin/daily.csv?date={DAY}"' in page
    assert "对话保存 45 天后删除，统计数字长期保留" in page and "对话保存 45 天后删除" in overview
    assert 'id="nav-daily"' in page and NUMBER not in page  # yesterday: nobody had reported yet
    reported = today.split('<table id="reported">')[1].split("</table>")[0]
    assert "139******78" in reported and "电话号码" in reported and "1 次" in reported
    assert 'href="/admin/review"' in today and NUMBER not in today  # the whole number is for the review queue only


def test_a_draft_is_one_audited_suggestion_however_often_pressed(admin_app: Sanic) -> None:
    async def steps(client: Client) -> tuple:
        await client.login("wang")
        first = await client.post("/admin/daily/draft", form(DAY, "task_rebate", "朝阳"))
        again = await client.post("/admin/daily/draft", form(DAY, "task_rebate", "朝阳"))
        alerts = (await client.get(first[1]))[1]
        return first, again, alerts, (await client.get("/admin/daily"))[1]

    first, again, alerts, page = run(admin_app, steps)
    assert first[0] == again[0] == 303 and first[1] == again[1]
    link = urlsplit(first[1])
    query = parse_qs(link.query)
    assert link.path == "/admin/alerts" and query["scenario"] == ["task_rebate"] and query["regions"] == ["朝阳"]
    assert "刷单返利" in query["title"][0] and "朝阳居民5次" in query["body"][0] and "96110" in query["body"][0]
    assert f'id="title" name="title" value="{query["title"][0]}"' in alerts and 'id="drafted"' in alerts
    assert 'value="朝阳"' in alerts and '<option value="task_rebate" selected>' in alerts
    assert warnings() == [(DAY, "task_rebate", "朝阳", 5, daily.DRAFTED, "web:wang")]
    ((actor, detail),) = audited("warning_drafted")
    assert actor == "web:wang" and detail["scenario"] == "task_rebate" and detail["region"] == "朝阳"
    assert detail["day"] == DAY.isoformat() and detail["previous"] == daily.OPEN
    assert "已起草通报" in row(page, "suggestions", 'data-scenario="task_rebate"')
    drafted = row(page, "rising", 'data-scenario="task_rebate" data-region="朝阳"')
    assert "已起草通报" in drafted and "再次起草" in drafted and "忽略" not in drafted
    # the daily job, running after the officer: the other rises are recorded, this one stays one row, drafted
    assert len(daily.record_suggestions(daily_report.build(DAY, admin_app.ctx.tracker_url))) == 2
    assert {(s.scenario, s.region, s.state) for s in daily.suggestions(state=None)} == {
        ("task_rebate", "朝阳", daily.DRAFTED), ("gambling", "海淀", daily.OPEN), ("none", "朝阳", daily.OPEN)}


def test_only_a_rising_scam_row_with_the_token_is_drafted(admin_app: Sanic) -> None:
    async def steps(client: Client) -> list:
        await client.login("wang")
        return [await client.post("/admin/daily/draft", form(DAY, "task_rebate", "海淀")),  # ordinary
                await client.post("/admin/daily/draft", form(DAY - timedelta(days=3), "task_rebate", "朝阳")),
                await client.post("/admin/daily/draft", form(DAY, "none", "朝阳")),  # rose, not a scam
                await client.post("/admin/daily/draft", form(DAY, "made_up", "朝阳")),
                await client.post("/admin/daily/draft", {**form(DAY, "task_rebate", "朝阳"), "day": "昨天"}),
                await client.post("/admin/daily/draft", form(DAY, "task_rebate", "朝阳"), csrf=False),
                await client.post("/admin/daily/dismiss", form(DAY, "task_rebate", "海淀"))]

    ordinary, flat_day, not_scam, unknown, bad_day, no_token, dismiss_flat = run(admin_app, steps)
    assert ordinary[0] == 422 and "没有明显上升" in ordinary[2] and "预警要有当天的数据支持" in ordinary[2]
    assert flat_day[0] == 422 and "没有明显上升" in flat_day[2]
    assert not_scam[0] == unknown[0] == 422 and "不是诈骗类型" in not_scam[2]
    assert bad_day[0] == 422 and "看不懂" in bad_day[2]
    assert no_token[0] == 403 and dismiss_flat[0] == 422
    assert warnings() == [] and not audited("warning_drafted") and not audited("warning_dismissed")


def test_a_suggestion_of_the_job_is_dismissed_audited(admin_app: Sanic) -> None:
    daily.record_suggestions(daily_report.build(DAY, admin_app.ctx.tracker_url))

    async def steps(client: Client) -> tuple:
        await client.login("wang")
        before = (await client.get("/admin/daily"))[1]
        dismissed = await client.post("/admin/daily/dismiss", form(DAY, "gambling", "海淀"))
        twice = await client.post("/admin/daily/dismiss", form(DAY, "gambling", "海淀"))
        return before, dismissed, twice, (await client.get(dismissed[1]))[1]

    before, dismissed, twice, after = run(admin_app, steps)
    listed = row(before, "suggestions", 'data-scenario="gambling"')
    assert "待处理" in listed and "起草预警" in listed and "忽略" in listed
    assert dismissed[0] == twice[0] == 303 and dismissed[1] == f"/admin/daily?date={DAY}&done=dismissed"
    assert 'id="done"' in after and "已忽略" in row(after, "suggestions", 'data-scenario="gambling"')
    assert "起草预警" not in row(after, "suggestions", 'data-scenario="gambling"')
    assert (DAY, "gambling", "海淀", 3, daily.DISMISSED, "web:wang") in warnings()
    ((actor, detail),) = audited("warning_dismissed")  # pressed twice, decided once
    assert actor == "web:wang" and detail["scenario"] == "gambling"


def test_the_csv_download(admin_app: Sanic) -> None:
    async def steps(client: Client) -> tuple:
        await client.login("wang")
        async with client.http.get(f"{client.url}/admin/daily.csv?date={DAY}") as answer:
            good = answer.status, answer.headers["Content-Type"], answer.headers["Content-Disposition"], \
                await answer.text()
        return good, await client.get("/admin/daily.csv?date=2026-02-30")

    (status, kind, disposition, body), bad = run(admin_app, steps)
    assert status == 200 and kind.startswith("text/csv") and disposition == f'attachment; filename="daily-{DAY}.csv"'
    assert body == daily_report.to_csv(daily_report.build(DAY, admin_app.ctx.tracker_url))
    assert f"{DAY},task_rebate,朝阳,5,1.000,1.000," in body and body.count("\n") == 6
    assert bad[0] == 422 and "看不懂" in bad[1]


@pytest.mark.parametrize("asked, words", [("2026-13-01", "看不懂"), ("abc", "看不懂"), ("0001-01-01", "看不懂"),
                                          ("<script>", "看不懂"), (str(TODAY + timedelta(days=2)), "还没到")])
def test_a_bad_date_shows_yesterday_with_the_reason(admin_app: Sanic, asked: str, words: str) -> None:
    async def steps(client: Client) -> tuple[int, str]:
        await client.login("wang")
        return await client.get(f"/admin/daily?date={asked}")

    status, page = run(admin_app, steps)
    assert status == 422 and words in page.split('id="daily-error">')[1].split("</p>")[0]
    assert f'<span id="day">{DAY}</span>' in page and "<script>" not in page


def test_anonymous_gets_the_login_page(admin_app: Sanic) -> None:
    async def steps(client: Client) -> list:
        return [await client.get("/admin/daily"), await client.get(f"/admin/daily.csv?date={DAY}"),
                await client.post("/admin/daily/draft", form(DAY, "task_rebate", "朝阳"), csrf=False)]

    page, csv, post = run(admin_app, steps)
    assert page[0] == csv[0] == 302 and "刷单返利" not in page[1] + csv[1]
    assert post[0] == 401 and warnings() == []


def test_the_overview_counts_days_whose_conversations_were_deleted(admin_app: Sanic) -> None:
    url = admin_app.ctx.tracker_url
    retention.run(url, today=TODAY, days=90)  # rolls up every finished day, deletes nothing yet
    with create_engine(url, future=True).begin() as db:  # then the conversations are gone
        db.execute(text("DELETE FROM events"))

    async def steps(client: Client) -> str:
        await client.login("wang")
        return (await client.get("/admin/"))[1]

    page = run(admin_app, steps)
    total = 5 + 2 + 3 + 4 + 1 + 2 * 12  # yesterday and the 12 days before it in the window, from the store's counts
    assert re.search(rf'id="total">{total}<', page)
    assert "对话保存 45 天后删除，统计数字长期保留" in page


def test_a_new_script_goes_into_the_library_or_is_dismissed_from_the_page(admin_app: Sanic) -> None:
    """The job's new scripts are listed for the week; 加入诈骗库 makes a pasted copy a known scam; both audited."""
    from bot import new_scripts

    script = ("【医保中心】您的医保账户存在异常消费，将于今日冻结，请添加专员微信 yb2024x 按指引解冻，逾期后果自负")
    copies = [new_scripts.Script(residents=4, messages=5, scenario="impersonate_police", sample=script[:80],
                                 text=script, copies=(script,), first_seen=datetime.now(retention.CHINA),
                                 last_seen=datetime.now(retention.CHINA)),
              new_scripts.Script(residents=3, messages=3, scenario="fake_loan", sample="征信有问题可以帮您修复额度…",
                                 text="您好，征信有问题可以帮您修复额度，先交两千服务费，三天内出结果，不成功全额退款",
                                 copies=(), first_seen=datetime.now(retention.CHINA),
                                 last_seen=datetime.now(retention.CHINA))]
    assert new_scripts.record(DAY, copies) == 2
    first, second = new_scripts.recorded(DAY, DAY)

    async def steps(client: Client) -> tuple:
        await client.login("wang")
        page = (await client.get("/admin/daily"))[1]
        added = await client.post("/admin/daily/script", {"id": str(first.id), "decision": "library",
                                                          "scenario": "fake_customer_service", "day": str(DAY)})
        again = await client.post("/admin/daily/script", {"id": str(first.id), "decision": "dismissed",
                                                          "day": str(DAY)})
        dropped = await client.post("/admin/daily/script", {"id": str(second.id), "decision": "dismissed",
                                                            "day": str(DAY)})
        forged = await client.post("/admin/daily/script", {"id": "x", "decision": "delete", "day": str(DAY)})
        return page, added, again, dropped, forged, (await client.get(added[1]))[1]

    page, added, again, dropped, forged, after = run(admin_app, steps)
    listed = row(page, "scripts", f'data-id="{first.id}"')
    assert "4 人" in listed and "医保账户存在异常消费" in listed and "加入诈骗库" in listed and "起草警情通报" in listed
    draft_link = re.search(r'class="draft" href="([^"]+)"', listed).group(1).replace("&amp;", "&")
    body = parse_qs(urlsplit(draft_link).query)["body"][0]
    assert "医保账户存在异常消费" in body and "96110" in body and len(body) <= 300
    assert added[:2] == (303, f"/admin/daily?date={DAY}&done=script_library")
    assert again[:2] == (303, f"/admin/daily?date={DAY}&done=script_taken") and dropped[0] == 303
    assert forged[0] == 422 and "已加入诈骗库" in after and 'id="scripts"' in after
    assert f'data-id="{first.id}"' not in after and f'data-id="{second.id}"' not in after
    index = scam_library.known_index()
    index.refresh(force=True)
    match = index.match(script.replace("yb2024x", "zz88qq").replace("今日", "明日"))
    assert match is not None and match.scenario == "fake_customer_service"
    assert [actor for actor, _ in audited("new_script_library")] == ["web:wang"]
    assert [detail["id"] for _, detail in audited("new_script_dismissed")] == [second.id]


def test_the_page_sums_the_follow_up_cards(admin_app: Sanic) -> None:
    """Two follow-ups answered through the store's own path (consent → begin → finish) show as counts only."""
    from bot import followups
    from core import followup as questions

    for n, (police, contact) in enumerate([(questions.YES, questions.PHONE), (questions.NO, questions.SMS)]):
        conversation = f"tg:{9000 + n}"
        moment = datetime.combine(DAY, datetime.min.time(), retention.CHINA) - timedelta(days=1)
        followups.consent(conversation, "telegram", f"{9000 + n}", "impersonate_police", "工商银行",
                          questions.UP_TO_10K, clock=lambda moment=moment: moment)
        assert followups.begin(conversation, clock=lambda: datetime.now(retention.CHINA)) is not None
        answered = datetime.combine(DAY, datetime.min.time(), retention.CHINA) + timedelta(hours=11)
        followups.finish(conversation, {questions.POLICE: police, questions.CONTACT: contact},
                         clock=lambda answered=answered: answered)

    async def steps(client: Client) -> str:
        await client.login("wang")
        return (await client.get("/admin/daily"))[1]

    page = run(admin_app, steps)
    assert "近 30 天 2 张案件卡" in page
    contact = row(page, "cards", 'data-field="contact"')
    assert "电话 1" in contact and "短信 1" in contact
    assert "是 1" in row(page, "cards", 'data-field="reached_police"') and "1千–1万 2" in page
    assert "9000" not in page and "tg:" not in page  # no address, no conversation
