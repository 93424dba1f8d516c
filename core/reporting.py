"""A resident's 举报 and their word on a verdict, as words and as button payloads.

Residents report in their own words: "举报 13800001111", "我要举报这个链接 http://…", a forwarded scam
SMS with 举报 in front of it or after it, or 举报 alone about the message they just asked about. The
intent classifier learns these (``nlu/data/general/reports.yml``), but a pasted scam text after 举报 reads
to it like any consultation; what the resident typed first is the surer sign, so :func:`wants_to_report`
decides with the words and uses the intent only when the words say nothing. It must never take a
question about *how* to report ("怎么举报诈骗短信") or someone else's report ("他说要举报我") for one:
those are answered as before.

After 判断不对 the bot asks one question (是诈骗 / 不是诈骗 / 类型不对); on WeChat the resident types the
answer, so :func:`claim_of` reads the typed words. Pure functions: the action server and the channels
(the REST door's ``feedback`` field) share them, and the store (``bot/reports.py``) keeps the claims.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

REPORT, FEEDBACK_USEFUL, FEEDBACK_WRONG, DISPUTE = "report", "feedback_useful", "feedback_wrong", "dispute"
"""The intents of this part of the dialogue (domain.yml)."""
USEFUL, WRONG = "useful", "wrong"
"""What the REST door's ``feedback`` field may say (the verdicts :func:`bot.reports.submit_feedback` keeps)."""
SCAM, NOT_SCAM, WRONG_TYPE = "scam", "not_scam", "wrong_type"
CLAIMS = (SCAM, NOT_SCAM, WRONG_TYPE)
"""The answers to "哪里不对？", as the store keeps them (``bot.reports.CLAIMS``: a test keeps the two equal)."""
CLAIM_ENTITY = "claim"

CALLBACK_BYTES = 64
"""Telegram's limit on a button's data: a 举报 payload is kept within it, or the button would be dropped."""
CARRIED_KINDS = ("phone", "bank_card", "im_account")
"""Entities the tracker store masks (``bot.privacy``): once a turn is over the conversation no longer holds
them, so the 举报 button offered with a verdict carries them itself. Links and app names stay readable."""
INDICATOR_ENTITIES = ("phone", "url", "bank_card", "im_account", "app")
"""The NLU's entities that name an indicator (``core.indicators.ENTITY_KINDS``)."""

_TARGET = (r"(?:号码|电话号码?|手机号码?|号|链接|网址|网站|短信|信息|消息|账号|微信号?|QQ号?|qq号?|账户|卡号|银行卡"
           r"|APP|app|骗子|诈骗)")
# "举报" first, with who says it and what it is about: 举报 / 我要举报这个号码 / 帮我举报一下这条短信
_LEAD = re.compile(r"^(?:我(?:要|想|想要)?|请|帮我|我要求)?(?:帮我)?举报(?:一下)?(?:这个|这条|此|该|一个|一条|下)?"
                   + _TARGET + r"*[\s:：，,。.！!、\-—]*")
# … or last, after the forwarded message: "…点击 http://etc-rz.top 认证\n举报" / "…。我要举报这个号码"
_TRAIL = re.compile(r"[\s:：，,。.！!；;、\-—]*(?:我(?:要|想|想要)?|请|帮我)?(?:帮我)?举报(?:一下)?"
                    r"(?:它|他|她|这个|这条|此|该)?" + _TARGET + r"*[\s。.！!~～]*$")
# A question about reporting, asked of the bot: answered with the report lines (core.replies.how_to_report).
_HOW = re.compile(r"怎么|怎样|怎麼|如何|哪|咋|什么电话|打什么|渠道|方法|奖励|有用吗|可以吗|行吗|能不能|有没有"
                  r"|[吗呢么][？?]?$|[？?]$")
# Someone else's report, or one already made: "他说要举报我", "我已经打12321举报过了".
_NOT_A_REPORT = re.compile(r"举报(?:过|了|我|你|您)|被举报|要举报我|说要举报")
_SAYS_REPORT = re.compile(r"举报|检举|揭发|上报")
_QUESTION_CHARS = 30
"""A how-question is short: "举报诈骗短信发到哪". A forwarded scam text after 举报 is longer, and its own
"怎么" or "？" is not the resident's question."""

# What "判断不对" meant, in the words residents type. Type first ("不是这种骗局" is not "不是诈骗"), then
# "not a scam" before "a scam" (不是诈骗 contains 是诈骗).
_WRONG_TYPE = re.compile(r"类型|类别|种类|不是这(?:种|类|个)|是另(?:一|外一)?种|骗局不对|名字不对|说的不是这")
_NOT_SCAM = re.compile(r"不是(?:诈骗|骗子|骗局|骗人|假的)|不算诈骗|不像(?:是)?诈骗|没(?:有)?(?:被)?骗|误判|误报|"
                       r"(?:是|确实是|都是)(?:真的|正规|官方|正经|本人|我自己)|正常的|没问题|判断过头|太紧张了")
_SCAM = re.compile(r"是(?:诈骗|骗子|骗局|骗人|假的)|被骗|骗了我|风险(?:更|很|挺)?高|要当心|不是正规|就是骗")
_ASKING = re.compile(r"是不是|吗|么|[？?]")


def _text(text: str) -> str:
    return text.strip()


def is_payload(text: str) -> bool:
    """A button's payload (``/report``, ``/dispute{"claim":"scam"}``) rather than typed words."""
    return text.lstrip().startswith("/")


def intent_of_payload(text: str) -> str | None:
    """The intent a payload names (``/report{…}`` → ``report``), None for typed words."""
    if not is_payload(text):
        return None
    return re.split(r"[{@\s]", text.lstrip()[1:], maxsplit=1)[0] or None


def report_words(text: str) -> tuple[int, int] | None:
    """Where the command words of a 举报 are: ``(0, end)`` at the start, ``(start, len)`` at the end; None when
    the text does not say 举报 as a command (or says it as a question or about someone else's report)."""
    text = _text(text)
    if not text or is_payload(text) or _NOT_A_REPORT.search(text):
        return None
    lead = _LEAD.match(text)
    if lead:
        span = (0, lead.end())
    else:
        trail = _TRAIL.search(text)
        if trail is None or trail.start() == 0:
            return None
        span = (trail.start(), len(text))
    rest = (text[:span[0]] + text[span[1]:]).strip()
    if len(rest) <= _QUESTION_CHARS and _HOW.search(text):
        return None
    return span


def report_content(text: str) -> str:
    """What is being reported: ``text`` without its 举报 command words ("" for 举报 alone)."""
    text = _text(text)
    span = report_words(text)
    if span is None:
        return "" if is_payload(text) else text
    return (text[:span[0]] + text[span[1]:]).strip()


def wants_to_report(text: str, intent: str | None) -> bool:
    """Whether a message is a 举报: the 举报 button, words that say it as a command, or (when the words
    do not rule it out) the intent classifier's ``report``."""
    text = _text(text)
    if is_payload(text):
        return intent_of_payload(text) == REPORT
    if report_words(text) is not None:
        return True
    if intent != REPORT or not _SAYS_REPORT.search(text) or _NOT_A_REPORT.search(text):
        return False  # the classifier alone never turns a story with no word of reporting into a 举报
    return not (len(text) <= _QUESTION_CHARS and _HOW.search(text))


def claim_of(text: str) -> str | None:
    """The answer to "哪里不对？" in the resident's words (是诈骗 / 不是诈骗 / 类型不对 and natural variants),
    or None when the words do not give one (a question is no answer: "这是不是诈骗")."""
    text = _text(text)
    if not text or is_payload(text) or _ASKING.search(text):
        return None
    for claim, pattern in ((WRONG_TYPE, _WRONG_TYPE), (NOT_SCAM, _NOT_SCAM), (SCAM, _SCAM)):
        if pattern.search(text):
            return claim
    return None


def claim_in(entities: Iterable[Mapping[str, Any]]) -> str | None:
    """The claim a button's payload names (``/dispute{"claim":"not_scam"}``), if it is one of :data:`CLAIMS`."""
    for entity in entities:
        if entity.get("entity") == CLAIM_ENTITY and entity.get("value") in CLAIMS:
            return str(entity["value"])
    return None


def payload(intent: str, entities: Mapping[str, Any] | None = None) -> str:
    """A button's payload: ``/intent`` or ``/intent{"entity":"value"}`` (compact JSON, as Rasa reads it)."""
    if not entities:
        return f"/{intent}"
    return f"/{intent}" + json.dumps(dict(entities), ensure_ascii=False, separators=(",", ":"))


def feedback_payload(feedback: str, claim: str | None = None) -> str:
    """The payload a REST client's ``{"feedback": …, "claim": …}`` stands for."""
    if feedback not in (USEFUL, WRONG):
        raise ValueError(f'"feedback" must be "{USEFUL}" or "{WRONG}"')
    if claim is not None and claim not in CLAIMS:
        raise ValueError('"claim" must be one of ' + ", ".join(f'"{c}"' for c in CLAIMS))
    if claim is not None and feedback != WRONG:
        raise ValueError(f'"claim" only goes with "feedback": "{WRONG}"')
    return payload(FEEDBACK_USEFUL if feedback == USEFUL else FEEDBACK_WRONG, {CLAIM_ENTITY: claim} if claim else None)


_OWN = re.compile(r"(?:我|本人|俺|我们家|我家)(?:自己)?的?(?:手机号码|手机号|手机|电话号码|电话|号码|银行卡号|银行卡|"
                  r"卡号|QQ号|qq号|QQ|qq|微信号|微信|账号)(?:是|为|：|:)?\s*$")
OWN_WINDOW = 14  # characters before a number that may say it is the resident's own


def is_own(text: str, entity: Mapping[str, Any]) -> bool:
    """Whether the resident says the number is their own ("我的电话是133…", "本人卡号：6222…"): never reported."""
    value = str(entity.get("value") or "")
    start = entity.get("start")
    position = start if isinstance(start, int) and text[start:start + len(value)] == value else text.find(value)
    return position >= 0 and bool(_OWN.search(text[max(0, position - OWN_WINDOW):position]))


def indicator_entities(entities: Iterable[Mapping[str, Any]], text: str | None = None) -> list[dict[str, str]]:
    """The entities that name an indicator, as ``{"entity", "value"}``; masked values (``138******11``, what
    the tracker store keeps of a past turn) are left out: they name nothing any more. With the message's
    ``text``, so are the resident's own numbers (:func:`is_own`): a 举报 names the scammer's."""
    kept: list[dict[str, str]] = []
    for entity in entities:
        label, value = str(entity.get("entity") or ""), str(entity.get("value") or "")
        item = {"entity": label, "value": value}
        if label in INDICATOR_ENTITIES and value and "**" not in value and item not in kept \
                and not (text and is_own(text, entity)):
            kept.append(item)
    return kept


def report_payload(entities: Iterable[Mapping[str, Any]], text: str | None = None) -> str:
    """The 举报 button's payload: ``/report`` with the numbers of the judged message the conversation will
    have masked by the time the button is pressed (:data:`CARRIED_KINDS`), as many as fit Telegram's
    :data:`CALLBACK_BYTES`."""
    def rendered(carried: dict[str, list[str]]) -> str:  # one value as a string, several as a list
        return payload(REPORT, {kind: values[0] if len(values) == 1 else values for kind, values in carried.items()})

    carried: dict[str, list[str]] = {}
    for entity in indicator_entities(entities, text):
        if entity["entity"] not in CARRIED_KINDS:
            continue
        trial = {**carried, entity["entity"]: [*carried.get(entity["entity"], []), entity["value"]]}
        if len(rendered(trial).encode("utf-8")) <= CALLBACK_BYTES:
            carried = trial
    return rendered(carried)
