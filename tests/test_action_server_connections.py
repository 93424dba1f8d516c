"""The action server outlasts Rasa's idle connections (actions/server.py KEEP_ALIVE_SECONDS)."""

from __future__ import annotations

import asyncio

import aiohttp

from actions.server import create_app


def test_the_action_server_keeps_idle_connections_longer_than_rasa_reuses_them() -> None:
    """Rasa's kept session reuses an idle connection for aiohttp's keep-alive time; if the server closed it
    sooner, a call could land on a closing connection and the resident would get the fallback, not the verdict
    (seen once in CI: "Cannot write to closing transport" on action_report)."""

    async def client_keepalive() -> float:
        connector = aiohttp.TCPConnector()
        try:
            return float(connector._keepalive_timeout)
        finally:
            await connector.close()

    assert create_app().config.KEEP_ALIVE_TIMEOUT > asyncio.run(client_keepalive())
