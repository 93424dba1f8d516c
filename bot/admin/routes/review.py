"""The review queue (``/admin/review``): what residents reported and the verdicts they disputed, decided
by officers and administrators.

The grouping and the audited decisions are :mod:`bot.review`'s; this page shows the groups and turns a
button into one decision. Two decisions reach further than the store:

- confirming an indicator offers a 警情通报 draft: a link to the alerts page with its form filled in
  from the indicator and what residents sent (nothing is sent until the officer submits that form);
- a disputed verdict made into a training example (``/admin/review/example``, administrators only)
  is written into the admin's draft through :meth:`Admin.save`, so the whole draft is validated first,
  and it reaches residents only through the publish page's validate → train → publish.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial
from typing import Any, Callable, TypeVar
from urllib.parse import urlencode

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import known, review
from bot.admin import content
from bot.admin.web import Admin, admin_of, signed_in_user
from core.knowledge import scenarios
from nlu.scenario_ids import NONE_SCENARIO, SCENARIO_IDS

blueprint = Blueprint("admin_review")
T = TypeVar("T")

KIND_NAMES = {"phone": "电话号码", "domain": "网址", "bank_card": "银行卡号", "im_account": "QQ/微信号", "app": "APP"}
CLAIM_NAMES = {"scam": "是诈骗", "not_scam": "不是诈骗", "wrong_type": "类型不对", "unanswered": "还没回答"}
RISK_NAMES = {"high": "高风险", "medium": "需警惕", "low": "未发现明显诈骗特征", "": "（没有记录）"}
CHANNEL_NAMES = {"rest": "网页/App", "telegram": "Telegram", "wechat": "微信公众号", "wecom": "企业微信"}
MAX_EXPIRY_DAYS = 3650
MAX_IDS = review.GROUP_SCAN  # a group never holds more rows than the queue groups at once
SAMPLE_IN_ALERT = 300  # characters of a resident's message quoted in a 警情通报 draft


def actor(request: Request) -> str:
    """Who decided, as the audit log and ``confirmed_by`` keep it (the CLI writes ``cli:<officer>``)."""
    return f"web:{signed_in_user(request).login}"


async def off_loop(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A store query or write, off the event loop (other pages keep answering)."""
    return await asyncio.get_running_loop().run_in_executor(None, partial(call, *args, **kwargs))


def form_ids(request: Request) -> list[int]:
    """The rows of a group, as the page listed them (``12,11,10``); anything else is dropped. A forged
    list can only reach other open rows, which the same user may decide anyway."""
    raw = str(request.form.get("ids", "") if request.form else "")
    return [int(part) for part in raw.split(",") if part.strip().isdecimal()][:MAX_IDS]


# --- reading the queue -----------------------------------------------------------------------------

def read_queue() -> dict[str, Any]:
    """Everything the page shows, in one call off the event loop."""
    return {"indicators": review.indicator_groups(), "texts": review.report_text_groups(),
            "disputes": review.dispute_groups()}


def alert_draft(kind: str, value: str) -> dict[str, str] | None:
    """The 警情通报 an officer may send after confirming: title and body filled in from the indicator and the
    latest report; the officer picks the scam type (guessing it would load the whole known-scam library into
    the admin). None unless the indicator really is confirmed now."""
    found = [item for item in known.lookup([(kind, value)]) if item.state == known.CONFIRMED and item.value == value]
    if not found:
        return None
    name = KIND_NAMES.get(kind, "号码")
    sample = review.indicator_sample(kind, value)
    quoted = f"居民举报时发来：“{sample[:SAMPLE_IN_ALERT]}”。" if sample else ""
    body = (f"经民警核实，{name}{value}已被确认为诈骗{name}。{quoted}"
            f"遇到这个{name}，请不要转账、不要说验证码、不要点链接。拿不准请打96110，已经转账请马上打110。")
    return {"title": f"警惕诈骗{name}{value}", "body": body, "scenario": NONE_SCENARIO}


# --- the page ----------------------------------------------------------------------------------------

NOTICES = {
    "confirm": "已确认为诈骗{name}：{value}。居民再发来它，机器人会直接说“已被公安机关确认为诈骗{name}”。",
    "reject": "已驳回：{value} 不是诈骗{name}，居民的举报不再被提起。",
    "expire": "已设为过期：{value} 不再匹配。",
    "accept": "已加入诈骗库（处理了 {count} 条举报）。居民再发来相似的内容，机器人会说这是同一种骗局。",
    "dismiss": "已忽略 {count} 条。",
    "example": "例句已放进草稿（{file}），还没有生效：要在「上线」页面检查、训练并上线之后，机器人才会按它来判断。",
    "nothing": "这些已经被别人处理过了。",
}


def notice(request: Request) -> tuple[str, dict[str, str] | None]:
    """The line shown after a decision (from the redirect's query), and for a confirmation the alert draft."""
    done = request.args.get("done", "")
    if done not in NOTICES:
        return "", None
    kind, value = request.args.get("kind", ""), request.args.get("value", "")
    text = NOTICES[done].format(name=KIND_NAMES.get(kind, "号码"), value=value, count=request.args.get("count", "0"),
                                file=request.args.get("file", ""))
    return text, alert_draft(kind, value) if done == "confirm" and kind in KIND_NAMES and value else None


async def queue_page(request: Request, status: int = 200, error: str = "") -> HTTPResponse:
    admin = admin_of(request)
    queue = await off_loop(read_queue)
    done, draft = (await off_loop(notice, request)) if not error else ("", None)
    names = {sid: info.name for sid, info in scenarios().items()}
    return admin.page(request, "review.html", status=status, error=error, done=done, done_kind=request.args.get("done"),
                      draft_link=f"/admin/alerts?{urlencode(draft)}" if draft else "", names=names,
                      scam_ids=[sid for sid in SCENARIO_IDS if sid in names], none_id=NONE_SCENARIO,
                      kinds=KIND_NAMES, claims=CLAIM_NAMES, risk_names=RISK_NAMES, channels=CHANNEL_NAMES, **queue)


def decided(**query: object) -> HTTPResponse:
    return response.redirect(f"/admin/review?{urlencode({k: v for k, v in query.items() if v is not None})}",
                             status=303)


@blueprint.get("/admin/review")
async def review_queue(request: Request) -> HTTPResponse:
    return await queue_page(request)


@blueprint.post("/admin/review/indicator")
async def decide_indicator(request: Request) -> HTTPResponse:
    form = request.form
    decision, kind, value = form.get("decision", ""), form.get("kind", ""), form.get("value", "")
    days = form.get("expires_days", "").strip()
    if decision not in ("confirm", "reject", "expire") or kind not in KIND_NAMES:
        return await queue_page(request, 422, "这个操作看不懂，请刷新页面后再试。")
    if days and not (days.isdecimal() and 1 <= int(days) <= MAX_EXPIRY_DAYS):
        return await queue_page(request, 422, f"有效期要写 1 到 {MAX_EXPIRY_DAYS} 之间的天数，或者留空（一直有效）。")
    expires_in = timedelta(days=int(days)) if days and decision == "confirm" else None
    try:
        result = await off_loop(review.decide_indicator, actor(request), decision, kind, value, expires_in=expires_in)
    except ValueError:
        return await queue_page(request, 422, f"「{value}」不是一个{KIND_NAMES[kind]}。")
    return decided(done=decision, kind=result.kind, value=result.value)


@blueprint.post("/admin/review/reports")
async def decide_reports(request: Request) -> HTTPResponse:
    form = request.form
    decision, scenario = form.get("decision", ""), form.get("scenario", "")
    if decision not in ("accept", "dismiss") or (scenario and scenario not in SCENARIO_IDS):
        return await queue_page(request, 422, "这个操作看不懂，请刷新页面后再试。")
    count = await off_loop(review.decide_reports, actor(request), form_ids(request), decision,
                           scenario=scenario if decision == "accept" else "",
                           title=form.get("title", "").strip()[:256] if decision == "accept" else "")
    return decided(done=decision if count else "nothing", count=count)


@blueprint.post("/admin/review/disputes")
async def dismiss_disputes(request: Request) -> HTTPResponse:
    if request.form.get("decision", "") != "dismiss":
        return await queue_page(request, 422, "这个操作看不懂，请刷新页面后再试。")
    texts = await off_loop(review.decide_disputes, actor(request), form_ids(request), "dismiss")
    return decided(done="dismiss" if texts else "nothing", count=len(texts))


@blueprint.post("/admin/review/example")
async def make_example(request: Request) -> HTTPResponse:
    """Administrators only (not in ``OFFICER_PATHS``): the group's text into the draft, then the decision."""
    admin = admin_of(request)
    scenario, ids = request.form.get("scenario", ""), form_ids(request)
    if scenario not in (*SCENARIO_IDS, NONE_SCENARIO):
        return await queue_page(request, 422, "请先选择这句话属于哪种诈骗类型（或“不是诈骗”），再生成训练样例。")
    text = await off_loop(review.example_text, ids)
    if text is None:
        return decided(done="nothing")
    problems = await add_to_draft(admin, scenario, text)
    if problems:
        return await queue_page(request, 422, "没有放进草稿，草稿检查没有通过：\n" + "\n".join(problems))
    await off_loop(review.decide_disputes, actor(request), ids, "example", scenario=scenario)
    return decided(done="example", file=content.example_file(scenario))


async def add_to_draft(admin: Admin, scenario: str, text: str) -> list[str]:
    """The example appended to its scenario's block in the draft, validated with the whole draft first
    (:meth:`Admin.save`); the problems' messages when it is refused."""
    path = content.example_file(scenario)
    try:
        changed = content.add_example(path, admin.draft.read(path), scenario, text)
    except ValueError as error:
        return [str(error)]
    return [problem.message for problem in await admin.save(path, changed)]
