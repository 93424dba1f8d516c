"""回访: what the next day's follow-up of a resident whose money is gone reads and records.

Police visit every victim after the case (回访) to learn how the scam worked and to stop the second scam
that follows ("we can recover your money"). The bot does the same by chat, only with the resident's
consent: the next day it asks four questions — reported to the police? stop-payment in time? the 报警回执?
how did the contact begin? — warns about recovery scams, and keeps an anonymous case card for officers.

Pure functions shared by the actions (``actions/actions.py``) and the store (``bot/followups.py``):

- :func:`amount_band`: the card keeps a band, never the amount;
- :func:`read_answer`: an answer to one question, from a button (its payload is the words on it, or
  ``/affirm`` / ``/deny``) or typed words (WeChat has no buttons), as one of the values below;
- :func:`wants_to_stop`: "不用了", "别问了", "不要再联系我" end it at any time;
- :func:`consent_of`: the answer to "may I check back tomorrow?".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from core.report_lines import bank_line, in_app_service

# -- the card's values ------------------------------------------------------------------------------

BELOW_1K, UP_TO_10K, UP_TO_100K, ABOVE_100K = "<1千", "1千–1万", "1万–10万", ">10万"
AMOUNT_BANDS = (BELOW_1K, UP_TO_10K, UP_TO_100K, ABOVE_100K)

YES, NO = "yes", "no"
IN_TIME, TOO_LATE, NOT_TRIED = "in_time", "too_late", "not_tried"
STOP_PAYMENT = (IN_TIME, TOO_LATE, NOT_TRIED)
PHONE, SMS, CHAT_APP, WEB_APP, OTHER = "phone", "sms", "im", "web_app", "other"
CONTACTS = (PHONE, SMS, CHAT_APP, WEB_APP, OTHER)

# -- the questions (the follow-up form's slots, in the order asked) ---------------------------------

POLICE, STOP, RECEIPT, CONTACT = ("followup_police", "followup_stop_payment", "followup_receipt",
                                  "followup_contact")
QUESTIONS = (POLICE, STOP, RECEIPT, CONTACT)
ANSWERS: dict[str, tuple[str, ...]] = {POLICE: (YES, NO), STOP: STOP_PAYMENT, RECEIPT: (YES, NO), CONTACT: CONTACTS}
"""The values each question's answer may take (what the store and the card keep)."""
SKIPPED = "skipped"
"""The receipt question is not asked of a resident who has not reported: there is no receipt without a report."""
STOPPED = "stopped"
"""Every question still open when the resident said 不用了: the form ends, and the follow-up with it."""
TOLD = "told"
"""Every question still open when the resident told a story instead of answering: it is answered as a story."""
MAX_ANSWER_CHARS = 12
"""An answer the questions cannot read and longer than this is a story ("他们又打电话说能帮我追回钱"), not a slip."""

_STOP = re.compile(r"不用了|不用再|别再?问了?|不要再?问了?|别再(?:联系|找|发|打扰)|不要再(?:联系|找|发|打扰)"
                   r"|别打扰|不要打扰|(?:不用|不要|不需要|别)回访|不想(?:回答|说了|再说)|(?:别|不要|不用)联系我")
_HEAD = re.compile(r"[^\s，,。.！!？?、~～]{1,2}")  # 没有 / 还没 / 冇有 / 不敢: a no first
_NEGATION = re.compile(r"没|不|否|无|未|冇|莫得|木有|还没")
_AGREE = re.compile(r"(?:可以|好|行|嗯|恩|没问题|问吧|来吧|愿意|同意|欢迎|ok|OK|Ok|当然)")  # at the start only
_REPORTED = re.compile(r"报了|报过|报警了|报案了|已经报|打了|打过|打110了|去了|去过|派出所|立案|做了笔录|民警|警察"
                       r"|有|是|对|嗯")
_RECEIVED = re.compile(r"拿到|有|收到|给了|领了|开了|是|对|嗯")
_TOO_LATE = re.compile(r"没来得及|来不及|晚了|没拦住|没冻住|没止住|没追回|已经被?转走|被转走了|钱没了|没用")
_NOT_TRIED = re.compile(r"还没(?:打|联系|止付|找)?|没(?:有)?(?:打|联系|止付|找)|不知道怎么|忘了")
_IN_TIME = re.compile(r"来得及|止付(?:成功|了)|冻结了|冻住了|拦住了|拦下了|保住了")
_NEWS = re.compile(r"手续费|保证金|追回|解冻|律师|退款|验证码|转账|转钱|下载|链接|又有人|又打")
_CONTACTS = ((SMS, re.compile(r"短信|彩信")),
             (CHAT_APP, re.compile(r"微信|QQ|qq|扣扣|聊天|群|私信|陌陌|抖音")),
             (WEB_APP, re.compile(r"网站|网页|网址|APP|App|app|软件|链接|平台|直播|应用")),
             (PHONE, re.compile(r"电话|打来|打过来|打给我|来电|手机打")),
             (OTHER, re.compile(r"其他|其它|别的|当面|上门|见面|信件")))
_PAYLOAD_YES, _PAYLOAD_NO = "/affirm", "/deny"


def amount_band(amount: float | None) -> str | None:
    """The band of an amount in yuan, as police 回访表 group losses: below 1,000; 1,000 up to 10,000; 10,000 up to
    and including 100,000; above 100,000. None for no amount (or none that is positive)."""
    if amount is None or amount <= 0:
        return None
    if amount < 1_000:
        return BELOW_1K
    if amount < 10_000:
        return UP_TO_10K
    if amount <= 100_000:
        return UP_TO_100K
    return ABOVE_100K


def amount_in(entities: Iterable[Mapping[str, Any]]) -> float | None:
    """The largest amount among the NLU's ``money`` entities (their values are whole yuan, 3万 → "30000").

    The largest, because residents tell parts and totals in one breath ("先转了5000，后来一共转了3万")
    and the total is never smaller than a part."""
    found = []
    for entity in entities:
        if entity.get("entity") != "money":
            continue
        try:
            found.append(float(str(entity.get("value"))))
        except ValueError:
            continue
    return max(found) if found else None


OTHER_ROUTE = "其他"


def payment_route(named: str | None) -> str | None:
    """The payment route a card keeps: the official name of a bank or platform the bot knows (its stop-payment
    line or in-app service), :data:`OTHER_ROUTE` for any other name (a button's payload can carry any text,
    and a card never keeps free text), None when none was named."""
    if not named:
        return None
    return named if bank_line(named) or in_app_service(named) else OTHER_ROUTE


def _plain(text: str) -> str:
    return (text or "").strip()


def wants_to_stop(text: str) -> bool:
    """Whether the resident says to stop following up ("不用了", "别问了", "不要再联系我", "不用回访")."""
    return bool(_STOP.search(_plain(text)))


def _negated_head(text: str) -> bool:
    """The answer starts with a no (没有 / 还没报 / 不是): the classifier may read the 有 in 没有 as a yes."""
    head = _HEAD.match(text)
    return bool(head and _NEGATION.search(head.group(0)))


def _yes_no(text: str, intent: str | None, yes: re.Pattern[str]) -> str | None:
    text = _plain(text)
    if text == _PAYLOAD_YES:
        return YES
    if text == _PAYLOAD_NO or _negated_head(text):
        return NO
    if intent == "deny":
        return NO
    if _NEGATION.search(text) and not yes.search(text.replace("没有", "")):
        return NO
    if yes.search(text) or intent == "affirm":
        return YES
    return None


def consent_of(text: str, intent: str | None) -> bool | None:
    """The answer to "may I check back tomorrow?": True, False, or None when the message answers something else."""
    text = _plain(text)
    if wants_to_stop(text) or text == _PAYLOAD_NO:
        return False
    if text == _PAYLOAD_YES:
        return True
    if len(text) > MAX_ANSWER_CHARS:  # a story, not an answer ("对，他还让我下载了一个APP"): consent is never guessed
        return None
    if _AGREE.match(text):  # 可以 / 好的 / 没问题 (which starts with 没)
        return True
    if intent == "deny" or _negated_head(text):
        return False
    return True if intent == "affirm" else None


def _stop_payment(text: str, intent: str | None) -> str | None:
    text = _plain(text)
    if _TOO_LATE.search(text):  # before "in time": 没来得及 holds 来得及
        return TOO_LATE
    if _IN_TIME.search(text):
        return IN_TIME
    if _NOT_TRIED.search(text) or text == _PAYLOAD_NO or intent == "deny" or _negated_head(text):
        return NOT_TRIED
    return None


def _contact(text: str) -> str | None:
    """How the contact began: the way named first ("先打电话，后来加了微信" began with a call)."""
    text = _plain(text)
    found = [(match.start(), kind) for kind, pattern in _CONTACTS for match in [pattern.search(text)] if match]
    return min(found)[1] if found else None


def read_answer(question: str, text: str, intent: str | None = None) -> str | None:
    """The answer to ``question`` (one of :data:`QUESTIONS`) that ``text`` gives, one of its :data:`ANSWERS`;
    None when it gives none. A value the store already holds (a resumed follow-up) reads as itself."""
    text = _plain(text)
    if text in ANSWERS.get(question, ()):
        return text
    if len(text) > MAX_ANSWER_CHARS and _NEWS.search(text):
        return None  # "又有人说交3000手续费就能帮我追回来": a story to judge, whatever answer words it holds
    if question == POLICE:
        return _yes_no(text, intent, _REPORTED)
    if question == RECEIPT:
        return _yes_no(text, intent, _RECEIVED)
    if question == STOP:
        return _stop_payment(text, intent)
    if question == CONTACT:
        return _contact(text)
    raise ValueError(f"unknown follow-up question {question!r}")


def next_question(answers: Mapping[str, str | None]) -> str | None:
    """The first question still open, skipping the receipt of a resident who has not reported; None when done."""
    for question in QUESTIONS:
        if question == RECEIPT and answers.get(POLICE) == NO:
            continue
        if answers.get(question) is None:
            return question
    return None


def card_values(answers: Mapping[str, str | None]) -> dict[str, Any]:
    """The answers as the case card keeps them: who reached 110, stop-payment, the receipt, how contact began.

    An answer not given (the resident stopped or told a story) is unknown (None); no report means no receipt."""
    police = answers.get(POLICE)
    receipt = answers.get(RECEIPT)
    return {
        "reached_police": {YES: True, NO: False}.get(police or ""),
        "stop_payment": answers.get(STOP) if answers.get(STOP) in STOP_PAYMENT else None,
        "has_receipt": False if police == NO else {YES: True, NO: False}.get(receipt or ""),
        "contact": answers.get(CONTACT) if answers.get(CONTACT) in CONTACTS else None,
    }


def closing(answers: Mapping[str, str | None]) -> list[str]:
    """The responses (domain.yml) that end a follow-up: the one step still most worth taking, if any, then the
    warning about the second scam (追回损失, 退款 "lawyers", paid 解冻), then thanks with 96110 and 110."""
    tip = ("utter_followup_tip_police" if answers.get(POLICE) == NO
           else "utter_followup_tip_stop_payment" if answers.get(STOP) == NOT_TRIED
           else "utter_followup_tip_receipt" if answers.get(RECEIPT) == NO else None)
    return [*([tip] if tip else []), "utter_followup_recovery_warning", "utter_followup_thanks"]
