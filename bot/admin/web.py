"""What every admin page shares: the state built once per process, rendering, the signed-in
user, the CSRF and role checks, the cookies, and reading the edit forms back.

The middleware of :mod:`bot.admin.app` and the blueprints of :mod:`bot.admin.routes` all use
these, so a rule such as "officers see only these pages" or "a POST carries the session's
token" is written once.
"""

from __future__ import annotations

import asyncio
import hmac
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.admin import content
from bot.admin.accounts import Accounts, User
from bot.admin.content import Draft
from bot.admin.history import History
from bot.admin.publish import Publisher
from bot.admin.stats import CHINA
from bot.admin.validation import Problem
from bot.alerts.service import AlertService
from bot.config import AdminConfig
from bot.retention import retention_days
from bot.review import open_counts

SESSION_COOKIE = "fraudbot_admin"
LOGIN_COOKIE = "fraudbot_login"
OPEN_PATHS = {"/admin/login"}
OFFICER_PATHS = {"/admin/", "/admin/alerts", "/admin/logout", "/admin/static/admin.js", "/admin/review",
                 "/admin/review/indicator", "/admin/review/reports", "/admin/review/disputes",
                 "/admin/daily", "/admin/daily.csv", "/admin/daily/draft", "/admin/daily/dismiss",
                 "/admin/daily/script", "/admin/campaigns", "/admin/campaigns/pause", "/admin/campaigns/results"}
"""Officers see these; everything else is the administrators'. Turning a disputed verdict into a training
example (``/admin/review/example``) is not here: it edits the bot's training data, which is theirs."""
TEMPLATES = Path(__file__).with_name("templates")


class Admin:
    """Everything the pages need, built once per process (kept on ``app.ctx.admin``)."""

    def __init__(self, config: AdminConfig, validate: Callable[[content.Files], list[Problem]]) -> None:
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
        self.jinja.globals["retention_policy"] = retention_policy

    def page(self, request: Request, template: str, status: int = 200, **values: Any) -> HTTPResponse:
        """A template rendered with what the layout needs on every page (user, CSRF token, whether
        the draft or the live files moved since the administrator last looked, and how much waits in the
        review queue: the navigation's badge, so that reports are seen without opening the queue)."""
        user = current_user(request)
        edited, live_moved = self.draft.follow_live() if user and user.is_admin else (False, False)
        html = self.jinja.get_template(template).render(
            user=user, csrf=user.csrf if user else "", path=request.path, saved=request.args.get("saved"),
            draft_changed=edited, live_moved=live_moved, waiting=open_counts() if user else {},
            **values)
        return response.html(html, status=status)

    async def save(self, path: str, text: str) -> list[Problem]:
        """Validate the draft with this file changed; write it to the draft only if valid."""
        files = self.draft.with_changes({path: text})
        problems = await asyncio.get_running_loop().run_in_executor(None, self.validate, files)
        if not problems:
            self.draft.save({path: text})
        return problems


def retention_policy() -> str:
    """The line the overview and the 研判 page show, so that officers know what is kept (read at each page:
    ``FRAUDBOT_RETENTION_DAYS`` is the retention job's setting, :func:`bot.retention.retention_days`)."""
    return f"对话保存 {retention_days()} 天后删除，统计数字长期保留"


def admin_of(request: Request) -> Admin:
    """The process's :class:`Admin`, which :func:`bot.admin.app.create_app` put on the app."""
    return request.app.ctx.admin


def current_user(request: Request) -> User | None:
    """The signed-in user, or None on the open pages (the login page)."""
    return getattr(request.ctx, "user", None)


def signed_in_user(request: Request) -> User:
    """The signed-in user of a page behind the login (the middleware let no one else through)."""
    user = current_user(request)
    if user is None:
        raise RuntimeError(f"{request.path} was reached without a session")
    return user


def given_csrf(request: Request) -> str:
    """The CSRF token a POST carries: the form's ``csrf`` field, or the header the page script sends."""
    return str((request.form.get("csrf") if request.form else None) or request.headers.get("X-CSRF-Token", ""))


def csrf_matches(given: str, expected: str) -> bool:
    """Compared in constant time, so the answer's timing says nothing about the token."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def may_visit(user: User, path: str) -> bool:
    """Administrators see every page; officers the overview, the alerts, the review queue, the 每日研判 and
    what signing out needs."""
    return user.is_admin or path in OFFICER_PATHS


def set_cookie(reply: HTTPResponse, name: str, value: str, config: AdminConfig, max_age: int = 12 * 3600) -> None:
    """Our cookies are for the admin's pages only, never readable by scripts or sent cross-site."""
    reply.cookies[name] = value
    cookie = reply.cookies[name]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = "/admin"
    cookie["max-age"] = max_age
    if config.secure_cookies:
        cookie["secure"] = True


def china_time(moment: datetime) -> str:
    """Stored times are UTC (SQLite gives them back without a zone); administrators read China time."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def client_address(request: Request) -> str:
    """The client's address for login throttling: the proxy's forwarded address only when Sanic is
    configured to trust it (``PROXIES_COUNT`` / ``REAL_IP_HEADER``), else the peer's."""
    return request.remote_addr or request.ip or "unknown"


def form_count(form: Any, key: str, most: int = 500) -> int:
    """How many rows a form says it has; a forged or missing count means none."""
    value = str(form.get(key, "0"))
    return min(int(value), most) if value.isdecimal() else 0  # isdigit() passes "²", which int() refuses


def field_problems(problems: list[Problem], subject: str = "") -> dict[str, list[str]]:
    """The messages shown under each field of an edit page (only this subject's, when given)."""
    by_field: dict[str, list[str]] = {}
    for problem in problems:
        if problem.field and (not subject or not problem.subject or problem.subject == subject):
            by_field.setdefault(problem.field, []).append(problem.message)
    return by_field


def general_problems(problems: list[Problem], fields: set[str], subject: str = "") -> list[str]:
    """The messages that have no field of their own on this page (shown at its top)."""
    shown = {f for f in field_problems(problems, subject) if f in fields}
    return [p.message for p in problems if p.field not in shown]
