"""WeChat Official Account (公众号) channel on wechatpy 1.8: how most residents reach a police account.

``/webhooks/wechat_oa/webhook``: GET is WeChat's URL verification; POST carries messages in
plaintext or safe mode (AES). The signature is checked on every request (forged or missing:
403, nothing processed). Text and recognised voice go to Rasa; a subscription gets the
welcome message; other message types get a polite answer of what the bot can read now.
Configuration comes from the environment (WECHAT_TOKEN, WECHAT_AES_KEY, WECHAT_APPID,
WECHAT_SECRET) or credentials.yml.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import create_reply
from wechatpy.utils import check_signature

from bot.channels.wechat_common import SUCCESS, PassiveOrLater, SeenMessages, UnsafeXml, answer_message, checked_xml
from bot.config import setting
from bot.fallback import OnNewMessage
from bot.senders.wechat import official_account_client

logger = logging.getLogger(__name__)

CHANNEL = "wechat_oa"
PASSIVE_TIMEOUT = 4.0  # WeChat gives up on the passive reply after 5 s


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
                 passive_timeout: float = PASSIVE_TIMEOUT) -> None:
        self.token, self.aes_key, self.appid, self.secret = token, aes_key, appid, secret
        self.passive_timeout = passive_timeout
        self.crypto = WeChatCrypto(token, aes_key, appid) if aes_key and appid else None
        self.seen = SeenMessages()

    async def _send_later(self, sender: str, texts: list[str]) -> None:
        """Customer-service messages for answers that missed the 5-second window."""
        openid = sender.split(":", 1)[1]
        client = official_account_client(self.appid, self.secret)
        for text in texts:
            try:
                await asyncio.to_thread(client.message.send_text, openid, text)
            except Exception:
                logger.exception("customer-service message to a resident failed")

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = Blueprint("wechat_oa_webhook", __name__)
        answerer = PassiveOrLater(on_new_message, CHANNEL, self.passive_timeout, self._send_later)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.token else "off"})

        @blueprint.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if not self._signed(request):
                return response.text("forbidden", status=403)
            return response.text(request.args.get("echostr", ""))

        @blueprint.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self._signed(request):
                logger.warning("WeChat request with a forged or missing signature refused")
                return response.text("forbidden", status=403)
            safe_mode = request.args.get("encrypt_type") == "aes"
            try:
                xml = checked_xml(request.body)
                if safe_mode:
                    if self.crypto is None:
                        return response.text("safe mode not configured", status=400)
                    xml = checked_xml(self.crypto.decrypt_message(
                        xml, request.args.get("msg_signature", ""), request.args.get("timestamp", ""),
                        request.args.get("nonce", "")))
                message = parse_message(xml)
            except InvalidSignatureException:
                return response.text("forbidden", status=403)
            except (UnsafeXml, KeyError, TypeError, ValueError, UnicodeDecodeError) as error:
                logger.warning("refused WeChat body: %s", type(error).__name__)
                return response.text("bad request", status=400)
            texts = await self._answer(message, answerer)
            if not texts:
                return response.text(SUCCESS)
            reply = create_reply(texts[0], message).render()
            if len(texts) > 1:  # the rest through the customer-service API
                asyncio.ensure_future(self._send_later(f"wx:{message.source}", texts[1:]))
            if safe_mode:
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

    async def _answer(self, message: Any, answerer: PassiveOrLater) -> list[str] | None:
        """Texts for a passive reply, or None for ``success`` (retry, event, or answer later)."""
        text = message.content if message.type == "text" else \
            getattr(message, "recognition", None) if message.type == "voice" else None
        return await answer_message(message, self.seen, answerer, f"wx:{message.source}", text, "subscribe")
