"""Rasa's REST channel with a safety net: a resident always gets an answer.

When the action server is down, an action fails, or the NLU raises, Rasa logs the error
and sends nothing. This channel notices that nothing was sent for a message and answers
with the hotline fallback (96110 / 110) instead.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint

from bot.fallback import hotline_fallback_text
from nlu.entities import redact

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def with_safety_net(on_new_message: OnNewMessage) -> OnNewMessage:
    """Wrap Rasa's message handler so a message that got no reply gets the hotline fallback."""

    async def handle(message: UserMessage) -> None:
        output = message.output_channel
        sent_before = len(output.messages) if isinstance(output, CollectingOutputChannel) else None
        try:
            await on_new_message(message)
        except Exception:
            logger.exception("message from %s failed: %s", message.sender_id,
                             redact((message.text or "")[:200]))
        if sent_before is not None and len(output.messages) == sent_before:
            logger.warning("no reply for %s; sending the hotline fallback", message.sender_id)
            await output.send_text_message(message.sender_id, hotline_fallback_text())

    return handle


class SafeRestInput(RestInput):
    """``/webhooks/rest/webhook``, answering with 96110/110 whenever the bot says nothing."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        return super().blueprint(with_safety_net(on_new_message))
