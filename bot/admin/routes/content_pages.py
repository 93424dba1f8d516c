"""The content pages: responses, scenarios, report lines, regional numbers, NLU examples,
stories and the recognition rules (``/admin/responses…`` to ``/admin/rules…``).

Every edit goes the same way: the page's form is turned back into the file's text
(:mod:`bot.admin.content`), the whole draft is validated with that change (:meth:`Admin.save`),
and only a valid draft is written; otherwise the page comes back with 422 and the problems next
to their fields. Nothing here touches the live files (that is the publishing pages' work).
"""

from __future__ import annotations

from urllib.parse import quote

import yaml
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.admin import content
from bot.admin.content import DOMAIN, REGIONS, REPORT_LINES, RUNTIME_PREFIX, SCENARIOS
from bot.admin.validation import Problem
from bot.admin.web import Admin, admin_of, field_problems, form_count, general_problems
from core.knowledge import scenarios
from nlu.scenario_ids import NONE_SCENARIO, SCENARIO_IDS

blueprint = Blueprint("admin_content")

# The recognition rules read by the action server at every reply (no retraining), edited as YAML.
RULE_FILES = {
    "safeguards.yml": ("真的反诈提醒和保护：区号+96110来电、12381预警短信、柜员询问、民警让装国家反诈中心APP。"
                       "说中了就告诉居民这是真的。"),
    "moments.yml": ("居民已经做了什么（报警、给了验证码、点了链接……）、害怕和绝望、联系方式、是谁在问、"
                    "银行通知、怎么举报、查号码。"),
    "money_sent.yml": "说明“钱已经转出去了”的说法，以及确认被骗的说法（被拉黑、人没了）。",
    "english.yml": "英文诈骗信息：判断用的说法和英文回复。",
}


def status_of(problems: list[Problem]) -> int:
    """An edit page shown again with its problems is 422, so scripts and tests see the refusal."""
    return 422 if problems else 200


def draft_yaml(admin: Admin, path: str) -> dict:
    """A draft file read as YAML (an empty file is an empty mapping)."""
    return yaml.safe_load(admin.draft.read(path)) or {}


def variation_fields(count: int) -> set[str]:
    """The fields of a response's edit page with ``count`` variations."""
    return {f"{kind}_{i}" for i in range(count) for kind in ("text", "buttons")}


# --- responses ---------------------------------------------------------------------------------

@blueprint.get("/admin/responses")
async def responses_list(request: Request) -> HTTPResponse:
    admin = admin_of(request)
    return admin.page(request, "responses.html", responses=draft_yaml(admin, DOMAIN).get("responses") or {})


@blueprint.route("/admin/responses/<name>", methods=["GET", "POST"])
async def response_edit(request: Request, name: str) -> HTTPResponse:
    admin = admin_of(request)
    variations = (draft_yaml(admin, DOMAIN).get("responses") or {}).get(name)
    if variations is None:
        return admin.page(request, "missing.html", status=404, what=f"回复 {name}")
    rows = [(v.get("text", ""), content.format_buttons(v.get("buttons"))) for v in variations]
    problems: list[Problem] = []
    if request.method == "POST":
        form = request.form
        count = form_count(form, "count")
        rows = [(form.get(f"text_{i}", ""), form.get(f"buttons_{i}", "")) for i in range(count + 1)]
        problems = await admin.save(DOMAIN, content.edit_response(admin.draft.read(DOMAIN), name, rows))
        if not problems:
            return response.redirect(f"/admin/responses/{quote(name)}?saved=1", status=303)
    return admin.page(request, "response_edit.html", status=status_of(problems), name=name,
                      rows=rows, errors=field_problems(problems, name),
                      general=general_problems(problems, variation_fields(len(rows) + 1), name))


# --- scenarios: name, advice, which report lines ---------------------------------------------------

@blueprint.get("/admin/scenarios")
async def scenarios_list(request: Request) -> HTTPResponse:
    admin = admin_of(request)
    return admin.page(request, "scenarios.html", scenarios=draft_yaml(admin, SCENARIOS),
                      order=[*SCENARIO_IDS, NONE_SCENARIO])


@blueprint.route("/admin/scenarios/<sid>", methods=["GET", "POST"])
async def scenario_edit(request: Request, sid: str) -> HTTPResponse:
    admin = admin_of(request)
    data = draft_yaml(admin, SCENARIOS)
    if sid not in data:
        return admin.page(request, "missing.html", status=404, what=f"场景 {sid}")
    spec = dict(data[sid])
    values = {"name": spec.get("name", ""), "situation": spec.get("situation", ""), "truth": spec.get("truth", ""),
              "stop": spec.get("stop", ""), "advice": "\n".join(spec.get("advice") or ()),
              "ask_on_call": bool(spec.get("ask_on_call"))}
    problems: list[Problem] = []
    if request.method == "POST":
        form = request.form
        values = {key: form.get(key, "") for key in ("name", "situation", "truth", "stop", "advice")}
        values["ask_on_call"] = form.get("ask_on_call") == "on"
        problems = await admin.save(SCENARIOS, content.edit_scenario(admin.draft.read(SCENARIOS), sid, values))
        if not problems:
            return response.redirect(f"/admin/scenarios/{quote(sid)}?saved=1", status=303)
    lines = draft_yaml(admin, REPORT_LINES)
    return admin.page(request, "scenario_edit.html", status=status_of(problems), sid=sid, values=values,
                      situations=lines.get("situations") or {}, lines=lines.get("lines") or {},
                      errors=field_problems(problems, sid),
                      general=general_problems(problems, {"name", "truth", "advice", "situation"}, sid))


# --- report lines and stop-payment numbers ---------------------------------------------------------

@blueprint.route("/admin/lines", methods=["GET", "POST"])
async def lines_edit(request: Request) -> HTTPResponse:
    admin = admin_of(request)
    data = draft_yaml(admin, REPORT_LINES)
    lines = {key: dict(value) for key, value in (data.get("lines") or {}).items()}
    banks = [(str(k), str(v)) for k, v in (data.get("banks") or {}).items()] + [("", "")] * 2
    problems: list[Problem] = []
    if request.method == "POST":
        form = request.form
        lines = {key: {f: form.get(f"line_{key}_{f}", "") for f in ("number", "name", "use")} for key in lines}
        banks = [(form.get(f"bank_name_{i}", ""), form.get(f"bank_{i}", ""))
                 for i in range(form_count(form, "bank_count"))]
        problems = await admin.save(REPORT_LINES, content.edit_report_lines(
            admin.draft.read(REPORT_LINES), lines, banks))
        if not problems:
            return response.redirect("/admin/lines?saved=1", status=303)
    fields = {f"line_{key}_number" for key in lines} | {f"bank_{i}" for i in range(len(banks))}
    return admin.page(request, "lines.html", status=status_of(problems), lines=lines, banks=banks,
                      errors=field_problems(problems), general=general_problems(problems, fields))


# --- regional numbers ------------------------------------------------------------------------------

@blueprint.route("/admin/regions", methods=["GET", "POST"])
async def regions_edit(request: Request) -> HTTPResponse:
    admin = admin_of(request)
    data = draft_yaml(admin, REGIONS)
    regions = [(key, (value or {}).get("name", ""), content.format_region_lines((value or {}).get("lines")))
               for key, value in data.items()] + [("", "", "")]
    problems: list[Problem] = []
    if request.method == "POST":
        form = request.form
        regions = [(form.get(f"key_{i}", ""), form.get(f"name_{i}", ""), form.get(f"region_{i}", ""))
                   for i in range(form_count(form, "count"))]
        problems = await admin.save(REGIONS, content.edit_regions(admin.draft.read(REGIONS), regions))
        if not problems:
            return response.redirect("/admin/regions?saved=1", status=303)
    fields = {f"region_{i}" for i in range(len(regions))}
    return admin.page(request, "regions.html", status=status_of(problems), regions=regions,
                      errors=field_problems(problems), general=general_problems(problems, fields))


# --- NLU examples ----------------------------------------------------------------------------------

def nlu_paths(admin: Admin) -> list[str]:
    return [p for p in admin.draft.files() if p.startswith("nlu/data/")]


@blueprint.get("/admin/examples")
async def examples_list(request: Request) -> HTTPResponse:
    admin = admin_of(request)
    files = [(path, content.example_blocks(path, admin.draft.read(path))) for path in nlu_paths(admin)]
    return admin.page(request, "examples.html", files=files)


@blueprint.route("/admin/examples/<path:path>", methods=["GET", "POST"])
async def examples_edit(request: Request, path: str) -> HTTPResponse:
    admin = admin_of(request)
    if path not in nlu_paths(admin):
        return admin.page(request, "missing.html", status=404, what=f"例句文件 {path}")
    blocks = content.example_blocks(path, admin.draft.read(path))
    texts = {b["index"]: "\n".join(b["examples"]) for b in blocks}
    problems: list[Problem] = []
    if request.method == "POST":
        texts = {b["index"]: request.form.get(f"block_{b['index']}", "") for b in blocks}
        problems = await admin.save(path, content.edit_examples(path, admin.draft.read(path), texts))
        if not problems:
            return response.redirect(f"/admin/examples/{path}?saved=1", status=303)
    return admin.page(request, "examples_edit.html", status=status_of(problems), file=path, blocks=blocks,
                      texts=texts, errors=field_problems(problems),
                      general=general_problems(problems, {f"block_{i}" for i in texts}),
                      names={sid: info.name for sid, info in scenarios().items()})


# --- whole files edited as YAML: stories and the recognition rules ---------------------------------

async def edit_yaml(request: Request, path: str, url: str) -> tuple[str, list[Problem], HTTPResponse | None]:
    """A whole content file edited as YAML: its text, and on POST the draft saved when the
    checks pass (a redirect to ``url``) or the problems to show next to the text."""
    admin = admin_of(request)
    text = admin.draft.read(path)
    if request.method != "POST":
        return text, [], None
    text = request.form.get("yaml", "").replace("\r\n", "\n")
    problems = await admin.save(path, text)
    return text, problems, None if problems else response.redirect(f"{url}?saved=1", status=303)


def story_paths(admin: Admin) -> list[str]:
    return [p for p in admin.draft.files() if p.startswith("stories/")]


@blueprint.get("/admin/stories")
async def stories_list(request: Request) -> HTTPResponse:
    return response.redirect(f"/admin/stories/{story_paths(admin_of(request))[0].removeprefix('stories/')}")


@blueprint.route("/admin/stories/<name>", methods=["GET", "POST"])
async def stories_edit(request: Request, name: str) -> HTTPResponse:
    admin = admin_of(request)
    path = f"stories/{name}"
    if path not in story_paths(admin):
        return admin.page(request, "missing.html", status=404, what=f"故事文件 {name}")
    text, problems, saved = await edit_yaml(request, path, f"/admin/stories/{name}")
    if saved:
        return saved
    domain = draft_yaml(admin, DOMAIN)
    intents = [next(iter(i)) if isinstance(i, dict) else str(i) for i in domain.get("intents") or ()]
    actions = [*(domain.get("responses") or {}), *(domain.get("actions") or ()), *(domain.get("forms") or {})]
    return admin.page(request, "stories.html", status=status_of(problems), name=name, text=text,
                      files=[p.removeprefix("stories/") for p in story_paths(admin)],
                      general=[p.message for p in problems], intents=intents, actions=actions)


@blueprint.get("/admin/rules")
async def rules_list(_request: Request) -> HTTPResponse:
    return response.redirect(f"/admin/rules/{next(iter(RULE_FILES))}")


@blueprint.route("/admin/rules/<name>", methods=["GET", "POST"])
async def rules_edit(request: Request, name: str) -> HTTPResponse:
    admin = admin_of(request)
    path = f"{RUNTIME_PREFIX}{name}"
    if name not in RULE_FILES or path not in admin.draft.files():
        return admin.page(request, "missing.html", status=404, what=f"识别规则 {name}")
    text, problems, saved = await edit_yaml(request, path, f"/admin/rules/{name}")
    return saved or admin.page(request, "rules.html", status=status_of(problems), name=name, text=text,
                               about=RULE_FILES[name], files=RULE_FILES, general=[p.message for p in problems])
