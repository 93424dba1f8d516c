"""WeCom app (企业微信应用) channel: the same 1:1 consultation for staff and grid workers (网格员).

``/webhooks/wecom/webhook`` is the app's callback URL: GET verifies it (the echostr is
decrypted), POST carries encrypted messages (``wechatpy.enterprise``). Same timestamp window,
body limit, replay guard, 5-second rule, deduplication and XML checks as the Official Account
(:mod:`bot.channels.wechat_common`); a picture is fetched with WeCom's media API and the app's
token, and read as its text; "答题" is answered by letter as on the Official Account.
Configuration: WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID, WECOM_SECRET, WECOM_AGENT_ID.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any, Callable

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy.enterprise import parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.replies import create_reply
from wechatpy.exceptions import InvalidSignatureException

from bot.channels.wechat import PASSIVE_TIMEOUT
from bot.channels.wechat_common import (
    SUCCESS,
    PassiveOrLater,
    ReplayGuard,
    SeenMessages,
    TextQuiz,
    admit,
    answer_message,
    checked_xml,
    conversation_of,
    fetch_media,
)
from bot.config import setting
from bot.fallback import OnNewMessage
from bot.senders.wechat import wecom_client

logger = logging.getLogger(__name__)

CHANNEL = "wecom"
REPLAY_KEY = ("timestamp", "nonce", "msg_signature")  # WeCom signs only with msg_signature


class WeComInput(InputChannel):
    """The WeCom app connector."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WeComInput:
        return cls(token=setting(credentials, "token", "WECOM_TOKEN"),
                   aes_key=setting(credentials, "aes_key", "WECOM_AES_KEY"),
                   corp_id=setting(credentials, "corp_id", "WECOM_CORP_ID"),
                   secret=setting(credentials, "secret", "WECOM_SECRET"),
                   agent_id=setting(credentials, "agent_id", "WECOM_AGENT_ID"),
                   passive_timeout=float(setting(credentials, "passive_timeout", "WECOM_PASSIVE_TIMEOUT",
                                                  str(PASSIVE_TIMEOUT))))

    def __init__(self, token: str, aes_key: str, corp_id: str, secret: str = "", agent_id: str = "",
                 passive_timeout: float = PASSIVE_TIMEOUT, clock: Callable[[], float] = time.time) -> None:
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.passive_timeout = passive_timeout
        self.crypto = WeChatCrypto(token, aes_key, corp_id) if token and aes_key and corp_id else None
        self.seen = SeenMessages(namespace="wecom:msg")
        self.guard = ReplayGuard(clock=clock, namespace="wecom")
        self.quiz = TextQuiz(CHANNEL)

    async def _send_later(self, sender: str, texts: list[str]) -> None:
        user_id = sender.split(":", 1)[1]
        client = wecom_client(self.corp_id, self.secret)
        for text in texts:
            try:
                await asyncio.to_thread(client.message.send_text, self.agent_id, user_id, text)
            except Exception as error:  # the client's errors may quote the request; keep only the kind
                logger.error("WeCom app message to a user failed: %s", type(error).__name__)

    async def _fetch_picture(self, media_id: str) -> bytes | str:
        """A user's picture through WeCom's media API, with the app messages' client and token."""
        return await asyncio.to_thread(fetch_media, wecom_client(self.corp_id, self.secret), media_id)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = Blueprint("wecom_webhook", __name__)
        answerer = PassiveOrLater(on_new_message, CHANNEL, self.passive_timeout, self._send_later)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.crypto else "off"})

        @blueprint.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if self.crypto is None:
                return response.text("not configured", status=503)
            args = request.args
            if not self.guard.fresh(args.get("timestamp", "")):
                return response.text("forbidden", status=403)
            try:
                echo = self.crypto.check_signature(args.get("msg_signature", ""), args.get("timestamp", ""),
                                                   args.get("nonce", ""), args.get("echostr", ""))
            except (InvalidSignatureException, ValueError, TypeError):
                return response.text("forbidden", status=403)
            return response.text(echo if isinstance(echo, str) else echo.decode())

        @blueprint.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            if self.crypto is None:
                return response.text("not configured", status=503)
            message = await admit(request, self.guard, CHANNEL, self._read_xml, parse_message, REPLAY_KEY)
            if isinstance(message, HTTPResponse):
                return message
            texts = await self._answer(message, answerer)
            if not texts:
                return response.text(SUCCESS)
            if len(texts) > 1:
                asyncio.ensure_future(self._send_later(conversation_of("wecom", message), texts[1:]))
            reply = create_reply(texts[0], message).render()
            args = request.args
            encrypted = self.crypto.encrypt_message(reply, args.get("nonce", ""),
                                                    args.get("timestamp") or str(int(time.time())))
            return response.text(encrypted, content_type="application/xml")

        return blueprint

    def _read_xml(self, request: Request, body: bytes) -> str:
        """The decrypted message XML; InvalidSignatureException when msg_signature does not match."""
        args = request.args
        envelope = checked_xml(body)
        return checked_xml(self.crypto.decrypt_message(envelope, args.get("msg_signature", ""),
                                                       args.get("timestamp", ""), args.get("nonce", "")))

    async def _answer(self, message: Any, answerer: PassiveOrLater) -> list[str] | None:
        text = message.content if message.type == "text" else None
        picture = functools.partial(self._fetch_picture, str(message.media_id)) if message.type == "image" else None
        return await answer_message(message, self.seen, answerer, conversation_of("wecom", message), text,
                                    "enter_agent", picture, self.quiz)
