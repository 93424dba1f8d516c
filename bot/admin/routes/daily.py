"""每日研判 (``/admin/daily``): a day's consultations per scenario and area, what rose, and the early warnings.

Officers and administrators read the report the daily job sends to their chat (:mod:`bot.daily_report`), for
any day, with the table behind it, the day's reported indicators and the CSV. A rising row offers 起草预警:
the suggestion is recorded and marked drafted (:func:`bot.daily.decide_suggestion`, audited), and the officer
lands on the alerts page with the warning's text filled in (:mod:`core.early_warning`); nothing reaches a
resident until he presses 发送通报 there. Only a row that rose on that day can be drafted or recorded: a
warning to residents stands on the evidence of the report, not on a forged form.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import daily, daily_report, followups, new_scripts
from bot.admin.routes.review import KIND_NAMES, actor, off_loop
from bot.admin.web import Admin, admin_of
from bot.config import database_url
from bot.retention import CHINA, tracker_db_url
from core.early_warning import NATIONAL, draft, script_draft
from core.knowledge import regions, scenarios
from nlu.scenario_ids import NONE_SCENARIO

blueprint = Blueprint("admin_daily")

CARD_DAYS = 30
"""The page sums the 回访 case cards of this many days up to the day shown."""
CARD_FIELD_NAMES = {"contact": "对方最开始怎么联系", "payment_route": "钱从哪里转出", "amount_band": "金额",
                    "reached_police": "报警了", "stop_payment": "止付", "has_receipt": "拿到报警回执"}
CARD_VALUE_NAMES = {"yes": "是", "no": "否", "unknown": "没说", "phone": "电话", "sms": "短信", "im": "微信/QQ",
                    "web_app": "网站/APP", "other": "其他", "in_time": "来得及", "too_late": "没来得及",
                    "not_tried": "还没联系"}
SUGGESTION_DAYS = 14
"""The page lists the suggestions of this many days back (the job records one each morning)."""
FIRST_DAY = date(2000, 1, 1)  # earlier dates are typing slips (and would underflow the 28-day window)
DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}")
STATE_NAMES = {daily.OPEN: "待处理", daily.DRAFTED: "已起草通报", daily.DISMISSED: "已忽略"}
NOTICES = {
    daily.DISMISSED: "已忽略这条预警建议（记入审计日志）。",
    f"script_{new_scripts.LIBRARY}": "已加入诈骗库：居民再发来这种消息，机器人会说这是同一种骗局（记入审计日志）。",
    f"script_{new_scripts.DISMISSED}": "已忽略这种新话术（记入审计日志）。",
    "script_taken": "这种新话术已经被别人处理过了。",
}


def today() -> date:
    """Days are China-time days, as the report counts them."""
    return datetime.now(CHINA).date()


def chosen_day(raw: str) -> tuple[date, str]:
    """The day asked for (yesterday when none: the last whole day), or yesterday and the reason it cannot be."""
    default = today() - timedelta(days=1)
    if not raw:
        return default, ""
    try:
        day = date.fromisoformat(raw) if DATE_SHAPE.fullmatch(raw) else None
    except ValueError:
        day = None
    if day is None or day < FIRST_DAY:
        return default, f"日期「{raw[:20]}」看不懂，请写成 {default:%Y-%m-%d} 这样（年-月-日）。下面是昨天的研判。"
    if day > today():
        return default, f"{day:%Y-%m-%d} 还没到，没有数据。下面是昨天的研判。"
    return day, ""


def plain_p(p_value: float) -> str:
    """The p-value as an officer reads it: how likely that many consultations were if nothing had changed."""
    if p_value >= 0.05:
        return "在平时的波动范围内"
    if p_value < 0.001:
        return "照平时的水平，一天这么多的可能性不到千分之一"
    if p_value < 0.01:
        return f"照平时的水平，一天这么多的可能性约千分之{max(1, round(p_value * 1000))}"
    return f"照平时的水平，一天这么多的可能性约百分之{max(1, round(p_value * 100))}"


def p_text(p_value: float) -> str:
    """The p-value for the table: three decimals, or "< 0.001" (officers need no exponents)."""
    return "< 0.001" if p_value < 0.001 else f"{p_value:.3f}"


def region_label(region: str) -> str:
    """A row's area as officers read it: a group's area tag as it is, a deployment's region by its name."""
    if region == NATIONAL:
        return "全国（未分地区）"
    known = regions().get(region)
    return f"{known.get('name') or region}" if isinstance(known, dict) else region


def alert_regions(region: str) -> str:
    """The alerts form's regions for a row: its area, or every group for a nationwide deployment's rows (no
    group is tagged ``national``: the alert would reach nobody)."""
    return "全部" if region == NATIONAL else region


def build(admin: Admin, day: date) -> daily_report.DailyReport:
    """The day's report from the live tracker store and the project's store (rolled-up days included)."""
    endpoints = admin.config.endpoints
    # the week's new scripts are found by the daily job and read from the store (new_scripts.recorded): finding
    # them here would load the whole known-scam library into the admin
    return daily_report.build(day, tracker_db_url(endpoints) if endpoints.exists() else None, database_url(),
                              scripts=False)


def read_page(admin: Admin, day: date) -> dict[str, Any]:
    """Everything the page shows, in one call off the event loop."""
    report = build(admin, day)
    recent = daily.suggestions(database_url(), state=None, since=today() - timedelta(days=SUGGESTION_DAYS))
    scripts = new_scripts.recorded(day - timedelta(days=new_scripts.WINDOW_DAYS - 1), day, database_url())
    cards = followups.card_counts(day - timedelta(days=CARD_DAYS - 1), day, database_url())
    return {"report": report, "suggestions": recent, "scripts": scripts, "cards": cards,
            "script_drafts": {s.id: script_draft_query(s) for s in scripts},
            "decided": {(s.day, s.scenario, s.region): s.state for s in recent}}


async def daily_page(request: Request, day: date, status: int = 200, error: str = "") -> HTTPResponse:
    admin = admin_of(request)
    found = await off_loop(read_page, admin, day)
    names = {sid: info.name for sid, info in scenarios().items()}
    return admin.page(request, "daily.html", status=status, error=error, day=day,
                      previous=day - timedelta(days=1), next=day + timedelta(days=1) if day < today() else None,
                      names=names, plain_p=plain_p, p_text=p_text, region_label=region_label, states=STATE_NAMES,
                      kinds=KIND_NAMES, none_id=NONE_SCENARIO, card_days=CARD_DAYS, card_fields=CARD_FIELD_NAMES,
                      card_values=CARD_VALUE_NAMES,
                      done=NOTICES.get(request.args.get("done", ""), "") if not error else "", **found)


@blueprint.get("/admin/daily")
async def daily_report_page(request: Request) -> HTTPResponse:
    day, error = chosen_day(request.args.get("date", "").strip())
    return await daily_page(request, day, 422 if error else 200, error)


@blueprint.get("/admin/daily.csv")
async def daily_csv(request: Request) -> HTTPResponse:
    day, error = chosen_day(request.args.get("date", "").strip())
    if error:
        return response.text(error, status=422)
    report = await off_loop(build, admin_of(request), day)
    return response.text(daily_report.to_csv(report), content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="daily-{day:%Y-%m-%d}.csv"'})


async def rising_row(request: Request) -> tuple[date, daily_report.Row | None, str, str, HTTPResponse | None]:
    """The form's day, its row if it rose that day, and the scenario and region asked for; or the page with the
    reason when the form cannot be read (the caller refuses a row that did not rise)."""
    form = request.form
    raw = str(form.get("day", "")).strip()
    scenario, region = str(form.get("scenario", "")), str(form.get("region", ""))
    day, error = chosen_day(raw) if raw else (today(), "没有说是哪一天。")
    if error:
        return day, None, scenario, region, await daily_page(request, day, 422, error)
    report = await off_loop(build, admin_of(request), day)
    row = next((r for r in report.rising if (r.scenario, r.region) == (scenario, region)), None)
    return day, row, scenario, region, None


@blueprint.post("/admin/daily/draft")
async def draft_warning(request: Request) -> HTTPResponse:
    """起草预警: the suggestion recorded and marked drafted, then the alerts form filled in with the warning."""
    day, row, scenario, region, refused = await rising_row(request)
    if refused:
        return refused
    info = scenarios().get(scenario)
    if info is None or scenario == NONE_SCENARIO:
        return await daily_page(request, day, 422, "预警要针对一种诈骗类型：这一行不是诈骗类型，不能起草预警。")
    if row is None:
        return await daily_page(request, day, 422, f"{info.name}（{region[:64]}）在 {day:%Y-%m-%d} 没有明显上升，"
                                                   "不能起草预警：预警要有当天的数据支持。")
    await off_loop(daily.decide_suggestion, day, scenario, region, daily.DRAFTED, actor(request), row=row,
                   store_url=database_url())
    warning = draft(info, region, row.count)
    query = urlencode({"title": warning.title, "body": warning.body, "scenario": scenario,
                       "regions": alert_regions(region)})
    return response.redirect(f"/admin/alerts?{query}", status=303)


def script_draft_query(finding: new_scripts.Finding) -> str:
    """The alerts form's query for a 警情通报 about a new script (nothing is sent from here)."""
    warning = script_draft(finding.sample, scenarios().get(finding.scenario), finding.residents)
    scenario = finding.scenario if finding.scenario in scenarios() else NONE_SCENARIO
    return urlencode({"title": warning.title, "body": warning.body, "scenario": scenario, "regions": "全部"})


@blueprint.post("/admin/daily/script")
async def decide_script(request: Request) -> HTTPResponse:
    """A new script into the known-scam library (with the scam type the officer chose) or dismissed."""
    form = request.form
    raw_id, decision = str(form.get("id", "")), str(form.get("decision", ""))
    scenario = str(form.get("scenario", "")).strip()
    day, error = chosen_day(str(form.get("day", "")).strip())
    if error or not raw_id.isdecimal() or decision not in (new_scripts.LIBRARY, new_scripts.DISMISSED) \
            or (scenario and scenario not in scenarios()):
        return await daily_page(request, day, 422, error or "看不懂这个操作：请在页面上重新选择。")
    decided = await off_loop(new_scripts.decide, actor(request), int(raw_id), decision, scenario=scenario,
                             store_url=database_url())
    done = decision if decided is not None else "taken"
    return response.redirect(f"/admin/daily?{urlencode({'date': day.isoformat(), 'done': f'script_{done}'})}",
                             status=303)


@blueprint.post("/admin/daily/dismiss")
async def dismiss_warning(request: Request) -> HTTPResponse:
    """忽略: a suggestion the officer will not act on (a recorded one, or a row that rose that day)."""
    day, row, scenario, region, refused = await rising_row(request)
    if refused:
        return refused
    decided = await off_loop(daily.decide_suggestion, day, scenario, region, daily.DISMISSED, actor(request),
                             row=row, store_url=database_url())
    if decided is None:
        return await daily_page(request, day, 422, "没有这条预警建议：它当天没有明显上升，也没有被记录过。")
    return response.redirect(f"/admin/daily?{urlencode({'date': day.isoformat(), 'done': daily.DISMISSED})}",
                             status=303)
