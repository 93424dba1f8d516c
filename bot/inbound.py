"""What every channel does to a resident's text before anything else sees it.

One door for REST, Telegram, WeChat, WeCom and the command line: a lone surrogate once made
the SQL tracker store stop the whole server, zero-width characters split numbers so that
redaction missed them, and a 20,000-character paste tied the NLU up for a minute. Cleaning
here keeps every later step (NLU, redaction, storage) working on plain, bounded text.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2000
"""The NLU reads at most this many characters; the resident is told the rest was not read."""

MAX_METADATA_BYTES = 2048
"""A client's metadata is stored with every message; more than this is a client misbehaving."""

NEVER_FROM_CLIENTS = frozenset({"alert"})
"""Metadata keys only a channel may set from its own knowledge (a reply to an alert it sent)."""

_SURROGATE = re.compile("[\ud800-\udfff]")
# Invisible characters (zero-width space/joiners, bidi marks and isolates, word joiner, BOM, soft
# hyphen, Mongolian vowel separator, combining grapheme joiner, interlinear annotation marks,
# tag characters, musical formatting) and control characters other than tab and newline: they
# change nothing a person sees but split numbers and keywords.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
# Full-width ASCII digits and letters (１３８, ＡＢＣ) become half-width so the entity rules and the
# redaction see them; full-width punctuation (，。：) stays, since the NLU is trained on it.
_FULLWIDTH = {code: code - 0xFEE0 for code in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B),
                                               *range(0xFF41, 0xFF5B)]}
_FULLWIDTH[0x3000] = 0x20  # ideographic space
# Only this much of a raw string is cleaned: enough for ``limit`` visible characters even when
# they are interleaved with invisible ones, and a 100 MB body costs no more than a long message.
_RAW_WINDOW_FACTOR = 4


@dataclass(frozen=True)
class CleanText:
    """A resident's text as the bot reads it, and whether the end was cut off."""

    text: str
    truncated: bool = False


def normalise(text: str) -> str:
    """Unpaired surrogates replaced, invisible and control characters dropped, full-width digits halved."""
    text = _SURROGATE.sub("\ufffd", text)
    return _INVISIBLE.sub("", text).translate(_FULLWIDTH).strip()


def clean_text(raw: object, limit: int = MAX_TEXT_CHARS) -> CleanText:
    """The text to hand to the bot, from whatever a client sent.

    Anything that is not a string becomes empty text (the bot then asks for the message and
    names 96110/110); a string is normalised and cut to ``limit`` characters.
    """
    if not isinstance(raw, str):
        return CleanText("")
    window = limit * _RAW_WINDOW_FACTOR
    text = normalise(raw[:window])
    if len(text) > limit:
        return CleanText(text[:limit].rstrip(), truncated=True)
    return CleanText(text, truncated=len(raw) > window)  # the rest of the window was invisible


def known_metadata(raw: object, keys: Iterable[str], max_bytes: int = MAX_METADATA_BYTES) -> dict[str, Any]:
    """The part of a client's metadata the bot may keep: known keys with plain values, capped in size.

    ``alert`` is never taken from a client, whatever ``keys`` says: a client could otherwise make
    the bot quote any text as a police alert. Metadata over ``max_bytes`` is dropped whole,
    since a client sending that much is not one whose values the bot should trust.
    """
    if not isinstance(raw, dict):
        return {}
    allowed = set(keys) - NEVER_FROM_CLIENTS
    kept = {key: _plain(raw[key]) for key in allowed if key in raw}
    kept = {key: value for key, value in kept.items() if value is not None}
    size = len(json.dumps(kept, ensure_ascii=False).encode("utf-8"))
    if size > max_bytes:
        logger.warning("client metadata of %d bytes dropped (limit %d)", size, max_bytes)
        return {}
    return kept


def _plain(value: object) -> str | int | float | bool | None:
    """A scalar value as it may be stored (strings normalised); anything nested is refused."""
    if isinstance(value, str):
        return normalise(value)
    if isinstance(value, (bool, int)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return None  # nested values, and NaN or infinity, which JSON cannot carry
