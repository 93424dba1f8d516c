"""HTTP API for alerts, for the admin web page and other police systems.

Every request carries exactly ``Authorization: Bearer <FRAUDBOT_API_TOKEN>`` and the officer's
roster login in ``X-Officer``; without a configured token the API refuses everything.

    POST /alerts                 {"title", "body", "regions", "scenario"?, "severity"?, "expires_hours"?}
    GET  /alerts/<id>            delivery report per channel, with failure reasons
    POST /alerts/<id>/recall     (the alert's sender or an admin)
    GET  /audit?limit=N          (admins) who sent what to whom

Other systems send what they send: every request is checked here, and anything wrong gets a
4xx with ``{"error": "…"}`` saying what, never a 500. The server listens on 127.0.0.1 unless
``FRAUDBOT_ALERTS_API_HOST`` says otherwise (``fraudbot alert api``).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from typing import Any

from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.alerts.service import AlertService, InvalidAlert, Officer, Refused

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
"""An alert is at most 200 + 3,000 characters: anything far larger is not an alert."""

FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    # name: (accepted JSON types, required)
    "title": (str, True), "body": (str, True), "regions": ((str, list), True), "scenario": (str, False),
    "severity": (str, False), "expires_hours": ((int, float), False),
}
DEFAULT_EXPIRES_HOURS = 72


class BadRequest(ValueError):
    """The request cannot be read as an alert; the message says why (answered with 400)."""


def _error(message: str, status: int) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def bearer_token_matches(header: str, token: str) -> bool:
    """``header`` is exactly ``Bearer <token>`` (compared in constant time); a bare token is refused."""
    scheme, _, given = header.partition(" ")
    if not token or scheme != "Bearer" or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


def read_alert(raw: bytes) -> dict[str, Any]:
    """The alert fields of a request body, type-checked; :class:`BadRequest` says what is wrong."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as error:  # bad JSON, bad UTF-8, absurd nesting
        raise BadRequest("请求体不是有效的 JSON。") from error
    if not isinstance(data, dict):
        raise BadRequest("请求体必须是 JSON 对象。")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise BadRequest(f"未知字段：{', '.join(unknown)[:200]}")
    for name, (types, required) in FIELDS.items():
        if name not in data:
            if required:
                raise BadRequest(f"缺少字段：{name}")
            continue
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, types):
            raise BadRequest(f"字段 {name} 的类型不对。")
        if name == "regions" and isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise BadRequest("regions 必须是字符串，或字符串的列表。")
    return data


def create_app(service: AlertService | None = None, token: str | None = None) -> Sanic:
    app = Sanic("fraudbot_alerts")
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    service = service or AlertService()
    token = token if token is not None else os.environ.get("FRAUDBOT_API_TOKEN", "")

    def officer(request: Request, admin: bool = False) -> Officer:
        if not bearer_token_matches(request.headers.get("Authorization", ""), token):
            raise PermissionError("token")
        return service.authorize("login", request.headers.get("X-Officer"), admin=admin)

    def refused(error: Exception) -> HTTPResponse:
        if isinstance(error, Refused):
            return _error(str(error), 403)
        return _error("缺少或错误的 API 令牌（Authorization: Bearer <token>）。", 401)

    @app.exception(SanicException)
    async def sanic_error(request: Request, error: SanicException) -> HTTPResponse:
        """Sanic's own refusals (too large, not found, wrong method) as JSON too."""
        status = getattr(error, "status_code", 400) or 400
        if status == 413:
            return _error(f"请求体太大（最多 {MAX_BODY_BYTES // 1024} KB）。", 413)
        return _error(str(error) or "请求无效。", status)

    @app.exception(Exception)
    async def unexpected(request: Request, error: Exception) -> HTTPResponse:
        logger.exception("alerts API failed on %s %s", request.method, request.path)
        return _error("服务器内部错误，请稍后再试。", 500)

    @app.post("/alerts")
    async def send(request: Request) -> HTTPResponse:
        try:
            who = officer(request)
        except (PermissionError, Refused) as error:
            return refused(error)
        try:
            data = read_alert(request.body)
            expires_at = service.expires_in(data.get("expires_hours", DEFAULT_EXPIRES_HOURS))
            alert_id = service.create(who, data["title"], data["body"], data["regions"],
                                      data.get("scenario", "none"), data.get("severity", "high"), expires_at)
        except (BadRequest, InvalidAlert) as error:
            return _error(str(error), 400)
        report = service.status(alert_id)
        return response.json({"id": alert_id, "targets": sum(sum(s.values()) for s in report["channels"].values())},
                             status=201)

    @app.get("/alerts/<alert_id:int>")
    async def status(request: Request, alert_id: int) -> HTTPResponse:
        try:
            officer(request)
            return response.json(service.status(alert_id), default=str)
        except (PermissionError, Refused) as error:
            return refused(error)
        except InvalidAlert as error:
            return _error(str(error), 404)

    @app.post("/alerts/<alert_id:int>/recall")
    async def recall(request: Request, alert_id: int) -> HTTPResponse:
        try:
            service.recall(officer(request), alert_id)
        except (PermissionError, Refused) as error:
            return refused(error)
        except InvalidAlert as error:
            return _error(str(error), 404)
        return response.json({"id": alert_id, "recalled": True})

    @app.get("/audit")
    async def audit(request: Request) -> HTTPResponse:
        try:
            officer(request, admin=True)
        except (PermissionError, Refused) as error:
            return refused(error)
        limit = request.args.get("limit", "100")
        if not (limit.isascii() and limit.isdigit() and len(limit) <= 4 and 1 <= int(limit) <= 1000):
            return _error("limit 必须是 1 到 1000 之间的整数。", 400)
        return response.json(service.audit(int(limit)), default=str)

    return app
