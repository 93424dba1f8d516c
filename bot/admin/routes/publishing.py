"""Trying the draft, putting it live, and the history of live versions: ``/admin/try…``,
``/admin/publish``, ``/admin/draft/discard``, ``/admin/job``, ``/admin/history…``.

The work itself (training a candidate, its private Rasa, putting files live, restoring) is
:class:`bot.admin.publish.Publisher`'s; these routes start it and report on it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sanic import Blueprint, Sanic, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.admin import content
from bot.admin.content import training_key
from bot.admin.publish import PublishFailed
from bot.admin.web import Admin, admin_of, signed_in_user

blueprint = Blueprint("admin_publishing")
MESSAGE_CHARACTERS = 2000  # what the live door reads of a message, so the try-it chat reads no more


def publish_state(admin: Admin) -> dict[str, Any]:
    """What the draft changes against the live files, and whether putting it live needs training."""
    files, live = admin.draft.files(), admin.draft.live_files()
    return {"changed": content.changed(live, files), "diff": content.unified_diff(live, files),
            "needs_training": training_key(files) != training_key(live)}


# --- put live ----------------------------------------------------------------------------------

@blueprint.get("/admin/publish")
async def publish_page(request: Request) -> HTTPResponse:
    admin = admin_of(request)
    return admin.page(request, "publish.html", **publish_state(admin), job=admin.publisher.job)


@blueprint.post("/admin/publish")
async def publish(request: Request) -> HTTPResponse:
    admin = admin_of(request)
    try:
        admin.publisher.publish(signed_in_user(request).login, request.form.get("summary", "").strip())
    except PublishFailed as error:
        return admin.page(request, "publish.html", status=409, **publish_state(admin), job=admin.publisher.job,
                          error=str(error))
    return response.redirect("/admin/publish", status=303)


@blueprint.post("/admin/draft/discard")
async def discard(request: Request) -> HTTPResponse:
    admin_of(request).draft.reset()
    return response.redirect("/admin/publish", status=303)


@blueprint.get("/admin/job")
async def job(request: Request) -> HTTPResponse:
    current = admin_of(request).publisher.job
    return response.json(current.as_dict() if current else {"state": "none"})


# --- try the draft with a candidate model --------------------------------------------------------

@blueprint.get("/admin/try")
async def try_page(request: Request) -> HTTPResponse:
    admin = admin_of(request)
    return admin.page(request, "try.html", **publish_state(admin), candidate=admin.publisher.candidate,
                      job=admin.publisher.job)


@blueprint.post("/admin/try/start")
async def try_start(request: Request) -> HTTPResponse:
    publisher = admin_of(request).publisher
    model = publisher.candidate_model()
    if model is None:
        return response.json({"state": "needs_training"})
    asyncio.get_running_loop().create_task(publisher.candidate.ensure(model))
    return response.json({"state": publisher.candidate.state})


@blueprint.get("/admin/try/status")
async def try_status(request: Request) -> HTTPResponse:
    publisher = admin_of(request).publisher
    candidate = publisher.candidate
    current = publisher.candidate_model()
    stale = candidate.state == "ready" and current is not None and candidate.model != current
    return response.json({"state": candidate.state, "error": candidate.error,
                          "needs_training": current is None, "stale": stale})


@blueprint.post("/admin/try/train")
async def try_train(request: Request) -> HTTPResponse:
    try:
        admin_of(request).publisher.train_candidate(signed_in_user(request).login)
    except PublishFailed as error:
        return response.json({"error": str(error)}, status=409)
    return response.json({"state": "training"})


@blueprint.post("/admin/try/message")
async def try_message(request: Request) -> HTTPResponse:
    try:
        body = request.json if isinstance(request.json, dict) else {}
    except InvalidUsage:  # not JSON at all
        body = {}
    text = str(body.get("text", "")).strip()[:MESSAGE_CHARACTERS]
    if not text:
        return response.json({"error": "请输入一句话"}, status=400)
    try:
        messages = await admin_of(request).publisher.candidate.say(
            f"admin-try-{signed_in_user(request).login}", text)
    except PublishFailed as error:
        return response.json({"error": str(error)}, status=409)
    return response.json({"messages": messages})


@blueprint.listener("after_server_stop")
async def stop_candidate(app: Sanic, _loop: Any) -> None:
    """The candidate's Rasa and action server are our children: they stop with the admin."""
    await app.ctx.admin.publisher.candidate.stop()


# --- history of live versions ----------------------------------------------------------------------

@blueprint.get("/admin/history")
async def history(request: Request) -> HTTPResponse:
    admin = admin_of(request)
    return admin.page(request, "history.html", versions=admin.history.list(), job=admin.publisher.job)


@blueprint.get("/admin/history/<version_id:int>")
async def version(request: Request, version_id: int) -> HTTPResponse:
    admin = admin_of(request)
    found = admin.history.get(version_id)
    if found is None:
        return admin.page(request, "missing.html", status=404, what=f"版本 #{version_id}")
    return admin.page(request, "version.html", version=found[0])


@blueprint.post("/admin/history/<version_id:int>/restore")
async def restore(request: Request, version_id: int) -> HTTPResponse:
    admin = admin_of(request)
    try:
        admin.publisher.restore(version_id, signed_in_user(request).login)
    except PublishFailed as error:
        return admin.page(request, "history.html", status=409, versions=admin.history.list(),
                          job=admin.publisher.job, error=str(error))
    return response.redirect("/admin/publish", status=303)
