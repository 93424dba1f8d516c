"""A picture a resident sends, on any channel: read it, say what was read, then consult as text.

Every channel hands the image bytes here with the same handler it uses for text (the safety
net of :mod:`bot.fallback` included), so a screenshot gets exactly the consultation its text
would, preceded by one short line of what was read; a picture that cannot be read gets a clear
answer naming 96110 and 110. The bytes are never stored; only the text read goes on.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage

from bot.fallback import OnNewMessage
from bot.inbound import clean_text
from bot.ocr import MAX_IMAGE_BYTES, Reading, reader

_DATA_URL = re.compile(r"data:image/[A-Za-z0-9.+-]{1,20};base64,", re.I)


def is_data_url(text: object) -> bool:
    return isinstance(text, str) and bool(_DATA_URL.match(text.strip()[:40]))


def decode_image(encoded: str) -> bytes | str:
    """The bytes of base64 image data (plain or a ``data:image/...;base64,`` URL), or the problem
    (``too_big`` judged on the encoded length before decoding, ``not_image`` for what is not base64)."""
    encoded = _DATA_URL.sub("", encoded.strip(), count=1)
    if len(encoded) > MAX_IMAGE_BYTES * 4 // 3 + 8:
        return "too_big"
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return "not_image"


async def answer_picture(data: bytes | str, handle: OnNewMessage, output: OutputChannel, sender: str,
                         input_channel: str, metadata: dict[str, Any] | None = None) -> Reading:
    """Read ``data`` (or take the problem a channel already found, e.g. ``too_big``) and answer: the
    line of what was read and the consultation, or why it could not be read."""
    reading = await reader().read(data) if isinstance(data, bytes) else Reading(problem=data)
    if reading.problem:
        await output.send_text_message(sender, reading.answer)
        return reading
    await output.send_text_message(sender, reading.preview)
    read = clean_text(reading.text)  # the same door as typed text: cleaned, at most 2,000 characters
    await handle(UserMessage(read.text, output, sender, input_channel=input_channel, metadata=metadata))
    return reading
