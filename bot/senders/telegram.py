"""Telegram group sender for alerts, within Telegram's flood limits.

About 30 messages a second overall and 20 a minute per group (python-telegram-bot's
constants). The pace is kept here, before the request, so that the alerts worker can record
"sending" only when the request really goes out; a ``RetryAfter`` comes back as a retryable
result carrying Telegram's wait time, and the outbox schedules the retry.
"""

from __future__ import annotations

from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot.senders import DeliveryResult, PacedSender, RateWindow

TELEGRAM_OVERALL_PER_SECOND = 30
TELEGRAM_GROUP_PER_MINUTE = 20
GONE_MESSAGES = ("chat not found", "bot was kicked", "group chat was deleted", "bot is not a member",
                 "group chat was upgraded", "have no rights to send")


def alerts_bot(token: str, base_url: str = "https://api.telegram.org/bot", connections: int = 16) -> Bot:
    """A bot with a connection pool for concurrent sends (PTB's default is one connection)."""
    return Bot(token, base_url=base_url, request=HTTPXRequest(connection_pool_size=connections))


class TelegramGroupSender(PacedSender):
    """Sends an alert into one Telegram group; deletes it again on recall."""

    channel = "telegram"

    def __init__(self, bot: Bot, overall_per_second: float = TELEGRAM_OVERALL_PER_SECOND,
                 group_per_minute: float = TELEGRAM_GROUP_PER_MINUTE) -> None:
        super().__init__()
        self.bot = bot
        self._overall = RateWindow(int(overall_per_second), 1.0)
        self._group = RateWindow(int(group_per_minute), 60.0)

    async def reserve(self, target: str) -> None:
        await self._group.acquire(target)
        await self._overall.acquire("*")

    async def deliver(self, target: str, text: str) -> DeliveryResult:
        try:
            message = await self.bot.send_message(int(target), text[:4096])
        except RetryAfter as error:
            wait = error.retry_after
            seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
            return DeliveryResult(False, self.channel, target, error="429 retry after", retryable=True,
                                  retry_after=seconds)
        except ChatMigrated as error:
            return DeliveryResult(False, self.channel, target, error=f"moved to {error.new_chat_id}", gone=True)
        except Forbidden as error:
            return DeliveryResult(False, self.channel, target, error=f"forbidden: {error}", gone=True)
        except BadRequest as error:
            gone = any(text_ in str(error).lower() for text_ in GONE_MESSAGES)
            return DeliveryResult(False, self.channel, target, error=f"bad request: {error}", gone=gone)
        except (TimedOut, NetworkError) as error:
            return DeliveryResult(False, self.channel, target, error=f"network: {error}", retryable=True)
        return DeliveryResult.delivered(self.channel, target, str(message.message_id))

    async def delete(self, target: str, message_id: str) -> bool:
        """Delete a delivered alert (Telegram allows it within 48 hours)."""
        try:
            return bool(await self.bot.delete_message(int(target), int(message_id)))
        except (BadRequest, Forbidden, NetworkError):
            return False
