"""One way of writing for every model: the text the NLU reads, whatever way the resident typed it.

Residents write in Traditional characters, dictate by voice (工安局, 验正码), paste SMS whose
links and numbers a forwarding app replaced by ``[链接]`` or ``XXXX``, and scammers write 薇信
and decorate with emoji to slip past filters. The models were trained on plain Simplified
text; each of these spellings would otherwise be a different word to them.

:func:`normalise_for_nlu` runs first in the NLU pipeline (``nlu.text_normalizer.TextNormalizer``),
for training and for every message, so both see the same text. It is a pure function of the
text: no Rasa, no state. The channel door (:func:`bot.inbound.normalise`) has already removed
surrogates, zero-width and control characters and made full-width letters and digits
half-width; it is applied again here so that text from any caller is treated alike.

Shape of the result: never longer than the input. Traditional → Simplified (OpenCC's t2s tables
map every entry to one of the same length) and the homophones keep every character in place;
emoji, stickers and the spaces of spaced-out words are removed, and a placeholder becomes 链接
(a link was there) or 某 (something was masked). Entity spans refer to the normalised text.
Every step is a precompiled regular expression or OpenCC's converter: one linear pass each,
about 0.8 ms for a 2,000-character message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import opencc
import yaml

from bot.inbound import normalise as normalise_door

HOMOPHONES_PATH = Path(__file__).with_name("homophones.yml")

LINK_TOKEN = "链接"
"""What a link placeholder becomes: the word the signals already read (点击链接)."""

MASK_TOKEN = "某"
"""What a mask becomes (【XX银行】 → 【某银行】, 刘XX → 刘某): how Chinese writes "a certain"."""

_CJK = "\u3400-\u4dbf\u4e00-\u9fff"

# Emoji and pictographs (the whole U+1F000–1FBFF block range: emoticons, symbols, transport,
# flags, skin tones), dingbats and miscellaneous symbols (☎ ✅ ❤ ★), the clock and media
# pictographs of Miscellaneous Technical, arrows-and-stars emoji (⭐ ⬆ ⭕), ㊗ ㊙, variation
# selectors, the combining keycap (1️⃣ keeps its digit), private-use characters (old phone
# emoji), and blanks that bot.inbound does not know (Braille blank, Hangul fillers) which
# people use to write "nothing".
_REMOVED = re.compile(
    "[\U0001f000-\U0001fbff\u2600-\u27bf\u2b00-\u2bff\u231a\u231b\u2328\u23cf\u23e9-\u23fa"
    "\u3297\u3299\ufe00-\ufe0f\u20e3\ue000-\uf8ff\u2800\u3164\uffa0\u115f\u1160\u17b4\u17b5]"
)
# A spaced-out word (加 微 信, 转 账 给 我): three or more characters each standing alone
# between spaces, joined again. Spaces between words (你好 我是小王) and a single character
# after a number (第032期 大 单) stay.
# The match starts at the first space (a literal the engine can skip to) and looks back at the
# character before it.
_SPACED_OUT = re.compile(
    rf" (?<=[{_CJK}] )(?<![{_CJK}0-9A-Za-z][{_CJK}] )[{_CJK}](?: [{_CJK}])+(?![{_CJK}])"
)
# A mask standing alone: a run of x, ×, *, ● that is not part of a number, an ID or a link
# (137xxxx5521, zq88xx and dk.xxjr.com keep their shape, so entity rules still see them).
# Stars need three: two may be Markdown bold (**注意**). The first mask character comes first
# in the pattern (its neighbour is checked by a look-behind after it) so the engine can skip
# straight to candidates.
_NOT_MASKED = r"A-Za-z0-9_./:@\-"
_NOT_BEFORE_MASK = _NOT_MASKED + r"×*＊●•"  # a run starts at its first character (鲁A**** stays)
_MASK_RUN = re.compile(
    rf"(?:[xX](?<![{_NOT_BEFORE_MASK}][xX])[xX]+|×(?<![{_NOT_BEFORE_MASK}]×)×+"
    rf"|\*(?<![{_NOT_BEFORE_MASK}]\*)\*\*+|＊(?<![{_NOT_BEFORE_MASK}]＊)＊+"
    rf"|[●•](?<![{_NOT_BEFORE_MASK}][●•])[●•]+)(?![{_NOT_MASKED}×*＊●•])"
)
# Placeholders are a known word between brackets; never between parentheses, where 电话 or 时间
# is an ordinary aside. Masks are never between 【】 (an SMS signature), stickers only in [].
_OPEN, _CLOSE = "[\\[【<＜{［]{1,2}", "[\\]】>＞}］]{1,2}"


# A slip written in Latin letters (pinyin initials: yzm 验证码, yhk 银行卡) and what may not touch it.
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_LATIN_NEIGHBOUR = r"A-Za-z0-9_@.\-/*＊×●•"  # a masked ID (dk****1234) is not a word


@dataclass(frozen=True)
class _Rules:
    """The compiled rules of ``homophones.yml``."""

    placeholders: re.Pattern[str]
    placeholder_kinds: dict[str, str]
    homophones: re.Pattern[str]
    right: dict[str, str]


def normalise_for_nlu(text: str) -> str:
    """The text as every NLU model reads it.

    In order: the channel door's cleaning; emoji and invisible blanks removed; Traditional →
    Simplified (OpenCC ``t2s``); link placeholders → 链接, masks → 某, chat stickers removed;
    spaced-out words joined; voice-input slips corrected (``homophones.yml``). Idempotent.
    """
    if not text:
        return ""
    rules = _rules()
    text = _REMOVED.sub("", normalise_door(text))
    text = _converter().convert(text)
    text = rules.placeholders.sub(_placeholder, text)
    text = _MASK_RUN.sub(MASK_TOKEN, text)
    text = _SPACED_OUT.sub(lambda match: match.group().replace(" ", ""), text)
    # A slip's context may itself be a slip (加俺威信: 俺 → 我 makes 威信 the app's name), and all slips are
    # replaced in one pass that reads the text as it was; a second pass (at most three) keeps this idempotent.
    for _ in range(3):
        fixed = rules.homophones.sub(lambda match: rules.right[_key(match.group())], text)
        if fixed == text:
            break
        text = fixed
    return text.strip()


def _key(slip: str) -> str:
    """The ``homophones.yml`` entry of a slip as found: Latin initials are listed in lower case (YZM is yzm)."""
    return slip.lower() if _LATIN_WORD.fullmatch(slip) else slip


def _placeholder(match: re.Match[str]) -> str:
    kind = _rules().placeholder_kinds.get(match.group("word").lower())
    opening, closing = match.group("open"), match.group("close")
    if kind == "link":
        return LINK_TOKEN
    if kind == "mask" and "【" not in opening:
        return MASK_TOKEN
    if kind == "sticker" and opening == "[" and closing == "]":
        return ""
    return match.group()


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    # t2s: characters and OpenCC's phrase table, no regional vocabulary (tw2sp would turn the
    # mainland word 影片 into 视频); OpenCC leaves Simplified text as it is.
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=4)
def _rules(path: Path = HOMOPHONES_PATH) -> _Rules:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return compile_rules(data)


def compile_rules(data: dict[str, Any]) -> _Rules:
    """Compile the data of ``homophones.yml``; raise ValueError on an entry that is not sound."""
    right: dict[str, str] = {}
    branches: list[str] = []
    entries = sorted(data.get("homophones") or [], key=lambda entry: -len(str(entry.get("wrong", ""))))
    for entry in entries:
        wrong, fixed = str(entry.get("wrong") or ""), str(entry.get("right") or "")
        if not wrong or len(wrong) != len(fixed) or wrong == fixed:
            raise ValueError(f"homophone {wrong!r} → {fixed!r}: both needed, different, same length")
        if _key(wrong) in right:
            raise ValueError(f"homophone {wrong!r} listed twice")
        right[_key(wrong)] = fixed
        branches.append(_homophone_branch(wrong, entry))
    kinds: dict[str, str] = {}
    for kind, key in (("sticker", "stickers"), ("mask", "mask_placeholders"), ("link", "link_placeholders")):
        kinds.update({str(word).lower(): kind for word in data.get(key) or [] if str(word)})
    # Any short word between brackets, then looked up: one step per position, however many
    # words the data lists.
    longest = max((len(word) for word in kinds), default=1)
    placeholders = re.compile(
        rf"(?P<open>{_OPEN})\s?(?P<word>[^\s\[\]【】<>＜＞{{}}［］]{{1,{longest}}})\s?(?P<close>{_CLOSE})"
    )
    homophones = re.compile("|".join(branches)) if branches else re.compile(r"(?!x)x")
    return _Rules(placeholders=placeholders, placeholder_kinds=kinds, homophones=homophones, right=right)


def _homophone_branch(wrong: str, entry: dict[str, Any]) -> str:
    """One alternative of the homophone pattern: the literal first, its context checked after.

    Putting the literal first lets the regex engine skip ahead to where the slip's first
    character occurs; contexts before the slip are look-behinds that include the slip itself.
    """
    core = re.escape(wrong)
    if _LATIN_WORD.fullmatch(wrong):
        # pinyin initials (yzm, YHK) as a whole Latin word in any case: never a piece of an ID, a link or an e-mail
        core = rf"(?<![{_LATIN_NEIGHBOUR}])(?i:{core})(?![{_LATIN_NEIGHBOUR}])"
    after = [re.escape(str(word)) for word in entry.get("only_after") or []]
    before = [re.escape(str(word)) for word in entry.get("only_before") or []]
    required = [f"(?<={word}{core})" for word in after] + [f"(?={word})" for word in before]
    branch = core + (f"(?:{'|'.join(required)})" if required else "")
    for word in entry.get("never_after") or []:
        branch += f"(?<!{re.escape(str(word))}{core})"
    never_before = [re.escape(str(word)) for word in entry.get("never_before") or []]
    if never_before:
        branch += f"(?!{'|'.join(never_before)})"
    return branch
