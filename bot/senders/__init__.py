"""Senders: one per outside service, used by every process that talks to it, with its limits and retry rules.

Every sender answers ``await sender.send(target, text)`` with a :class:`DeliveryResult`
that an alerts outbox can record as it is: delivered, retry later, give up (and whether the
target is gone for good), or uncertain (the request may have arrived: never sent again on its
own). The Telegram sender (:mod:`bot.senders.telegram`) also carries the channel's replies.
Limits are kept in the shared send budget (:mod:`bot.senders.budget`).

One retry rule for all of them: send again only what cannot have arrived — a refusal by the
service (Telegram's ``RetryAfter``, WeCom's frequency errcodes) or a connection that could not
be made; a timeout, a connection lost mid-request or a 5xx proves nothing and is uncertain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from bot.senders.budget import SendBudget, Slot, shared_budget

SEND_ATTEMPTS = 4  # tries of one message when the service refused it for a moment or no connection was made
# httpx errors raised before any byte of the request left: sending again cannot duplicate.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
UNCERTAIN_MARK = "uncertain"  # first word of the error of a result that may have been delivered


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one message for one target."""

    ok: bool
    channel: str
    target: str
    message_id: str | None = None
    error: str | None = None
    retryable: bool = False  # try again later: the service refused it or it never left (429, no connection)
    retry_after: float | None = None  # seconds the service asked us to wait
    gone: bool = False  # the target no longer exists: mark it inactive
    uncertain: bool = False  # the request may have arrived (timeout, connection lost): never resent on its own

    @classmethod
    def delivered(cls, channel: str, target: str, message_id: str | None = None) -> DeliveryResult:
        return cls(True, channel, target, message_id)

    @classmethod
    def in_doubt(cls, channel: str, target: str, why: str) -> DeliveryResult:
        """The request went out and no answer came back: it may have arrived, so it is not retried."""
        return cls(False, channel, target, error=f"{UNCERTAIN_MARK}: {why}", uncertain=True)


def never_sent(error: BaseException) -> bool:
    """Whether a failure happened before the request could leave (so a retry cannot duplicate it).

    Looks through the chain of causes: PTB wraps httpx's errors in its own.
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, NOT_SENT):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Sender(Protocol):
    """Sends one text to one target of its kind.

    ``reserve`` waits until the channel's limits allow one more message to ``target``;
    ``deliver`` then makes the request at once. ``send`` does both. The alerts worker records
    "sending" between the two, so a crash leaves as few messages as possible in doubt.
    """

    channel: str

    async def reserve(self, target: str) -> None: ...

    async def deliver(self, target: str, text: str) -> DeliveryResult: ...

    async def send(self, target: str, text: str) -> DeliveryResult: ...


def utf8_truncate(text: str, limit_bytes: int) -> str:
    """``text`` cut to at most ``limit_bytes`` of UTF-8 without breaking a character."""
    data = text.encode("utf-8")
    if len(data) <= limit_bytes:
        return text
    return data[: limit_bytes - 3].decode("utf-8", errors="ignore") + "…"


class PacedSender:
    """Base of the senders: ``send`` is ``reserve`` (the shared send budget) then ``deliver``.

    A sender names the budget slots one message to a target takes (:meth:`slots`); the budget
    (:mod:`bot.senders.budget`) is shared by every process through Redis when configured.
    """

    channel = ""

    def __init__(self, budget: SendBudget | None = None) -> None:
        self.budget = budget if budget is not None else shared_budget()

    def slots(self, target: str) -> list[Slot]:
        """The limits one message to ``target`` counts against (none by default)."""
        return []

    async def reserve(self, target: str) -> None:
        slots = self.slots(target)
        if slots:
            await self.budget.take(slots)

    async def send(self, target: str, text: str) -> DeliveryResult:
        await self.reserve(target)
        return await self.deliver(target, text)

    async def deliver(self, target: str, text: str) -> DeliveryResult:
        raise NotImplementedError
