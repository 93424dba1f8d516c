"""The answer every channel gives when the bot itself cannot: never leave a resident without 110/96110.

The text is the domain's ``utter_hotline_fallback`` response, so administrators edit it in
one place (and an edit put live is read at the next message); the constant below is only
used if ``domain.yml`` cannot be read at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import traceback
from typing import Any, Awaitable, Callable

import yaml
from rasa.core.channels.channel import OutputChannel, UserMessage

from bot.config import reply_timeout
from bot.inbound import MAX_TEXT_CHARS
from core.knowledge import domain_responses
from core.verdict import readable
from nlu.entities import find_entities

logger = logging.getLogger(__name__)

LAST_RESORT = "系统暂时忙，请稍后再试。拿不准是不是诈骗，请打96110反诈专线；如果已经转了钱，立刻打110报警。"
"""Also the answer when the bot took too long: "I did not understand" would be untrue then."""

TRUNCATED_NOTICE = (f"您发来的内容比较长，我只读了前{MAX_TEXT_CHARS}个字。把最关键的部分（对方是谁、让您做什么）"
                    "单独发给我，我能答得更准；拿不准也可以直接打96110反诈专线问一问。")
"""Added after the answer when a channel cut a resident's text (see :func:`bot.inbound.clean_text`)."""


_PAYLOAD = re.compile(r"/[A-Za-z_][A-Za-z0-9_]{0,63}(\{.{0,2000}\})?", re.DOTALL)

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


def with_safety_net(on_new_message: OnNewMessage, timeout: float | None = None) -> OnNewMessage:
    """Wrap Rasa's message handler so every message gets an answer, within ``timeout`` seconds.

    When the action server is down, an action fails, or the NLU raises, Rasa logs the error
    and sends nothing; when the action server hangs, Rasa waits up to 300 s. Either way the
    resident must still read 96110 and 110, and soon. ``timeout`` defaults to
    FRAUDBOT_REPLY_TIMEOUT, read once here when the channel is set up.

    The limit bounds waiting (action server, NLG, tracker store, the conversation's lock), not
    NLU work that holds the event loop: that is bounded by the length cap of :mod:`bot.inbound`.
    A message that misses the limit is answered with the hotlines and still finishes, so it is
    not lost from the conversation. Nothing a resident
    wrote is logged here, only its length and the channel.
    """
    limit = reply_timeout() if timeout is None else timeout

    async def handle(message: UserMessage) -> None:
        output = message.output_channel
        if not worth_reading(message.text or ""):
            await output.send_text_message(message.sender_id, hotline_fallback_text())
            return
        sent_before = _sent_count(output)
        handling = asyncio.ensure_future(on_new_message(message))
        try:
            await asyncio.wait_for(asyncio.shield(handling), limit)
        except asyncio.TimeoutError:
            logger.warning("no answer within %.1f s on %s (%d characters); sending the hotline fallback",
                           limit, message.input_channel, len(message.text or ""))
            _finish_in_background(handling)
            await output.send_text_message(message.sender_id, LAST_RESORT)
            return
        except Exception as error:  # whatever broke, the resident gets the hotlines
            logger.error("message on %s (%d characters) failed: %s", message.input_channel,
                         len(message.text or ""), failure(error))
        if sent_before is not None and _sent_count(output) == sent_before:
            logger.warning("no reply on %s; sending the hotline fallback", message.input_channel)
            await output.send_text_message(message.sender_id, hotline_fallback_text())

    return handle


_unfinished: set[asyncio.Future] = set()


def _finish_in_background(handling: asyncio.Future) -> None:
    """Let a late message finish instead of cancelling it: it is still stored in the conversation.

    A message can be late because it waits for its conversation's lock (another replica died
    holding it) or for a slow action server. Cancelling it would drop the resident's turn from
    the conversation; finished late, the dialogue stays whole (a channel that pushes, such as
    Telegram, also delivers the real answer after the hotline text).
    """
    _unfinished.add(handling)

    def done(task: asyncio.Future) -> None:
        _unfinished.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a late message failed: %s", failure(task.exception()))

    handling.add_done_callback(done)


def worth_reading(text: str) -> bool:
    """Whether the NLU should see ``text`` at all.

    Symbols, SQL, stray letters and bare digits hold nothing to judge; the intent classifier
    still picks some intent for them (goodbye, money sent …), so they are answered here with
    the could-not-read text naming 96110 and 110. Button payloads (``/intent{…}``) pass.
    """
    if text.startswith("/"):
        return _payload(text)
    return readable(text, [{"entity": found.label} for found in find_entities(text)])


def _payload(text: str) -> bool:
    """A button payload as Rasa reads it: ``/intent`` or ``/intent{json object}``, nothing else."""
    match = _PAYLOAD.fullmatch(text)
    if not match:
        return False
    if not match.group(1):
        return True
    try:
        return isinstance(json.loads(match.group(1)), dict)
    except ValueError:
        return False


def _sent_count(output: OutputChannel) -> int | None:
    """How many messages a collecting channel holds so far; None when it cannot tell (a stream's queue)."""
    messages = getattr(output, "messages", None)
    return len(messages) if isinstance(messages, list) else None


def failure(error: BaseException) -> str:
    """An exception for the log without its message (messages can quote what a resident wrote)."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}{where}"
