"""The early warning's text (core/early_warning.py): what residents read, for every scenario administrators keep."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from core.early_warning import CLOSING, MAX_CHARS, draft, place_name
from core.knowledge import scenarios
from nlu.scenario_ids import NONE_SCENARIO, SCENARIO_IDS


def numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+", text))


@pytest.mark.parametrize("sid", SCENARIO_IDS)
def test_every_scenario_gets_a_short_warning_with_its_advice_and_the_lines(sid: str) -> None:
    info = scenarios()[sid]
    warning = draft(info, "朝阳", 6)
    body = warning.body
    assert len(body) <= MAX_CHARS and len(warning.title) <= 60
    assert info.name in warning.title and info.name in body
    assert body.startswith("【反诈预警】") and "朝阳居民6次" in body
    assert info.advice[0] in body  # what to do now, the scenario's own words
    assert body.endswith(CLOSING) and "96110" in CLOSING and "110报警" in CLOSING
    assert "您" in body and "先生" not in body
    # no invented numbers: only the count, the lines, and what the scenario's own text holds
    allowed = {"6", "96110", "110"} | numbers(info.name + info.truth + "".join(info.advice))
    assert numbers(body) <= allowed, numbers(body) - allowed


def test_the_place_is_said_as_residents_say_it() -> None:
    info = scenarios()["task_rebate"]
    national = draft(info, "national", 3).body
    assert "接到居民3次" in national and "national" not in national and "全国" not in national
    assert place_name("national") == "" and place_name("") == ""
    assert place_name("海淀") == "海淀"
    assert "接到海淀居民4次" in draft(info, "海淀", 4).body


def test_long_advice_is_shortened_from_the_end_never_the_lines() -> None:
    info = scenarios()["fake_shopping"]
    wordy = replace(info, truth="真" * 120, advice=(info.advice[0], "第二条" + "啊" * 80, "第三条" + "啊" * 80))
    body = draft(wordy, "朝阳", 5).body
    assert len(body) <= MAX_CHARS and info.advice[0] in body and "第三条" not in body
    assert body.endswith(CLOSING)
    huge = replace(info, truth="真" * 250, advice=(info.advice[0],))
    body = draft(huge, "朝阳", 5).body  # the truth goes before the first advice does
    assert "真真" not in body and info.advice[0] in body and body.endswith(CLOSING)


def test_nothing_to_warn_of_is_refused() -> None:
    with pytest.raises(ValueError):
        draft(scenarios()[NONE_SCENARIO], "朝阳", 5)
    with pytest.raises(ValueError):
        draft(scenarios()["task_rebate"], "朝阳", 0)
    with pytest.raises(ValueError):
        draft(replace(scenarios()["task_rebate"], advice=("啊" * 400,)), "朝阳", 3)
