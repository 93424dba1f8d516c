"""Rasa's REST channel with a safety net: a resident always gets an answer (see :mod:`bot.fallback`)."""

from __future__ import annotations

from rasa.core.channels.rest import RestInput
from sanic import Blueprint

from bot.fallback import OnNewMessage, with_safety_net


class SafeRestInput(RestInput):
    """``/webhooks/rest/webhook``, answering with 96110/110 whenever the bot says nothing."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        return super().blueprint(with_safety_net(on_new_message))
