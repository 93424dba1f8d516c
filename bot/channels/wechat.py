"""WeChat Official Account (公众号) channel on wechatpy 1.8: how most residents reach a police account.

``/webhooks/wechat_oa/webhook``: GET is WeChat's URL verification; POST carries messages in
plaintext or safe mode (AES). Every request is checked before anything else
(:func:`bot.channels.wechat_common.admit`): timestamp within 5 minutes, body at most 64 KB,
signature valid (forged or missing: 403, nothing processed), and a signature + nonce never
reused with another body. "答题" and the letter that answers it are the quiz's
(:class:`bot.channels.wechat_common.TextQuiz`); other text and recognised voice go to Rasa; a
picture is fetched with the media API (its ``MediaId``; ``PicUrl`` is not followed) and read as
its text; a subscription gets the welcome message; other message types get a polite answer of
what the bot can read now.
Configuration comes from the environment (WECHAT_TOKEN, WECHAT_AES_KEY, WECHAT_APPID,
WECHAT_SECRET) or credentials.yml.
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
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import create_reply
from wechatpy.utils import check_signature

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
from bot.senders.wechat import official_account_client

logger = logging.getLogger(__name__)

CHANNEL = "wechat_oa"
PASSIVE_TIMEOUT = 4.0  # WeChat gives up on the passive reply after 5 s
REPLAY_KEY = ("timestamp", "nonce", "signature")  # the same in plaintext and safe mode


class OfficialAccountInput(InputChannel):
    """The Official Account connector."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> OfficialAccountInput:
        return cls(token=setting(credentials, "token", "WECHAT_TOKEN"),
                   aes_key=setting(credentials, "aes_key", "WECHAT_AES_KEY"),
                   appid=setting(credentials, "appid", "WECHAT_APPID"),
                   secret=setting(credentials, "secret", "WECHAT_SECRET"),
                   passive_timeout=float(setting(credentials, "passive_timeout", "WECHAT_PASSIVE_TIMEOUT",
                                                  str(PASSIVE_TIMEOUT))))

    def __init__(self, token: str, aes_key: str = "", appid: str = "", secret: str = "",
                 passive_timeout: float = PASSIVE_TIMEOUT, clock: Callable[[], float] = time.time) -> None:
        self.token, self.aes_key, self.appid, self.secret = token, aes_key, appid, secret
        self.passive_timeout = passive_timeout
        self.crypto = WeChatCrypto(token, aes_key, appid) if aes_key and appid else None
        self.seen = SeenMessages(namespace="wechat:msg")
        self.guard = ReplayGuard(clock=clock, namespace="wechat")
        self.quiz = TextQuiz(CHANNEL)

    async def _send_later(self, sender: str, texts: list[str]) -> None:
        """Customer-service messages for answers that missed the 5-second window."""
        openid = sender.split(":", 1)[1]
        client = official_account_client(self.appid, self.secret)
        for text in texts:
            try:
                await asyncio.to_thread(client.message.send_text, openid, text)
            except Exception as error:  # the client's errors may quote the request; keep only the kind
                logger.error("customer-service message to a resident failed: %s", type(error).__name__)

    async def _fetch_picture(self, media_id: str) -> bytes | str:
        """A resident's picture through the media API, with the customer-service messages' client and token."""
        client = official_account_client(self.appid, self.secret)
        return await asyncio.to_thread(fetch_media, client, media_id)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = Blueprint("wechat_oa_webhook", __name__)
        answerer = PassiveOrLater(on_new_message, CHANNEL, self.passive_timeout, self._send_later)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.token else "off"})

        @blueprint.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if not self.guard.fresh(request.args.get("timestamp", "")) or not self._signed(request):
                return response.text("forbidden", status=403)
            return response.text(request.args.get("echostr", ""))

        @blueprint.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            message = await admit(request, self.guard, CHANNEL, self._read_xml, parse_message, REPLAY_KEY)
            if isinstance(message, HTTPResponse):
                return message
            texts = await self._answer(message, answerer)
            if not texts:
                return response.text(SUCCESS)
            reply = create_reply(texts[0], message).render()
            if len(texts) > 1:  # the rest through the customer-service API
                asyncio.ensure_future(self._send_later(conversation_of("wx", message), texts[1:]))
            if request.args.get("encrypt_type") == "aes":
                reply = self.crypto.encrypt_message(reply, request.args.get("nonce", ""),
                                                    request.args.get("timestamp") or str(int(time.time())))
            return response.text(reply, content_type="application/xml")

        return blueprint

    def _signed(self, request: Request) -> bool:
        args = request.args
        try:
            check_signature(self.token, args.get("signature", ""), args.get("timestamp", ""),
                            args.get("nonce", ""))
        except InvalidSignatureException:
            return False
        return bool(self.token)

    def _read_xml(self, request: Request, body: bytes) -> str:
        """The message XML of a signed request, decrypted in safe mode; raises on anything else."""
        if not self._signed(request):
            raise InvalidSignatureException()
        xml = checked_xml(body)
        if request.args.get("encrypt_type") != "aes":
            return xml
        if self.crypto is None:
            raise ValueError("safe mode not configured")
        args = request.args
        return checked_xml(self.crypto.decrypt_message(xml, args.get("msg_signature", ""),
                                                       args.get("timestamp", ""), args.get("nonce", "")))

    async def _answer(self, message: Any, answerer: PassiveOrLater) -> list[str] | None:
        """Texts for a passive reply, or None for ``success`` (retry, event, or answer later)."""
        text = message.content if message.type == "text" else \
            getattr(message, "recognition", None) if message.type == "voice" else None
        picture = functools.partial(self._fetch_picture, str(message.media_id)) if message.type == "image" else None
        return await answer_message(message, self.seen, answerer, conversation_of("wx", message), text,
                                    "subscribe", picture, self.quiz)
