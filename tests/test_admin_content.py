"""Editing, validation, password hashes and statistics of the web admin, without a browser.

Logins, throttling and sessions are in test_admin_security.py.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from actions.server import render
from bot.admin import content
from bot.admin.accounts import check_password, hash_password
from bot.admin.content import (
    DOMAIN,
    MOMENTS,
    MONEY_SENT,
    REGIONS,
    REPORT_LINES,
    SAFEGUARDS,
    SCENARIOS,
    read_files,
    training_key,
    unified_diff,
)
from bot.admin.stats import CHINA, chart_svg, overview
from bot.admin.validation import own_problems, validate_files

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files() -> content.Files:
    return read_files(ROOT)


def diff_lines(old: content.Files, new: content.Files) -> list[str]:
    return [line for line in unified_diff(old, new).splitlines()
            if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]


def test_content_files_are_the_repository_yaml(files: content.Files) -> None:
    assert {DOMAIN, SCENARIOS, REPORT_LINES, REGIONS, "stories/rules.yml", "nlu/data/general/intents.yml",
            "nlu/data/scenarios/impersonate_police.yml"} <= set(files)


def test_rewriting_an_unchanged_file_changes_nothing(files: content.Files) -> None:
    for path, text in files.items():
        assert content.dump(path, content.load(path, text)) == text, path


def test_editing_a_response_changes_only_its_lines(files: content.Files) -> None:
    new = content.edit_response(files[DOMAIN], "utter_greet", [("您好！我是反诈助手。\n有事发给我。", ""), ("", "")])
    assert yaml.safe_load(new)["responses"]["utter_greet"] == [{"text": "您好！我是反诈助手。\n有事发给我。"}]
    assert "# Sent by the Telegram channel itself" in new  # comments kept
    changed = diff_lines(files, {**files, DOMAIN: new})
    assert len(changed) == 2 and changed[0].startswith("-") and "utter_greet" not in changed[0]


def test_editing_buttons_keeps_them_structured(files: content.Files) -> None:
    new = content.edit_response(files[DOMAIN], "utter_ask_asked_money",
                                [("对方让你转账了吗？", "转了 | /affirm\n没有 | /deny")])
    variation = yaml.safe_load(new)["responses"]["utter_ask_asked_money"][0]
    assert variation["buttons"] == [{"title": "转了", "payload": "/affirm"}, {"title": "没有", "payload": "/deny"}]


def test_editing_a_scenario_keeps_the_other_scenarios(files: content.Files) -> None:
    new = content.edit_scenario(files[SCENARIOS], "task_rebate", {
        "name": "刷单返利", "situation": "online", "truth": "刷单就是诈骗。", "advice": "别做任务\n\n保留证据\n",
        "stop": "", "ask_on_call": False})
    data = yaml.safe_load(new)
    assert data["task_rebate"]["advice"] == ["别做任务", "保留证据"]
    assert data["task_rebate"]["truth"] == "刷单就是诈骗。"
    assert data["impersonate_police"] == yaml.safe_load(files[SCENARIOS])["impersonate_police"]
    assert new.startswith("# What the bot says about each scenario")


def test_editing_regions_and_examples(files: content.Files) -> None:
    regions = content.edit_regions(files[REGIONS], [
        ("national", "全国", ""), ("test_county", "测试县", "测试县反诈中心 | 0571-87654321 | 本地民警接听")])
    assert yaml.safe_load(regions)["test_county"]["lines"] == [
        {"name": "测试县反诈中心", "number": "0571-87654321", "use": "本地民警接听"}]
    assert not own_problems({**files, REGIONS: regions})
    path = "nlu/data/general/intents.yml"
    examples = content.edit_examples(path, files[path], {0: "你好\n您好呀\n- 早上好"})
    assert content.example_blocks(path, examples)[0]["examples"] == ["你好", "您好呀", "早上好"]
    assert content.example_blocks(path, examples)[1] == content.example_blocks(path, files[path])[1]


def test_the_repository_content_is_valid(files: content.Files) -> None:
    assert validate_files(files) == []


@pytest.mark.parametrize(("path", "change", "field", "words"), [
    (SCENARIOS, lambda t: t + "\nbank_robbery:\n  name: 抢银行\n  situation: call\n  truth: x\n  advice: [y]\n",
     "id", "没有「bank_robbery」这个场景编号"),
    (REGIONS, lambda t: t + "\ncounty:\n  name: 县\n  lines:\n    - {name: 反诈中心, number: '96I10', use: x}\n",
     "region_1", "不是一个电话号码"),
    (REPORT_LINES, lambda t: t.replace('工商银行: "95588"', '工商银行: "9558八"'), "bank_0", "不是一个电话号码"),
    (DOMAIN, lambda t: t.replace('utter_noted:\n    - text: "好的。有什么可疑的电话、短信，随时发给我。"',
                                 'utter_noted:\n    - text: ""'), "text_0", "这句话是空的"),
    (DOMAIN, lambda t: t.replace("拿不准的，马上打96110反诈专线问问；如果已经转了钱，立刻打110报警。", ""),
     "text_0", "96110和110"),
    ("nlu/data/scenarios/romance.yml", lambda t: t.replace("scenario: romance", "scenario: love_scam", 1),
     "block_0", "没有「love_scam」这个场景编号"),
    (MONEY_SENT, lambda t: t.replace("patterns:\n", "patterns:\n  - 转了(\n", 1), "pattern_0", "不是正确的正则表达式"),
    (MONEY_SENT, lambda t: t.replace("confirmations:\n", "confirmations:\n  - 拉黑(\n", 1), "confirmation_0",
     "确认被骗的说法"),
    (MONEY_SENT, lambda t: t.replace("incoming:\n", "incoming:\n  - 给我(\n", 1), "incoming_0",
     "钱是转给居民的说法"),
    (MOMENTS, lambda t: t.replace("  afraid:\n    - ", "  afraid:\n    - (", 1), "facts.afraid_0",
     "不是正确的正则表达式"),
    (SAFEGUARDS, lambda t: t + "\nfake_guard:\n  name: 假的\n  patterns: [某某]\n", "say", "要写上回复居民的话"),
])
def test_own_checks_name_the_field_in_chinese(files: content.Files, path: str, change: object, field: str,
                                              words: str) -> None:
    problems = own_problems({**files, path: change(files[path])})
    assert any(p.path == path and p.field == field and words in p.message for p in problems), problems


def test_rasa_checks_reject_a_story_with_an_unknown_intent(files: content.Files) -> None:
    rules = files["stories/rules.yml"] + "\n  - rule: broken\n    steps:\n      - intent: no_such_intent\n" \
                                         "      - action: utter_nothing_like_this\n"
    messages = [p.message for p in validate_files({**files, "stories/rules.yml": rules})]
    assert any("no_such_intent" in m and "domain.yml 里没有这个意图" in m for m in messages), messages
    assert any("utter_nothing_like_this" in m for m in messages), messages


def test_yaml_syntax_errors_give_the_line(files: content.Files) -> None:
    problems = validate_files({**files, "stories/stories.yml": files["stories/stories.yml"] + "\n- story: [\n"})
    assert problems and "YAML" in problems[0].message and "行" in problems[0].message


def test_training_key_ignores_what_is_read_at_run_time(files: content.Files) -> None:
    key = training_key(files)
    texts = content.edit_response(files[DOMAIN], "utter_greet", [("你好", "")])
    assert training_key({**files, DOMAIN: texts}) == key
    assert training_key({**files, SCENARIOS: files[SCENARIOS] + "\n"}) == key
    assert training_key({**files, "stories/rules.yml": files["stories/rules.yml"] + "\n# x\n"}) != key
    intents = files[DOMAIN].replace("  - greet\n", "  - greet\n  - new_intent\n", 1)
    assert intents != files[DOMAIN] and training_key({**files, DOMAIN: intents}) != key


def test_nlg_renders_variations_like_rasa(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "domain.yml").write_text(yaml.safe_dump({"responses": {
        "utter_intro": [{"text": "像「{scenario_name}」，{unknown} 保持原样"},
                        {"text": "Telegram 专用", "channel": "telegram_bot"}],
        "utter_ask": [{"text": "有吗？", "buttons": [{"title": "有", "payload": "/affirm"}]}]}},
        allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("FRAUDBOT_CONTENT_DIR", str(tmp_path))
    assert render("utter_intro", "rest", {}, {"scenario_name": "冒充公检法"}) == {
        "text": "像「冒充公检法」，{unknown} 保持原样"}
    assert render("utter_intro", "telegram_bot", {}, {})["text"] == "Telegram 专用"
    assert render("utter_ask", "rest", {}, {})["buttons"] == [{"title": "有", "payload": "/affirm"}]
    assert render("utter_missing", "rest", {}, {}) == {}


def test_passwords_are_scrypt_hashes() -> None:
    stored = hash_password("a long enough password")
    assert stored.startswith("scrypt$16384$8$1$") and "a long enough password" not in stored
    assert check_password("a long enough password", stored)
    assert not check_password("a long enough passwore", stored)
    assert not check_password("x", "not a hash")


def test_overview_counts_consultations_per_scenario_and_day(tmp_path: Path) -> None:
    db = tmp_path / "rasa.db"
    today = date(2026, 11, 20)
    noon = datetime(2026, 11, 20, 12, tzinfo=CHINA).timestamp()
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, "
                           "timestamp REAL, intent_name TEXT, action_name TEXT, data TEXT)")
        rows = [(noon, "consult", "task_rebate"), (noon - 86400, "consult", "task_rebate"),
                (noon, "money_already_sent", "impersonate_police"), (noon, "greet", "none"),
                (noon - 40 * 86400, "consult", "gambling")]
        connection.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) VALUES ('x', 'user', ?, ?, ?)",
            [(t, intent, json.dumps({"parse_data": {"scenario": {"name": s}}})) for t, intent, s in rows])
    stats = overview(f"sqlite:///{db}", days=14, today=today)
    assert stats.total == 3
    assert stats.per_scenario == {"task_rebate": 2, "impersonate_police": 1}
    assert stats.per_day[today] == {"task_rebate": 1, "impersonate_police": 1}
    assert stats.per_day[today - timedelta(days=1)] == {"task_rebate": 1}
    svg = chart_svg(stats, {"task_rebate": "刷单返利", "impersonate_police": "冒充公检法"})
    assert svg.count("<rect") == 3 + 2 and "刷单返利 2" in svg
    assert overview(f"sqlite:///{tmp_path / 'empty.db'}", today=today).total == 0
