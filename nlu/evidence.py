"""Evidence for and against a scam, and the risk it adds up to (``nlu/evidence.yml``).

The scenario classifier says what a message is *about*; this module says whether it shows a
scam: a demand (transfer, pay first, a code, screen share, an app, secrecy) from someone whose
identity cannot be checked, or a known scam script. Protective facts (met in person, the
resident's own official channel, nothing asked, a warning or news, money returned by the
original route) count against.

Pure and free of Rasa and channels: callers pass the text, the red-flag signals and entities
the NLU found, the calibrated scam probability, and how to recognise an official number or
domain. Every piece of evidence is a row of data with a name and an explanation residents read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from nlu.signals import affirmed, detect_signals, shows, signal_table

EVIDENCE_PATH = Path(__file__).with_name("evidence.yml")
FOR, AGAINST = "for", "against"
# Kinds of FOR evidence that can make a message high risk: something asked of the resident, or a
# script seen in scams again and again. A topic, an identity claim or pressure alone never does.
DECISIVE_KINDS = frozenset({"demand", "phrasing"})
# Patterns of these kinds are negations themselves (没让我转账); the others do not count right
# after a negation (从没见过面 is not "met in person").
_SELF_NEGATED = frozenset({"nothing_asked"})
_P_FLOOR = 0.005  # probabilities are clipped before the logit so one model score never rules alone


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: where it points, how much it weighs, what residents read."""

    id: str
    side: str
    kind: str
    weight: float
    name: str
    explain: str
    patterns: tuple[re.Pattern[str], ...] = ()
    cancels: tuple[str, ...] = ()  # evidence on the other side it explains away: ids, or "kind:<kind>"
    cancelled_by: tuple[str, ...] = ()  # evidence on the other side that explains it away (same forms)

    def explains_away(self, other: Evidence) -> bool:
        return (other.id in self.cancels or f"kind:{other.kind}" in self.cancels
                or self.id in other.cancelled_by or f"kind:{self.kind}" in other.cancelled_by)

    @property
    def decisive(self) -> bool:
        return self.side == FOR and self.kind in DECISIVE_KINDS


@dataclass(frozen=True)
class Thresholds:
    """Where the score turns into a risk level (chosen by ``bench/choose_thresholds.py``).

    ``high``: score at or above which a message WITH decisive evidence is high risk.
    ``low``: score below which a message is low risk.
    ``against``: total weight of against-evidence that makes a message with no decisive
    evidence low risk, whatever the topic.
    """

    high: float = 2.5
    low: float = 1.0
    against: float = 2.5

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> Thresholds:
        data = data or {}
        default = cls()
        return cls(high=float(data.get("high", default.high)), low=float(data.get("low", default.low)),
                   against=float(data.get("against", default.against)))


@dataclass
class Assessment:
    """The risk of one message and the evidence behind it.

    ``decided_by``: the ids that decided the level (for high, the evidence for; for low, the
    evidence against, if any; for medium, all of it), strongest first.
    """

    risk: str
    score: float
    for_ids: list[str] = field(default_factory=list)
    against_ids: list[str] = field(default_factory=list)
    decided_by: list[str] = field(default_factory=list)

    @property
    def decisive(self) -> list[str]:
        table = evidence_table()
        return [i for i in self.for_ids if table[i].decisive]


@lru_cache(maxsize=1)
def evidence_table() -> dict[str, Evidence]:
    """Every piece of evidence by id: the signals first (in signals.yml order), then the items."""
    raw = yaml.safe_load(EVIDENCE_PATH.read_text(encoding="utf-8"))
    signals = signal_table()
    table: dict[str, Evidence] = {}
    for sid, spec in (raw.get("signals") or {}).items():
        signal = signals[sid]
        table[sid] = Evidence(sid, FOR, spec["kind"], float(spec["weight"]), signal.name, signal.explain,
                              cancels=tuple(str(c) for c in spec.get("cancels") or ()))
    for eid, spec in (raw.get("items") or {}).items():
        table[eid] = Evidence(eid, spec["side"], spec["kind"], float(spec["weight"]), spec["name"],
                              spec["explain"], tuple(re.compile(p) for p in spec.get("patterns") or ()),
                              tuple(str(c) for c in spec.get("cancels") or ()),
                              tuple(str(c) for c in spec.get("cancelled_by") or ()))
    return table


# A negation inside a demand's own words: 让我别转账, 叫我千万不要给验证码 (the police warning); "能不能先借我"
# asks, it does not deny.
_INNER_NEGATION = re.compile(r"(别|不要|不用|(?<!能)不能|不必|无需|勿|不得|不准|不许)"
                             r"(再|去|先|给|往外|往|把钱|随便|轻易)?"
                             r"(转|汇|打|付|交|充|缴|借|贷|下载|安装|点|说|告诉|透露|给|共享|开|扫|输|填)")


def _match(item: Evidence, text: str) -> re.Match[str] | None:
    """The first match of ``item`` that counts: not right after a negation, and for evidence for a
    scam, no negation inside its own words (a warning "让我别转账" is not a demand to transfer)."""
    for pattern in item.patterns:
        for match in pattern.finditer(text):
            if item.kind in _SELF_NEGATED:
                return match
            if affirmed(text, match) and not (item.side == FOR and _INNER_NEGATION.search(match.group(0))):
                return match
    return None


def _matches(item: Evidence, text: str) -> bool:
    return _match(item, text) is not None


def _says_link(text: str) -> bool:
    """Whether the words themselves push a link (点击链接, 网址), whatever the url opens."""
    return shows(signal_table()["suspicious_link"], text)


def quote(text: str, evidence_id: str, limit: int = 16) -> str | None:
    """The words of ``text`` that made ``evidence_id`` (at most ``limit`` characters), so a reply
    can point at the exact sign; None for evidence without patterns or not in the text."""
    item = evidence_table().get(evidence_id)
    if item is None:
        return None
    if item.patterns:
        match = _match(item, text)
    else:
        signal = signal_table().get(evidence_id)
        match = next((m for p in (signal.patterns if signal else ()) for m in p.finditer(text)
                      if affirmed(text, m)), None)
    if match is None:
        return None
    words = match.group(0).strip()
    return words if len(words) <= limit else words[:limit] + "…"


def find(text: str, signals: Iterable[str] | None = None, entities: Iterable[Mapping[str, Any]] = (),
         is_official_number: Callable[[str], Any] | None = None,
         is_official_domain: Callable[[str], Any] | None = None) -> list[str]:
    """Ids of the evidence in a message, in table order.

    ``signals``: the red flags the NLU already found (``None``: detected here). ``entities``: the
    NLU's entities; a url that is not an official domain is ``unofficial_link``, an official
    number or domain is ``official_contact`` (the two checks are passed in, so this module needs
    neither Rasa nor the action server's data).
    """
    entities = list(entities)
    urls = [str(e.get("value") or "") for e in entities if e.get("entity") == "url"]
    phones = [str(e.get("value") or "") for e in entities if e.get("entity") == "phone"]
    if signals is None:
        signals = detect_signals(text, has_link=bool(urls))
    found = set(signals)
    for item in evidence_table().values():
        if item.patterns and _matches(item, text):
            found.add(item.id)
    if is_official_domain is not None:
        for url in urls:
            found.add("official_contact" if is_official_domain(url) else "unofficial_link")
        if urls and "unofficial_link" not in found and not _says_link(text):
            # the NLU raises the link flag for any url; one that opens an official domain, in words
            # that do not push the resident to click (【京东】…3.cn/xK7pQ 抢购), is no stranger's link
            found.discard("suspicious_link")
    elif urls:
        found.add("unofficial_link")
    if is_official_number is not None and any(is_official_number(p) for p in phones):
        found.add("official_contact")
    return [eid for eid in evidence_table() if eid in found]


def logit(probability: float) -> float:
    p = min(1.0 - _P_FLOOR, max(_P_FLOOR, float(probability)))
    return math.log(p / (1.0 - p))


def assess(scam_probability: float, evidence: Sequence[str], money_sent: bool = False,
           thresholds: Thresholds | None = None) -> Assessment:
    """The risk of a message from its calibrated scam probability and the evidence found.

    score = logit(P(scam)) + weights of the evidence for - weights of the evidence against,
    after dropping the evidence that the other side explains away (``cancels``, or the fact's own
    ``cancelled_by``): first the facts against that a demand explains away, then the demands that
    the remaining facts explain away.

    - money already sent is high, whatever else;
    - evidence against weighing at least ``against`` (met in person, nothing asked, a warning…)
      makes the message low when nothing decisive was found, and at most medium when something was;
    - high needs decisive evidence (a demand or a known scam script) and score >= ``high``;
    - low when the score is below ``low``;
    - medium otherwise: something points to a scam, but not enough to say so.
    """
    thresholds = thresholds or Thresholds()
    table = evidence_table()
    known = [eid for eid in evidence if eid in table]
    for_ids = sorted((e for e in known if table[e].side == FOR), key=lambda e: -table[e].weight)
    against_ids = sorted((e for e in known if table[e].side == AGAINST), key=lambda e: -table[e].weight)
    against_ids = [e for e in against_ids if not any(table[f].explains_away(table[e]) for f in for_ids)]
    for_ids = [e for e in for_ids if not any(table[a].explains_away(table[e]) for a in against_ids)]
    weight_for = sum(table[e].weight for e in for_ids)
    weight_against = sum(table[e].weight for e in against_ids)
    score = logit(scam_probability) + weight_for - weight_against
    decisive = [e for e in for_ids if table[e].decisive]
    protected = weight_against >= thresholds.against
    if money_sent:
        level = "high"
    elif protected:
        level = "medium" if decisive and score >= thresholds.low else "low"
    elif decisive and score >= thresholds.high:
        level = "high"
    elif score < thresholds.low:
        level = "low"
    else:
        level = "medium"
    if level == "high":
        decided = decisive + [e for e in for_ids if e not in decisive]
    elif level == "low":
        decided = against_ids
    else:
        decided = for_ids + against_ids
    return Assessment(level, round(score, 3), for_ids, against_ids, decided)
