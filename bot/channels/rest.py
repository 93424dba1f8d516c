"""Rasa's REST channel, with the request checked at the door and a safety net behind it.

Rasa's own ``RestInput`` trusts the body: no sender put everyone in one "default"
conversation, a lone surrogate in the sender stopped the server, a non-string message got
``[]``, ``metadata.alert`` let any client make the bot quote text as a police alert, a 5 MB
metadata was stored with every event, and ``?stream=true`` never answered behind the safety
net. Here the body is read and cleaned first (:mod:`bot.inbound`), refused with a 400 JSON
error when no conversation can be named, and every accepted message gets a JSON list with an
answer (:mod:`bot.fallback`). A screenshot comes as ``{"sender", "image": <base64>}`` or as a
``data:image/...;base64,`` URL in ``message`` (:mod:`bot.channels.pictures`). A resident's word on the last
verdict comes as a field, ``{"sender", "feedback": "useful"|"wrong", "claim"?}``, without ``message``: it is the
payload the 有用 / 判断不对 buttons send (:func:`core.reporting.feedback_payload`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.pictures import answer_picture, decode_image, is_data_url
from bot.fallback import TRUNCATED_NOTICE, OnNewMessage, with_safety_net
from bot.inbound import clean_text, known_metadata, normalise
from core.reporting import feedback_payload

MAX_SENDER_CHARS = 128
"""A sender id is a conversation key chosen by the client, not a place to store text."""

METADATA_KEYS: frozenset[str] = frozenset()
"""Client metadata the bot keeps. Nothing reads a REST client's metadata today (Telegram's
``chat_id``/``group``/``alert`` are set by that channel itself), so nothing is kept; name a key
here when an action needs one."""


class BadRequest(ValueError):
    """A body the REST door refuses; the message is the ``error`` the client reads."""


@dataclass(frozen=True)
class RestMessage:
    """One accepted REST message, cleaned."""

    sender: str
    text: str
    truncated: bool
    metadata: dict[str, Any]
    image: bytes | str | None = None  # a picture's bytes, or why it cannot be one (bot.channels.pictures)


def read_body(request: Request) -> RestMessage:
    """The message a REST body carries, or :class:`BadRequest` saying why there is none."""
    try:
        body = request.json
    except InvalidUsage:
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object: {"sender": "...", "message": "..."}')
    sender = read_sender(body.get("sender"))
    metadata = known_metadata(body.get("metadata"), METADATA_KEYS)
    if "feedback" in body or "claim" in body:
        return RestMessage(sender=sender, text=read_feedback(body), truncated=False, metadata=metadata)
    raw_image = body.get("image")
    if raw_image is None and is_data_url(body.get("message")):
        raw_image = body.get("message")
    if raw_image is not None:
        image = decode_image(raw_image) if isinstance(raw_image, str) else "not_image"
        return RestMessage(sender=sender, text="", truncated=False, metadata=metadata, image=image)
    text = clean_text(body.get("message"))
    return RestMessage(sender=sender, text=text.text, truncated=text.truncated, metadata=metadata)


def read_sender(raw: object) -> str:
    """The conversation key: a non-empty string of at most :data:`MAX_SENDER_CHARS` characters, normalised."""
    if not isinstance(raw, str):
        raise BadRequest('"sender" is required and must be a string naming the conversation')
    if len(raw) > MAX_SENDER_CHARS:
        raise BadRequest(f'"sender" must be at most {MAX_SENDER_CHARS} characters')
    sender = normalise(raw)
    if not sender:
        raise BadRequest('"sender" must not be empty')
    if not sender.isprintable():  # a line break in a conversation key would forge log lines
        raise BadRequest('"sender" must be one line of printable characters')
    return sender


def read_feedback(body: dict[str, Any]) -> str:
    """The payload of ``{"feedback": "useful"|"wrong", "claim": "scam"|"not_scam"|"wrong_type"?}``: the same
    the verdict's buttons send, so the dialogue cannot tell the two apart."""
    if "message" in body or "image" in body:
        raise BadRequest('"feedback" comes on its own, without "message" or "image"')
    feedback, claim = body.get("feedback"), body.get("claim")
    if feedback is None:
        raise BadRequest('"claim" goes with "feedback": "wrong"')
    if not isinstance(feedback, str) or (claim is not None and not isinstance(claim, str)):
        raise BadRequest('"feedback" and "claim" must be strings')
    try:
        return feedback_payload(feedback, claim)
    except ValueError as refused:
        raise BadRequest(str(refused)) from None


class SafeRestInput(RestInput):
    """``/webhooks/rest/webhook``: checked input, and always a JSON list with an answer naming 96110/110.

    ``?stream=true`` is answered like any other request (one JSON list): streaming buys a
    resident nothing for replies that take a second, and Rasa's stream hung behind the safety net.
    The input channel is always ``rest``, never the client's word for it.
    """

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        handle = with_safety_net(on_new_message)
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", type(self).__module__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                message = read_body(request)
            except BadRequest as refused:
                return response.json({"error": str(refused)}, status=400)
            collector = CollectingOutputChannel()
            if message.image is not None:
                await answer_picture(message.image, handle, collector, message.sender, self.name(),
                                     message.metadata or None)
                return response.json(collector.messages)
            await handle(UserMessage(message.text, collector, message.sender, input_channel=self.name(),
                                     metadata=message.metadata or None))
            if message.truncated:
                await collector.send_text_message(message.sender, TRUNCATED_NOTICE)
            return response.json(collector.messages)

        return webhook
