"""The web admin (Sanic, server-rendered pages, a little JavaScript for progress and the try-it chat).

    fraudbot admin serve [--port 5002]      http://127.0.0.1:5002/admin/

Every URL under ``/admin`` needs a signed-in session, except the login page; every POST
needs the session's CSRF token; content pages need the ``admin`` role, officers see the
overview, the alerts page and the review queue (without turning disputes into training
data). Edits are validated before they reach the draft, and the draft reaches the live bot only
through :class:`bot.admin.publish.Publisher`.

This module is the wiring: the shared state, the middleware that enforces those rules for
every URL, and the pages' blueprints (:mod:`bot.admin.routes`, one per area).
"""

from __future__ import annotations

from typing import Callable
from urllib.parse import quote

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.admin import content
from bot.admin.routes import BLUEPRINTS
from bot.admin.validation import Problem, validate_files
from bot.admin.web import OPEN_PATHS, SESSION_COOKIE, Admin, admin_of, csrf_matches, given_csrf, may_visit
from bot.config import AdminConfig

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
REQUEST_MAX_SIZE = 4 * 1024 * 1024  # the largest NLU file is ~100 kB


def create_app(config: AdminConfig | None = None, validate: Callable[[content.Files], list[Problem]] | None = None
               ) -> Sanic:
    """The admin app: ``config`` from the environment and the project's validator unless given (tests)."""
    app = Sanic("fraudbot_admin")
    app.config.REQUEST_MAX_SIZE = REQUEST_MAX_SIZE
    app.ctx.admin = Admin(config or AdminConfig.from_env(), validate or validate_files)
    app.register_middleware(refuse_anonymous, "request")
    app.register_middleware(harden, "response")
    for blueprint in BLUEPRINTS:
        app.blueprint(blueprint)
    return app


async def refuse_anonymous(request: Request) -> HTTPResponse | None:
    """Before any page: only ``/admin`` exists; a session is needed (except to sign in), a POST
    needs the session's CSRF token, and officers are refused the administrators' pages."""
    if not request.path.startswith("/admin"):
        return response.text("not found", status=404)
    if request.path in OPEN_PATHS:
        return None
    admin = admin_of(request)
    user = admin.accounts.user(request.cookies.get(SESSION_COOKIE))
    if user is None:
        if request.method == "GET" and "application/json" not in request.headers.get("accept", ""):
            return response.redirect(f"/admin/login?next={quote(request.path)}")
        return response.json({"error": "请先登录"}, status=401)
    request.ctx.user = user
    if request.method == "POST" and not csrf_matches(given_csrf(request), user.csrf):
        return response.text("页面已过期，请刷新后再试。", status=403)
    if not may_visit(user, request.path):
        return admin.page(request, "refused.html", status=403)
    return None


async def harden(_request: Request, reply: HTTPResponse) -> None:
    """Every answer, errors included, carries the security headers (a page may set its own first)."""
    for header, value in SECURITY_HEADERS.items():
        reply.headers.setdefault(header, value)
