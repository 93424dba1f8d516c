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

from actions.knowledge import (
    DEFAULT_STOP,
    ReportLine,
    ScenarioInfo,
    data_dir,
    domain_responses,
    fresh_yaml,
    money_sent_patterns,
    scenarios,
)
from actions.report_lines import bank_line, official_domain, official_number, route
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
COULD_NOT_READ = "utter_hotline_fallback"  # the domain's "could not read that" answer (96110, 110)
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")

_KNOWLEDGE = re.compile(
    r"什么是|是什么|是啥|怎么识别|如何识别|怎么防|如何防|怎么辨别|如何辨别|有哪些|怎么骗|常见|套路|犯法吗|违法吗")
_CALL = re.compile(r"电话|来电|打给我|打来|致电|通话|打过来")
_SMS = re.compile(r"短信|信息|链接|网址|【")

BANK_BUTTONS = ("工商银行", "建设银行", "农业银行", "中国银行", "邮储银行", "支付宝", "微信支付")


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
        """Ids of the evidence for and against a scam in the message and the form's answers."""
        found = find(self.text, self.signals, self.entities, official_number, official_domain)
        if self.asked_money:
            found.append("asks_transfer")
        if self.asked_code and "verification_code" not in found:
            found.append("verification_code")
        return found


def carries_money_sent(text: str) -> bool:
    """Whether the words of ``text`` say money has left the resident (``data/money_sent.yml``).

    A pattern an administrator broke is logged and skipped, so the others still work.
    """
    for pattern in money_sent_patterns():
        try:
            if re.search(pattern, text):
                return True
        except re.error:
            logger.error("money_sent.yml: not a regular expression, skipped: %r", pattern)
    return False


def says_money_sent(intent: Mapping[str, Any] | None, text: str,
                    ranking: Iterable[Mapping[str, Any]] = ()) -> bool:
    """The one decision that a message says the money is already gone (the golden-hour answer).

    The intent classifier must give ``money_already_sent`` at least ``MONEY_SENT_CONFIDENCE``
    (on top, or in ``ranking`` when the fallback or a close consult won) AND the words must
    carry it: the classifier always picks some intent, and for text it cannot read
    (``1' OR '1'='1``) that was once ``money_already_sent`` in 28% of a hostile test's messages.
    """
    return money_sent_probability(intent, ranking) >= MONEY_SENT_CONFIDENCE and carries_money_sent(text)


def money_sent_probability(intent: Mapping[str, Any] | None, ranking: Iterable[Mapping[str, Any]] = ()) -> float:
    """The classifier's probability of ``money_already_sent``: from the ranking, else from the top intent."""
    for entry in ranking or ():
        if entry.get("name") == MONEY_SENT_INTENT:
            return float(entry.get("confidence") or 0.0)
    intent = intent or {}
    return float(intent.get("confidence") or 0.0) if intent.get("name") == MONEY_SENT_INTENT else 0.0


def readable(text: str, entities: Iterable[Mapping[str, Any]] = ()) -> bool:
    """Whether the message holds anything the bot can read.

    Chinese, a pasted link, or words that say money was sent (also in English). Random
    symbols, SQL, stray Latin letters, emoji, binary or bare digits hold nothing, even when a
    digit run looks like a phone or card number: any verdict on them would be a guess, so the
    resident is asked to say in a sentence what happened instead.
    """
    if _HAN.search(text.replace(MASK_TOKEN, "")) or any(entity.get("entity") == "url" for entity in entities):
        return True
    return carries_money_sent(text)


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
        table = evidence_table()
        if not any(table[e].decisive for e in evidence):
            return assess(0.0, [e for e in evidence if table[e].side == "against"], thresholds=limits)
    return assess(case.p_scam, evidence, money_sent=case.money_sent, thresholds=limits)


def risk(case: Case) -> str:
    """``high``, ``medium`` or ``low`` for a case (see :func:`assessment`)."""
    return assessment(case).risk


def reported_scenario(case: Case, found: Assessment | None = None) -> str:
    """The scenario ``fraudbot classify`` reports: ``none`` when the evidence shows a genuine
    situation (low risk because of facts against a scam, nothing decisive for one, no money
    sent), else the classifier's scenario. Chosen on the validation split, where it raised
    ``none`` recall without costing scam recall; the resemblance is still reported beside it."""
    found = found or assessment(case)
    if found.risk == "low" and found.against_ids and not found.decisive and not case.money_sent:
        return NONE
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
    info = case.named_scenario
    if info is None or not info.ask_on_call or case.money_sent or case.knowledge_question:
        return False
    found = assessment(case)
    return found.risk == "medium" and not found.decisive


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


@dataclass
class Reply:
    """What the bot says: message texts in order, with buttons on the last one if any."""

    risk: str
    messages: list[str]
    buttons: list[dict[str, str]] = field(default_factory=list)
    ask_bank: bool = False


def _lines_text(lines: list[ReportLine]) -> str:
    return "求助电话：\n" + "\n".join(f"· {line.render()}" for line in lines)


# What would make a look-alike a scam, and how to check, by report-line situation.
_WOULD_BE_SCAM = "如果对方让您转账、交钱、要验证码或密码，或者让您下载APP、开屏幕共享，那就是诈骗，请马上停下。"
_HOW_TO_VERIFY = {
    "call": "想核实，请先挂断，再自己拨打官方电话（银行卡背面、官方APP或官网上的号码），不要回拨对方的号码。",
    "sms": "想核实，请不要点短信里的链接、不要回拨短信里的号码，自己打开官方APP或拨打官方客服电话查询。",
}
_VERIFY_DEFAULT = ("想核实，请自己拨打官方电话（银行卡背面、官方APP或官网上的号码），或当面问问家人，"
                   "不要用对方给的联系方式。")
_SETTLE = {
    "call": "关键看一点：对方有没有让您转账、交钱，或者要验证码、让您开屏幕共享、下载APP？有任何一样就是诈骗；"
            "都没有，也请挂断后自己拨打官方电话核实。",
    "sms": "关键看一点：短信有没有让您点链接填卡号、密码、验证码，或者回拨、回复？有就是诈骗；"
           "真要办理，请自己打开官方APP或拨打官方客服电话。",
}
_SETTLE_DEFAULT = ("关键看一点：对方有没有让您转账、先交钱、要验证码，或者让您下载APP、保密？有任何一样就是诈骗；"
                   "拿不准就先别动钱，打96110问问。")


def _reasons(case: Case, found: Assessment) -> list[str]:
    """The evidence that decided the level, in residents' words (the scenario's truth last for high)."""
    table = evidence_table()
    info = case.named_scenario
    covered = info.covers if info else frozenset()
    if found.risk == "low":
        return [f"· {table[e].name}：{table[e].explain}" for e in found.against_ids][:2]
    reasons = [f"· {table[e].name}：{table[e].explain}" for e in found.for_ids if e not in covered][:3]
    if info and info.truth and found.risk == "high":
        reasons.append(f"· {info.truth}")
    return reasons


def _verified_notes(case: Case) -> list[str]:
    """Facts about official numbers and domains in the message (the only thing ever 'verified')."""
    notes = []
    for entity in case.entities:
        if entity.get("entity") == "phone":
            what = official_number(str(entity.get("value")))
            if what:
                notes.append(f"✅ {entity['value']} 是{what}的官方号码。但来电显示可以伪造，"
                             "核实请挂断后自己拨打。")
        elif entity.get("entity") == "url" and official_domain(str(entity.get("value"))):
            notes.append(f"✅ {entity['value']} 属于官方网站域名。仍请不要在网页上透露验证码。")
    return notes


def golden_hour(case: Case) -> Reply:
    """Money already sent: 110 and stop-payment first, evidence next, education last."""
    line = bank_line(case.bank)
    if line:
        first = ("🚨 钱已经转出去了，请马上做这两件事，越快越有希望追回：\n"
                 "1. 立刻拨打 110 报警。\n"
                 f"2. 马上打{case.bank}官方客服 {line.number}，说明被骗，申请紧急止付。")
    else:
        first = ("🚨 钱已经转出去了，请马上做这两件事，越快越有希望追回：\n"
                 "1. 立刻拨打 110 报警。\n"
                 "2. 马上打你转账用的银行或支付平台的官方客服，说明被骗，申请紧急止付。")
    messages = [first, "请保存好证据：聊天记录、转账凭证、对方的账号和电话，都不要删。\n"
                "不要再给对方转一分钱；说能“帮你追回损失”的，也是骗子。"]
    info = case.named_scenario
    if info and info.truth:
        messages.append(f"这很像「{info.name}」诈骗：{info.truth}")
    messages.append(_lines_text(route("money_sent", case.bank)))
    if line is None:
        messages.append("你是用哪家银行或支付平台转的钱？告诉我，我把它的官方电话给你。")
        buttons = [{"title": bank, "payload": f'/inform{{"bank":"{bank}"}}'} for bank in BANK_BUTTONS]
        return Reply("high", messages, buttons, ask_bank=True)
    return Reply("high", messages)


def could_not_read() -> Reply:
    """The answer to a message with nothing readable in it: no verdict, a request to say it
    again in a sentence or paste the message, and 96110 and 110 (the domain's fallback text)."""
    return Reply("low", [domain_responses()[COULD_NOT_READ][0]["text"]])


def compose(case: Case) -> Reply:
    """The full reply for a case: verdict, why, what to do now, which line to call.

    High names the evidence that decided it; 需警惕 asks the one question that would settle it;
    low on a scam topic is calm (no demand, protective facts) and says what would make it a scam
    and how to check, never 高风险.
    """
    if case.unreadable:
        return could_not_read()
    if case.money_sent:
        return golden_hour(case)
    found = assessment(case)
    level = found.risk
    info = case.named_scenario
    where = situation(case)
    messages: list[str] = []
    if case.knowledge_question and info:
        messages.append(f"「{info.name}」是这样骗人的：{info.truth}")
    elif level == "high":
        if info and info.situation == "card_trafficking":
            messages.append(f"⚠️ 高风险：这是「{info.name}」，{info.stop}")
        elif info:
            messages.append(f"⚠️ 高风险：这很像「{info.name}」诈骗，{info.stop}")
        else:
            messages.append(f"⚠️ 高风险：这很像诈骗，{DEFAULT_STOP}")
    elif level == "medium":
        messages.append(f"⚠️ 需警惕：这有「{info.name}」诈骗的特征，但还不能确定。" if info
                        else "⚠️ 需警惕：里面有诈骗常见的危险信号，但还不能确定。")
    else:
        messages.append("目前未发现明显诈骗特征，但这不代表一定安全。")
    if case.alert_title:
        messages.append(f"这和警方发布的警情通报《{case.alert_title}》说的是同一类骗局，请对照提醒，千万别转账。")
    reasons = _reasons(case, found) if not case.knowledge_question else []
    if reasons:
        messages.append(("为什么这样判断：\n" if level == "low" else "为什么：\n") + "\n".join(reasons))
    if level == "medium":
        messages.append(_SETTLE.get(where, _SETTLE_DEFAULT))
    if level == "low" and not case.knowledge_question:
        if info or found.for_ids or found.against_ids:
            messages.append(_WOULD_BE_SCAM + "\n" + _HOW_TO_VERIFY.get(where, _VERIFY_DEFAULT))
        advice = scenarios()[NONE].advice
        heading = "平时记住："
    else:
        advice = info.advice if info else scenarios()[NONE].advice
        heading = "遇到了怎么办：" if case.knowledge_question and info else "现在就做："
    messages.append(heading + "\n" + "\n".join(f"{i}. {a}" for i, a in enumerate(advice, 1)))
    messages.extend(_verified_notes(case))
    lines_for = where if level != "low" or case.knowledge_question else "consult"
    messages.append(_lines_text(route(lines_for, case.bank)))
    return Reply(level, messages)


def explain_scenario(scenario: str) -> list[str]:
    """What a scam is and what to do, for a resident who asks for details (no story told)."""
    info = scenarios()[scenario]
    return [f"「{info.name}」是这样骗人的：{info.truth}",
            "遇到了怎么办：\n" + "\n".join(f"{i}. {a}" for i, a in enumerate(info.advice, 1)),
            _lines_text(route(info.situation))]
