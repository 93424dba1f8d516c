"""``GET /health`` on the Rasa server's port: is this bot really answering residents?

Rasa's own ``/`` says "hello" even when every conversation is forgetting its turns (a
read-only tracker store) or every action fails (the action server is down): replies still
go out, through the safety net, so nobody notices. This channel answers what the process
knows from :mod:`bot.health` (the tracker store reports its failures there), plus a quick
look at the action server's own ``/health``:

    200 {"status": "ok"}
    200 {"status": "degraded", "problems": {"action_server": "...", "tracker_store": "..."}}

Registered in credentials.yml like any channel; its URL prefix "/" makes Rasa mount it at
the root (Rasa joins ``/webhooks/`` with the prefix) and the route is ``/health``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable
from urllib.parse import urljoin

import aiohttp
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import health

ACTION_CHECK_SECONDS = 1.0
"""A monitoring probe must not hang: an action server slower than this counts as unreachable."""


def action_health_url(action_url: str) -> str:
    """The action server's ``/health`` from its webhook URL (``…/webhook`` -> ``…/health``)."""
    if action_url.rstrip("/").endswith("/webhook"):
        return action_url.rstrip("/").removesuffix("/webhook") + "/health"
    return urljoin(action_url, "/health")


async def check_action_server(action_url: str, timeout: float = ACTION_CHECK_SECONDS) -> str | None:
    """``None`` if the action server answers its ``/health`` in time, else why not."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.get(action_health_url(action_url)) as answer:
                return None if answer.status == 200 else f"/health answered HTTP {answer.status}"
    except asyncio.TimeoutError:  # not the built-in TimeoutError before Python 3.11
        return f"no answer within {timeout:g} s"
    except (aiohttp.ClientError, OSError) as error:
        return f"unreachable ({type(error).__name__})"


async def report(agent: Any) -> dict[str, Any]:
    """The process's health with the action server checked now (and recorded in :mod:`bot.health`)."""
    endpoint = getattr(agent, "action_endpoint", None)
    url = getattr(endpoint, "url", None)
    if url:
        problem = await check_action_server(url)
        if problem:
            health.degraded("action_server", problem)
        else:
            health.recovered("action_server")
    state = health.status()
    if agent is None or not agent.is_ready():
        problems = {**state.get("problems", {}), "model": "no model loaded"}
        state = {"status": "degraded", "problems": problems}
    return state


class HealthInput(InputChannel):
    """Not a chat channel: it only adds ``GET /health`` to the Rasa server."""

    @classmethod
    def name(cls) -> str:
        return "health"

    def url_prefix(self) -> str:
        return "/"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        probe = Blueprint("fraudbot_health", __name__)

        @probe.route("/health", methods=["GET"])
        async def health_route(request: Request) -> HTTPResponse:
            return response.json(await report(getattr(request.app.ctx, "agent", None)))

        return probe
