"""Rule-based entities for Chinese fraud consultations, and redaction of personal numbers.

Residents paste numbers, links and amounts in every shape; a statistical extractor trained
on a few thousand examples would miss most of them, while these shapes are regular. The
rules live here once and serve three users: the spaCy pipeline component (``doc.ents``),
the Rasa entity extractor that reads those ents, and :func:`redact` for everything that is
stored or logged.

Every repetition in these rules is bounded (a phone, card, ID, amount or domain label has
a maximum length) and every pattern that can start inside a run of digits or letters is
anchored to the start of that run by a look-behind. A hostile 20,000-character message
therefore costs one linear pass per pattern instead of a backtracking scan from every
position (issue 18: 10,000 digits used to take 5.7 s a pass).
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

# Full-width digits and letters (１３８, ＱＱ) read as their ASCII twins. One character for one,
# so every span found in the translated view is also the span in the original text.
_FULLWIDTH = str.maketrans({code: code - 0xFEE0 for code in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B),
                                                             *range(0xFF41, 0xFF5B)]})

_NOT_DIGIT_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_DIGIT_AFTER = r"(?![0-9])"
_URL_CHAR = r"[^\s，。！？、“”\"'<>（）()【】]"
_TLDS = ("com|cn|net|org|top|xyz|vip|cc|me|info|shop|site|online|club|ltd|link|app|io|icu|work|fun|tk|ml"
         "|live|pro|bid|win")
_CN_MONEY_CHARS = "零〇一二两三四五六七八九十百千万萬亿拾佰仟"
_CN_COUNT_CHARS = "一二两三四五六七八九十半几"
_IM_APPS = "QQ|qq|扣扣|微信|vx|VX|wx|WX|v信|V信|薇信|威信"

# Order matters: earlier labels win where matches overlap (an ID number is not a card).
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("url", re.compile(
        r"(?:https?://|www\.)" + _URL_CHAR + r"{1,2048}"
        # A domain starts a run of letters, digits and dashes (never inside one); labels are at
        # most 63 characters and a name has at most ten of them before the suffix.
        r"|(?<![A-Za-z0-9@.-])[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9-]{1,63}){0,10}"
        r"\.(?:" + _TLDS + r")"
        r"(?:/" + _URL_CHAR + r"{0,2048})?(?![A-Za-z0-9])",
        re.IGNORECASE)),
    ("id_number", re.compile(
        _NOT_DIGIT_BEFORE + r"[1-9][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
        r"[0-9]{3}[0-9Xx](?![0-9A-Za-z])")),
    ("bank_card", re.compile(
        _NOT_DIGIT_BEFORE + r"(?:[0-9]{4}[ -]?){3}[0-9]{4}(?:[ -]?[0-9]{1,3})?" + _NOT_DIGIT_AFTER)),
    ("phone", re.compile(
        _NOT_DIGIT_BEFORE + r"(?:"
        r"(?:\+|00)[0-9]{1,3}[ -]?[0-9]{3,4}[ -]?[0-9]{3,4}[ -]?[0-9]{0,4}"  # international, +00 / 00 prefix
        r"|(?:\+?86[ -]?)?1[3-9][0-9][ -]?[0-9]{4}[ -]?[0-9]{4}"  # mobile
        r"|0[0-9]{2,3}[ -]?[0-9]{7,8}"  # landline with area code
        r"|400[ -]?[0-9]{3}[ -]?[0-9]{4}"
        r"|(?:0[0-9]{2,3}[ -]?)?96110|95[0-9]{3,4}|1[0-9]{4}|110|120|119|122"  # service numbers
        r")" + r"(?![0-9]|\s{0,4}(?:元|块|万|千|w|W|次|个|天|岁|号楼|分))")),
    ("im_account", re.compile(
        r"(?:QQ|qq|扣扣)号?码?\s{0,3}(?:是|为|:|：)?\s{0,3}[0-9]{5,11}(?![0-9])"
        r"|(?:微信|vx|VX|wx|WX|v信|V信|薇信|威信)号?码?\s{0,3}(?:是|为|:|：)\s{0,3}[A-Za-z][-_A-Za-z0-9]{5,19}")),
    ("money", re.compile(
        r"(?<![0-9])[0-9]{1,13}(?:,[0-9]{3}){0,4}(?:\.[0-9]{1,4})?\s{0,3}"
        r"(?:[万萬千百亿wWkK]多?\s{0,3}(?:元|块钱|块|人民币|rmb|RMB)?|(?:元|块钱|块|人民币|rmb|RMB))"
        rf"|(?<![{_CN_MONEY_CHARS}])[{_CN_MONEY_CHARS}]{{1,12}}多?(?:元|块钱|块|万|萬)"
        r"[零一二两三四五六七八九千百]?(?:元|块钱|块)?")),
    ("time_ago", re.compile(
        r"刚才|刚刚|方才|昨晚|今早|前天|大前天"
        rf"|(?:(?<![0-9])[0-9]{{1,4}}|(?<![{_CN_COUNT_CHARS}])[{_CN_COUNT_CHARS}]{{1,6}})"
        r"\s{0,3}个?多?(?:分钟|小时|钟头|天|周|星期|礼拜|月)(?:之前|以前|前)"
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
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([万萬千百亿wWkK]?)", core)
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
        return re.split(r"[是为:：\s]", re.sub(rf"^(?:{_IM_APPS})号?码?", "", text))[-1]
    lexicon = _lexicon().get(label)
    if lexicon:
        return lexicon.get(text, text)
    return text


def find_entities(text: str) -> list[Found]:
    """All entities in ``text``, left to right, without overlaps (earlier patterns win).

    Full-width digits and letters are read as ASCII (the value of ``１３８…`` is ``138…``);
    spans and surface text refer to ``text`` as given.
    """
    view = text.translate(_FULLWIDTH)
    # One flag per character: matches of one pattern are disjoint, so checking and marking
    # costs at most the text's length per pattern.
    occupied = bytearray(len(text))
    taken: list[Found] = []
    for label, pattern in PATTERNS + _lexicon_patterns():  # priority order
        for m in pattern.finditer(view):
            start, end = m.span()
            if end <= start or occupied.find(1, start, end) != -1:
                continue
            occupied[start:end] = b"\x01" * (end - start)
            taken.append(Found(label, start, end, text[start:end], _value(label, m.group())))
    return sorted(taken, key=lambda f: f.start)


# --- redaction -------------------------------------------------------------------------

REDACTED_LABELS = ("phone", "bank_card", "id_number", "im_account")
MASK = "*"
MIN_PERSONAL_DIGITS = 7
"""A run of this many digits or more is treated as personal (phone, card, ID, account), unless official."""

# Digits as residents write them: ASCII, full-width, Chinese numerals as read aloud (幺 for 1), and
# the financial forms (壹贰叁). Separators that may stand between two digits of one number: spaces,
# dashes, dots, commas, slashes, underscores and invisible characters, up to five in a row.
_CN_DIGIT_CHARS = "零〇一二两三四五六七八九幺壹贰叁肆伍陆柒捌玖"
_DIGIT_CHARS = "0-9" + _CN_DIGIT_CHARS  # matched on the view, where full-width digits are ASCII
_SEPARATORS = "\\s\\-‐‑‒–—―－.．·・,/\\\\_\u00ad\u200b-\u200f\u2060-\u2064\ufeff"
_DIGIT_RUN = re.compile(f"[{_DIGIT_CHARS}](?:[{_SEPARATORS}]{{0,5}}[{_DIGIT_CHARS}])*")
_DIGIT_CLASS = re.compile(f"[{_DIGIT_CHARS}]")
_SEPARATOR_RUN = re.compile(f"[{_SEPARATORS}]+")
_CN_DIGIT_SET = frozenset(_CN_DIGIT_CHARS)
_TO_ASCII = str.maketrans(_CN_DIGIT_CHARS, "0012234567891123456789")
# A QQ or WeChat id named as such (QQ号：12345, 微信 是 wxid_abc): masked whatever its length or form.
_CONTACT_ID = re.compile(
    r"(?:QQ|扣扣|企鹅|微信|weixin|vx|wx|v信|薇信|威信)号?码?\s{0,3}(?:是|为|:|：)?\s{0,3}"
    rf"([{_DIGIT_CHARS}A-Za-z_\-\u200b-\u200d\u2060\ufeff]{{5,30}})",
    re.IGNORECASE)
# An entity as logs and dumps serialise it ({"entity": "im_account", ..., "value": "wxid_abc"}): its value
# is personal even where nothing around it says so. Either key may come first; the gap between is bounded.
_PERSONAL_LABEL = "|".join(REDACTED_LABELS)


def _key_value(key: str, value: str, n: int) -> str:
    return (rf"(?P<k{n}>[\"']){key}(?P=k{n})\s{{0,3}}:\s{{0,3}}(?P<v{n}>[\"'])(?P<{key}{n}>{value})(?P=v{n})")


_SERIALISED_ENTITY = re.compile(
    _key_value("entity", _PERSONAL_LABEL, 1) + r"[^{}]{0,300}?" + _key_value("value", r"[^\"'\\]{1,100}", 2)
    + "|" + _key_value("value", r"[^\"'\\]{1,100}", 3) + r"[^{}]{0,300}?" + _key_value("entity", _PERSONAL_LABEL, 4))
# Lines that identify nobody and that officers need to read: 110, 95588, 12345, 96110 with an area code …
_OFFICIAL = re.compile(r"(?:0[0-9]{2,3})?96110|11[0249]|12[02]|1[0-9]{4}|9[56][0-9]{3,4}")
# Runs of digits that are not a person's number: a date (2024-11-29, 2024.1.5, with the hour after it), a probability
# (0.98123456, as in Rasa's logs of confidences), a Unix time with its fraction (1732867200.123).
# (The entity rules are not used for masking: every phone, card or ID they find is such a run, and
# they also match inside these harmless ones, e.g. 16 digits after "0." read as a card.)
_HARMLESS = re.compile(r"(?:19|20)[0-9]{2}[-./](?:0?[1-9]|1[0-2])[-./](?:0?[1-9]|[12][0-9]|3[01])(?:\s{1,2}[0-9]{1,2})?"
                       r"|0\.[0-9]+|1[5-9][0-9]{8}\.[0-9]+")
_FRACTION = re.compile(r"[0-9]\.[0-9]+")  # with an exponent after it (2.58e-15), a float as Python prints it
_EXPONENT = re.compile(r"e[-+][0-9]")


def is_official_number(digits: str) -> bool:
    """True for a hotline or service number (110, 95588, 0571-96110), given as plain digits."""
    return _OFFICIAL.fullmatch(digits) is not None


def is_personal_number(digits: str) -> bool:
    """True when ``digits`` (plain ASCII digits) is long enough to identify a person and not official."""
    return len(digits) >= MIN_PERSONAL_DIGITS and not is_official_number(digits)


def redact(text: str) -> str:
    """Mask personal numbers so logs and stored conversations keep the shape but not the person.

    Masked: any run of seven digits or more however it is written (full-width, Chinese numerals,
    split by spaces, dashes, dots or zero-width characters, inside a URL query, a phone glued to a
    card number), so every phone, card and ID number; and QQ/WeChat ids named as such (QQ号：12345)
    or serialised as a personal entity's value. Official service numbers (95588, 96110, 110 …)
    stay readable: they identify nobody and officers need to see them. The result has the length
    of ``text``; long numbers keep their first three and last two digits (138******78) so a reader
    still sees what kind of number it was, ids are hidden whole.
    """
    if not text:
        return text
    view = text.translate(_FULLWIDTH)
    numbers = _run_spans(view)  # shown as 138******78
    accounts = [*_contact_spans(view), *_serialised_entity_spans(view)]  # hidden whole
    if not numbers and not accounts:
        return text
    hidden = bytearray(len(text))
    for start, end in numbers:
        _hide(view, start, end, hidden, keep_ends=True)
    for start, end in accounts:
        _hide(view, start, end, hidden, keep_ends=False)
    return "".join(MASK if flag else ch for ch, flag in zip(text, hidden, strict=True))


def mask(value: str) -> str:
    """``value`` with every letter and digit masked: for a value already known to be personal."""
    return "".join(MASK if ch.isalnum() else ch for ch in value)


def _run_spans(view: str) -> list[tuple[int, int]]:
    spans = []
    for m in _DIGIT_RUN.finditer(view):
        run = m.group()
        digits = "".join(_DIGIT_CLASS.findall(run)).translate(_TO_ASCII)
        if (not is_personal_number(digits) or _HARMLESS.fullmatch(run) or _official_list(run)
                or (_FRACTION.fullmatch(run) and _EXPONENT.match(view, m.end()))):
            continue
        spans.append(m.span())
    return spans


def _official_list(run: str) -> bool:
    """True for hotlines listed one after another (110 96110 95588), which read as one long run."""
    groups = _SEPARATOR_RUN.split(run.translate(_TO_ASCII))
    return len(groups) > 1 and all(is_official_number(group) for group in groups)


def _contact_spans(view: str) -> list[tuple[int, int]]:
    return [m.span(1) for m in _CONTACT_ID.finditer(view)]


def _serialised_entity_spans(view: str) -> list[tuple[int, int]]:
    spans = []
    for m in _SERIALISED_ENTITY.finditer(view):
        group = "value2" if m.group("value2") is not None else "value3"
        label = m.group("entity1") or m.group("entity4")
        if label == "phone" and not is_personal_number(_value(label, m.group(group)).lstrip("+")):
            continue
        spans.append(m.span(group))
    return spans


def _hide(view: str, start: int, end: int, hidden: bytearray, keep_ends: bool) -> None:
    """Mark the digits and letters of ``view[start:end]`` hidden (with ``keep_ends``, not the first 3 and last 2
    of a number of 11 or more)."""
    positions = [i for i in range(start, end)
                 if (view[i].isascii() and view[i].isalnum()) or view[i] in _CN_DIGIT_SET]
    keep = set(positions[:3] + positions[-2:]) if keep_ends and len(positions) >= 11 else set()
    for i in positions:
        if i not in keep:
            hidden[i] = 1
