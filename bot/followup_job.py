"""The 回访 job: at its time, the follow-up a resident agreed to is started in Rasa and its first words delivered.

``fraudbot daily`` runs it on every look at the clock (every minute, :meth:`bot.daily.DailyJob.serve`). For each
follow-up that is due (:func:`bot.followups.due`) it:

1. claims it — one conditional UPDATE from ``pending`` to ``asked`` (:func:`bot.followups.claim`): of two
   processes, or of a process and its restart, exactly one goes on, and everything it needs is in the store;
2. triggers the intent ``followup_start`` in the resident's conversation through Rasa's HTTP API
   (``POST /conversations/<id>/trigger_intent``, the token of ``FRAUDBOT_RASA_TOKEN``). Without
   ``output_channel`` Rasa answers with the bot's ``messages``: the greeting and the first question, from the
   follow-up form (``actions/actions.py``), which then takes the resident's answers through the channel;
3. delivers those messages through the channel's sender (:mod:`bot.senders`): a Telegram private chat by its
   chat id (the buttons as an inline keyboard), a WeChat Official Account resident by a customer-service
   message, a WeCom member by an app message (the buttons as words to reply with, as the channels do);
4. deletes the address and the conversation id once delivered (:func:`bot.followups.delivered`).

Rasa that cannot be reached gives the follow-up back (``pending``: the next minute tries again); a delivery
the service refused for good, or an error inside Rasa, ends it (:func:`bot.followups.abandon`). A sender not
configured leaves it pending (and says so) until it is too late (:data:`bot.followups.LATE_LIMIT`).
Logs carry the follow-up's id and the channel kind, never an address.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from bot import followups, health
from bot.followups import TELEGRAM, WECHAT_OA, WECOM, Followup
from bot.retention import CHINA

logger = logging.getLogger(__name__)

INTENT = "followup_start"
DEFAULT_RASA_URL = "http://127.0.0.1:5005"  # make serve's Rasa, as the admin assumes
COMPONENT = "followups"
RASA_TIMEOUT = 30.0
"""Seconds Rasa may take to run the follow-up's first turn (an action call and the form's question)."""


class FollowupJob:
    """Starts the follow-ups that are due; the clock is injected so that tests move it."""

    def __init__(self, rasa_url: str, token: str, senders: Mapping[str, Any], store_url: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(CHINA),
                 http: httpx.AsyncClient | None = None) -> None:
        self.rasa_url, self.token, self.senders = rasa_url.rstrip("/"), token, senders
        self.store_url, self.clock = store_url, clock
        self._http = http or httpx.AsyncClient(timeout=RASA_TIMEOUT)

    @classmethod
    def from_env(cls, senders: Mapping[str, Any]) -> FollowupJob:
        """The job of ``fraudbot daily``: the first replica of ``FRAUDBOT_RASA_URLS`` (a conversation lives in the
        shared tracker store, so any replica can run its turn), ``FRAUDBOT_RASA_TOKEN``, and the senders of
        :func:`senders_for_followups`."""
        from bot.config import AdminConfig

        config = AdminConfig.from_env()
        rasa_url = config.rasa_urls[0] if config.rasa_urls else DEFAULT_RASA_URL
        return cls(rasa_url, config.rasa_token, senders_for_followups(senders))

    async def run_due(self) -> list[int]:
        """Start every follow-up whose time has come; the ids of those delivered."""
        moment = self.clock()
        ended = await asyncio.to_thread(followups.expire, moment, self.store_url)
        if ended:
            logger.info("%d follow-ups could no longer happen and ended", ended)
        started = []
        for row in await asyncio.to_thread(followups.due, moment, self.store_url):
            if row.channel not in self.senders:
                health.degraded(COMPONENT, f"no {row.channel} sender configured: follow-ups wait")
                continue
            if not await asyncio.to_thread(followups.claim, row.id, moment, self.store_url):
                continue  # another process has it
            if await self._start(row):
                started.append(row.id)
        return started

    async def _start(self, row: Followup) -> bool:
        try:
            messages = await self._trigger(str(row.conversation_id))
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:  # nothing reached Rasa: try again later
            await asyncio.to_thread(followups.release, row.id, self.store_url)
            health.degraded(COMPONENT, f"Rasa not reached: {type(error).__name__}")
            return False
        except httpx.HTTPStatusError as error:
            if error.response.status_code in (401, 403):  # the token is wrong: nothing ran, the setting is fixed
                await asyncio.to_thread(followups.release, row.id, self.store_url)
                health.degraded(COMPONENT, f"Rasa refused the token (HTTP {error.response.status_code})")
                return False
            await asyncio.to_thread(followups.abandon, row.id, self.store_url)
            health.degraded(COMPONENT, f"Rasa failed the follow-up (HTTP {error.response.status_code})")
            return False
        except (httpx.HTTPError, ValueError) as error:  # Rasa failed mid-way: the turn may be half done
            await asyncio.to_thread(followups.abandon, row.id, self.store_url)
            health.degraded(COMPONENT, f"Rasa failed the follow-up: {error.__class__.__name__}")
            logger.error("follow-up %d ended: Rasa failed (%s)", row.id, error.__class__.__name__)
            return False
        if not messages:  # the resident stopped it between the claim and the trigger
            await asyncio.to_thread(followups.abandon, row.id, self.store_url)
            return False
        if not await self._deliver(row, messages):
            await asyncio.to_thread(followups.abandon, row.id, self.store_url)
            return False
        await asyncio.to_thread(followups.delivered, row.id, self.store_url)
        health.recovered(COMPONENT)
        logger.info("follow-up %d started on %s", row.id, row.channel)
        return True

    async def _trigger(self, conversation_id: str) -> list[dict[str, Any]]:
        """The bot's messages of the follow-up's first turn, run in Rasa."""
        # Rasa's route takes the id as it stands in the path (Sanic does not decode %3A): the channels' ids
        # (tg:…, wx:…, wecom:…) keep their ":" and "@", anything else unusual is escaped
        reply = await self._http.post(
            f"{self.rasa_url}/conversations/{quote(conversation_id, safe=':@')}/trigger_intent",
            params={"token": self.token} if self.token else None, json={"name": INTENT})
        reply.raise_for_status()
        messages = reply.json().get("messages")
        if not isinstance(messages, list):
            raise ValueError("no messages in Rasa's answer")
        return [m for m in messages if isinstance(m, dict) and (m.get("text") or m.get("buttons"))]

    async def _deliver(self, row: Followup, messages: list[dict[str, Any]]) -> bool:
        """Whether the messages went out (a result in doubt counts as sent: it is never sent twice)."""
        sender, address = self.senders[row.channel], str(row.address)
        if row.channel == TELEGRAM:
            from bot.channels.telegram import keyboard

            results = [await sender.send_message(int(address), str(m.get("text") or ""),
                                                 reply_markup=keyboard(m.get("buttons")))
                       for m in messages]
        else:
            from bot.channels.wechat_common import merge_replies

            results = [await sender.send(address, text) for text in merge_replies(messages)]
        refused = [result for result in results if not result.ok and not result.uncertain]
        if refused:
            health.degraded(COMPONENT, f"{row.channel}: {refused[0].error}")
            logger.warning("follow-up %d: a message refused on %s: %s", row.id, row.channel, refused[0].error)
        return any(result.ok or result.uncertain for result in results)

    async def close(self) -> None:
        await self._http.aclose()


def senders_for_followups(senders: Mapping[str, Any]) -> dict[str, Any]:
    """The sender of each channel kind a follow-up may go to: the Telegram sender of ``senders``
    (:func:`bot.alerts.runtime.senders_from_env`, one budget with the channel and the alerts), and for WeChat
    and WeCom the per-resident senders of :mod:`bot.senders.wechat`, when their credentials are set."""
    from bot.senders.wechat import (
        OfficialAccountCustomerSender,
        WeComAppSender,
        official_account_client,
        wecom_client,
    )

    found: dict[str, Any] = {}
    if senders.get("telegram") is not None:
        found[TELEGRAM] = senders["telegram"]
    env = os.environ
    if env.get("WECHAT_APPID") and env.get("WECHAT_SECRET"):
        found[WECHAT_OA] = OfficialAccountCustomerSender(official_account_client(env["WECHAT_APPID"],
                                                                                 env["WECHAT_SECRET"]))
    if env.get("WECOM_CORP_ID") and env.get("WECOM_SECRET") and env.get("WECOM_AGENT_ID"):
        found[WECOM] = WeComAppSender(wecom_client(env["WECOM_CORP_ID"], env["WECOM_SECRET"]),
                                      env["WECOM_AGENT_ID"])
    return found
