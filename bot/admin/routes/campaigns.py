"""宣传 (``/admin/campaigns``): officers and administrators plan campaigns, pause them, and read their results.

The plan form shows, before anything is saved, how many groups the campaign reaches today and the message the
first of them would get (预览); 保存 stores it and the daily job's scheduler sends it when due
(:mod:`bot.campaigns`). The results page shows the groups reached, the delivery report, and the share of right
quiz answers per scenario as a chart (plain SVG, like the overview's): which scams residents still fall for.
"""

from __future__ import annotations

from html import escape
from typing import Any

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import campaign_messages, campaigns
from bot.admin.routes.review import actor, off_loop
from bot.admin.web import admin_of, signed_in_user
from bot.campaign_messages import KINDS, QUIZ, STORY, TIP, items
from bot.campaigns import CHANNELS, DEFAULT_CHANNELS, SCHEDULES, Campaigns, InvalidCampaign, NotYours
from bot.retention import tracker_db_url
from core.knowledge import scenarios
from nlu.scenario_ids import NONE_SCENARIO

blueprint = Blueprint("admin_campaigns")

FIELDS = ("name", "kind", "scenario", "content_id", "regions", "schedule", "at", "on_day", "quiet_start", "quiet_end")
DEFAULTS = {"name": "", "kind": campaign_messages.DAILY_TIP, "scenario": "", "content_id": "", "regions": "全部",
            "schedule": campaigns.DAILY, "at": "09:00", "on_day": "", "quiet_start": "21:30", "quiet_end": "08:00"}
DONE = {"paused": "已暂停：排队中的消息已取消，不会再发。", "resumed": "已恢复：从下一次发送时间起继续发。"}
STATES = {"delivered": "已送达", "pending": "排队中", "sending": "发送中", "failed": "失败", "cancelled": "已取消",
          "uncertain": "不确定"}


def service(request: Request) -> Campaigns:
    """Campaigns on the project's store, with the live tracker store for the timely tip's preview."""
    endpoints = admin_of(request).config.endpoints
    return Campaigns(tracker_url=tracker_db_url(endpoints) if endpoints.exists() else None)


def scenario_names() -> dict[str, str]:
    return {sid: info.name for sid, info in scenarios().items() if sid != NONE_SCENARIO}


def form_values(request: Request) -> tuple[dict[str, str], list[str]]:
    """The plan as the officer typed it (strings), and the channels ticked."""
    form = request.form or {}
    values = {key: str(form.get(key, "") or "").strip()[:200] for key in FIELDS}
    return values, [str(c) for c in (form.getlist("channels") if form else None) or []][:len(CHANNELS)]


def plan_fields(values: dict[str, str], channels: list[str]) -> dict[str, Any]:
    """The keyword arguments of :meth:`Campaigns.check`: a timely tip has no scenario or item to pick."""
    timely = values["kind"] == campaign_messages.DAILY_TIP
    return {"name": values["name"], "kind": values["kind"], "regions": values["regions"], "channels": channels,
            "schedule": values["schedule"], "at": values["at"], "on_day": values["on_day"] or None,
            "scenario": "" if timely else values["scenario"], "content_id": "" if timely else values["content_id"],
            "quiet_start": values["quiet_start"] or DEFAULTS["quiet_start"],
            "quiet_end": values["quiet_end"] or DEFAULTS["quiet_end"]}


def content_choices() -> dict[str, list[tuple[str, str]]]:
    """Every item the form can pick, by kind: (id, a short label)."""
    names = scenario_names()

    def label(item: Any, words: str) -> str:
        return f"{names.get(item.scenario, item.scenario)}：{words[:28]}"

    return {TIP: [(t.id, label(t, t.text)) for t in items(TIP)],
            STORY: [(s.id, label(s, s.title)) for s in items(STORY)],
            QUIZ: [(q.id, label(q, q.question)) for q in items(QUIZ)]}


async def page(request: Request, values: dict[str, str], channels: list[str], status: int = 200, error: str = "",
               preview: campaigns.Preview | None = None, done: str = "") -> HTTPResponse:
    recent = await off_loop(service(request).recent)
    return admin_of(request).page(
        request, "campaigns.html", status=status, values=values, channels=channels, error=error, preview=preview,
        done=done, recent=recent, kinds=KINDS, schedules=SCHEDULES, all_channels=CHANNELS, names=scenario_names(),
        choices=content_choices(), user_login=actor(request))


@blueprint.route("/admin/campaigns", methods=["GET", "POST"])
async def campaigns_page(request: Request) -> HTTPResponse:
    if request.method == "GET":
        done = DONE.get(request.args.get("done", ""), "")
        return await page(request, dict(DEFAULTS), list(DEFAULT_CHANNELS), done=done)
    values, channels = form_values(request)
    fields = plan_fields(values, channels)
    try:
        if request.form.get("action") == "preview":
            preview = await off_loop(service(request).preview, **fields)
            return await page(request, values, channels, preview=preview)
        await off_loop(service(request).plan, actor(request), **fields)
    except InvalidCampaign as invalid:
        return await page(request, values, channels, status=422, error=str(invalid))
    return response.redirect("/admin/campaigns?saved=1", status=303)


@blueprint.route("/admin/campaigns/pause", methods=["POST"])
async def pause(request: Request) -> HTTPResponse:
    """暂停 / 恢复: only the officer who planned the campaign, or an administrator."""
    raw, resume = str(request.form.get("id", "")), request.form.get("resume") == "1"
    if not raw.isdecimal() or len(raw) > 12:
        return response.text("没有这个活动。", status=404)
    try:
        await off_loop(service(request).set_active, int(raw), resume, actor(request), signed_in_user(request).is_admin)
    except InvalidCampaign as invalid:
        return response.text(str(invalid), status=404)
    except NotYours as refused:
        values, channels = dict(DEFAULTS), list(DEFAULT_CHANNELS)
        return await page(request, values, channels, status=403, error=str(refused))
    return response.redirect(f"/admin/campaigns?done={'resumed' if resume else 'paused'}", status=303)


@blueprint.route("/admin/campaigns/results", methods=["GET"])
async def results(request: Request) -> HTTPResponse:
    raw = str(request.args.get("id", ""))
    found = None
    if raw.isdecimal() and len(raw) <= 12:
        try:
            found = await off_loop(service(request).results, int(raw))
        except InvalidCampaign:
            found = None
    if found is None:
        return admin_of(request).page(request, "missing.html", status=404, what="这个宣传活动")
    names = scenario_names()
    return admin_of(request).page(request, "campaign_results.html", results=found, names=names, kinds=KINDS,
                                  schedules=SCHEDULES, all_channels=CHANNELS, states=STATES,
                                  quiz_chart=share_right_svg(found.quiz, names),
                                  reach_chart=reach_svg(found.days))


# -- charts (plain SVG, no script: the page's Content-Security-Policy allows none inline) ---------------


def share_right_svg(rows: list[Any], names: dict[str, str]) -> str:
    """One bar per scenario, answered questions split into right (green) and wrong (red), the share right
    written beside it: the scenarios with the shortest green are the scams residents still fall for."""
    width, left, bar, gap = 720, 170, 22, 10
    height = max(len(rows), 1) * (bar + gap) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="各诈骗类型答对的比例" class="chart" id="quiz-chart">']
    if not rows:
        parts.append(f'<text x="{left}" y="24" font-size="13">还没有居民答过这个活动的题。</text>')
    span = width - left - 120
    for index, row in enumerate(rows):
        y = 10 + index * (bar + gap)
        right = span * row.share_right
        name = escape(names.get(row.scenario, row.scenario))
        label = f"{name}：答对 {row.right} / {row.answered}"
        parts.append(f'<text x="{left - 8}" y="{y + bar * 0.7:.1f}" text-anchor="end" font-size="13">{name}</text>'
                     f'<rect x="{left}" y="{y}" width="{right:.1f}" height="{bar}" fill="#27ae60">'
                     f'<title>{label}</title></rect>'
                     f'<rect x="{left + right:.1f}" y="{y}" width="{span - right:.1f}" height="{bar}" fill="#e74c3c">'
                     f'<title>{label}</title></rect>'
                     f'<text x="{left + span + 8}" y="{y + bar * 0.7:.1f}" font-size="13" class="share">'
                     f'{row.share_right:.0%}（{row.right}/{row.answered}）</text>')
    parts.append("</svg>")
    return "".join(parts)


def reach_svg(days: list[tuple[Any, int, int]]) -> str:
    """Groups reached per day: delivered (blue) out of queued (grey)."""
    width, height, left, bottom, top = 720, 180, 40, 24, 10
    peak = max([queued for _day, _delivered, queued in days] + [1])
    slot = min((width - left) / max(len(days), 1), 60)  # a new campaign's one day is a bar, not a wall
    scale = (height - bottom - top) / peak
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="每天送达的群数" class="chart" id="reach-chart">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#999"/>',
             f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="11">{peak}</text>']
    for index, (day, delivered, queued) in enumerate(days):
        x = left + index * slot + slot * 0.15
        for count, colour in ((queued, "#b2bec3"), (delivered, "#2980b9")):
            parts.append(f'<rect x="{x:.1f}" y="{height - bottom - count * scale:.1f}" width="{slot * 0.7:.1f}" '
                         f'height="{count * scale:.1f}" fill="{colour}"><title>{day:%m-%d} 送达 {delivered} / '
                         f'{queued}</title></rect>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{height - 8}" text-anchor="middle" font-size="11">'
                     f'{day:%m-%d}</text>')
    parts.append("</svg>")
    return "".join(parts)
