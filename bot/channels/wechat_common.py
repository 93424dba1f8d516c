"""What the WeChat Official Account and WeCom connectors share.

- XML from the network is checked with defusedxml before anything parses it: DTDs, entity
  expansion and external entities are refused (an XML bomb never expands).
- WeChat waits 5 s for the passive reply and retries the same message three times:
  :class:`PassiveOrLater` answers passively when Rasa is fast, otherwise says ``success`` and
  delivers the answer later through the customer-service API; :class:`SeenMessages` makes a
  retried message processed once and answered once.
- Rasa may reply in several messages; WeChat's passive reply is one, so they are merged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.fallback import OnNewMessage, response_text, with_safety_net
from bot.senders import utf8_truncate

logger = logging.getLogger(__name__)

PASSIVE_REPLY_BYTES = 2048  # one WeChat text message
SUCCESS = "success"  # tells WeChat "received, no passive reply"


class UnsafeXml(ValueError):
    """The body is not XML we are willing to parse."""


def checked_xml(body: bytes | str) -> str:
    """The body as text, after defusedxml accepted it (no DTD, no entities, well-formed)."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    try:
        fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, SyntaxError, ValueError) as error:
        raise UnsafeXml(type(error).__name__) from error
    return text


def merge_replies(messages: list[dict[str, Any]]) -> list[str]:
    """Rasa's replies as WeChat texts: merged into as few messages as the byte limit allows.

    Buttons cannot be pressed in WeChat, so their titles are offered as words to reply with.
    """
    parts = []
    for message in messages:
        text = message.get("text") or ""
        titles = [str(b.get("title")) for b in message.get("buttons") or [] if b.get("title")]
        if titles:
            text += "\n（可以直接回复：" + " / ".join(titles) + "）"
        if text.strip():
            parts.append(text.strip())
    merged: list[str] = []
    for part in parts:
        candidate = f"{merged[-1]}\n\n{part}" if merged else part
        if merged and len(candidate.encode("utf-8")) <= PASSIVE_REPLY_BYTES:
            merged[-1] = candidate
        else:
            merged.append(utf8_truncate(part, PASSIVE_REPLY_BYTES))
    return merged


class SeenMessages:
    """Message ids seen in the last ``ttl`` seconds (WeChat retries within about 15 s)."""

    def __init__(self, ttl: float = 300, limit: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._ttl, self._limit, self._clock = ttl, limit, clock

    def first_time(self, key: str) -> bool:
        """True the first time ``key`` is seen; False for a retry."""
        now = self._clock()
        while self._seen and (next(iter(self._seen.values())) < now - self._ttl or len(self._seen) > self._limit):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


Deliver = Callable[[str, list[str]], Awaitable[None]]


class PassiveOrLater:
    """Ask Rasa; answer within ``timeout`` seconds or hand the answer to ``deliver_later``."""

    def __init__(self, on_new_message: OnNewMessage, channel: str, timeout: float,
                 deliver_later: Deliver) -> None:
        self._on_new_message = with_safety_net(on_new_message)
        self._channel = channel
        self._timeout = timeout
        self._deliver_later = deliver_later
        self._pending: set[asyncio.Task] = set()

    async def _ask(self, sender: str, text: str) -> list[str]:
        collector = CollectingOutputChannel()
        await self._on_new_message(UserMessage(text, collector, sender, input_channel=self._channel))
        return merge_replies(collector.messages)

    async def answer(self, sender: str, text: str) -> list[str] | None:
        """The texts to reply passively, or None when the answer will come later."""
        task = asyncio.create_task(self._ask(sender, text))
        done, _ = await asyncio.wait({task}, timeout=self._timeout)
        if done:
            return task.result()
        logger.info("slow answer for %s: replying later through the API", sender)
        self._pending.add(task)
        task.add_done_callback(lambda finished: self._later(sender, finished))
        return None

    def _later(self, sender: str, task: asyncio.Task) -> None:
        self._pending.discard(task)
        if task.cancelled() or task.exception():
            logger.error("slow answer for %s failed", sender)
            return
        delivery = asyncio.ensure_future(self._deliver_later(sender, task.result()))
        self._pending.add(delivery)
        delivery.add_done_callback(self._pending.discard)


async def answer_message(message: Any, seen: SeenMessages, answerer: PassiveOrLater, conversation: str,
                         text: str | None, welcome_event: str) -> list[str] | None:
    """Texts for a passive reply to a parsed WeChat/WeCom message, or None for ``success``.

    A retried message (same MsgId) and events other than ``welcome_event`` get ``success``;
    anything without text gets the note of what the bot can read.
    """
    key = str(getattr(message, "id", None) or f"{message.source}:{message.time}:{message.type}")
    if not seen.first_time(key):
        logger.info("retried message ignored")
        return None
    if message.type == "event":
        return [response_text("utter_wechat_welcome")] if getattr(message, "event", "") == welcome_event else None
    if not text or not text.strip():
        return [response_text("utter_wechat_unsupported")]
    return await answerer.answer(conversation, text)
