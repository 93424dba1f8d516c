"""The answer every channel gives when the bot itself cannot: never leave a resident without 110/96110.

The text is the domain's ``utter_hotline_fallback`` response, so administrators edit it in
one place (and an edit put live is read at the next message); the constant below is only
used if ``domain.yml`` cannot be read at all.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

import yaml
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from actions.knowledge import domain_responses
from nlu.entities import redact

logger = logging.getLogger(__name__)

LAST_RESORT = "系统暂时忙，请稍后再试。拿不准是不是诈骗，请打96110反诈专线；如果已经转了钱，立刻打110报警。"


OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def response_text(name: str, default: str = LAST_RESORT) -> str:
    """The first text of a domain response, or ``default`` if domain.yml cannot be read."""
    try:
        return domain_responses()[name][0]["text"]
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        logger.exception("domain.yml has no response %s; using the built-in text", name)
        return default


def hotline_fallback_text() -> str:
    """The domain's fallback text (it names 96110 and 110)."""
    return response_text("utter_hotline_fallback")


def with_safety_net(on_new_message: OnNewMessage) -> OnNewMessage:
    """Wrap Rasa's message handler so a message that got no reply gets the hotline fallback.

    When the action server is down, an action fails, or the NLU raises, Rasa logs the error
    and sends nothing; the resident must still read 96110 and 110.
    """

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
