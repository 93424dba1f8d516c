"""The actions themselves, run the way the action server runs them (rasa_sdk Tracker + dispatcher)."""

import asyncio
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import ActionAssess, ActionCallVerdict, ActionHotlines, ValidateCallCheckForm, yes_no


def tracker(text: str, intent: str = "consult", scenario: str = "none", confidence: float = 0.0,
            signals: list[str] | None = None, entities: list[dict[str, Any]] | None = None,
            slots: dict[str, Any] | None = None, intent_confidence: float = 0.9,
            scam_probability: float | None = None) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": intent_confidence},
              "scenario": {"name": scenario, "confidence": confidence},
              "signals": signals or [], "entities": entities or []}
    if scam_probability is not None:
        latest["scam_probability"] = scam_probability
    return Tracker("resident", slots or {}, latest, [], False, None, {}, "action_listen")


def run(action: Any, t: Tracker) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return dispatcher.messages, events


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def test_money_sent_with_bank_entity_answers_110_and_bank_first() -> None:
    messages, events = run(ActionAssess(), tracker(
        "我刚用工商银行给对方转了3万", intent="money_already_sent",
        entities=[{"entity": "bank", "value": "工商银行"}, {"entity": "money", "value": "30000"}]))
    assert "110" in messages[0]["text"] and "95588" in messages[0]["text"]
    assert SlotSet("money_sent", True) in events and SlotSet("bank", "工商银行") in events


def test_bank_named_after_money_sent_uses_the_remembered_case() -> None:
    messages, _ = run(ActionAssess(), tracker(
        "建行", intent="inform", entities=[{"entity": "bank", "value": "建设银行"}],
        slots={"money_sent": True}))
    assert "95533" in messages[0]["text"]


def test_call_scenario_without_red_flags_starts_the_form() -> None:
    messages, events = run(ActionAssess(), tracker(
        "刚才有个自称警察的人给我打电话", scenario="impersonate_police", confidence=0.8, scam_probability=0.99,
        signals=["impersonate_official"]))
    assert FollowupAction("call_check_form") in events
    assert messages[0]["response"] == "utter_call_check_intro"
    assert messages[0]["scenario_name"] == "冒充公检法"


def test_call_scenario_with_safe_account_answers_at_once() -> None:
    messages, events = run(ActionAssess(), tracker(
        "自称公安局说我涉嫌洗钱让我转到安全账户", scenario="impersonate_police", confidence=0.8,
        signals=["safe_account", "threat"]))
    assert FollowupAction("call_check_form") not in events
    assert "安全账户" in texts(messages) and "高风险" in messages[0]["text"]


def test_nothing_understood_gets_the_hotline_fallback() -> None:
    messages, _ = run(ActionAssess(), tracker("asdfgh", intent="nlu_fallback", scenario="none",
                                              confidence=0.3))
    assert messages[0]["response"] == "utter_hotline_fallback"


@pytest.mark.parametrize("text", ["1' OR '1'='1", "%%%###", "qwe rty uiop", "🙂🙂🙂", "00010111 11010011", "8848"])
def test_gibberish_taken_for_money_sent_gets_could_not_read(text: str) -> None:
    messages, events = run(ActionAssess(), tracker(
        text, intent="money_already_sent", intent_confidence=0.99, scenario="fake_prize", confidence=0.9))
    assert [m["response"] for m in messages] == ["utter_hotline_fallback"]
    assert events == []  # nothing remembered: the next turn does not start in the golden hour


def test_gibberish_after_money_sent_asks_again_instead_of_repeating_the_alarm() -> None:
    messages, events = run(ActionAssess(), tracker("!!!???", intent="money_already_sent", slots={"money_sent": True}))
    assert [m["response"] for m in messages] == ["utter_hotline_fallback"] and events == []


@pytest.mark.parametrize("text,intent_confidence", [
    ("今晚的球赛谁看了 太精彩了", 1.0),  # the intent, but no words that money left
    ("刚给对方转了3000", 0.4),  # the words, but the classifier is not sure
])
def test_money_sent_needs_both_the_intent_and_the_words(text: str, intent_confidence: float) -> None:
    messages, events = run(ActionAssess(), tracker(
        text, intent="money_already_sent", intent_confidence=intent_confidence, scenario="fake_prize",
        confidence=0.8))
    assert "钱已经转出去了" not in texts(messages)
    assert SlotSet("money_sent", True) not in events


def test_call_verdict_after_the_form() -> None:
    messages, events = run(ActionCallVerdict(), tracker(
        "没有", intent="deny", slots={"scenario": "fake_customer_service", "asked_money": True,
                                      "asked_code": True, "money_moved": False}))
    assert "高风险" in messages[0]["text"]
    assert SlotSet("asked_money", None) in events


def test_call_verdict_money_moved_is_golden_hour() -> None:
    messages, _ = run(ActionCallVerdict(), tracker(
        "转了", intent="affirm", slots={"scenario": "impersonate_police", "asked_money": True,
                                       "asked_code": False, "money_moved": True, "bank": "农业银行"}))
    assert "110" in messages[0]["text"] and "95599" in messages[0]["text"]


def test_yes_no_reading() -> None:
    assert yes_no("x", "affirm") is True
    assert yes_no("x", "deny") is False
    assert yes_no("他没让我转", "consult") is False
    assert yes_no("让我转了两千", "consult") is True
    assert yes_no("嗯嗯", None) is True
    assert yes_no("今天天气", None) is None


def test_form_validation_asks_again_on_unclear_answer() -> None:
    dispatcher = CollectingDispatcher()
    result = ValidateCallCheckForm().validate_asked_money("今天天气", dispatcher,
                                                          tracker("今天天气", intent="out_of_scope"), {})
    assert result == {"asked_money": None}
    assert dispatcher.messages[0]["response"] == "utter_answer_yes_no"


def test_hotlines_list_every_national_line() -> None:
    messages, _ = run(ActionHotlines(), tracker("反诈电话多少", intent="ask_hotline"))
    for number in ("110", "96110", "12321", "12381"):
        assert number in messages[0]["text"]


def test_genuine_lookalike_gets_a_calm_answer_and_no_form() -> None:
    """A scam topic with protective facts and no demand: low, what would make it a scam, how to check."""
    messages, events = run(ActionAssess(), tracker(
        "派出所的民警来家里做反诈宣传，提醒我们不要给陌生人转账，什么都没要", scenario="impersonate_police",
        confidence=0.9, scam_probability=0.99))
    text = texts(messages)
    assert FollowupAction("call_check_form") not in events
    assert "高风险" not in text and "未发现明显诈骗特征" in messages[0]["text"]
    assert "那就是诈骗" in text and "96110" in text


def test_scam_probability_from_the_nlu_reaches_the_verdict() -> None:
    high, _ = run(ActionAssess(), tracker(
        "【工商银行】您的电子密码器将于次日失效，请登录网站激活", scenario="phishing_link", confidence=0.9,
        scam_probability=0.99, signals=["suspicious_link"]))
    assert "高风险" in high[0]["text"] and "常见诈骗话术" in texts(high)
