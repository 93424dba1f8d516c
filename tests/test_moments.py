"""What the resident's words say beyond the scam topic (core/moments.py, data/moments.yml,
data/safeguards.yml), on a bank of phrasings another writer produced for each moment
(``tests/data/moment_phrases.yml``: 14 that show it, 8 near-misses that do not).

The bank was used to widen the patterns, so these thresholds guard against regressions; the
conversations of tests/test_operator.py measure the behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from core.languages import ENGLISH, TRADITIONAL, language_of
from core.moments import audience_of, channel_of, facts_in, is_notice, request_in, safeguard_in

BANK = yaml.safe_load((Path(__file__).parent / "data" / "moment_phrases.yml").read_text(encoding="utf-8"))
MIN_RECALL, MAX_FALSE = 0.85, 0.25


def guard(name: str) -> Callable[[str], bool]:
    return lambda text: getattr(safeguard_in(text), "id", None) == name


DETECTORS: dict[str, Callable[[str], bool]] = {
    **{fact: (lambda text, fact=fact: fact in facts_in(text))
       for fact in ("reported_police", "code_given", "card_given", "link_clicked", "app_installed",
                    "money_not_gone", "afraid", "distress")},
    **{ask: (lambda text, ask=ask: request_in(text) == ask)
       for ask in ("placeholder", "how_to_report", "number_lookup")},
    "purchase_notice": is_notice,
    "real_96110_call": guard("real_96110"),
    "warning_sms_12381": guard("warning_sms_12381"),
    "bank_teller": guard("bank_teller"),
    "national_app_install": guard("national_app"),
    "elderly_relative": lambda text: audience_of(text) == "elderly",
    "company_finance": lambda text: audience_of(text) == "company_finance",
    "seller": lambda text: audience_of(text) == "seller",
    "english": lambda text: language_of(text) == ENGLISH,
}


@pytest.mark.parametrize("key", sorted(DETECTORS))
def test_each_moment_is_heard_and_its_near_misses_are_not(key: str) -> None:
    detect = DETECTORS[key]
    missed = [t for t in BANK[key]["yes"] if not detect(t)]
    wrong = [t for t in BANK[key]["no"] if detect(t)]
    assert len(missed) <= (1 - MIN_RECALL) * len(BANK[key]["yes"]), missed
    assert len(wrong) <= MAX_FALSE * len(BANK[key]["no"]), wrong


def test_a_demand_is_not_an_act_and_a_supposition_is_not_a_fact() -> None:
    assert "code_given" not in facts_in("他要我把手机上收到的验证码告诉他")
    assert "code_given" in facts_in("我把验证码告诉他了")
    assert "reported_police" not in facts_in("我怕报警了家里人就知道了")
    assert "reported_police" not in facts_in("我还没报警")
    assert "link_clicked" not in facts_in("要是点开了链接会怎么样")
    assert "money_not_gone" in facts_in("验证码给了，钱还没动")
    assert "money_not_gone" not in facts_in("我没转多少，就三千")


def test_a_borrowed_safeguard_is_not_trusted() -> None:
    assert guard("real_96110")("刚才0571-96110打来电话，提醒我最近刷单诈骗多")
    assert safeguard_in("一个13812345678的号码说他是96110，让我配合调查") is None
    assert safeguard_in("0571-96110打来说我涉嫌洗钱，要把钱转到安全账户", ["safe_account"]) is None
    assert guard("bank_teller")("柜员一直问我取十万块干什么，还问有没有人在电话里教我")
    assert safeguard_in("有个自称银行工作人员的人打电话给我说卡要升级") is None
    assert guard("national_app")("社区民警让我们都装国家反诈中心APP")
    assert safeguard_in("陌生人发来链接让我下载国家反诈中心APP") is None


def test_how_the_contact_came_and_the_script() -> None:
    assert channel_of("微信上一个网友让我投资") == "chat"
    assert channel_of("刚接到一个电话说是快递客服") == "call"
    assert channel_of("在银行柜台办业务") == "in_person"
    assert language_of("您的賬戶涉嫌洗錢，請立即轉賬到安全賬戶") == TRADITIONAL
    assert language_of("你好，我想问一下") != TRADITIONAL
    assert language_of("qwe rty uiop asd") != ENGLISH
