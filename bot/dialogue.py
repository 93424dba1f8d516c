"""The live bot's whole dialogue in one process, for ``fraudbot check``.

``fraudbot check`` must show exactly what a resident reads: the same door as the channels
(:func:`bot.inbound.clean_text`, :func:`bot.fallback.with_safety_net`), the model's own policies,
and the real action server with its NLG endpoint. The action server's Sanic app is served on a
loopback port inside this process's event loop, and Rasa's Agent talks to it over HTTP exactly
as the deployed bot does; conversations are kept in memory only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.fallback import with_safety_net
from bot.inbound import clean_text
from bot.nlu_client import DEFAULT_MODEL, PROJECT_ROOT
from bot.processes import free_port


class Dialogue:
    """A loaded bot: ``await Dialogue.start()``, then ``await say(text)`` per turn, ``await stop()``."""

    def __init__(self, agent: Any, server: Any, sender: str) -> None:
        self._agent = agent
        self._server = server
        self._sender = sender
        self._handle = with_safety_net(agent.handle_message)

    @classmethod
    async def start(cls, model: Path = DEFAULT_MODEL, sender: str = "fraudbot-check") -> Dialogue:
        import os

        from rasa.core.agent import Agent
        from rasa.utils.endpoints import EndpointConfig

        from actions.server import create_app
        from bot import rasa_fixes

        rasa_fixes.install()

        model = Path(model).resolve()
        if not model.exists():
            raise FileNotFoundError(f"no trained model at {model}: run `make train` first")
        os.chdir(PROJECT_ROOT)  # config.yml names the spaCy pipeline relative to the project root
        port = free_port()
        app = create_app()
        server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True,
                                         access_log=False)
        await server.startup()
        base = f"http://127.0.0.1:{port}"
        agent = Agent.load(str(model), action_endpoint=EndpointConfig(f"{base}/webhook", enable_selective_domain=True),
                           generator=EndpointConfig(f"{base}/nlg"))
        return cls(agent, server, sender)

    async def say(self, text: str) -> list[dict[str, Any]]:
        """The messages the bot sends for ``text``, as the next turn of this conversation."""
        from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

        output = CollectingOutputChannel()
        message = UserMessage(clean_text(text).text, output, self._sender, input_channel="rest")
        await self._handle(message)
        return list(output.messages)

    async def show(self, image: bytes) -> list[dict[str, Any]]:
        """The messages the bot sends for a picture, as the next turn (read, then consulted as text)."""
        from rasa.core.channels.channel import CollectingOutputChannel

        from bot.channels.pictures import answer_picture

        output = CollectingOutputChannel()
        await answer_picture(image, self._handle, output, self._sender, "rest")
        return list(output.messages)

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()
