"""Rule-based entities for Chinese fraud consultations, and redaction of personal numbers.

Residents paste numbers, links and amounts in every shape; a statistical extractor trained
on a few thousand examples would miss most of them, while these shapes are regular. The
rules live here once and serve three users: the spaCy pipeline component (``doc.ents``),
the Rasa entity extractor that reads those ents, and :func:`redact` for logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

LEXICON_PATH = Path(__file__).with_name("lexicon.yml")

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_BIG = {"万": 10_000, "萬": 10_000, "亿": 100_000_000}
_SUFFIX_UNITS = {"w": 10_000, "W": 10_000, "万": 10_000, "萬": 10_000, "k": 1000, "K": 1000,
                 "千": 1000, "百": 100, "亿": 100_000_000}

_NOT_DIGIT_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_DIGIT_AFTER = r"(?![0-9])"

# Order matters: earlier labels win where matches overlap (an ID number is not a card).
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("url", re.compile(
        r"(?:https?://|www\.)[^\s，。！？、“”\"'<>（）()【】]+"
        r"|(?<![A-Za-z0-9@.])[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*"
        r"\.(?:com|cn|net|org|top|xyz|vip|cc|me|info|shop|site|online|club|ltd|link|app|io|icu|work|fun|tk|ml|live|pro|bid|win)"
        r"(?:/[^\s，。！？、“”\"'<>（）()【】]*)?(?![A-Za-z0-9])",
        re.IGNORECASE)),
    ("id_number", re.compile(
        _NOT_DIGIT_BEFORE + r"[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
        + r"(?![0-9A-Za-z])")),
    ("bank_card", re.compile(_NOT_DIGIT_BEFORE + r"(?:\d{4}[ -]?){3}\d{4}(?:[ -]?\d{1,3})?" + _NOT_DIGIT_AFTER)),
    ("phone", re.compile(
        _NOT_DIGIT_BEFORE + r"(?:"
        r"(?:\+|00)\d{1,3}[ -]?\d{3,4}[ -]?\d{3,4}[ -]?\d{0,4}"  # international, +00 / 00 prefix
        r"|(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}"  # mobile
        r"|0\d{2,3}[ -]?\d{7,8}"  # landline with area code
        r"|400[ -]?\d{3}[ -]?\d{4}"
        r"|(?:0\d{2,3}[ -]?)?96110|95\d{3,4}|1\d{4}|110|120|119|122"  # service numbers
        r")" + r"(?![0-9]|\s*(?:元|块|万|千|w|W|次|个|天|岁|号楼|分))")),
    ("im_account", re.compile(
        r"(?:QQ|qq|扣扣)号?\s*(?:是|为|:|：)?\s*\d{5,11}(?![0-9])"
        r"|(?:微信|vx|VX|wx|WX|v信|V信|薇信|威信)号?\s*(?:是|为|:|：)\s*[A-Za-z][-_A-Za-z0-9]{5,19}")),
    ("money", re.compile(
        r"(?:\d+(?:,\d{3})*(?:\.\d+)?\s*(?:[万萬千百亿wWkK](?:多)?\s*(?:元|块钱|块|人民币|rmb|RMB)?"
        r"|(?:元|块钱|块|人民币|rmb|RMB)))"
        r"|[零〇一二两三四五六七八九十百千万萬亿拾佰仟]+(?:多)?(?:元|块钱|块|万|萬)"
        r"[零一二两三四五六七八九千百]?(?:元|块钱|块)?")),
    ("time_ago", re.compile(
        r"刚才|刚刚|方才|昨晚|今早|前天|大前天"
        r"|(?:\d+|[一二两三四五六七八九十半几]+)\s*(?:个)?(?:多)?(?:分钟|小时|钟头|天|周|星期|礼拜|月)(?:之前|以前|前)"
        r"|昨天(?:晚上|下午|上午|早上|中午)?|今天(?:早上|上午|中午|下午|晚上)")),
]


@dataclass(frozen=True)
class Found:
    """One entity found in a text: its label, character span, surface text and value."""

    label: str
    start: int
    end: int
    text: str
    value: str


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, dict[str, str]]:
    """Alias -> canonical name, per label, longest aliases first so 中国工商银行 beats 工商银行."""
    raw = yaml.safe_load(LEXICON_PATH.read_text(encoding="utf-8"))
    table: dict[str, dict[str, str]] = {}
    for label, names in raw.items():
        aliases = {alias: name for name, alias_list in names.items() for alias in alias_list}
        table[label] = dict(sorted(aliases.items(), key=lambda kv: -len(kv[0])))
    return table


@lru_cache(maxsize=1)
def _lexicon_patterns() -> list[tuple[str, re.Pattern[str]]]:
    return [
        (label, re.compile("|".join(re.escape(a) for a in aliases)))
        for label, aliases in _lexicon().items()
    ]


def chinese_number(text: str) -> int | None:
    """Parse a Chinese numeral such as 三万, 一万五, 两千五百, 一百零五; None if it is not one."""
    total, section, digit = 0, 0, None
    last_unit, after_zero = 1, False
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
            after_zero = after_zero or digit == 0
        elif ch in _CN_UNITS:
            section += (digit if digit is not None else 1) * _CN_UNITS[ch]
            last_unit, digit, after_zero = _CN_UNITS[ch], None, False
        elif ch in _CN_BIG:
            total += (section + (digit or 0) or 1) * _CN_BIG[ch]
            last_unit, section, digit, after_zero = _CN_BIG[ch], 0, None, False
        else:
            return None
    if digit is not None:
        # 一万五 is 15000 and 两千五 is 2500: a bare trailing digit takes the next unit down,
        # unless a 零 stands before it (一百零五 is 105).
        section += digit if after_zero or last_unit == 1 else digit * (last_unit // 10)
    return total + section


def money_value(text: str) -> str:
    """Normalise an amount to whole yuan as a string: '3万' -> '30000', '五千块' -> '5000'."""
    core = re.sub(r"(元|块钱|块|人民币|rmb|RMB|多|\s|,)", "", text)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([万萬千百亿wWkK]?)", core)
    if match:
        number = float(match.group(1)) * _SUFFIX_UNITS.get(match.group(2), 1)
        return str(int(round(number)))
    parsed = chinese_number(core)
    return str(parsed) if parsed is not None else text


def _value(label: str, text: str) -> str:
    if label in ("phone", "bank_card", "id_number"):
        return re.sub(r"[\s-]", "", text)
    if label == "money":
        return money_value(text)
    if label == "im_account":
        return re.split(r"[是为:：\s]", re.sub(r"^(QQ|qq|扣扣|微信|vx|VX|wx|WX|v信|V信|薇信|威信)号?", "", text))[-1]
    lexicon = _lexicon().get(label)
    if lexicon:
        return lexicon.get(text, text)
    return text


def find_entities(text: str) -> list[Found]:
    """All entities in ``text``, left to right, without overlaps (earlier patterns win)."""
    candidates: list[Found] = []
    for label, pattern in PATTERNS + _lexicon_patterns():
        for m in pattern.finditer(text):
            if m.end() > m.start():
                candidates.append(Found(label, m.start(), m.end(), m.group(), _value(label, m.group())))
    taken: list[Found] = []
    occupied: set[int] = set()
    for found in candidates:  # priority order is the order of PATTERNS, then lexicon
        span = set(range(found.start, found.end))
        if span & occupied:
            continue
        occupied |= span
        taken.append(found)
    return sorted(taken, key=lambda f: f.start)


REDACTED_LABELS = ("phone", "bank_card", "id_number", "im_account")


def redact(text: str) -> str:
    """Mask phone, card, ID and QQ/WeChat numbers so logs keep the shape but not the person.

    Official service numbers (95588, 96110, 110 …) stay readable: they identify nobody and
    officers need to see them.
    """
    out, last = [], 0
    for found in find_entities(text):
        if found.label not in REDACTED_LABELS or (found.label == "phone" and len(found.value) <= 7):
            continue
        out.append(text[last:found.start])
        out.append(_mask(found.text))
        last = found.end
    out.append(text[last:])
    return "".join(out)


def _mask(text: str) -> str:
    digits = [i for i, ch in enumerate(text) if ch.isalnum()]
    keep = set(digits[:3] + digits[-2:]) if len(digits) > 6 else set()
    return "".join(ch if (i in keep or not ch.isalnum()) else "*" for i, ch in enumerate(text))

