"""The verdict: how risky a case is, and the reply a resident reads.

Pure functions over a :class:`Case` (what the NLU found plus what the conversation
knows), so the action server, ``fraudbot check``, ``fraudbot classify`` and the group
auto-warning give the same answer. Three levels, never "safe": 高风险 / 需警惕 / 未发现明显诈骗特征.

The level is not the scenario: the scenario says what a message resembles, the risk weighs the
evidence for and against a scam (``nlu/evidence.yml``) with the calibrated scam probability
(:func:`assessment`). A scam topic with no demand and protective facts is low; high needs a
demand or a known scam script, and the reply names the evidence that decided it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from core.knowledge import (
    ScenarioInfo,
    data_dir,
    fresh_yaml,
    loss_confirmations,
    money_direction_patterns,
    money_sent_patterns,
    scenarios,
)
from core.languages import ENGLISH, SIMPLIFIED, language_of
from core.moments import Safeguard, claims_identity, is_notice, request_in, safeguard_in
from core.report_lines import official_domain, official_number
from nlu.evidence import Assessment, Thresholds, assess, evidence_table, find
from nlu.normalize import MASK_TOKEN  # what the normaliser makes of XX, ***, ●●: not words

logger = logging.getLogger(__name__)

NONE = "none"
MIN_SCENARIO_CONFIDENCE = 0.35  # below this the scenario is not named to the resident
RISK_LABELS = {"high": "高风险", "medium": "需警惕", "low": "未发现明显诈骗特征"}
MONEY_SENT_INTENT = "money_already_sent"
# Chosen by measurement on the validation split (tests/data/nlu_holdout.yml) for the linear intent
# model: the probability of money_already_sent in the intent ranking, whatever intent is on top
# (the fallback can win on ambiguity). At 0.45, 69 of the 72 held-out money-sent examples keep the
# golden hour (the three others score 0.21-0.44 and read as consultations); among the 825 other
# held-out messages, the only ones above it that carry the words are two real money-gone stories
# labelled consult and one card-lending question. The words (``carries_money_sent``) stop
# everything the probability alone would let through (``1' OR '1'='1``).
MONEY_SENT_CONFIDENCE = 0.45
# When the message also names an amount or the bank/platform (钱转过去了 两万八 建设银行的卡), the
# classifier often splits it between inform and money_already_sent; the named money or bank
# corroborates the words, so a lower share is enough. Garbage carries no such entity.
MONEY_SENT_CORROBORATED = 0.25
CORROBORATING_ENTITIES = ("money", "bank", "platform")
# What the resident has already done that changes the answer more than the scam's topic does.
ACTED_ON = frozenset({"code_given", "card_given", "link_clicked", "app_installed"})
COULD_NOT_READ = "utter_hotline_fallback"  # the domain's "could not read that" answer (96110, 110)
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")

_KNOWLEDGE = re.compile(
    r"什么是|是什么|是啥|怎么识别|如何识别|怎么防|如何防|怎么辨别|如何辨别|有哪些|怎么骗|常见|套路|犯法吗|违法吗"
    r"|(怎么|如何|怎样|咋)(教|提醒|劝|分辨|避免)|(为什么|为啥)(说)?.{0,8}(都是|全是|全都是)(骗|诈骗)|(都是|全是)骗(子|人|局)的?(吗|么|嘛)")
_CALL = re.compile(r"电话|来电|打给我|打来|致电|通话|打过来")
_SMS = re.compile(r"短信|信息|链接|网址|【")


@dataclass
class Case:
    """Everything known about one resident's situation when the bot answers."""

    text: str = ""
    scenario: str = NONE
    confidence: float = 0.0
    signals: list[str] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    money_sent: bool = False
    bank: str | None = None
    asked_money: bool | None = None
    asked_code: bool | None = None
    alert_title: str | None = None  # a police alert the resident is asking about
    unreadable: bool = False  # nothing in the message the bot can read (see ``readable``)
    scam_probability: float | None = None  # calibrated P(scam) from the NLU; None: from the scenario
    # The likeliest scam scenario in the classifier's ranking when ``none`` came first: what a message
    # resembles once its demands (or money gone) make it a scam after all (``reported_scenario``).
    nearest_scam: str | None = None
    # What the conversation knows beyond this message (core.moments): what the resident has
    # done or feels (reported_police, code_given, link_clicked, afraid …), how the contact came,
    # who is asking, whether the hotline block was already shown, the resident's language.
    facts: frozenset[str] = frozenset()
    channel: str | None = None
    audience: str | None = None
    lines_shown: bool = False
    language: str = SIMPLIFIED
    from_call_check: bool = False  # the case the call check form's answers describe
    # A follow-up on a story told before ("没让转账", "钱还在卡里"): the scenario is the earlier one,
    # the demands found earlier still count, and the call check is not started again.
    follow_up: bool = False
    earlier_evidence: frozenset[str] = frozenset()
    # What the store knows (plain data from the adapters; core never reads the store): the known scam text
    # this message is a near-duplicate of ({"id", "similarity", "source", "title", "added_at"}), and the
    # stored indicators among its entities ({"kind", "value", "state", "report_count", "confirmed_at"}).
    known: Mapping[str, Any] | None = None
    indicators: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def p_scam(self) -> float:
        """The calibrated scam probability, or one read from the scenario when the NLU gave none
        (a case built from the conversation: the call check form, a police alert)."""
        if self.scam_probability is not None:
            return self.scam_probability
        if self.scenario != NONE:
            return self.confidence
        return 1.0 - self.confidence if self.confidence > 0 else 0.5  # nothing known either way

    def __post_init__(self) -> None:
        # Whatever scenario the classifier guessed for text it cannot read is not reported.
        if self.unreadable:
            self.scenario, self.confidence, self.scam_probability = NONE, 0.0, 0.0

    @property
    def named_scenario(self) -> ScenarioInfo | None:
        """The scenario to name, when it is a scam and the classifier is sure enough."""
        if self.scenario == NONE or self.confidence < MIN_SCENARIO_CONFIDENCE:
            return None
        return scenarios().get(self.scenario)

    @property
    def knowledge_question(self) -> bool:
        """A question *about* a scam (什么是杀猪盘), not a story of one happening."""
        return bool(_KNOWLEDGE.search(self.text)) and not self.signals and not self.money_sent

    @cached_property
    def evidence(self) -> list[str]:
        """Ids of the evidence for and against a scam in the message and the form's answers
        (two "no" answers are the evidence that nothing was asked)."""
        found = find(self.text, self.signals, self.entities, official_number, official_domain)
        if self.asked_money:
            found.append("asks_transfer")
        if self.asked_code and "verification_code" not in found:
            found.append("verification_code")
        if self.asked_money is False and self.asked_code is False and "nothing_asked" not in found:
            found.append("nothing_asked")
        found += [e for e in sorted(self.earlier_evidence) if e not in found]
        return found

    @property
    def request(self) -> str | None:
        """A request rather than a story: placeholder, how_to_report or number_lookup."""
        return request_in(self.text)

    @property
    def notice(self) -> bool:
        """A pasted bank or payment notice with no word of a loss (not the golden hour)."""
        return is_notice(self.text)

    def safeguard(self, decisive: Iterable[str]) -> Safeguard | None:
        """The real safeguard (96110, 12381, a teller, the national app) the message describes."""
        return safeguard_in(self.text, decisive)


def _any_match(patterns: Iterable[str], text: str) -> bool:
    """Whether one of ``patterns`` is in ``text``; a pattern an administrator broke is logged and
    skipped, so the others still work."""
    for pattern in patterns:
        try:
            if re.search(pattern, text):
                return True
        except re.error:
            logger.error("money_sent.yml: not a regular expression, skipped: %r", pattern)
    return False


def carries_money_sent(text: str) -> bool:
    """Whether the words of ``text`` say money has left the resident (``data/money_sent.yml``)."""
    return _any_match(money_sent_patterns(), text)


def _unsent(kind: str, text: str) -> bool:
    """Whether ``text`` has a ``kind`` pattern of ``data/money_sent.yml`` and nothing saying the resident sent money."""
    return (_any_match(money_direction_patterns(kind), text)
            and not _any_match(money_direction_patterns("sender"), text))


def received_only(text: str) -> bool:
    """Whether the money in ``text`` came to the resident and nothing says they sent any
    (孙子给我支付宝转了200块: "转了" is a gift received, not the golden hour)."""
    return _unsent("incoming", text)


_OWN_LOSS = re.compile(  # the resident's own loss in the same message (我也被骗了, 我的钱)
    r"(我|俺|我们|我家)(也|都|就|已经|刚|刚刚)?(被|让)(人|骗子|他|她|他们|对方)?(骗|坑)|我的(钱|卡|存款|积蓄)")


def market_loss(text: str) -> bool:
    """Whether the money in ``text`` was lost on the market in the resident's own account (在手机银行买的基金亏了),
    not sent to anyone: a ``market`` pattern and nothing saying the resident sent money (``sender``)."""
    return _unsent("market", text)


def own_bill(text: str) -> bool:
    """Whether the money in ``text`` paid the resident's own bill through the official channel (医保在支付宝里交了380):
    an ``own_bill`` pattern of ``data/money_sent.yml``. Paid to the service, so not the golden hour."""
    return _any_match(money_direction_patterns("own_bill"), text)


def retold_loss(text: str) -> bool:
    """Whether the money in ``text`` was lost by someone in a story the resident retells (新闻说有人被骗了
    几十万), not by the resident: words of news or a warning, a victim in the story (``others``), and
    nothing saying the resident sent (``sender``) or lost money themselves (我也被骗了, 我的钱)."""
    if (not _any_match(money_direction_patterns("others"), text)
            or _any_match(money_direction_patterns("sender"), text) or _OWN_LOSS.search(text)):
        return False  # the cheap checks first: the evidence search below reads the whole table
    table = evidence_table()
    return any(table[e].kind == "warning" for e in find(text))


def confirms_loss(text: str) -> bool:
    """Whether the resident confirms the loss (收了钱就把我删了, 转给他结果人没了)."""
    return _any_match(loss_confirmations(), text)


def says_money_sent(intent: Mapping[str, Any] | None, text: str,
                    ranking: Iterable[Mapping[str, Any]] = (),
                    entities: Iterable[Mapping[str, Any]] = ()) -> bool:
    """The one decision that a message says the money is already gone (the golden-hour answer).

    The intent classifier must give ``money_already_sent`` at least ``MONEY_SENT_CONFIDENCE``
    (on top, or in ``ranking`` when the fallback or a close consult won) AND the words must
    carry it: the classifier always picks some intent, and for text it cannot read
    (``1' OR '1'='1``) that was once ``money_already_sent`` in 28% of a hostile test's messages.
    A pasted bank notice (尾号1234消费286元) is a notice, not a loss (``core.moments.is_notice``), and
    money that came to the resident with nothing sent back (``received_only``) is not one either, nor a
    loss retold from the news (``retold_loss``), nor a market loss in the resident's own account (``market_loss``),
    nor the resident's own bill paid through the official channel (``own_bill``).
    An amount or a bank named in ``entities`` lowers the share needed to ``MONEY_SENT_CORROBORATED``;
    a loss the resident confirms in the same message (``confirms_loss``) needs no share at all.
    """
    if not carries_money_sent(text) or is_notice(text) or retold_loss(text):
        return False
    if confirms_loss(text):
        return True
    if received_only(text) or market_loss(text) or own_bill(text):
        return False
    corroborated = any(e.get("entity") in CORROBORATING_ENTITIES for e in entities)
    needed = MONEY_SENT_CORROBORATED if corroborated else MONEY_SENT_CONFIDENCE
    return money_sent_probability(intent, ranking) >= needed


def money_sent_probability(intent: Mapping[str, Any] | None, ranking: Iterable[Mapping[str, Any]] = ()) -> float:
    """The classifier's probability of ``money_already_sent``: from the ranking, else from the top intent."""
    for entry in ranking or ():
        if entry.get("name") == MONEY_SENT_INTENT:
            return float(entry.get("confidence") or 0.0)
    intent = intent or {}
    return float(intent.get("confidence") or 0.0) if intent.get("name") == MONEY_SENT_INTENT else 0.0


def readable(text: str, entities: Iterable[Mapping[str, Any]] = ()) -> bool:
    """Whether the message holds anything the bot can read.

    Chinese, a pasted link, English sentences, a media placeholder ([Photo]), or words that say
    money was sent. Random symbols, SQL, stray Latin letters, emoji, binary or bare digits hold
    nothing, even when a digit run looks like a phone or card number: any verdict on them would
    be a guess, so the resident is asked to say in a sentence what happened instead.
    """
    if _HAN.search(text.replace(MASK_TOKEN, "")) or any(entity.get("entity") == "url" for entity in entities):
        return True
    return carries_money_sent(text) or language_of(text) == ENGLISH or request_in(text) == "placeholder"


def thresholds() -> Thresholds:
    """The risk thresholds (``data/risk.yml``, chosen by ``bench/choose_thresholds.py``)."""
    path = data_dir() / "risk.yml"
    if not path.exists():
        return Thresholds()
    return Thresholds.from_mapping((fresh_yaml(path) or {}).get("thresholds"))


def assessment(case: Case, limits: Thresholds | None = None) -> Assessment:
    """The risk of a case and the evidence that decided it (the one place that decides).

    A message the bot could not read is low (it gets no verdict, see ``compose``). Money already
    gone is always high. A question about a scam (什么是杀猪盘) is low. Everything else is
    :func:`nlu.evidence.assess` of the calibrated scam probability and the evidence.
    ``limits`` replaces the thresholds of ``data/risk.yml`` (``bench/choose_thresholds.py``).
    """
    limits = limits or thresholds()
    if case.unreadable:
        return Assessment("low", 0.0)
    evidence = case.evidence
    if case.knowledge_question and not case.asked_money and not case.asked_code:
        # a question names a scam's script ("什么是注销校园贷") without anyone using it on the resident
        table = evidence_table()
        if not any(table[e].decisive and table[e].kind != "phrasing" for e in evidence):
            return assess(0.0, [e for e in evidence if table[e].side == "against"], thresholds=limits)
    found = assess(case.p_scam, evidence, money_sent=case.money_sent, thresholds=limits)
    if known_hits(case):
        found.risk = "high"  # the police confirmed it, or it is a known scam's text: what it says decides less
    return found


def confirmed_indicators(case: Case) -> list[Mapping[str, Any]]:
    """The message's indicators an officer confirmed as a scam's; an official number or domain never counts
    (95588 stays the bank's line whatever the store holds)."""
    return [item for item in case.indicators if item.get("state") == "confirmed" and not _official(item)]


def reported_indicators(case: Case) -> list[Mapping[str, Any]]:
    """The message's indicators residents reported and no officer has decided on yet."""
    return [item for item in case.indicators
            if item.get("state") == "reported" and int(item.get("report_count") or 0) > 0 and not _official(item)]


def _official(item: Mapping[str, Any]) -> bool:
    value = str(item.get("value") or "")
    return bool(official_number(value)) if item.get("kind") == "phone" else (
        item.get("kind") == "domain" and official_domain(value))


def known_hits(case: Case) -> bool:
    """Whether the store makes this message high: a confirmed indicator, or a known scam's text."""
    return bool(case.known) or bool(confirmed_indicators(case))


def risk(case: Case) -> str:
    """``high``, ``medium`` or ``low`` for a case (see :func:`assessment`)."""
    return assessment(case).risk


def reported_scenario(case: Case, found: Assessment | None = None) -> str:
    """The scenario ``fraudbot classify`` reports, in agreement with the risk.

    ``none`` when the evidence shows a genuine situation (low risk because of facts against a
    scam that outweigh whatever was asked, no money sent) or when nothing points to a scam (low
    risk, no evidence for, a calibrated P(scam) under one half); the likeliest scam scenario when the
    classifier put ``none`` first but evidence for a scam (a demand, a hook, a promise of returns)
    or money already gone makes it medium or high; else the classifier's scenario. Both were chosen
    on the validation data (the split and the validation sets of ``tests/data``); the
    resemblance is reported beside it.
    """
    found = found or assessment(case)
    if found.risk == "low" and found.against_ids and not case.money_sent:
        return NONE
    if found.risk == "low" and not found.for_ids and not case.money_sent and case.p_scam < 0.5:
        # the classifier's first scenario but a calibrated P(scam) under one half and no evidence of a scam:
        # more likely genuine, so not reported as a scam (the resemblance stays beside it)
        return NONE
    if case.scenario == NONE and found.risk != "low" and (found.for_ids or case.money_sent) and case.nearest_scam:
        return case.nearest_scam
    return case.scenario


def warrants_group_warning(case: Case, min_confidence: float) -> bool:
    """Whether a message posted in a group is worth an unasked-for warning (more conservative
    than the reply to a resident who asks): high risk decided by a demand or a known scam script,
    nothing against it, a named scenario at ``min_confidence``. Never on topic alone."""
    info = case.named_scenario
    if info is None or case.confidence < min_confidence or case.money_sent:
        return False
    found = assessment(case)
    return found.risk == "high" and bool(found.decisive) and not found.against_ids


def needs_call_check(case: Case) -> bool:
    """A call-type story with nothing decisive either way: ask the short questions before judging.

    "有个自称警察的人打电话给我" alone says too little; what they asked for decides. A story that
    already shows a demand, or that the evidence already calls low (民警来家里宣传反诈), is
    answered at once.
    """
    if (case.follow_up or case.money_sent or case.knowledge_question or case.request or case.notice
            or known_hits(case)
            or case.facts & (ACTED_ON | {"reported_police"}) or case.language == ENGLISH):
        return False
    info = case.named_scenario
    found = assessment(case)
    if found.decisive or case.safeguard(found.decisive) is not None:
        return False
    if info is None:
        # no scam scenario recognised, but a caller claimed who they are (说是建行信用卡中心的):
        # what they asked for still decides, unless the story already shows it is genuine
        return case.channel == "call" and claims_identity(case.text) and not found.against_ids
    # the questions are about a call: a story told in a chat or an SMS is judged as it is
    return info.ask_on_call and found.risk == "medium" and case.channel in (None, "call")


def situation(case: Case) -> str:
    """Which report-line situation applies: money_sent, call, sms, or the scenario's own."""
    if case.money_sent:
        return "money_sent"
    info = case.named_scenario
    own = info.situation if info else "consult"
    if own in ("card_trafficking", "credit"):
        return own
    if any(e.get("entity") == "url" for e in case.entities) or _SMS.search(case.text):
        return "sms" if own in ("online", "consult", "sms") and info else own
    if _CALL.search(case.text) or own == "call":
        return "call"
    return own
