"""WeCom app (企业微信应用) channel: the same 1:1 consultation for staff and grid workers (网格员).

``/webhooks/wecom/webhook`` is the app's callback URL: GET verifies it (the echostr is
decrypted), POST carries encrypted messages (``wechatpy.enterprise``). Same 5-second rule,
deduplication and XML checks as the Official Account (:mod:`bot.channels.wechat_common`).
Configuration: WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID, WECOM_SECRET, WECOM_AGENT_ID.
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
from wechatpy.enterprise import parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.replies import create_reply
from wechatpy.exceptions import InvalidSignatureException

from bot.channels.wechat import PASSIVE_TIMEOUT
from bot.channels.wechat_common import SUCCESS, PassiveOrLater, SeenMessages, UnsafeXml, answer_message, checked_xml
from bot.config import setting
from bot.fallback import OnNewMessage
from bot.senders.wechat import wecom_client

logger = logging.getLogger(__name__)

CHANNEL = "wecom"


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
                 passive_timeout: float = PASSIVE_TIMEOUT) -> None:
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.passive_timeout = passive_timeout
        self.crypto = WeChatCrypto(token, aes_key, corp_id) if token and aes_key and corp_id else None
        self.seen = SeenMessages()

    async def _send_later(self, sender: str, texts: list[str]) -> None:
        user_id = sender.split(":", 1)[1]
        client = wecom_client(self.corp_id, self.secret)
        for text in texts:
            try:
                await asyncio.to_thread(client.message.send_text, self.agent_id, user_id, text)
            except Exception:
                logger.exception("WeCom app message to a user failed")

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
            try:
                echo = self.crypto.check_signature(args.get("msg_signature", ""), args.get("timestamp", ""),
                                                   args.get("nonce", ""), args.get("echostr", ""))
            except (InvalidSignatureException, ValueError, TypeError):
                return response.text("forbidden", status=403)
            return response.text(echo if isinstance(echo, str) else echo.decode())

        @blueprint.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.crypto is None:
                return response.text("not configured", status=503)
            args = request.args
            try:
                envelope = checked_xml(request.body)
                xml = checked_xml(self.crypto.decrypt_message(envelope, args.get("msg_signature", ""),
                                                              args.get("timestamp", ""), args.get("nonce", "")))
                message = parse_message(xml)
            except InvalidSignatureException:
                logger.warning("WeCom request with a forged or missing signature refused")
                return response.text("forbidden", status=403)
            except (UnsafeXml, KeyError, TypeError, ValueError, UnicodeDecodeError) as error:
                logger.warning("refused WeCom body: %s", type(error).__name__)
                return response.text("bad request", status=400)
            texts = await self._answer(message, answerer)
            if not texts:
                return response.text(SUCCESS)
            if len(texts) > 1:
                asyncio.ensure_future(self._send_later(f"wecom:{message.source}", texts[1:]))
            reply = create_reply(texts[0], message).render()
            encrypted = self.crypto.encrypt_message(reply, args.get("nonce", ""),
                                                    args.get("timestamp") or str(int(time.time())))
            return response.text(encrypted, content_type="application/xml")

        return blueprint

    async def _answer(self, message: Any, answerer: PassiveOrLater) -> list[str] | None:
        text = message.content if message.type == "text" else None
        return await answer_message(message, self.seen, answerer, f"wecom:{message.source}", text, "enter_agent")
