"""New scripts in the daily report: copies of an unknown scam found as one cluster, chatter not (bot/new_scripts.py).

The seeded set is the independent hold-out of tests/data/known_scams_holdout.yml (written without seeing the
matcher's tuning data): every library text with its hand-made copies is one new script brought by 3–4 residents;
the near misses and genuine messages are chatter, each brought once. The library itself is left empty, so every
script is new.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from bot import daily_report, fingerprints, migrations, new_scripts, scam_library
from tests.test_retention import at, events_table

HOLDOUT = Path(__file__).parent / "data" / "known_scams_holdout.yml"
DAY = date(2026, 11, 29)


def say(url: str, sender: str, message: str, day: date, scenario: str = "fake_shopping") -> None:
    data = json.dumps({"text": message, "parse_data": {"scenario": {"name": scenario}}}, ensure_ascii=False)
    with create_engine(url, future=True).begin() as db:
        db.execute(text("INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) "
                        "VALUES (:s, 'user', :m, 'consult', :d)"), {"s": sender, "m": at(day), "d": data})


@pytest.fixture
def stores(tmp_path: Path) -> tuple[str, str]:
    tracker, store = f"sqlite:///{tmp_path / 'rasa.db'}", f"sqlite:///{tmp_path / 'store.db'}"
    migrations.upgrade(store)
    events_table(tracker)
    return tracker, store


def seed_holdout(tracker: str) -> dict[str, str]:
    """The hold-out as a week of consultations; returns each message's true script (or 'chatter')."""
    data = yaml.safe_load(HOLDOUT.read_text(encoding="utf-8"))
    truth: dict[str, str] = {}
    sender = 0
    for entry in data["library"]:
        for n, message in enumerate([entry["text"], *(copy["text"] for copy in entry["copies"])]):
            sender += 1
            say(tracker, f"r{sender}", message, DAY - timedelta(days=n % 7))
            truth[message] = entry["id"]
        for message in entry.get("near_misses") or []:
            sender += 1
            say(tracker, f"r{sender}", message, DAY)
            truth[message] = "chatter"
    for item in data["genuine"]:
        sender += 1
        say(tracker, f"r{sender}", item["text"], DAY - timedelta(days=sender % 7), scenario="phishing_link")
        truth[item["text"]] = "chatter"
    return truth


def test_the_holdout_scripts_are_found_pure_and_chatter_is_not(stores: tuple[str, str]) -> None:
    tracker, store = stores
    truth = seed_holdout(tracker)
    found = new_scripts.find(tracker, DAY, store, training={})
    members = [Counter(truth[m] for m in script.copies) for script in found]
    scripts = {v for v in truth.values() if v != "chatter"}
    found_ids = {counts.most_common(1)[0][0] for counts in members}
    share_found = len(found_ids & scripts) / len(scripts)
    purity = sum(counts.most_common(1)[0][1] for counts in members) / max(1, sum(sum(c.values()) for c in members))
    print(f"\nnew scripts: {len(found)} found of {len(scripts)} seeded, share found {share_found:.3f}, "
          f"purity {purity:.3f}, chatter clusters {sum(1 for c in members if c.most_common(1)[0][0] == 'chatter')}")
    assert "chatter" not in found_ids  # no cluster is made of genuine messages or other scripts
    assert share_found >= 0.9 and purity >= 0.95
    assert all(len(s.sample) <= new_scripts.SAMPLE_CHARS and s.residents >= 3 for s in found)
    markdown = daily_report.to_markdown(daily_report.DailyReport(DAY, [], 0, 0, [], found), {})
    assert "## 新话术" in markdown and found[0].sample in markdown


def test_a_known_script_a_training_example_and_one_resident_are_not_new(stores: tuple[str, str]) -> None:
    tracker, store = stores
    library_text = ("【社保局】您的医保卡已被冻结，请于24小时内登录 http://yb-check.example.com "
                    "完成身份核验并解冻，逾期停用。")
    example = "有人打电话说我的快递丢了，要给我三倍理赔，让我下载一个APP开屏幕共享配合操作"
    repeated = "宝妈兼职，在家动动手指点赞关注就能日结200元，名额有限，添加导师微信 abc12345 领取任务"
    for n in range(3):
        say(tracker, f"k{n}", library_text.replace("24", str(20 + n)), DAY)
        say(tracker, f"t{n}", example + "。" * n, DAY)
        say(tracker, "same-resident", repeated.replace("200", str(200 + n)), DAY)
    scam_library.add_known([{"text": library_text, "scenario": "phishing_link", "source": "alert:1"}], url=store)
    scam_library.known_index(store).refresh(force=True)
    training = {0: fingerprints.fingerprint(example)}
    assert new_scripts.find(tracker, DAY, store, training=training) == []
    say(tracker, "another", repeated, DAY)
    say(tracker, "a-third", repeated.replace("abc12345", "zz998877"), DAY)
    found = new_scripts.find(tracker, DAY, store, training=training)
    assert [(s.residents, s.messages) for s in found] == [(3, 5)]


def test_the_training_examples_are_read_from_the_live_content() -> None:
    examples = new_scripts.training_fingerprints()
    assert len(examples) > 1000
    assert all(len(f) >= fingerprints.MIN_FINGERPRINT for f in examples.values())


def test_recorded_scripts_go_into_the_library_or_are_dismissed_audited(stores: tuple[str, str]) -> None:
    from sqlalchemy import select

    from bot.alerts.model import audit_log
    from bot.store import engine

    tracker, store = stores
    seed_holdout(tracker)
    found = new_scripts.find(tracker, DAY, store, training={})
    assert new_scripts.record(DAY, found, store) == len(found)
    assert new_scripts.record(DAY, found, store) == 0  # the job run again that day: nothing twice
    first, second = new_scripts.recorded(DAY - timedelta(days=6), DAY, store)[:2]
    copy = next(m for m in found if m.text == first.text).copies[-1]
    assert scam_library.known_index(store).match(copy) is None

    added = new_scripts.decide("web:wang", first.id, new_scripts.LIBRARY, scenario="fake_shopping", store_url=store)
    assert added is not None and added.state == new_scripts.LIBRARY
    scam_library.known_index(store).refresh(force=True)
    match = scam_library.known_index(store).match(copy)
    assert match is not None and match.source == f"new_script:{first.id}" and match.scenario == "fake_shopping"
    assert new_scripts.decide("web:li", first.id, new_scripts.DISMISSED, store_url=store) is None  # decided already
    assert new_scripts.decide("web:li", second.id, new_scripts.DISMISSED, store_url=store).state == "dismissed"
    left = {f.id for f in new_scripts.recorded(DAY - timedelta(days=6), DAY, store)}
    assert first.id not in left and second.id not in left and len(left) == len(found) - 2
    with engine(store).connect() as db:
        actions = [(r.actor, r.action) for r in db.execute(select(audit_log).order_by(audit_log.c.id))]
    assert actions == [("web:wang", "new_script_library"), ("web:li", "new_script_dismissed")]
