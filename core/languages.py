"""The resident's language: Simplified Chinese, Traditional Chinese or English.

The NLU reads every message in Simplified Chinese (the normaliser converts Traditional); the
reply should still reach the resident in their own script, and an English scam should get an
English verdict and the numbers to call (``data/english.yml``) rather than "could not read".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import opencc

from core.knowledge import data_dir, fresh_yaml

SIMPLIFIED, TRADITIONAL, ENGLISH = "zh", "zh_hant", "en"
ENGLISH_FILE = "english.yml"
_HAN = re.compile("[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z][A-Za-z']{0,30}")
# Traditional when at least this many characters (and this share of the Han text) change in t2s:
# one shared character (著, 乾) is not a script.
MIN_TRADITIONAL_CHARS, MIN_TRADITIONAL_SHARE = 2, 0.1


@lru_cache(maxsize=2)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def language_of(text: str) -> str:
    """``zh`` (the default), ``zh_hant`` or ``en`` for a resident's message as they typed it."""
    han = _HAN.findall(text)
    if han:
        chinese = "".join(han)
        changed = sum(a != b for a, b in zip(chinese, _converter("t2s").convert(chinese), strict=False))
        traditional = changed >= MIN_TRADITIONAL_CHARS and changed / len(chinese) >= MIN_TRADITIONAL_SHARE
        return TRADITIONAL if traditional else SIMPLIFIED
    words = [w.lower() for w in _WORD.findall(text) if len(w) > 1]
    common = set(str(_english().get("words") or "").lower().split())
    letters = sum(ch.isascii() and (ch.isalpha() or ch in " ,.'?!:$-/") for ch in text)
    if len(words) >= 3 and len(set(words) & common) >= 2 and letters >= 0.8 * len(text.strip()):
        return ENGLISH
    return SIMPLIFIED


def in_script(texts: list[str], language: str) -> list[str]:
    """The reply in the resident's script: Traditional characters for a Traditional message."""
    if language != TRADITIONAL:
        return texts
    convert = _converter("s2t").convert
    return [convert(text) for text in texts]


@dataclass(frozen=True)
class EnglishVerdict:
    risk: str
    messages: list[str]


def _english() -> dict[str, Any]:
    return fresh_yaml(data_dir() / ENGLISH_FILE) or {}


def english_verdict(text: str) -> EnglishVerdict:
    """High for any demand (pay, a code, an app, a link to click, secrecy), medium for a claimed
    authority or pressure alone, low otherwise; the reply names 96110 and 110 in every case."""
    data = _english()
    lowered = text.lower()

    def any_of(key: str) -> bool:
        return any(re.search(str(p), lowered) for p in data.get(key) or ())

    level = "high" if any_of("demands") else "medium" if any_of("signs") else "low"
    return EnglishVerdict(level, [str(t) for t in (data.get("replies") or {}).get(level) or ()])
