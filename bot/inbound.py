"""What every channel does to a resident's text before anything else sees it.

One door for REST, Telegram, WeChat, WeCom and the command line: a lone surrogate once made
the SQL tracker store stop the whole server, zero-width characters split numbers so that
redaction missed them, and a 20,000-character paste tied the NLU up for a minute. Cleaning
here keeps every later step (NLU, redaction, storage) working on plain, bounded text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_TEXT_CHARS = 2000
"""The NLU reads at most this many characters; the resident is told the rest was not read."""

_SURROGATE = re.compile("[\ud800-\udfff]")
# Zero-width and invisible formatting characters (ZWSP/ZWNJ/ZWJ, bidi marks, word joiner,
# BOM, soft hyphen): they change nothing a person sees but break numbers and keywords.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")
# Full-width ASCII digits and letters (１３８, ＡＢＣ) become half-width so the entity rules and the
# redaction see them; full-width punctuation (，。：) stays, since the NLU is trained on it.
_FULLWIDTH = {code: code - 0xFEE0 for code in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B),
                                               *range(0xFF41, 0xFF5B)]}
_FULLWIDTH[0x3000] = 0x20  # ideographic space


@dataclass(frozen=True)
class CleanText:
    """A resident's text as the bot reads it, and whether the end was cut off."""

    text: str
    truncated: bool = False


def _control_free(text: str) -> str:
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def normalise(text: str) -> str:
    """Unpaired surrogates replaced, invisible and control characters dropped, full-width digits halved."""
    text = _SURROGATE.sub("\ufffd", text)
    text = _INVISIBLE.sub("", text).translate(_FULLWIDTH)
    return _control_free(text).strip()


def clean_text(raw: object, limit: int = MAX_TEXT_CHARS) -> CleanText:
    """The text to hand to the bot, from whatever a client sent.

    Anything that is not a string becomes empty text (the bot then asks for the message and
    names 96110/110); a string is normalised and cut to ``limit`` characters.
    """
    if not isinstance(raw, str):
        return CleanText("")
    text = normalise(raw)
    if len(text) > limit:
        return CleanText(text[:limit], truncated=True)
    return CleanText(text)
