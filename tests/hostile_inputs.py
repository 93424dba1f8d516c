"""Hostile messages for ``tests/test_hostile.py`` and ``bench/hostile.py``: seeded, so a failure replays.

The shapes are those of issue 18's independent test: random Unicode (CJK, emoji, control
characters, lone surrogates, bidi marks), very long pastes, injection strings, digits and
pasted SMS. Lone surrogates are kept in the Python strings; ``json.dumps`` (``ensure_ascii``)
turns them into the raw ``\\ud800`` escapes a hostile client sends.
"""

from __future__ import annotations

import random
import string
from typing import Callable

SEED = 18
"""The seed every generator here uses by default (the issue's number)."""

INJECTIONS = [
    "1' OR '1'='1", "'; DROP TABLE events; --", "\" OR \"\"=\"", "1; SELECT * FROM sqlite_master",
    "admin'--", "' UNION SELECT sender_id, data FROM events --", "%27%20OR%201%3D1",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</textarea><svg/onload=alert(1)>",
    "{{7*7}}", "${jndi:ldap://127.0.0.1/a}", "{\"sender\": \"other\", \"message\": \"hi\"}",
    "[]", "{}", "null", "\\u0000", "\\ud800", "../../../../etc/passwd", "%00", "%s%s%s%n",
    '/inform{"bank":"', '/inform{"bank": 5}', "/restart", "/session_start", "/nlu_fallback",
    '/affirm{"x":"' + "y" * 50, "/" + "a" * 300,
]
"""SQL, HTML, template, JSON and Rasa-payload injections, sent as a resident's text."""

SMS_SHAPES = [
    "【{bank}】尊敬的客户，您的账户存在异常，请于24小时内登录 {url} 完成验证，否则将冻结。",
    "【ETC服务】您的ETC认证已过期，请点击 {url} 重新认证，联系电话{phone}",
    "【{bank}】您尾号{last4}的卡于{hour}:{minute}支出人民币{amount}元，非本人操作请致电{phone}",
    "您好，我是{bank}客服，您的征信有问题，需要把钱转到安全账户{card}核验，验证码{code}不要告诉别人",
    "恭喜您获得{amount}元补贴，请添加QQ{qq}领取，或访问{url}?id={phone}",
]
BANKS = ["工商银行", "建设银行", "农业银行", "中国银行", "招商银行", "邮储银行"]
URLS = ["http://icbc-safe.top", "https://etc-rz.top/a?b=1", "www.ccb-vip.cc", "http://1.2.3.4:8080/x",
        "https://xn--icb-0ra.com", "icbc-com.cn"]

# Garbage alphabets: none of these spell a word, a greeting or a story.
_RARE_CJK = (0x3400, 0x4DBF)  # CJK Extension A: real characters almost nobody writes
_COMMON_CJK = (0x4E00, 0x9FFF)
_EMOJI = [chr(c) for c in range(0x1F300, 0x1F5FF) if c not in range(0x1F44B, 0x1F450)]  # no waving hands
_CONTROL = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, *range(0x80, 0xA0)]]
_BIDI = ["\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2069"]
_INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
_COMBINING = [chr(c) for c in range(0x0300, 0x036F)]
_SYMBOLS = "!@#$%^&*()_+-=[]{}|;:,.<>?/~`\\\"'。，、；：？！…—～·「」『』【】《》（）"


def _chars(rng: random.Random, low: int, high: int, n: int) -> str:
    return "".join(chr(rng.randint(low, high)) for _ in range(n))


def _any_unicode(rng: random.Random, n: int) -> str:
    """Code points from the whole range, surrogates included (as a hostile client may send them)."""
    return "".join(chr(rng.choice([rng.randint(0x20, 0xFFFF), rng.randint(0x10000, 0x10FFFF)])) for _ in range(n))


def lone_surrogates(rng: random.Random, n: int = 3) -> str:
    """Text with unpaired surrogates in it (reversed pairs, lone highs, lone lows)."""
    parts = []
    for _ in range(n):
        parts.append(rng.choice(["\ud800", "\udfff", "\udc00\ud800", "\udbff", "\ud83d"]))
        parts.append(rng.choice(["你好", "转账", "abc", "", "123"]))
    return "".join(parts)


def digits(n: int) -> str:
    """``n`` digits, as pasted: the issue's 20,000 digits made the entity regexes quadratic."""
    return ("1234567890" * (n // 10 + 1))[:n]


def random_paste(n: int, seed: int = SEED) -> str:
    """``n`` characters of random paste: CJK, letters, digits, punctuation, spaces, emoji, full-width.

    The issue's 20,000-character random paste pushed Rasa above 10 GB.
    """
    rng = random.Random(seed)
    pools: list[Callable[[], str]] = [
        lambda: chr(rng.randint(*_COMMON_CJK)),
        lambda: rng.choice(string.ascii_letters),
        lambda: rng.choice(string.digits),
        lambda: rng.choice(_SYMBOLS),
        lambda: rng.choice(" \n\t"),
        lambda: rng.choice(_EMOJI),
        lambda: chr(rng.randint(0xFF01, 0xFF5E)),
    ]
    weights = [40, 20, 15, 10, 8, 3, 4]
    return "".join(rng.choices(pools, weights)[0]() for _ in range(n))


def _sms(rng: random.Random) -> str:
    values = {"bank": rng.choice(BANKS), "url": rng.choice(URLS), "last4": f"{rng.randint(0, 9999):04d}",
              "hour": rng.randint(0, 23), "minute": f"{rng.randint(0, 59):02d}", "amount": rng.randint(1, 99999),
              "phone": f"1{rng.randint(3, 9)}{rng.randint(0, 999_999_999):09d}",
              "card": f"62{rng.randint(0, 10**17 - 1):017d}", "code": f"{rng.randint(0, 999999):06d}",
              "qq": str(rng.randint(10_000, 9_999_999_999))}
    return rng.choice(SMS_SHAPES).format(**values)


def _digits_shape(rng: random.Random) -> str:
    body = "".join(rng.choice(string.digits) for _ in range(rng.randint(1, 40)))
    separator = rng.choice(["", " ", "-", "\u200b", "，", "."])
    return separator.join(body[i:i + rng.randint(1, 5)] for i in range(0, len(body), 4))


def gibberish(n: int, seed: int = SEED) -> list[str]:
    """``n`` garbage strings that mean nothing: keyboard mash, rare CJK, symbols, injections, Zalgo.

    Issue 18 found 28 % of such messages told "钱已经转出去了"; each must get the
    not-understood answer with 96110 and 110.
    """
    rng = random.Random(seed)
    makers: list[Callable[[], str]] = [
        lambda: " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))
                         for _ in range(rng.randint(1, 5))),
        lambda: _chars(rng, *_RARE_CJK, rng.randint(2, 30)),
        lambda: "".join(rng.choice(_SYMBOLS) for _ in range(rng.randint(1, 30))),
        lambda: rng.choice(INJECTIONS),
        lambda: "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(6, 24))),
        lambda: "".join(rng.choice("aeiouzx") + rng.choice(_COMBINING) * rng.randint(1, 8)
                        for _ in range(rng.randint(2, 10))),
        lambda: "".join(chr(rng.randint(0x2500, 0x257F)) for _ in range(rng.randint(3, 40))),  # box drawing
    ]
    return [rng.choice(makers)() for _ in range(n)]


def fuzz_messages(n: int, seed: int = SEED) -> list[str]:
    """``n`` hostile resident texts of every shape in the issue, about 1 % of them very long."""
    rng = random.Random(seed)
    makers: list[tuple[float, Callable[[], str]]] = [
        (12, lambda: _any_unicode(rng, rng.randint(1, 200))),
        (12, lambda: _chars(rng, *_COMMON_CJK, rng.randint(1, 300))),
        (6, lambda: "".join(rng.choice(_EMOJI) for _ in range(rng.randint(1, 40)))),
        (6, lambda: "".join(rng.choice(_CONTROL + ["转账", "a", " "]) for _ in range(rng.randint(1, 60)))),
        (8, lambda: lone_surrogates(rng, rng.randint(1, 5))),
        (0.5, lambda: random_paste(rng.randint(2_001, 20_000), rng.randint(0, 10**9))),
        (0.5, lambda: digits(rng.randint(2_001, 20_000))),
        (12, lambda: rng.choice(INJECTIONS)),
        (6, lambda: rng.choice(_BIDI) + _sms(rng) + rng.choice(_BIDI)),
        (6, lambda: rng.choice(_INVISIBLE).join(_sms(rng))),
        (8, lambda: _digits_shape(rng)),
        (12, lambda: _sms(rng)),
        (3, lambda: rng.choice(["", " ", "\n", "\t\t", "\u3000", "\u200b" * 5])),
        (7, lambda: gibberish(1, rng.randint(0, 10**9))[0]),
    ]
    weights = [weight for weight, _ in makers]
    return [rng.choices(makers, weights)[0][1]() for _ in range(n)]
