"""Talking like a 96110 operator (issue 17), end to end through the REST channel.

Three sets of conversations, each written by a separate writer from its own brief that described
the behaviour only (never the training data or the bot's code); each turn says what the resident
sends and what the reply must or must not contain:

- ``operator_conversations.yml`` (92 conversations, 128 turns): every turn must pass. It was
  used while building, so it proves the behaviour, not how well it generalises.
- ``operator_conversations_2.yml`` (50, 76 turns) and ``_3.yml`` (45, 70 turns): exams. Each was
  run once before any change made for it (59/76 and 49/70 turns passed), then its failures were
  read for what they showed in general (dialect answers, a "no, but…" answer, pay-later names,
  losses confirmed by "被拉黑了"); they are held to a pass rate, not to every turn.
"""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.knowledge import scenarios
from core.replies import MAX_BUBBLES, MAX_CHARS, URGENT_FIRST, compose
from core.verdict import Case

DATA = Path(__file__).parent / "data"
CONVERSATIONS = yaml.safe_load((DATA / "operator_conversations.yml").read_text(encoding="utf-8"))
EXAMS = ("operator_conversations_2.yml", "operator_conversations_3.yml")
EXAM_PASS_RATE = 0.9


def say(server: str, text: str, sender: str) -> list[dict[str, Any]]:
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(f"{server}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def problems(expect: dict[str, Any], bubbles: list[str]) -> list[str]:
    """What a reply misses of a turn's expectations (empty when it meets them)."""
    text = "\n".join(bubbles)
    found = [f"missing {r!r}" for r in expect.get("all") or () if not re.search(r, text)]
    if expect.get("any") and not any(re.search(r, text) for r in expect["any"]):
        found.append(f"none of {expect['any']!r}")
    found += [f"should not say {r!r}" for r in expect.get("none") or () if re.search(r, text)]
    if expect.get("first") and not (bubbles and re.search(expect["first"], bubbles[0])):
        found.append(f"first bubble lacks {expect['first']!r}")
    return found


def length_problems(bubbles: list[str]) -> list[str]:
    """The tone contract: at most three bubbles, none over 200 characters, an urgent first one short."""
    found = []
    if len(bubbles) > MAX_BUBBLES:
        found.append(f"{len(bubbles)} bubbles")
    found += [f"bubble of {len(b)} characters" for b in bubbles if len(b) > MAX_CHARS]
    if bubbles and "🚨" in bubbles[0] and len(bubbles[0]) > URGENT_FIRST:
        found.append(f"urgent first bubble of {len(bubbles[0])} characters")
    return found


def play(server: str, conversation: dict[str, Any]) -> list[str]:
    sender = uuid.uuid4().hex
    failures = []
    for turn in conversation["turns"]:
        bubbles = [m.get("text") or "" for m in say(server, turn["say"], sender)]
        for problem in problems(turn.get("expect") or {}, bubbles) + length_problems(bubbles):
            failures.append(f"{conversation['id']}: {turn['say'][:40]} → {problem}\n    " + " | ".join(bubbles))
    return failures


def test_the_written_conversations_cover_every_point() -> None:
    points = {c["point"] for c in CONVERSATIONS}
    assert len(CONVERSATIONS) >= 40 and len(points) >= 20
    assert {"call_check_all_no", "real_96110", "purchase_notice", "already_reported", "unionpay_named",
            "distress", "english_scam", "placeholder", "how_to_report", "number_lookup"} <= points


@pytest.mark.parametrize("point", sorted({c["point"] for c in CONVERSATIONS}))
def test_operator_conversations(rasa_server: str, point: str) -> None:
    failures = [f for c in CONVERSATIONS if c["point"] == point for f in play(rasa_server, c)]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("exam", EXAMS)
def test_exam(rasa_server: str, exam: str) -> None:
    """Another writer's exam: most turns must pass, and none may break the length contract."""
    conversations = yaml.safe_load((DATA / exam).read_text(encoding="utf-8"))
    turns = sum(len(c["turns"]) for c in conversations)
    failures = [f for c in conversations for f in play(rasa_server, c)]
    print(f"{exam}: {turns - len(failures)}/{turns} turns pass")
    assert not [f for f in failures if "characters" in f or "bubbles" in f], "\n".join(failures)
    assert (turns - len(failures)) / turns >= EXAM_PASS_RATE, "\n".join(failures)


def all_kinds_of_cases() -> list[Case]:
    """Every scenario at every level, with the facts, channels, people and banks that change the reply."""
    cases = []
    texts = {"high": "对方让我把钱转到安全账户，还要验证码，说不许告诉家人",
             "medium": "有个陌生人打电话说是客服", "low": "朋友当面约我吃饭，没让我转账"}
    for sid in scenarios():
        for level, text in texts.items():
            for facts in (frozenset(), frozenset({"afraid"}), frozenset({"reported_police"}),
                          frozenset({"code_given"}), frozenset({"link_clicked", "app_installed", "afraid"})):
                for bank in (None, "工商银行", "云闪付", "京东白条"):
                    for shown in (False, True):
                        cases.append(Case(text=text, scenario=sid, confidence=0.9, facts=facts, bank=bank,
                                          lines_shown=shown, scam_probability={"high": 0.99, "medium": 0.6,
                                                                               "low": 0.05}[level]))
                        cases.append(Case(text=text, scenario=sid, confidence=0.9, facts=facts, bank=bank,
                                          money_sent=True, lines_shown=shown))
    return cases


def test_no_reply_breaks_the_length_contract() -> None:
    cases = all_kinds_of_cases()
    assert len(cases) > 2000
    for case in cases:
        bubbles = compose(case).messages
        assert bubbles and not length_problems(bubbles), (case, bubbles)


def test_after_reporting_nobody_is_told_to_call_110_again() -> None:
    for bank in (None, "工商银行", "京东白条"):
        reply = "\n".join(compose(Case(text="我已经报警了", money_sent=True, bank=bank,
                                       facts=frozenset({"reported_police"}))).messages)
        assert not re.search(r"(打|拨打|拨) ?110", reply) and "回执" in reply


def test_a_named_pay_later_product_is_sent_to_its_app_and_never_given_a_guessed_number() -> None:
    reply = "\n".join(compose(Case(text="用京东白条付的", money_sent=True, bank="京东白条")).messages)
    assert "京东APP里找官方客服" in reply and "哪家银行" not in reply
    assert not re.search(r"\b9\d{4}\b", reply.replace("96110", ""))
    unionpay = "\n".join(compose(Case(text="用云闪付转的", money_sent=True, bank="云闪付")).messages)
    assert "95516" in unionpay and "哪家银行" not in unionpay


def test_the_hotline_block_is_shown_once_per_conversation() -> None:
    first = compose(Case(text="对方让我转到安全账户", scenario="impersonate_police", confidence=0.9,
                         scam_probability=0.99))
    again = compose(Case(text="对方让我转到安全账户", scenario="impersonate_police", confidence=0.9,
                         scam_probability=0.99, lines_shown=True))
    assert first.lines_shown and "求助电话" in "\n".join(first.messages)
    assert not again.lines_shown and "求助电话" not in "\n".join(again.messages)
    assert "96110" in "\n".join(again.messages)  # never without the line to call


def test_traditional_chinese_is_answered_in_traditional_characters() -> None:
    reply = compose(Case(text="对方让我把钱转到安全账户", scenario="impersonate_police", confidence=0.9,
                         scam_probability=0.99, signals=["safe_account"], language="zh_hant"))
    assert "高風險" in reply.messages[0] and "诈骗" not in "\n".join(reply.messages)


def test_english_is_answered_in_english_with_the_numbers() -> None:
    from core.languages import ENGLISH

    reply = compose(Case(text="Your parcel is held at customs. Pay the fee at http://post-cn.top now",
                         language=ENGLISH))
    assert reply.risk == "high" and "scam" in reply.messages[0]
    assert "96110" in "\n".join(reply.messages) and "110" in "\n".join(reply.messages)


def test_what_to_do_after_a_verdict_gets_the_steps_not_the_verdict_again() -> None:
    reply = compose(Case(text="那我该怎么办", scenario="impersonate_acquaintance", confidence=1.0, follow_up=True,
                         lines_shown=True))
    text = "\n".join(reply.messages)
    assert reply.messages[0].startswith("您可以这样做") and "1. " in text and "96110" in text
    assert not any(label in text for label in ("高风险", "需警惕", "未发现明显诈骗特征"))


def test_scammed_with_nothing_else_gets_first_aid_and_the_one_question() -> None:
    for text in ("我被骗了怎么办", "我妈好像被骗了", "上当了，咋办啊"):
        reply = compose(Case(text=text))
        assert "钱已经转出去了吗" in reply.messages[0] and "110" in reply.messages[1], text
    gone = compose(Case(text="我被骗了三万，转到对方卡上了", money_sent=True))
    assert "钱已经转出去了吗" not in "\n".join(gone.messages)


def test_the_golden_hour_names_a_scam_only_when_the_classifier_is_sure() -> None:
    unsure = compose(Case(text="转了5000", money_sent=True, scenario="fake_shopping", confidence=0.4))
    sure = compose(Case(text="刷单被骗转了5000", money_sent=True, scenario="task_rebate", confidence=0.9))
    assert "这很像" not in "\n".join(unsure.messages) and "这很像「刷单返利」" in "\n".join(sure.messages)
