"""警情通报 (``/admin/alerts``): officers and administrators send an alert and follow the recent ones.

The alert service decides who may send and what a valid alert is; this page only shows its answer.
A GET with ``title``, ``body``, ``scenario``, ``regions`` or ``severity`` in the query fills the form in
(the review queue's "起草警情通报" after an indicator is confirmed); only the officer's POST sends.
"""

from __future__ import annotations

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.admin.web import admin_of, signed_in_user
from bot.alerts.model import SEVERITIES
from bot.alerts.service import InvalidAlert, Refused
from core.knowledge import scenarios

blueprint = Blueprint("admin_alerts")
ALERT_HOURS = 72  # how long an alert sent from the page stays current


def prefilled(request: Request) -> dict[str, str]:
    """The form's starting values: the defaults, or a draft passed in the query (capped at what an alert
    may hold; an unknown scenario or severity keeps the default, so the select shows what will be sent)."""
    values = {"title": "", "body": "", "regions": "全部", "scenario": "none", "severity": "high"}
    if request.method != "GET":
        return values
    given = {key: request.args.get(key, "").strip() for key in values}
    for key, most in (("title", 200), ("body", 3000), ("regions", 200)):
        if given[key]:
            values[key] = given[key][:most]
    if given["scenario"] in scenarios():
        values["scenario"] = given["scenario"]
    if given["severity"] in SEVERITIES:
        values["severity"] = given["severity"]
    return values


@blueprint.route("/admin/alerts", methods=["GET", "POST"])
async def alerts(request: Request) -> HTTPResponse:
    admin = admin_of(request)
    error, values = "", prefilled(request)
    if request.method == "POST":
        values = {key: request.form.get(key, "") for key in values}
        try:
            officer = admin.alerts.authorize("login", signed_in_user(request).login)
            admin.alerts.create(officer, values["title"], values["body"], values["regions"], values["scenario"],
                                values["severity"], admin.alerts.expires_in(ALERT_HOURS))
            return response.redirect("/admin/alerts?saved=1", status=303)
        except (InvalidAlert, Refused) as refused:
            error = str(refused)
    recent = [(alert, admin.alerts.status(alert.id)) for alert in admin.alerts.recent()]
    return admin.page(request, "alerts.html", status=422 if error else 200, values=values, error=error,
                      recent=recent, names={sid: info.name for sid, info in scenarios().items()},
                      drafted=request.method == "GET" and bool(request.args.get("title")))
