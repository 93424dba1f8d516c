"""Rasa SDK actions: thin wrappers that turn the tracker into a :class:`~core.verdict.Case`.

The decisions live in :mod:`core.verdict`, :mod:`core.report_lines`, :mod:`core.reporting` and
:mod:`core.followup`; these classes only read slots and the latest message, send the reply, set slots, and
hand a resident's 举报, feedback and consent to a follow-up (回访) to the store (:mod:`bot.reports`,
:mod:`bot.followups`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import followups, reports
from bot.known import CONFIRMED, lookups_for
from core import followup
from core.followup import QUESTIONS, SKIPPED, STOPPED, amount_band, amount_in, consent_of, read_answer
from core.knowledge import region_key, scenarios
from core.languages import ENGLISH, language_of
from core.moments import LASTING_FACTS, audience_of, channel_of, facts_in, follow_up_facts
from core.replies import Reply, calm_and_ask, compose, how_to_report, indicator_name
from core.report_lines import line, regional_lines
from core.reporting import (
    FEEDBACK_USEFUL,
    REPORT,
    USEFUL,
    WRONG,
    claim_in,
    claim_of,
    indicator_entities,
    intent_of_payload,
    is_payload,
    report_content,
    report_words,
    wants_to_report,
)
from core.verdict import (
    COULD_NOT_READ,
    MIN_SCENARIO_CONFIDENCE,
    NONE,
    Case,
    assessment,
    needs_call_check,
    readable,
    says_money_sent,
)
from nlu.entities import redact

logger = logging.getLogger(__name__)

PAYMENT_ENTITIES = ("bank", "platform")
CALL_CHECK_FORM = "call_check_form"
FORM_SLOTS = ("asked_money", "asked_code", "money_moved")
TOLD = "told"  # a form slot filled by a message that told more than yes or no
# A caller who claimed who they are, with no scam scenario recognised (the generic call check):
# neither likely nor unlikely a scam until the answers say what they asked for.
UNKNOWN_CALLER = 0.5
CLAIMED_ON_THE_PHONE = "impersonate_official"  # the claim that started the check is itself evidence
MIN_TOLD_CHARS = 8  # an answer longer than this that describes a demand is a story, not a yes
UNASKED = "unasked"  # a form slot left unasked because an earlier answer settled the verdict
# Intents routed to action_assess only because they may carry a fact (好的，我已经报警了):
# with nothing heard, they get their own answer.
OWN_ANSWERS = {"affirm": "utter_noted", "deny": "utter_noted", "out_of_scope": "utter_out_of_scope"}
_YES = re.compile(r"是|有|对|嗯|要了|让我|叫我|给了|说了|转了|下载了|开了|共享了")
_NO = re.compile(r"没|不|否|无|未|冇|莫得|木有")
_BUT = re.compile(r"不过|但是|但|可是|只是|就是他|倒是")
_FIRST_WORDS = re.compile(r"[^\s，,。.！!？?、]{1,4}")  # 有的 / 对对对 / 没有 / 那倒没有
# The last judgement of the conversation: the message judged (as typed), its indicator entities, the risk
# and the bot's answer. 举报 alone reports that message; 有用 / 判断不对 are about that answer.
VERDICT = "verdict"
CLAIM_ASKED = "claim_asked"  # 判断不对 was answered with "哪里不对？": the next 是诈骗 / 不是诈骗 / 类型不对 answers it
MAX_KEPT_CHARS = 1000  # what review needs of a message and an answer (bot.reports keeps less)
REST_CHANNEL = "rest"
REPORT_REPLIES = {reports.RECORDED: "utter_report_recorded", reports.DUPLICATE: "utter_report_duplicate",
                  reports.LIMITED: "utter_report_limited", reports.NOTHING: "utter_report_nothing"}
# 回访: the consent question is asked once per conversation (the slot says it was: ASKED until answered), and
# the next day's four questions are the follow-up form (core.followup.QUESTIONS).
FOLLOWUP_OFFER, ASKED, ANSWERED = "followup_offer", "asked", "answered"
FOLLOWUP_FORM = "followup_form"
EXTERNAL_PREFIX = "EXTERNAL: "  # the text Rasa gives an intent triggered through its API (the follow-up job)


def send(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    """Send each message of a reply; buttons go with the last message."""
    for i, text in enumerate(reply.messages):
        last = i == len(reply.messages) - 1
        dispatcher.utter_message(text=text, buttons=reply.buttons if last and reply.buttons else None)


def original_text(tracker: Tracker) -> str:
    """The resident's message as typed (the NLU's text is normalised to Simplified Chinese)."""
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            return str(event.get("text") or "")
    return str((tracker.latest_message or {}).get("text") or "")


def payment_channel(tracker: Tracker) -> str | None:
    """The bank or payment platform named in the latest message, else the one named before."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") in PAYMENT_ENTITIES:
            return str(entity.get("value"))
    return tracker.get_slot("bank")


def case_from_tracker(tracker: Tracker) -> Case:
    """Build the case from the latest message and what the conversation already knows.

    A scenario found earlier is kept when the latest message (a bank name, "钱已经转了")
    says nothing about the kind of scam.
    """
    message = tracker.latest_message or {}
    text = message.get("text") or ""
    entities = list(message.get("entities") or [])
    found = message.get("scenario") or {}
    scenario, confidence = found.get("name", NONE), float(found.get("confidence") or 0.0)
    probability = message.get("scam_probability")
    scam_probability = float(probability) if isinstance(probability, (int, float)) else None
    follow_up = False
    if (scenario == NONE or confidence < MIN_SCENARIO_CONFIDENCE) and tracker.get_slot("scenario"):
        # the story told before decides; this message's own probability is about a bank name
        scenario, confidence, scam_probability = tracker.get_slot("scenario"), 1.0, None
        follow_up = True
    alert = (message.get("metadata") or {}).get("alert") or {}
    if alert.get("scenario") and (scenario == NONE or confidence < MIN_SCENARIO_CONFIDENCE):
        scenario, confidence, scam_probability = alert["scenario"], 1.0, None  # "像这个吗" about a police alert
    typed = original_text(tracker)
    heard = facts_in(text) | follow_up_facts(text, tracker.get_slot("evidence") or ())
    facts = heard | {f for f in tracker.get_slot("facts") or () if f in LASTING_FACTS}
    # what the store knows of this message: a known scam's text, confirmed or reported indicators
    known, stored = lookups_for(text, entities) if text and not text.startswith("/") else (None, [])
    return Case(
        text=text,
        scenario=scenario,
        confidence=confidence,
        signals=list(message.get("signals") or []),
        entities=entities,
        # "验证码给了，钱还没动" is a code given, not money gone: the resident's own words decide
        money_sent=((says_money_sent(message.get("intent"), text, message.get("intent_ranking") or (), entities)
                     and "money_not_gone" not in heard) or bool(tracker.get_slot("money_sent"))),
        bank=payment_channel(tracker),
        alert_title=alert.get("title"),
        unreadable=not readable(text, entities) and not readable(typed),
        scam_probability=scam_probability,
        facts=frozenset(facts),
        channel=channel_of(text) or tracker.get_slot("channel"),
        audience=audience_of(text) or tracker.get_slot("audience"),
        lines_shown=bool(tracker.get_slot("lines_shown")),
        language=language_of(typed),
        follow_up=follow_up,
        earlier_evidence=frozenset(tracker.get_slot("evidence") or ()) if follow_up else frozenset(),
        known=known,
        indicators=stored,
    )


def remembered(case: Case, reply: Reply | None = None) -> list[EventType]:
    """Slots that carry the case into the next turn: the scenario, the bank, the money, what the
    resident has done, how the contact came, who is asking, whether the hotlines were shown, and
    the demands found so far (a later "没让转账" does not undo "涉嫌洗钱")."""
    events: list[EventType] = [SlotSet("money_sent", case.money_sent)]
    if case.named_scenario:
        events.append(SlotSet("scenario", case.scenario))
    if case.bank:
        events.append(SlotSet("bank", case.bank))
    lasting = sorted(f for f in case.facts if f in LASTING_FACTS)
    if lasting:
        events.append(SlotSet("facts", lasting))
    if case.channel:
        events.append(SlotSet("channel", case.channel))
    if case.audience:
        events.append(SlotSet("audience", case.audience))
    if reply is not None and reply.lines_shown:
        events.append(SlotSet("lines_shown", True))
    demands = sorted(set(assessment(case).decisive) | set(case.earlier_evidence))
    if demands:
        events.append(SlotSet("evidence", demands))
    band = amount_band(amount_in(case.entities)) if case.money_sent else None
    if band:
        events.append(SlotSet("amount_band", band))  # for a follow-up's card: the band, never the amount
    return events


def judged(text: str, entities: list[dict[str, Any]], reply: Reply | None) -> SlotSet:
    """The :data:`VERDICT` slot for a message judged now (``reply`` None: the call check has only begun)."""
    return SlotSet(VERDICT, {"text": text[:MAX_KEPT_CHARS], "entities": indicator_entities(entities),
                             "risk": reply.risk if reply else "",
                             "answer": "\n".join(reply.messages)[:MAX_KEPT_CHARS] if reply else ""})


def last_verdict(tracker: Tracker) -> dict[str, Any]:
    found = tracker.get_slot(VERDICT)
    return found if isinstance(found, dict) else {}


def latest_intent(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


def input_channel(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or REST_CHANNEL


def region_of(tracker: Tracker) -> str:
    """The region a report or feedback counts for: the one the channel put in the message's metadata (a
    registered group's area, :meth:`bot.channels.telegram.TelegramChannel._metadata`), else the deployment's.
    The daily report counts consultations the same way (:func:`bot.retention.consultation_key`)."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    region = metadata.get("region")
    return region[:64] if isinstance(region, str) and region else region_key()


def claim_answered(tracker: Tracker) -> str | None:
    """The claim this message gives, when it answers "哪里不对？" about a verdict: a 是诈骗 / 不是诈骗 / 类型不对
    button (pressed any time after the question), or the words typed right after it (WeChat)."""
    if not last_verdict(tracker).get("answer"):
        return None
    message = tracker.latest_message or {}
    pressed = claim_in(message.get("entities") or [])
    if pressed is not None:
        return pressed
    return claim_of(latest_text(tracker)) if tracker.get_slot(CLAIM_ASKED) else None


def file_report(tracker: Tracker) -> reports.ReportOutcome:
    """Hand this 举报 to the store: what follows (or precedes) the word 举报, else the message judged last.

    The 举报 button carries the numbers of the judged message itself (:func:`core.reporting.report_payload`):
    the conversation holds them masked by now."""
    message = tracker.latest_message or {}
    entities = list(message.get("entities") or [])
    earlier = last_verdict(tracker)
    sender, channel, region = tracker.sender_id, input_channel(tracker), region_of(tracker)
    text = latest_text(tracker)
    if is_payload(text):
        return reports.submit_report(sender, channel, str(earlier.get("text") or ""),
                                     indicator_entities(entities + list(earlier.get("entities") or [])), region)
    typed = original_text(tracker)
    content = report_content(typed if report_words(typed) else text)
    outcome = reports.submit_report(sender, channel, content, indicator_entities(entities, typed or text), region)
    if outcome.status == reports.NOTHING and earlier.get("text"):  # 举报 alone: the message judged last,
        # with the numbers its verdict kept for this (the conversation holds them masked)
        kept = indicator_entities([*(earlier.get("entities") or []), *reports.offered(sender, channel)])
        outcome = reports.submit_report(sender, channel, str(earlier["text"]), kept, region)
    return outcome


def answer_verdict(dispatcher: CollectingDispatcher, tracker: Tracker, case: Case, reply: Reply) -> None:
    """Send a verdict; when it offers 举报, keep its numbers for a typed 举报 (:func:`bot.reports.offer`)."""
    send(dispatcher, reply)
    if any(intent_of_payload(button.get("payload", "")) == REPORT for button in reply.buttons):
        try:
            reports.offer(tracker.sender_id, input_channel(tracker), indicator_entities(case.entities, case.text))
        except Exception:  # noqa: BLE001 - the button still carries them; only a typed 举报 loses them
            logger.exception("report offer not kept")


def heard_something(case: Case) -> bool:
    """Whether the message holds anything to answer beyond the scam topic: a fact, a request,
    a notice, English, or a safeguard."""
    return bool(case.facts or case.request or case.notice or case.language == ENGLISH
                or case.safeguard(()) is not None)


class ActionAssess(Action):
    """Answers a resident's description: verdict, reasons, advice, report lines.

    Every consult, money-sent, inform and not-understood message ends here (stories/rules.yml),
    so this is where a message with nothing readable in it (symbols, SQL, stray letters) gets
    the "could not read that" answer with 96110 and 110, never a verdict or the golden hour.
    A call-type scenario with no red flag yet starts the short call check form instead,
    because "someone called claiming to be police" alone says too little.
    """

    def name(self) -> str:
        return "action_assess"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        if claim_answered(tracker) is not None:  # "不是诈骗" typed after "哪里不对？", read as a deny or a story
            return await ActionDispute().run(dispatcher, tracker, domain)
        offered = tracker.get_slot(FOLLOWUP_OFFER) == ASKED
        if offered:  # "可以" / "不用了" after "明天我再来问问您……可以吗？"
            said = consent_of(latest_text(tracker), latest_intent(tracker))
            if said is not None:
                return answer_consent(dispatcher, tracker, said)
        under_way = followup_turn(dispatcher, tracker)  # 不用了 or a late answer to an asked follow-up
        if under_way is not None:
            return under_way
        case = case_from_tracker(tracker)
        if wants_to_report(latest_text(tracker), latest_intent(tracker)):
            if not case.money_sent:
                return await ActionReport().run(dispatcher, tracker, domain)
            # "举报这个骗子，我转了他3万": the golden hour comes first; the report is still kept
            try:
                file_report(tracker)
            except Exception:  # noqa: BLE001 - the resident must get 110 and the stop-payment line
                logger.exception("report with money sent not stored")
        events = self._answer(case, dispatcher, tracker)
        if tracker.get_slot(CLAIM_ASKED):
            events.append(SlotSet(CLAIM_ASKED, None))  # a new message instead of the answer: the question lapses
        if offered:
            events.append(SlotSet(FOLLOWUP_OFFER, ANSWERED))  # the consent question too: it is asked once
        return events

    def _answer(self, case: Case, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        found = assessment(case)
        # Residents' stories stay out of the INFO log; numbers are masked even at DEBUG.
        logger.info("assess scenario=%s conf=%.2f p_scam=%.2f risk=%s evidence=%s chars=%d", case.scenario,
                    case.confidence, case.p_scam, found.risk, found.decided_by, len(case.text))
        logger.debug("assess text=%s", redact(case.text[:200]))
        info = case.named_scenario
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        nothing_found = not case.signals and not found.for_ids and not found.against_ids
        heard = heard_something(case)
        if needs_call_check(case):
            if info is None:
                dispatcher.utter_message(response="utter_call_check_intro_unknown")
            else:
                dispatcher.utter_message(response="utter_call_check_intro", scenario_name=info.name)
            return remembered(case) + [judged(original_text(tracker), case.entities, None),
                                       FollowupAction(CALL_CHECK_FORM)]
        payload = case.text.startswith("/")  # a button (/affirm) outside the question it belonged to
        if (payload or not case.unreadable) and info is None and nothing_found and not case.money_sent and not heard:
            if intent in OWN_ANSWERS:  # small talk routed here in case it carried a fact: its own answer
                dispatcher.utter_message(response=OWN_ANSWERS[intent])
                return []
        if case.unreadable or (info is None and nothing_found and not case.money_sent and not heard):
            # Nothing readable, or nothing to judge: ask again and name 96110 and 110, no verdict.
            dispatcher.utter_message(response=COULD_NOT_READ)
            return []
        if info is None and nothing_found and case.facts == {"afraid"} and not case.money_sent \
                and not case.request and not case.notice and case.safeguard(()) is None:
            reply = calm_and_ask(case)
            send(dispatcher, reply)
            return remembered(case, reply)
        reply = compose(case)
        answer_verdict(dispatcher, tracker, case, reply)
        events = remembered(case, reply) + offer_followup(dispatcher, tracker, reply)
        if reply.judged and not payload:
            events.append(judged(original_text(tracker), case.entities, reply))
        return events


class ActionCallVerdict(Action):
    """The verdict after the call check form, from the answers and the scenario."""

    def name(self) -> str:
        return "action_call_verdict"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        if TOLD in (tracker.get_slot(name) for name in FORM_SLOTS):
            # the resident told more than an answer: judge what they said, the scenario kept
            case = case_from_tracker(tracker)
            if case.scenario == NONE:
                case.scam_probability = UNKNOWN_CALLER
                case.earlier_evidence = case.earlier_evidence | {CLAIMED_ON_THE_PHONE}
            reply = compose(case)
            answer_verdict(dispatcher, tracker, case, reply)
            return remembered(case, reply) + [SlotSet(slot, None) for slot in FORM_SLOTS] + self._judged(tracker, reply)
        case = Case(
            scenario=tracker.get_slot("scenario") or NONE,
            confidence=1.0,
            scam_probability=None if tracker.get_slot("scenario") else UNKNOWN_CALLER,
            money_sent=tracker.get_slot("money_moved") is True,
            bank=tracker.get_slot("bank"),
            asked_money=answer(tracker.get_slot("asked_money")),
            asked_code=answer(tracker.get_slot("asked_code")),
            facts=frozenset(tracker.get_slot("facts") or ()),
            channel=tracker.get_slot("channel") or "call",
            audience=tracker.get_slot("audience"),
            lines_shown=bool(tracker.get_slot("lines_shown")),
            language=language_of(original_text(tracker)),
            from_call_check=True,
            earlier_evidence=frozenset() if tracker.get_slot("scenario") else frozenset({CLAIMED_ON_THE_PHONE}),
        )
        reply = compose(case)
        answer_verdict(dispatcher, tracker, case, reply)
        return (remembered(case, reply) + offer_followup(dispatcher, tracker, reply)
                + [SlotSet(slot, None) for slot in FORM_SLOTS] + self._judged(tracker, reply))

    @staticmethod
    def _judged(tracker: Tracker, reply: Reply) -> list[EventType]:
        """The verdict answers the story that started the check (kept when the check began)."""
        if not reply.judged:
            return []
        story = last_verdict(tracker)
        return [judged(str(story.get("text") or ""), list(story.get("entities") or []), reply)]


def answer(value: Any) -> bool | None:
    """A form slot as a yes/no answer (``UNASKED``: not asked, None)."""
    return value if isinstance(value, bool) else None


def tells_more(case: Case, answered: bool | None, money_known: bool) -> bool:
    """Whether an answer to the call check tells more than yes or no: money gone (``money_known``:
    already said before), something done (reported, a code given, a link clicked), a request, or,
    when it is no plain yes or no, a demand the evidence finds ("他让我把钱转到安全账户")."""
    if case.unreadable:
        return False
    said = facts_in(case.text) - {"afraid", "money_not_gone"}
    if said or case.request or (case.money_sent and not money_known):
        return True
    # "对对对，她让我把钱都提出来放到一张卡上": a demand described, whatever was asked; a "no" that
    # names what was not asked ("没给，也没收到啥验证码") stays a no unless a "but" follows
    if answered is False and not _BUT.search(case.text):
        return False  # "还没转，不过他一直催我转到他个人微信上" goes on
    return bool(assessment(case).decisive) and (answered is None or len(case.text) > MIN_TOLD_CHARS)


def yes_no(text: str, intent: str | None) -> bool | None:
    """Read a yes/no answer: the intent first, then the first words (有的，他说… / 没有，就问了地址),
    then the whole answer (他没让我转 / 让我转了)."""
    head = _FIRST_WORDS.match(text.strip())
    if head and _NO.search(head.group(0)):
        return False  # 冇有 / 没得: the classifier may read the 有 in them as a yes
    if intent == "affirm":
        return True
    if intent == "deny":
        return False
    for part in ([head.group(0)] if head else []) + [text]:
        if _NO.search(part):
            return False
        if _YES.search(part):
            return True
    return None


class ValidateCallCheckForm(FormValidationAction):
    """Turns free-text answers of the call check form into yes/no, or asks again."""

    def name(self) -> str:
        return "validate_call_check_form"

    def _answer(self, slot: str, dispatcher: CollectingDispatcher,
                tracker: Tracker) -> dict[str, Any]:
        case = case_from_tracker(tracker)  # once: the answer is read, checked and its money taken from it
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        answer = yes_no(case.text, intent)
        if tells_more(case, answered=answer, money_known=bool(tracker.get_slot("money_sent"))):
            # "我已经转给他了，从农业银行转的" is more than a yes or no: end the questions, and
            # action_call_verdict answers what was told
            return {name: TOLD for name in FORM_SLOTS if tracker.get_slot(name) is None or name == slot}
        if answer is None:
            dispatcher.utter_message(response="utter_answer_yes_no")
        if answer is True and slot in ("asked_money", "asked_code"):
            # a demand confirmed settles it: no more questions, the verdict now (and whether the
            # money moved is read from this answer, else the verdict says what to do if it did)
            moved = True if case.money_sent else False if "money_not_gone" in case.facts else None
            rest = {name: UNASKED for name in FORM_SLOTS if tracker.get_slot(name) is None and name != slot}
            return {**rest, slot: True, **({"money_moved": moved} if moved is not None else {})}
        return {slot: answer}

    def validate_asked_money(self, value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        return self._answer("asked_money", dispatcher, tracker)

    def validate_asked_code(self, value: Any, dispatcher: CollectingDispatcher,
                            tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        return self._answer("asked_code", dispatcher, tracker)

    def validate_money_moved(self, value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        return self._answer("money_moved", dispatcher, tracker)


class ActionHotlines(Action):
    """Lists the report lines (national, then the region's own) when a resident asks."""

    def name(self) -> str:
        return "action_hotlines"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        if wants_to_report(latest_text(tracker), latest_intent(tracker)):
            return await ActionReport().run(dispatcher, tracker, domain)
        under_way = followup_turn(dispatcher, tracker)  # "电话" answering how the contact began, a day later
        if under_way is not None:
            return under_way
        case = case_from_tracker(tracker)
        if case.request == "how_to_report":
            send(dispatcher, how_to_report())
            return [SlotSet("lines_shown", True)]
        if case.money_sent or (heard_something(case) and not case.unreadable):
            # "报警了，民警来过了" names 110 but tells what happened: answered as a story
            return await ActionAssess().run(dispatcher, tracker, domain)
        lines = [line(key) for key in ("police", "anti_fraud", "spam_report", "anti_fraud_app")]
        lines += regional_lines()
        text = "这些号码请记好：\n" + "\n".join(f"· {item.render()}" for item in lines)
        text += "\n另外，12381 是发反诈预警短信的号码，收到它的短信要当心，不用回拨。"
        dispatcher.utter_message(text=text)
        return [SlotSet("lines_shown", True)]


class ActionReport(Action):
    """A resident's 举报 (typed, or the button under a high-risk verdict): kept for the officers' review
    (:func:`bot.reports.submit_report`), answered with what happens next and 96110.

    A message the classifier called ``report`` that is really a question about reporting ("举报诈骗短信
    发到哪") or a story is judged as usual."""

    def name(self) -> str:
        return "action_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        if not wants_to_report(latest_text(tracker), latest_intent(tracker)):
            return await ActionAssess().run(dispatcher, tracker, domain)
        try:
            outcome = file_report(tracker)
        except Exception:  # noqa: BLE001 - the resident is told, and still gets 96110
            logger.exception("report not stored")
            dispatcher.utter_message(response="utter_report_not_saved")
            return []
        logger.info("report %s channel=%s indicators=%d", outcome.status, input_channel(tracker),
                    len(outcome.indicators))
        dispatcher.utter_message(response=REPORT_REPLIES[outcome.status])
        confirmed = [item for item in outcome.indicators if item.state == CONFIRMED]
        if confirmed and outcome.status in (reports.RECORDED, reports.DUPLICATE):
            dispatcher.utter_message(response="utter_report_confirmed", what=indicator_name(confirmed[0].kind))
        return []


class ActionFeedback(Action):
    """有用 / 判断不对 about the last verdict (:func:`bot.reports.submit_feedback`); 判断不对 asks one question,
    是诈骗 / 不是诈骗 / 类型不对, unless the REST client sent the claim with it."""

    def name(self) -> str:
        return "action_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        verdict = last_verdict(tracker)
        if not verdict.get("answer"):
            dispatcher.utter_message(response="utter_feedback_no_verdict")
            return []
        intent = intent_of_payload(latest_text(tracker)) or latest_intent(tracker)
        said = USEFUL if intent == FEEDBACK_USEFUL else WRONG
        claim = claim_in((tracker.latest_message or {}).get("entities") or []) if said == WRONG else None
        status = store_feedback(tracker, verdict, said, claim)
        if status == reports.LIMITED:
            dispatcher.utter_message(response="utter_feedback_limited")
        elif said == USEFUL:
            dispatcher.utter_message(response="utter_feedback_useful")
        elif claim is not None:
            dispatcher.utter_message(response="utter_dispute_noted")
        else:
            dispatcher.utter_message(response="utter_feedback_ask_claim")
            return [SlotSet(CLAIM_ASKED, True)]
        return [SlotSet(CLAIM_ASKED, None)]


class ActionDispute(Action):
    """The answer to "哪里不对？" (是诈骗 / 不是诈骗 / 类型不对): the feedback gets its claim, and goes to review.

    Words like "我觉得这不是诈骗吧" from a resident who was asked nothing are a message to judge, never eaten."""

    def name(self) -> str:
        return "action_dispute"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        claim = claim_answered(tracker)
        if claim is None:
            if is_payload(latest_text(tracker)):  # an old question's button, with no verdict to go with it
                dispatcher.utter_message(response="utter_feedback_no_verdict")
                return [SlotSet(CLAIM_ASKED, None)]
            return await ActionAssess().run(dispatcher, tracker, domain)
        status = store_feedback(tracker, last_verdict(tracker), WRONG, claim)
        dispatcher.utter_message(response="utter_feedback_limited" if status == reports.LIMITED
                                 else "utter_dispute_noted")
        return [SlotSet(CLAIM_ASKED, None)]


def store_feedback(tracker: Tracker, verdict: dict[str, Any], said: str, claim: str | None) -> str:
    """Keep the resident's word on ``verdict`` (the message and the bot's answer, redacted by the store);
    a store that cannot be written loses the feedback, not the conversation."""
    try:
        return reports.submit_feedback(
            tracker.sender_id, input_channel(tracker), said, text=str(verdict.get("text") or ""),
            answer=str(verdict.get("answer") or ""), scenario=tracker.get_slot("scenario") or "",
            risk=str(verdict.get("risk") or ""), claim=claim, region=region_of(tracker))
    except Exception:  # noqa: BLE001 - the resident is thanked either way
        logger.exception("feedback not stored")
        return reports.RECORDED


# -- 回访: the consent question, the next day's questions, and their end ----------------------------------------

def metadata_of(tracker: Tracker) -> dict[str, Any]:
    found = (tracker.latest_message or {}).get("metadata")
    return found if isinstance(found, dict) else {}


def offer_followup(dispatcher: CollectingDispatcher, tracker: Tracker, reply: Reply) -> list[EventType]:
    """After the money-gone answer (its 110 and stop-payment line first, unchanged), ask once whether the bot
    may check back tomorrow: its own last bubble, with 可以 / 不用了 under it, where a phone shows it last and
    its buttons cannot be mistaken for the answer's. While the bank is asked for the first time, the bank comes
    first (its stop-payment line matters now): the question comes with the answer to it (a bank named, or the
    bank asked once more). Only in a private
    chat on a channel that can write first (:func:`bot.followups.address_of`), and not when a follow-up of
    this conversation is already to come."""
    if not reply.money_gone or tracker.get_slot(FOLLOWUP_OFFER):
        return []
    if reply.ask_bank and not tracker.get_slot("money_sent"):
        return []  # the bank question is open: it is settled first
    if followups.address_of(input_channel(tracker), tracker.sender_id, metadata_of(tracker)) is None:
        return []
    try:
        if followups.active(tracker.sender_id) is not None:
            return []
    except Exception:  # noqa: BLE001 - no store, no follow-up: the answer itself is complete
        logger.exception("follow-up store not readable; not offered")
        return []
    dispatcher.utter_message(response="utter_followup_offer")
    return [SlotSet(FOLLOWUP_OFFER, ASKED)]


def answer_consent(dispatcher: CollectingDispatcher, tracker: Tracker, said: bool) -> list[EventType]:
    """可以: a pending follow-up with what the conversation knows (scenario, payment route, amount band).
    不用了: nothing is kept."""
    events: list[EventType] = [SlotSet(FOLLOWUP_OFFER, ANSWERED)]
    where = followups.address_of(input_channel(tracker), tracker.sender_id, metadata_of(tracker))
    if not said or where is None:
        dispatcher.utter_message(response="utter_followup_declined")
        return events
    scenario = tracker.get_slot("scenario")
    band = tracker.get_slot("amount_band")
    try:
        followups.consent(tracker.sender_id, *where, scenario=scenario if scenario in scenarios() else None,
                          payment_route=followup.payment_route(tracker.get_slot("bank")),
                          amount_band=band if band in followup.AMOUNT_BANDS else None)
    except Exception:  # noqa: BLE001 - the resident is told it was not kept, and still gets 96110 and 110
        logger.exception("follow-up consent not stored")
        dispatcher.utter_message(response="utter_followup_not_saved")
        return events
    logger.info("follow-up agreed on %s", where[0])
    dispatcher.utter_message(response="utter_followup_agreed")
    return events


def stop_followup(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """不用了 / 别问了: the conversation's follow-up ends and its address is deleted; whether there was one."""
    try:
        stopped = followups.stop(tracker.sender_id)
    except Exception:  # noqa: BLE001 - told nothing was stopped; the follow-up expires on its own
        logger.exception("follow-up not stopped")
        return False
    if stopped:
        logger.info("follow-up stopped by the resident")
        dispatcher.utter_message(response="utter_followup_stopped")
    return stopped


def followup_turn(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType] | None:
    """A message outside the follow-up form that belongs to a follow-up: 不用了 (before the next day's message
    or after it), or a short answer that comes after the conversation's session ended (the form with it) —
    the follow-up goes on from its next question, as the store kept it. None: an ordinary message.

    Only channels that can have a follow-up, and only short messages or the stop words, ask the store."""
    text = latest_text(tracker)
    stop = followup.wants_to_stop(text)
    if input_channel(tracker) not in followups.WRITABLE or not (stop or len(text) <= followup.MAX_ANSWER_CHARS
                                                               or is_payload(text)):
        return None
    try:
        found = followups.active(tracker.sender_id)
    except Exception:  # noqa: BLE001 - answered as an ordinary message
        logger.exception("follow-up store not readable")
        return None
    if found is None:
        return None
    if stop:
        return [] if stop_followup(dispatcher, tracker) else None
    question = followup.next_question(found.answers)
    if found.state != followups.ASKED or question is None:
        return None
    value = read_answer(question, text, latest_intent(tracker))
    if value is None:
        return None
    answers = {**found.answers, question: value}
    if question == followup.POLICE and value == followup.NO:
        answers[followup.RECEIPT] = SKIPPED
    keep_answers(tracker, answers)
    if followup.next_question(answers) is None:
        return close_followup(dispatcher, tracker, answers)
    return [SlotSet(name, value) for name, value in answers.items() if value is not None] + \
        [FollowupAction(FOLLOWUP_FORM)]


def keep_answers(tracker: Tracker, answers: dict[str, str | None]) -> None:
    """The answers so far into the follow-up's row, so that a late answer goes on where the resident stopped."""
    for question, value in answers.items():
        if value in (*followup.ANSWERS[question], SKIPPED):
            try:
                followups.record_answer(tracker.sender_id, question, str(value))
            except Exception:  # noqa: BLE001 - the form still has it in this session
                logger.exception("follow-up answer not kept")
                return


def close_followup(dispatcher: CollectingDispatcher, tracker: Tracker,
                   answers: dict[str, str | None]) -> list[EventType]:
    """The questions are answered: the case card, then the step still most worth taking, the warning about the
    second scam and thanks (:func:`core.followup.closing`)."""
    try:
        card = followups.finish(tracker.sender_id, answers)
    except Exception:  # noqa: BLE001 - the resident still gets the warning
        logger.exception("follow-up card not stored")
        card = None
    logger.info("follow-up done (%s)", "card kept" if card else "no follow-up under way")
    for name in followup.closing(answers):
        dispatcher.utter_message(response=name)
    return [SlotSet(name, None) for name in QUESTIONS]


class ActionFollowupStart(Action):
    """The next day's follow-up, triggered by the job (bot/followup_job.py) or asked for early by the resident:
    a greeting, then the follow-up form's first question. A story that only mentions a 回访 is judged as usual."""

    def name(self) -> str:
        return "action_followup_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        text = latest_text(tracker)
        external = text.startswith(EXTERNAL_PREFIX) or bool(metadata_of(tracker).get("is_external"))
        if not external and len(text) > followup.MAX_ANSWER_CHARS:
            return await ActionAssess().run(dispatcher, tracker, domain)
        try:
            found = followups.begin(tracker.sender_id)
        except Exception:  # noqa: BLE001 - nothing said: the job ends it, a resident is told there is none
            logger.exception("follow-up not begun")
            found = None
        if found is None:
            if not external:
                dispatcher.utter_message(response="utter_followup_nothing")
            return []
        dispatcher.utter_message(response="utter_followup_intro")
        kept = [SlotSet(name, value) for name, value in found.answers.items() if value is not None]
        return kept + [FollowupAction(FOLLOWUP_FORM)]


class ActionFollowupStop(Action):
    """别问了 / 不要再联系我: no follow-up (the consent question declined, or the follow-up stopped). With none to
    stop, a short word is noted and a longer message judged as usual."""

    def name(self) -> str:
        return "action_followup_stop"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        if tracker.get_slot(FOLLOWUP_OFFER) == ASKED:
            return answer_consent(dispatcher, tracker, False)
        if stop_followup(dispatcher, tracker):
            return []
        if len(latest_text(tracker)) > followup.MAX_ANSWER_CHARS:
            return await ActionAssess().run(dispatcher, tracker, domain)
        dispatcher.utter_message(response="utter_noted")
        return []


class ValidateFollowupForm(FormValidationAction):
    """Reads the answers of the follow-up form (buttons or typed words, :func:`core.followup.read_answer`) and
    keeps each in the store as it comes. 不用了 at any question ends the form (``stopped``); a story instead of
    an answer ends it too (``told``: it is answered as a story); a short answer it cannot read gets a hint and
    the question again. A resident who has not reported is not asked for the receipt."""

    def name(self) -> str:
        return "validate_followup_form"

    def _answer(self, question: str, value: Any, dispatcher: CollectingDispatcher,
                tracker: Tracker) -> dict[str, Any]:
        text = str(value or "")
        if not text:  # a slot cleared, not an answer
            return {question: None}
        if text in (SKIPPED, STOPPED, followup.TOLD):
            return {question: text}
        still_open = [name for name in QUESTIONS if tracker.get_slot(name) is None or name == question]
        if text not in followup.ANSWERS[question] and (followup.wants_to_stop(text)
                                                        or latest_intent(tracker) == "followup_stop"):
            return {name: STOPPED for name in still_open}
        answer = read_answer(question, text, latest_intent(tracker))
        if answer is None:
            if len(text) > followup.MAX_ANSWER_CHARS and not is_payload(text):
                return {name: followup.TOLD for name in still_open}
            dispatcher.utter_message(response="utter_followup_answer_hint")
            return {question: None}
        answers = {question: answer}
        if question == followup.POLICE and answer == followup.NO:
            answers[followup.RECEIPT] = SKIPPED
        keep_answers(tracker, answers)
        return answers

    def validate_followup_police(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: dict[str, Any]) -> dict[str, Any]:
        return self._answer(followup.POLICE, value, dispatcher, tracker)

    def validate_followup_stop_payment(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                       domain: dict[str, Any]) -> dict[str, Any]:
        return self._answer(followup.STOP, value, dispatcher, tracker)

    def validate_followup_receipt(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: dict[str, Any]) -> dict[str, Any]:
        return self._answer(followup.RECEIPT, value, dispatcher, tracker)

    def validate_followup_contact(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: dict[str, Any]) -> dict[str, Any]:
        return self._answer(followup.CONTACT, value, dispatcher, tracker)


class ActionFollowupDone(Action):
    """After the follow-up form: stopped (the address deleted, nothing more asked), told (what was answered
    goes on the card, and the story is judged), or answered (the card, the warning about the second scam,
    thanks)."""

    def name(self) -> str:
        return "action_followup_done"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        answers = {name: tracker.get_slot(name) for name in QUESTIONS}
        reset: list[EventType] = [SlotSet(name, None) for name in QUESTIONS]
        if STOPPED in answers.values():
            if not stop_followup(dispatcher, tracker):
                dispatcher.utter_message(response="utter_followup_stopped")  # already ended: still no more asked
            return reset
        if followup.TOLD in answers.values():
            try:
                followups.finish(tracker.sender_id, answers)
            except Exception:  # noqa: BLE001 - the story must still be answered
                logger.exception("follow-up card not stored")
            tracker.slots[FOLLOWUP_OFFER] = ANSWERED  # a follow-up just ended: not offered again for this story
            return reset + [SlotSet(FOLLOWUP_OFFER, ANSWERED)] + await ActionAssess().run(dispatcher, tracker, domain)
        return close_followup(dispatcher, tracker, answers)
