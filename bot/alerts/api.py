"""HTTP API for alerts, for the admin web page and other police systems.

Every request carries ``Authorization: Bearer <FRAUDBOT_API_TOKEN>`` and the officer's roster
login in ``X-Officer``; without a configured token the API refuses everything.

    POST /alerts                 {"title", "body", "regions", "scenario"?, "severity"?, "expires_hours"?}
    GET  /alerts/<id>            delivery report per channel, with failure reasons
    POST /alerts/<id>/recall
    GET  /audit                  (admins) who sent what to whom
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.alerts.service import AlertService, InvalidAlert, Officer, Refused


def create_app(service: AlertService | None = None, token: str | None = None) -> Sanic:
    app = Sanic("fraudbot_alerts")
    service = service or AlertService()
    token = token if token is not None else os.environ.get("FRAUDBOT_API_TOKEN", "")

    def officer(request: Request, admin: bool = False) -> Officer:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            raise PermissionError("token")
        return service.authorize("login", request.headers.get("X-Officer"), admin=admin)

    def refused(error: Exception) -> HTTPResponse:
        if isinstance(error, Refused):
            return response.json({"error": str(error)}, status=403)
        return response.json({"error": "missing or wrong API token"}, status=401)

    @app.post("/alerts")
    async def send(request: Request) -> HTTPResponse:
        try:
            who = officer(request)
        except (PermissionError, Refused) as error:
            return refused(error)
        try:
            data: dict[str, Any] = request.json
            if not isinstance(data, dict):
                raise InvalidAlert("请求体必须是 JSON 对象。")
            alert_id = service.create(who, str(data.get("title", "")), str(data.get("body", "")),
                                      data.get("regions") or "", str(data.get("scenario", "none")),
                                      str(data.get("severity", "high")),
                                      service.expires_in(float(data.get("expires_hours", 72))))
        except InvalidAlert as error:
            return response.json({"error": str(error)}, status=400)
        except Exception:  # malformed JSON or values
            return response.json({"error": "请求体不是有效的 JSON。"}, status=400)
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
            return response.json({"error": str(error)}, status=404)

    @app.post("/alerts/<alert_id:int>/recall")
    async def recall(request: Request, alert_id: int) -> HTTPResponse:
        try:
            service.recall(officer(request), alert_id)
        except (PermissionError, Refused) as error:
            return refused(error)
        except InvalidAlert as error:
            return response.json({"error": str(error)}, status=404)
        return response.json({"id": alert_id, "recalled": True})

    @app.get("/audit")
    async def audit(request: Request) -> HTTPResponse:
        try:
            officer(request, admin=True)
        except (PermissionError, Refused) as error:
            return refused(error)
        return response.json(service.audit(int(request.args.get("limit", 100))), default=str)

    return app
