"""The overview (``/admin/``): consultations per scenario and day, from the live bot's tracker store and, for the
days whose conversations the retention job deleted, from the counts it kept in the project's store."""

from __future__ import annotations

import asyncio
from functools import partial

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.admin.stats import chart_svg, overview
from bot.admin.web import admin_of
from bot.config import database_url
from bot.retention import tracker_db_url
from core.knowledge import scenarios

blueprint = Blueprint("admin_overview")


@blueprint.get("/admin/")
async def home(request: Request) -> HTTPResponse:
    admin = admin_of(request)
    url = tracker_db_url(admin.config.endpoints) if admin.config.endpoints.exists() else None
    stats = await asyncio.get_running_loop().run_in_executor(  # database queries
        None, partial(overview, url, store_url=database_url()))  # days the retention job rolled up still count
    names = {sid: info.name for sid, info in scenarios().items()}
    return admin.page(request, "overview.html", stats=stats, chart=chart_svg(stats, names), names=names)
