"""The verdict: how risky a case is, and the reply a resident reads.

Pure functions over a :class:`Case` (what the NLU found plus what the conversation
knows), so the action server, ``fraudbot check`` and ``fraudbot classify`` give the same
answer. Three levels, never "safe": 高风险 / 需警惕 / 未发现明显诈骗特征.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from actions.knowledge import DEFAULT_STOP, ReportLine, ScenarioInfo, domain_responses, money_sent_patterns, scenarios
from actions.report_lines import bank_line, official_domain, official_number, route
from nlu.signals import signal_table

logger = logging.getLogger(__name__)

NONE = "none"
MIN_SCENARIO_CONFIDENCE = 0.35  # below this the scenario is not named to the resident
CONFIDENT_SCENARIO = 0.75  # a story this clearly one scam is high risk on its own
RISK_LABELS = {"high": "高风险", "medium": "需警惕", "low": "未发现明显诈骗特征"}
MONEY_SENT_INTENT = "money_already_sent"
# Chosen by measurement (issue 18): the 71 held-out money-sent examples (tests/data/nlu_holdout.yml)
# the classifier calls money_already_sent all score >= 0.995, the lowest real one in the
# independent sets (bench/data) 0.824. Garbage given that intent (297 of 2,000 generated strings)
# spreads from 0.45 (the fallback threshold) to 1.0, 224 of them >= 0.7: the confidence alone
# stops a quarter of it, the words (``carries_money_sent``) stop the rest.
MONEY_SENT_CONFIDENCE = 0.7
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

    def __post_init__(self) -> None:
        # Whatever scenario the classifier guessed for text it cannot read is not reported.
        if self.unreadable:
            self.scenario, self.confidence = NONE, 0.0

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


def says_money_sent(intent: Mapping[str, Any] | None, text: str) -> bool:
    """The one decision that a message says the money is already gone (the golden-hour answer).

    The intent classifier must say ``money_already_sent`` with at least ``MONEY_SENT_CONFIDENCE``
    AND the words must carry it: the classifier always picks some intent, and for text it cannot
    read (``1' OR '1'='1``) that was ``money_already_sent`` in 28% of a hostile test's messages.
    """
    intent = intent or {}
    return (intent.get("name") == MONEY_SENT_INTENT
            and float(intent.get("confidence") or 0.0) >= MONEY_SENT_CONFIDENCE
            and carries_money_sent(text))


def readable(text: str, entities: Iterable[Mapping[str, Any]] = ()) -> bool:
    """Whether the message holds anything the bot can read.

    Chinese, a pasted link, or words that say money was sent (also in English). Random
    symbols, SQL, stray Latin letters, emoji, binary or bare digits hold nothing, even when a
    digit run looks like a phone or card number: any verdict on them would be a guess, so the
    resident is asked to say in a sentence what happened instead.
    """
    if _HAN.search(text) or any(entity.get("entity") == "url" for entity in entities):
        return True
    return carries_money_sent(text)


def risk(case: Case) -> str:
    """``high``, ``medium`` or ``low`` for a case.

    A message the bot could not read is low (it gets no verdict, see ``compose``).
    Money already gone is always high. High-severity red flags are high when a scam story
    surrounds them or when two flags come together. A question about a scam is low.
    """
    if case.unreadable:
        return "low"
    if case.money_sent:
        return "high"
    table = signal_table()
    high_flags = [s for s in case.signals if table[s].severity == "high"]
    scam = case.named_scenario is not None
    if case.asked_money or case.asked_code:
        return "high"
    if high_flags and (scam or len(case.signals) >= 2):
        return "high"
    if case.knowledge_question:
        return "low"
    if scam and (case.signals or case.confidence >= CONFIDENT_SCENARIO):
        return "high"
    if scam or case.signals:
        return "medium"
    return "low"


def needs_call_check(case: Case) -> bool:
    """A call-type story with no high red flag yet: ask the short questions before judging.

    "有个自称警察的人打电话给我" alone says too little; what they asked for decides.
    """
    info = case.named_scenario
    if info is None or not info.ask_on_call or case.money_sent or case.knowledge_question:
        return False
    table = signal_table()
    return not any(table[s].severity == "high" for s in case.signals)


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


def _reasons(case: Case) -> list[str]:
    table = signal_table()
    info = case.named_scenario
    covered = info.covers if info else frozenset()
    reasons = [f"· {table[s].name}：{table[s].explain}" for s in case.signals if s not in covered][:2]
    if info and info.truth:
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
    """The full reply for a case: verdict, why, what to do now, which line to call."""
    if case.unreadable:
        return could_not_read()
    if case.money_sent:
        return golden_hour(case)
    level = risk(case)
    info = case.named_scenario
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
        messages.append(f"⚠️ 需警惕：这有「{info.name}」诈骗的特征。" if info
                        else "⚠️ 需警惕：里面有诈骗常见的危险信号。")
    else:
        messages.append("目前未发现明显诈骗特征，但这不代表一定安全。")
    if case.alert_title:
        messages.append(f"这和警方发布的警情通报《{case.alert_title}》说的是同一类骗局，请对照提醒，千万别转账。")
    reasons = _reasons(case) if not case.knowledge_question else []
    if reasons:
        messages.append("为什么：\n" + "\n".join(reasons))
    advice = info.advice if info else scenarios()[NONE].advice
    heading = "遇到了怎么办：" if case.knowledge_question and info else "现在就做："
    messages.append(heading + "\n" + "\n".join(f"{i}. {a}" for i, a in enumerate(advice, 1)))
    messages.extend(_verified_notes(case))
    messages.append(_lines_text(route(situation(case), case.bank)))
    return Reply(level, messages)


def explain_scenario(scenario: str) -> list[str]:
    """What a scam is and what to do, for a resident who asks for details (no story told)."""
    info = scenarios()[scenario]
    return [f"「{info.name}」是这样骗人的：{info.truth}",
            "遇到了怎么办：\n" + "\n".join(f"{i}. {a}" for i, a in enumerate(info.advice, 1)),
            _lines_text(route(info.situation))]
