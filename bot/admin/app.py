"""The web admin (Sanic, server-rendered pages, a little JavaScript for progress and the try-it chat).

    fraudbot admin serve [--port 5002]      http://127.0.0.1:5002/admin/

Every URL under ``/admin`` needs a signed-in session, except the login page; every POST
needs the session's CSRF token; content pages need the ``admin`` role, officers see the
overview and the alerts page. Edits are validated before they reach the draft, and the
draft reaches the live bot only through :class:`bot.admin.publish.Publisher`.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Sanic, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.admin import content
from bot.admin.accounts import Accounts, LoginRefused, User
from bot.admin.content import DOMAIN, REGIONS, REPORT_LINES, RUNTIME_PREFIX, SCENARIOS, Draft, training_key
from bot.admin.history import History
from bot.admin.publish import Publisher, PublishFailed
from bot.admin.stats import CHINA, chart_svg, overview, tracker_db_url
from bot.admin.validation import Problem, validate_files
from bot.alerts.service import AlertService, InvalidAlert, Refused
from bot.config import AdminConfig
from core.knowledge import scenarios
from nlu.scenario_ids import NONE_SCENARIO, SCENARIO_IDS

SESSION_COOKIE = "fraudbot_admin"
# The recognition rules read by the action server at every reply (no retraining), edited as YAML.
RULE_FILES = {
    "safeguards.yml": ("真的反诈提醒和保护：区号+96110来电、12381预警短信、柜员询问、民警让装国家反诈中心APP。"
                       "说中了就告诉居民这是真的。"),
    "moments.yml": ("居民已经做了什么（报警、给了验证码、点了链接……）、害怕和绝望、联系方式、是谁在问、"
                    "银行通知、怎么举报、查号码。"),
    "money_sent.yml": "说明“钱已经转出去了”的说法，以及确认被骗的说法（被拉黑、人没了）。",
    "english.yml": "英文诈骗信息：判断用的说法和英文回复。",
}
LOGIN_COOKIE = "fraudbot_login"
OPEN_PATHS = {"/admin/login"}
OFFICER_PATHS = {"/admin/", "/admin/alerts", "/admin/logout", "/admin/static/admin.js"}
TEMPLATES = Path(__file__).with_name("templates")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Admin:
    """Everything the pages need, built once per process."""

    def __init__(self, config: AdminConfig,
                 validate: Callable[[content.Files], list[Problem]] = validate_files) -> None:
        self.config = config
        self.accounts = Accounts()
        self.draft = Draft(config.live_root, config.admin_dir / "draft")
        self.history = History()
        self.history.ensure_initial(self.draft.live_files())
        self.validate = validate
        self.publisher = Publisher(config, self.draft, self.history, validate)
        self.alerts = AlertService()
        self.jinja = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
        self.jinja.filters["china_time"] = china_time

    def page(self, request: Request, template: str, status: int = 200, **values: Any) -> HTTPResponse:
        user: User | None = getattr(request.ctx, "user", None)
        edited, live_moved = self.draft.follow_live() if user and user.is_admin else (False, False)
        html = self.jinja.get_template(template).render(
            user=user, csrf=user.csrf if user else "", path=request.path, saved=request.args.get("saved"),
            draft_changed=edited, live_moved=live_moved,
            **values)
        return response.html(html, status=status)

    async def save(self, path: str, text: str) -> list[Problem]:
        """Validate the draft with this file changed; write it to the draft only if valid."""
        files = self.draft.with_changes({path: text})
        problems = await asyncio.get_running_loop().run_in_executor(None, self.validate, files)
        if not problems:
            self.draft.save({path: text})
        return problems


def china_time(moment: datetime) -> str:
    """Stored times are UTC (SQLite gives them back without a zone); administrators read China time."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def client_address(request: Request) -> str:
    """The client's address for login throttling: the proxy's forwarded address only when Sanic is
    configured to trust it (``PROXIES_COUNT`` / ``REAL_IP_HEADER``), else the peer's."""
    return request.remote_addr or request.ip or "unknown"


def variation_fields(count: int) -> set[str]:
    return {f"{kind}_{i}" for i in range(count) for kind in ("text", "buttons")}


def form_count(form: Any, key: str, most: int = 500) -> int:
    """How many rows a form says it has; a forged or missing count means none."""
    value = str(form.get(key, "0"))
    return min(int(value), most) if value.isdigit() else 0


def field_problems(problems: list[Problem], subject: str = "") -> dict[str, list[str]]:
    by_field: dict[str, list[str]] = {}
    for problem in problems:
        if problem.field and (not subject or not problem.subject or problem.subject == subject):
            by_field.setdefault(problem.field, []).append(problem.message)
    return by_field


def general_problems(problems: list[Problem], fields: set[str], subject: str = "") -> list[str]:
    """The messages that have no field of their own on this page (shown at its top)."""
    shown = {f for f in field_problems(problems, subject) if f in fields}
    return [p.message for p in problems if p.field not in shown]


def create_app(config: AdminConfig | None = None, validate: Callable[[content.Files], list[Problem]] | None = None
               ) -> Sanic:
    app = Sanic("fraudbot_admin")
    app.config.REQUEST_MAX_SIZE = 4 * 1024 * 1024  # the largest NLU file is ~100 kB
    admin = Admin(config or AdminConfig.from_env(), validate or validate_files)
    app.ctx.admin = admin

    @app.middleware("request")
    async def authenticate(request: Request) -> HTTPResponse | None:
        if not request.path.startswith("/admin"):
            return response.text("not found", status=404)
        if request.path in OPEN_PATHS:
            return None
        user = admin.accounts.user(request.cookies.get(SESSION_COOKIE))
        if user is None:
            if request.method == "GET" and "application/json" not in request.headers.get("accept", ""):
                return response.redirect(f"/admin/login?next={quote(request.path)}")
            return response.json({"error": "请先登录"}, status=401)
        request.ctx.user = user
        if request.method == "POST":
            given = (request.form.get("csrf") if request.form else None) or request.headers.get("X-CSRF-Token", "")
            if not hmac.compare_digest(str(given).encode(), user.csrf.encode()):
                return response.text("页面已过期，请刷新后再试。", status=403)
        if not user.is_admin and request.path not in OFFICER_PATHS:
            return admin.page(request, "refused.html", status=403)
        return None

    @app.middleware("response")
    async def harden(_request: Request, reply: HTTPResponse) -> None:
        for header, value in SECURITY_HEADERS.items():
            reply.headers.setdefault(header, value)

    # --- login -------------------------------------------------------------------------

    @app.get("/admin/login")
    async def login_page(request: Request) -> HTTPResponse:
        token = secrets.token_urlsafe(16)
        reply = admin.page(request, "login.html", login_csrf=token, next=request.args.get("next", "/admin/"))
        _cookie(reply, LOGIN_COOKIE, token, admin.config, max_age=3600)
        return reply

    @app.post("/admin/login")
    async def login(request: Request) -> HTTPResponse:
        form = request.form or {}
        expected = request.cookies.get(LOGIN_COOKIE, "")
        target = form.get("next") or "/admin/"
        target = target if target.startswith("/admin") else "/admin/"
        if not expected or not hmac.compare_digest(str(form.get("csrf", "")).encode(), expected.encode()):
            return await _login_again(request, "页面已过期，请重新登录。", target)
        try:  # scrypt takes ~50 ms: off the event loop, so other pages keep answering
            token = await asyncio.get_running_loop().run_in_executor(
                None, admin.accounts.login, str(form.get("login", "")).strip(), str(form.get("password", "")),
                client_address(request))
        except LoginRefused as error:
            return await _login_again(request, str(error), target, status=401)
        reply = response.redirect(target, status=303)
        _cookie(reply, SESSION_COOKIE, token, admin.config)
        del reply.cookies[LOGIN_COOKIE]
        return reply

    async def _login_again(request: Request, error: str, target: str, status: int = 403) -> HTTPResponse:
        token = secrets.token_urlsafe(16)
        reply = admin.page(request, "login.html", status=status, error=error, login_csrf=token, next=target)
        _cookie(reply, LOGIN_COOKIE, token, admin.config, max_age=3600)
        return reply

    @app.post("/admin/logout")
    async def logout(request: Request) -> HTTPResponse:
        admin.accounts.logout(request.cookies.get(SESSION_COOKIE, ""))
        reply = response.redirect("/admin/login", status=303)
        del reply.cookies[SESSION_COOKIE]
        return reply

    @app.get("/admin/static/admin.js")
    async def script(_request: Request) -> HTTPResponse:
        return await response.file(TEMPLATES / "admin.js", mime_type="application/javascript")

    # --- overview ----------------------------------------------------------------------

    @app.get("/admin/")
    async def home(request: Request) -> HTTPResponse:
        url = tracker_db_url(admin.config.endpoints) if admin.config.endpoints.exists() else None
        stats = await asyncio.get_running_loop().run_in_executor(None, overview, url)
        names = {sid: info.name for sid, info in scenarios().items()}
        return admin.page(request, "overview.html", stats=stats, chart=chart_svg(stats, names), names=names)

    # --- responses ---------------------------------------------------------------------

    @app.get("/admin/responses")
    async def responses_list(request: Request) -> HTTPResponse:
        domain = yaml.safe_load(admin.draft.read(DOMAIN)) or {}
        return admin.page(request, "responses.html", responses=domain.get("responses") or {})

    @app.route("/admin/responses/<name>", methods=["GET", "POST"])
    async def response_edit(request: Request, name: str) -> HTTPResponse:
        domain = yaml.safe_load(admin.draft.read(DOMAIN)) or {}
        variations = (domain.get("responses") or {}).get(name)
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
        return admin.page(request, "response_edit.html", status=422 if problems else 200, name=name,
                          rows=rows, errors=field_problems(problems, name),
                          general=general_problems(problems, variation_fields(len(rows) + 1), name))

    # --- scenarios: name, advice, which report lines --------------------------------------

    @app.get("/admin/scenarios")
    async def scenarios_list(request: Request) -> HTTPResponse:
        data = yaml.safe_load(admin.draft.read(SCENARIOS)) or {}
        return admin.page(request, "scenarios.html", scenarios=data, order=[*SCENARIO_IDS, NONE_SCENARIO])

    @app.route("/admin/scenarios/<sid>", methods=["GET", "POST"])
    async def scenario_edit(request: Request, sid: str) -> HTTPResponse:
        data = yaml.safe_load(admin.draft.read(SCENARIOS)) or {}
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
        lines = yaml.safe_load(admin.draft.read(REPORT_LINES)) or {}
        return admin.page(request, "scenario_edit.html", status=422 if problems else 200, sid=sid, values=values,
                          situations=lines.get("situations") or {}, lines=lines.get("lines") or {},
                          errors=field_problems(problems, sid),
                          general=general_problems(problems, {"name", "truth", "advice", "situation"}, sid))

    # --- report lines and stop-payment numbers ---------------------------------------------

    @app.route("/admin/lines", methods=["GET", "POST"])
    async def lines_edit(request: Request) -> HTTPResponse:
        data = yaml.safe_load(admin.draft.read(REPORT_LINES)) or {}
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
        return admin.page(request, "lines.html", status=422 if problems else 200, lines=lines, banks=banks,
                          errors=field_problems(problems), general=general_problems(problems, fields))

    # --- regional numbers ------------------------------------------------------------------

    @app.route("/admin/regions", methods=["GET", "POST"])
    async def regions_edit(request: Request) -> HTTPResponse:
        data = yaml.safe_load(admin.draft.read(REGIONS)) or {}
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
        return admin.page(request, "regions.html", status=422 if problems else 200, regions=regions,
                          errors=field_problems(problems), general=general_problems(problems, fields))

    # --- NLU examples ----------------------------------------------------------------------

    def nlu_paths() -> list[str]:
        return [p for p in admin.draft.files() if p.startswith("nlu/data/")]

    @app.get("/admin/examples")
    async def examples_list(request: Request) -> HTTPResponse:
        files = [(path, content.example_blocks(path, admin.draft.read(path))) for path in nlu_paths()]
        return admin.page(request, "examples.html", files=files)

    @app.route("/admin/examples/<path:path>", methods=["GET", "POST"])
    async def examples_edit(request: Request, path: str) -> HTTPResponse:
        if path not in nlu_paths():
            return admin.page(request, "missing.html", status=404, what=f"例句文件 {path}")
        blocks = content.example_blocks(path, admin.draft.read(path))
        texts = {b["index"]: "\n".join(b["examples"]) for b in blocks}
        problems: list[Problem] = []
        if request.method == "POST":
            texts = {b["index"]: request.form.get(f"block_{b['index']}", "") for b in blocks}
            problems = await admin.save(path, content.edit_examples(path, admin.draft.read(path), texts))
            if not problems:
                return response.redirect(f"/admin/examples/{path}?saved=1", status=303)
        return admin.page(request, "examples_edit.html", status=422 if problems else 200, file=path, blocks=blocks,
                          texts=texts, errors=field_problems(problems),
                          general=general_problems(problems, {f"block_{i}" for i in texts}),
                          names={sid: info.name for sid, info in scenarios().items()})

    # --- stories and rules -----------------------------------------------------------------

    def story_paths() -> list[str]:
        return [p for p in admin.draft.files() if p.startswith("stories/")]

    @app.get("/admin/stories")
    async def stories_list(request: Request) -> HTTPResponse:
        return response.redirect(f"/admin/stories/{story_paths()[0].removeprefix('stories/')}")

    async def edit_yaml(request: Request, path: str, url: str) -> tuple[str, list[Problem], HTTPResponse | None]:
        """A whole content file edited as YAML: its text, and on POST the draft saved when the
        checks pass (a redirect to ``url``) or the problems to show next to the text."""
        text = admin.draft.read(path)
        if request.method != "POST":
            return text, [], None
        text = request.form.get("yaml", "").replace("\r\n", "\n")
        problems = await admin.save(path, text)
        return text, problems, None if problems else response.redirect(f"{url}?saved=1", status=303)

    @app.route("/admin/stories/<name>", methods=["GET", "POST"])
    async def stories_edit(request: Request, name: str) -> HTTPResponse:
        path = f"stories/{name}"
        if path not in story_paths():
            return admin.page(request, "missing.html", status=404, what=f"故事文件 {name}")
        text, problems, saved = await edit_yaml(request, path, f"/admin/stories/{name}")
        if saved:
            return saved
        domain = yaml.safe_load(admin.draft.read(DOMAIN)) or {}
        intents = [next(iter(i)) if isinstance(i, dict) else str(i) for i in domain.get("intents") or ()]
        actions = [*(domain.get("responses") or {}), *(domain.get("actions") or ()), *(domain.get("forms") or {})]
        return admin.page(request, "stories.html", status=422 if problems else 200, name=name, text=text,
                          files=[p.removeprefix("stories/") for p in story_paths()],
                          general=[p.message for p in problems], intents=intents, actions=actions)

    # --- recognition rules: what the bot hears (moments, safeguards, money words, English) ---------

    @app.get("/admin/rules")
    async def rules_list(request: Request) -> HTTPResponse:
        return response.redirect(f"/admin/rules/{next(iter(RULE_FILES))}")

    @app.route("/admin/rules/<name>", methods=["GET", "POST"])
    async def rules_edit(request: Request, name: str) -> HTTPResponse:
        path = f"{RUNTIME_PREFIX}{name}"
        if name not in RULE_FILES or path not in admin.draft.files():
            return admin.page(request, "missing.html", status=404, what=f"识别规则 {name}")
        text, problems, saved = await edit_yaml(request, path, f"/admin/rules/{name}")
        return saved or admin.page(request, "rules.html", status=422 if problems else 200, name=name, text=text,
                                   about=RULE_FILES[name], files=RULE_FILES, general=[p.message for p in problems])

    # --- try, put live, history --------------------------------------------------------------

    def publish_state() -> dict[str, Any]:
        files, live = admin.draft.files(), admin.draft.live_files()
        return {"changed": content.changed(live, files), "diff": content.unified_diff(live, files),
                "needs_training": training_key(files) != training_key(live)}

    @app.get("/admin/publish")
    async def publish_page(request: Request) -> HTTPResponse:
        return admin.page(request, "publish.html", **publish_state(), job=admin.publisher.job)

    @app.post("/admin/publish")
    async def publish(request: Request) -> HTTPResponse:
        try:
            admin.publisher.publish(request.ctx.user.login, request.form.get("summary", "").strip())
        except PublishFailed as error:
            return admin.page(request, "publish.html", status=409, **publish_state(), job=admin.publisher.job,
                              error=str(error))
        return response.redirect("/admin/publish", status=303)

    @app.post("/admin/draft/discard")
    async def discard(_request: Request) -> HTTPResponse:
        admin.draft.reset()
        return response.redirect("/admin/publish", status=303)

    @app.get("/admin/job")
    async def job(_request: Request) -> HTTPResponse:
        current = admin.publisher.job
        return response.json(current.as_dict() if current else {"state": "none"})

    @app.get("/admin/try")
    async def try_page(request: Request) -> HTTPResponse:
        return admin.page(request, "try.html", **publish_state(), candidate=admin.publisher.candidate,
                          job=admin.publisher.job)

    @app.post("/admin/try/start")
    async def try_start(_request: Request) -> HTTPResponse:
        model = admin.publisher.candidate_model()
        if model is None:
            return response.json({"state": "needs_training"})
        asyncio.get_running_loop().create_task(admin.publisher.candidate.ensure(model))
        return response.json({"state": admin.publisher.candidate.state})

    @app.get("/admin/try/status")
    async def try_status(_request: Request) -> HTTPResponse:
        candidate = admin.publisher.candidate
        current = admin.publisher.candidate_model()
        stale = candidate.state == "ready" and current is not None and candidate.model != current
        return response.json({"state": candidate.state, "error": candidate.error,
                              "needs_training": current is None, "stale": stale})

    @app.post("/admin/try/train")
    async def try_train(request: Request) -> HTTPResponse:
        try:
            admin.publisher.train_candidate(request.ctx.user.login)
        except PublishFailed as error:
            return response.json({"error": str(error)}, status=409)
        return response.json({"state": "training"})

    @app.post("/admin/try/message")
    async def try_message(request: Request) -> HTTPResponse:
        try:
            body = request.json if isinstance(request.json, dict) else {}
        except InvalidUsage:  # not JSON at all
            body = {}
        text = str(body.get("text", "")).strip()[:2000]
        if not text:
            return response.json({"error": "请输入一句话"}, status=400)
        try:
            messages = await admin.publisher.candidate.say(f"admin-try-{request.ctx.user.login}", text)
        except PublishFailed as error:
            return response.json({"error": str(error)}, status=409)
        return response.json({"messages": messages})

    @app.get("/admin/history")
    async def history(request: Request) -> HTTPResponse:
        return admin.page(request, "history.html", versions=admin.history.list(), job=admin.publisher.job)

    @app.get("/admin/history/<version_id:int>")
    async def version(request: Request, version_id: int) -> HTTPResponse:
        found = admin.history.get(version_id)
        if found is None:
            return admin.page(request, "missing.html", status=404, what=f"版本 #{version_id}")
        return admin.page(request, "version.html", version=found[0])

    @app.post("/admin/history/<version_id:int>/restore")
    async def restore(request: Request, version_id: int) -> HTTPResponse:
        try:
            admin.publisher.restore(version_id, request.ctx.user.login)
        except PublishFailed as error:
            return admin.page(request, "history.html", status=409, versions=admin.history.list(),
                              job=admin.publisher.job, error=str(error))
        return response.redirect("/admin/publish", status=303)

    # --- alerts (officers and admins) ---------------------------------------------------------

    @app.route("/admin/alerts", methods=["GET", "POST"])
    async def alerts(request: Request) -> HTTPResponse:
        error, values = "", {"title": "", "body": "", "regions": "全部", "scenario": "none", "severity": "high"}
        if request.method == "POST":
            values = {key: request.form.get(key, "") for key in values}
            try:
                officer = admin.alerts.authorize("login", request.ctx.user.login)
                admin.alerts.create(officer, values["title"], values["body"], values["regions"], values["scenario"],
                                    values["severity"], admin.alerts.expires_in(72))
                return response.redirect("/admin/alerts?saved=1", status=303)
            except (InvalidAlert, Refused) as refused:
                error = str(refused)
        recent = [(alert, admin.alerts.status(alert.id)) for alert in admin.alerts.recent()]
        return admin.page(request, "alerts.html", status=422 if error else 200, values=values, error=error,
                          recent=recent, names={sid: info.name for sid, info in scenarios().items()})

    @app.listener("after_server_stop")
    async def stop_candidate(_app: Sanic, _loop: Any) -> None:
        await admin.publisher.candidate.stop()

    return app


def _cookie(reply: HTTPResponse, name: str, value: str, config: AdminConfig, max_age: int = 12 * 3600) -> None:
    reply.cookies[name] = value
    cookie = reply.cookies[name]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = "/admin"
    cookie["max-age"] = max_age
    if config.secure_cookies:
        cookie["secure"] = True
