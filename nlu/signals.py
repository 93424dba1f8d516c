"""Red-flag signals: named things scammers ask of residents (``nlu/signals.yml``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

SIGNALS_PATH = Path(__file__).with_name("signals.yml")
# a negation does not reach across a clause: "款对不上，去银行柜台打了流水"
_NEGATION = re.compile(r"(没有|没|不|别|未|无|勿|莫)"
                       r"((?P<rest>[^\s，。,.;；!！?？]{0,2})|(用|让|叫|要|装|下|开|提|说)?(什么|任何|啥))$")
# "没人找她要验证码", "从没说过要我先垫钱": nobody asked, or it was never said (the negation sits further back).
_NOBODY = re.compile(r"((没有|没|无)人(找|问|跟|向|给)?(我|她|他|你|我们|我妈|我爸)?"
                     r"|(从没|从来没|没有|没|并没|也没)(说过|提过|说|提))(要|让|叫|问|提)(我|她|他)?(先)?$")
# "不补保证金还要倒赔", "不交保证金就冻结": the negation sets a condition, the threat follows.
_CONDITION_AFTER = re.compile(r"[^\s，。,.;；!！?？]?(就|还要|还得|将会|将|会被|要被|的话|否则)")
# "要是有人让我转钱", "是不是有人打电话让您转账": someone imagined, in the same clause, is not someone who asked.
_HYPOTHETICAL = re.compile(r"(要是|如果|假如|万一|若是|倘若|是不是|有没有|凡是)有人"
                           r"(给我|给你|给您|跟我|跟你|找我|找你|打电话|来电|打来)?[^\s，。,.;；!！?？]{0,6}$")
# "验证码也没要": the thing named, then denied (the subject is what was not asked for).
_DENIED_AFTER = re.compile(r"\S{0,3}?(也|都|倒|并|就)?(没有|没|从没|从来没)(要|提|问|让|说|要过|提过|问过|让我)")


@dataclass(frozen=True)
class Signal:
    """A red flag: its id, the name and explanation residents read, and how serious it is."""

    id: str
    name: str
    explain: str
    severity: str
    patterns: tuple[re.Pattern[str], ...]


@lru_cache(maxsize=1)
def signal_table() -> dict[str, Signal]:
    """All signals by id, in file order (the order they are explained to residents)."""
    raw = yaml.safe_load(SIGNALS_PATH.read_text(encoding="utf-8"))
    return {
        sid: Signal(sid, spec["name"], spec["explain"], spec["severity"],
                    tuple(re.compile(p) for p in spec["patterns"]))
        for sid, spec in raw.items()
    }


def detect_signals(text: str, has_link: bool = False) -> list[str]:
    """Ids of the red flags in ``text``, in file order.

    A match right after a negation (他没让我下载APP) does not count: residents often tell
    what did *not* happen. ``has_link`` lets a recognised URL entity raise the link flag.
    """
    found = [signal.id for signal in signal_table().values() if shows(signal, text)]
    if has_link and "suspicious_link" not in found:
        found.append("suspicious_link")
    return found


def shows(signal: Signal, text: str) -> bool:
    """Whether one of ``signal``'s patterns matches ``text`` and is not negated (see :func:`affirmed`)."""
    return any(affirmed(text, m) for p in signal.patterns for m in p.finditer(text))


def affirmed(text: str, match: re.Match[str]) -> bool:
    """False when ``match`` follows a negation within three characters (他没让我下载APP, 没用什么共享屏幕), or is
    followed by one that denies it (验证码也没要, 屏幕共享那些都没提), or follows someone only imagined
    (要是有人让我转钱). A negation that only sets a
    condition ("不还就上征信", "不交就冻结", "没有的话交两千") negates the condition, not the demand after it."""
    negation = _NEGATION.search(text[max(0, match.start() - 4):match.start()])
    rest = negation.group("rest") or "" if negation else ""
    if negation and "就" not in rest and rest != "的话" and not _CONDITION_AFTER.match(text, match.end()):
        return False
    if _NOBODY.search(text[max(0, match.start() - 7):match.start()]):
        return False
    if _HYPOTHETICAL.search(text[max(0, match.start() - 14):match.start()]):
        return False
    return not _DENIED_AFTER.match(text, match.end())
