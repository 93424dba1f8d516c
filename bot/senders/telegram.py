"""The one Telegram sender: every message the bot sends (replies, warnings, alerts) goes through it.

Limits: about 30 messages a second for the whole bot token and 20 a minute per group
(python-telegram-bot's constants, ``FRAUDBOT_TELEGRAM_PER_SECOND`` and
``FRAUDBOT_TELEGRAM_GROUP_PER_MINUTE``), counted in the shared send budget
(:mod:`bot.senders.budget`) so that the channel and every alerts worker together keep them.
PTB's ``AIORateLimiter`` is not used: it counts per process only, and it retries on its own.

One retry policy, which never sends twice what may have arrived once:

- ``RetryAfter`` (Telegram refused the message: it did not arrive) is waited out and the
  message sent again, once the budget has room; a wait longer than ``max_wait`` comes back as
  a retryable result with Telegram's wait, for the caller (the outbox) to schedule;
- a connection that could not be made (refused, connect timeout, no free connection in the
  pool: nothing was sent) is retried with backoff;
- a timeout after the request was written, a connection lost before the answer, or a 5xx
  answer may mean Telegram got it: never retried, reported as
  :meth:`DeliveryResult.in_doubt` (the outbox records such a row ``uncertain``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from telegram import Bot, ReplyParameters
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.config import TELEGRAM_OVERALL_PER_SECOND, TelegramConfig, telegram_group_per_minute, telegram_per_second
from bot.senders import SEND_ATTEMPTS, DeliveryResult, PacedSender, never_sent
from bot.senders.budget import SAFETY, SendBudget, Slot, secret_key

logger = logging.getLogger(__name__)

__all__ = ["TELEGRAM_OVERALL_PER_SECOND", "TelegramSender", "TelegramGroupSender", "alerts_bot"]

CHANNEL = "telegram"
TEXT_LIMIT = 4096  # characters in one Telegram message
MAX_INLINE_WAIT = 10.0  # seconds of RetryAfter waited here; longer ones go back to the caller
GONE_MESSAGES = ("chat not found", "bot was kicked", "group chat was deleted", "bot is not a member",
                 "group chat was upgraded", "have no rights to send")


def alerts_bot(token: str, base_url: str = "https://api.telegram.org/bot", connections: int = 16,
               read_timeout: float = 5.0) -> Bot:
    """A plain PTB bot with a connection pool for concurrent sends (PTB's default is one connection).

    No ``AIORateLimiter``: the shared send budget keeps the limits. Call ``await bot.initialize()``.
    ``read_timeout`` is how long a send waits for Telegram's answer before it is called uncertain.
    """
    return Bot(token, base_url=base_url,
               request=HTTPXRequest(connection_pool_size=connections, read_timeout=read_timeout))


def _seconds(wait: Any) -> float:
    return wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)


class TelegramSender(PacedSender):
    """Sends to any chat of one bot (private, group, alerts), within the shared budget; deletes on recall."""

    channel = CHANNEL

    def __init__(self, bot: Bot, overall_per_second: float | None = None, group_per_minute: float | None = None,
                 budget: SendBudget | None = None, attempts: int = SEND_ATTEMPTS,
                 max_wait: float = MAX_INLINE_WAIT, backoff: float = 0.5,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        super().__init__(budget)
        self.bot = bot
        self.per_second = int(overall_per_second or telegram_per_second())
        self.group_per_minute = int(group_per_minute or telegram_group_per_minute())
        self.attempts = attempts
        self.max_wait = max_wait
        self.backoff = backoff
        self._sleep = sleep
        self._token_key = f"telegram:{secret_key(bot.token)}"

    @classmethod
    def from_config(cls, config: TelegramConfig, **kwargs: Any) -> TelegramSender:
        """The sender for a configured bot (``await sender.bot.initialize()`` before the first send)."""
        return cls(alerts_bot(config.token, config.api_base_url), **kwargs)

    def slots(self, target: str) -> list[Slot]:
        """The bot-wide slot, and the group's for a group (negative chat ids)."""
        slots = [Slot(self._token_key, self.per_second, 1.0 * SAFETY)]
        if str(target).startswith("-"):
            slots.append(Slot(f"{self._token_key}:chat:{target}", self.group_per_minute, 60.0 * SAFETY))
        return slots

    async def send_message(self, chat_id: int | str, text: str, *, reply_markup: Any = None,
                           reply_to_message_id: int | None = None, **kwargs: Any) -> DeliveryResult:
        """Send one message to ``chat_id``: take the budget, make one request, retry only what cannot duplicate.

        The Telegram channel calls this for every message the bot sends, and the alerts worker
        (through :meth:`deliver`) for every alert, so one limit and one retry policy hold for
        all of them. ``reply_markup`` is any PTB markup; ``reply_to_message_id`` replies to a
        message (sent anyway if that message is gone); other keyword arguments go to
        ``Bot.send_message`` as they are (``parse_mode``, ``disable_notification`` …).

        Never raises for Telegram's or the network's failures: the result says ``ok``, or why
        not — ``retryable`` (refused, try later; ``retry_after`` is Telegram's wait), ``gone``
        (the chat is lost for this bot) or ``uncertain`` (it may have arrived: do not resend).
        """
        await self.reserve(str(chat_id))
        return await self._send_reserved(chat_id, text, reply_markup=reply_markup,
                                         reply_to_message_id=reply_to_message_id, **kwargs)

    async def deliver(self, target: str, text: str) -> DeliveryResult:
        """The outbox's send: the slot was taken by :meth:`reserve` just before the row became ``sending``."""
        return await self._send_reserved(target, text)

    async def _send_reserved(self, chat_id: int | str, text: str, *, reply_markup: Any = None,
                             reply_to_message_id: int | None = None, **kwargs: Any) -> DeliveryResult:
        target = str(chat_id)
        if reply_to_message_id:
            kwargs["reply_parameters"] = ReplyParameters(reply_to_message_id, allow_sending_without_reply=True)
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                await self.reserve(target)  # a retry is a new message for Telegram's limits
            try:
                message = await self.bot.send_message(_chat(chat_id), text[:TEXT_LIMIT], reply_markup=reply_markup,
                                                      **kwargs)
            except RetryAfter as error:
                wait = _seconds(error.retry_after)
                if wait > self.max_wait or attempt == self.attempts:
                    return DeliveryResult(False, self.channel, target, error="429 retry after", retryable=True,
                                          retry_after=wait)
                logger.info("Telegram asks to wait %.1fs before sending to %s", wait, target)
                await self._sleep(wait)
            except ChatMigrated as error:
                return DeliveryResult(False, self.channel, target, error=f"moved to {error.new_chat_id}", gone=True)
            except Forbidden as error:
                return DeliveryResult(False, self.channel, target, error=f"forbidden: {error}", gone=True)
            except BadRequest as error:
                gone = any(part in str(error).lower() for part in GONE_MESSAGES)
                return DeliveryResult(False, self.channel, target, error=f"bad request: {error}", gone=gone)
            except NetworkError as error:  # TimedOut included
                if not never_sent(error):
                    logger.warning("send to %s in doubt: %s", target, error)
                    return DeliveryResult.in_doubt(self.channel, target, f"no clear answer from Telegram ({error})")
                if attempt == self.attempts:
                    return DeliveryResult(False, self.channel, target, error=f"no connection: {error}",
                                          retryable=True)
                logger.warning("no connection to Telegram for %s (attempt %d): %s", target, attempt, error)
                await self._sleep(self.backoff * 2 ** (attempt - 1))
            except TelegramError as error:  # anything else Telegram refused for this message
                return DeliveryResult(False, self.channel, target, error=f"refused: {error}")
            else:
                return DeliveryResult.delivered(self.channel, target, str(message.message_id))
        raise AssertionError("unreachable: the last attempt always returns")

    async def delete(self, target: str, message_id: str) -> bool:
        """Delete a delivered alert (Telegram allows it within 48 hours)."""
        try:
            return bool(await self.bot.delete_message(_chat(target), int(message_id)))
        except TelegramError:
            return False


def _chat(chat_id: int | str) -> int | str:
    """Telegram's chat id: a number, or an ``@channelusername`` as it is."""
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return chat_id


# The alerts worker and older callers know it by this name; it is the same single sender.
TelegramGroupSender = TelegramSender
