"""Signing in and out (``/admin/login``, ``/admin/logout``) and the page script every page loads.

The login form has its own CSRF token in a short-lived cookie, since there is no session yet
to hold one; a refused login always answers the same way (see :mod:`bot.admin.accounts`).
"""

from __future__ import annotations

import asyncio
import secrets

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.admin.accounts import LoginRefused
from bot.admin.web import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    TEMPLATES,
    admin_of,
    client_address,
    csrf_matches,
    set_cookie,
)

blueprint = Blueprint("admin_session")
LOGIN_FORM_LIFETIME = 3600  # seconds a login page's token stays valid


@blueprint.get("/admin/login")
async def login_page(request: Request) -> HTTPResponse:
    return _login_form(request, target=request.args.get("next", "/admin/"))


@blueprint.post("/admin/login")
async def login(request: Request) -> HTTPResponse:
    admin = admin_of(request)
    form = request.form or {}
    target = form.get("next") or "/admin/"
    target = target if target.startswith("/admin") else "/admin/"
    if not csrf_matches(str(form.get("csrf", "")), request.cookies.get(LOGIN_COOKIE, "")):
        return _login_form(request, target, error="页面已过期，请重新登录。", status=403)
    try:  # scrypt takes ~50 ms: off the event loop, so other pages keep answering
        token = await asyncio.get_running_loop().run_in_executor(
            None, admin.accounts.login, str(form.get("login", "")).strip(), str(form.get("password", "")),
            client_address(request))
    except LoginRefused as error:
        return _login_form(request, target, error=str(error), status=401)
    reply = response.redirect(target, status=303)
    set_cookie(reply, SESSION_COOKIE, token, admin.config)
    del reply.cookies[LOGIN_COOKIE]
    return reply


@blueprint.post("/admin/logout")
async def logout(request: Request) -> HTTPResponse:
    admin_of(request).accounts.logout(request.cookies.get(SESSION_COOKIE, ""))
    reply = response.redirect("/admin/login", status=303)
    del reply.cookies[SESSION_COOKIE]
    return reply


@blueprint.get("/admin/static/admin.js")
async def script(_request: Request) -> HTTPResponse:
    return await response.file(TEMPLATES / "admin.js", mime_type="application/javascript")


def _login_form(request: Request, target: str, error: str = "", status: int = 200) -> HTTPResponse:
    """The login page with a fresh login token, in the page and in its cookie."""
    admin = admin_of(request)
    token = secrets.token_urlsafe(16)
    reply = admin.page(request, "login.html", status=status, error=error, login_csrf=token, next=target)
    set_cookie(reply, LOGIN_COOKIE, token, admin.config, max_age=LOGIN_FORM_LIFETIME)
    return reply
