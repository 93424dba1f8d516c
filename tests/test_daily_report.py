"""每日研判: the day's counts per scenario × region against a hand-computed fixture (bot/daily_report.py)."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot import daily_report, migrations, reports, retention
from tests.test_retention import at, events_table

DAY = date(2026, 11, 29)


def consult(url: str, day: date, scenario: str, region: str | None, intent: str = "consult", n: int = 1) -> None:
    metadata = {"region": region} if region else {}
    data = json.dumps({"text": "…", "parse_data": {"scenario": {"name": scenario}}, "metadata": metadata})
    with create_engine(url, future=True).begin() as db:
        db.execute(text("INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) "
                        "VALUES ('r', 'user', :m, :i, :d)"), [{"m": at(day), "i": intent, "d": data}] * n)


@pytest.fixture
def stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.setenv("FRAUDBOT_REGION", "national")
    tracker, store = f"sqlite:///{tmp_path / 'rasa.db'}", f"sqlite:///{tmp_path / 'store.db'}"
    migrations.upgrade(store)
    events_table(tracker)
    for back in range(1, 29):  # the 28 days before: one task_rebate a day in each of two areas
        consult(tracker, DAY - timedelta(days=back), "task_rebate", "朝阳")
        consult(tracker, DAY - timedelta(days=back), "task_rebate", "海淀")
    consult(tracker, DAY - timedelta(days=40), "gambling", "海淀", n=9)  # outside the window: not counted
    consult(tracker, DAY, "task_rebate", "朝阳", n=5)  # 5 against a rate of 1 a day: rising
    consult(tracker, DAY, "task_rebate", "海淀", n=2)  # 2 against 1: ordinary
    consult(tracker, DAY, "fake_loan", "朝阳", n=2)  # new, but only two residents: not an alarm
    consult(tracker, DAY, "gambling", "海淀", n=3)  # new and three residents: rising
    consult(tracker, DAY, "impersonate_police", None, intent="money_already_sent")  # a private chat
    consult(tracker, DAY + timedelta(days=1), "gambling", "海淀", n=7)  # the next day: not in this report
    return tracker, store


def expected_p(count: int, rate: float) -> float:
    """P(X ≥ count) for a Poisson rate, written out."""
    return 1 - sum(math.exp(-rate) * rate ** k / math.factorial(k) for k in range(count))


def test_the_report_matches_the_hand_computed_fixture(stores: tuple[str, str]) -> None:
    tracker, store = stores
    found = daily_report.build(DAY, tracker, store)
    rows = {(r.scenario, r.region): r for r in found.rows}
    assert found.total == 5 + 2 + 2 + 3 + 1 and found.money_sent == 1
    chaoyang = rows[("task_rebate", "朝阳")]
    assert (chaoyang.count, chaoyang.mean_7, chaoyang.mean_28) == (5, 1.0, 1.0)
    assert chaoyang.p_value == pytest.approx(expected_p(5, 1.0))
    assert chaoyang.p_value == pytest.approx(0.00366, abs=1e-5)
    assert rows[("task_rebate", "海淀")].p_value == pytest.approx(expected_p(2, 1.0))  # 0.264
    assert rows[("fake_loan", "朝阳")].p_value == pytest.approx(expected_p(2, 1 / 28))
    assert rows[("impersonate_police", "national")].count == 1  # no region in the chat: the deployment's
    assert ("gambling", "海淀") in rows and rows[("gambling", "海淀")].count == 3
    assert [(r.scenario, r.region) for r in found.rising] == [("task_rebate", "朝阳"), ("gambling", "海淀")]


def test_a_flat_series_raises_nothing(stores: tuple[str, str]) -> None:
    tracker, store = stores
    flat = daily_report.build(DAY - timedelta(days=1), tracker, store)
    assert flat.rising == [] and flat.total == 2


def test_rolled_up_days_give_the_same_report(stores: tuple[str, str]) -> None:
    tracker, store = stores
    before = daily_report.build(DAY, tracker, store)
    result = retention.run(tracker, store, days=35, today=DAY + timedelta(days=1))
    assert DAY in result.rolled and result.conversations_deleted == 0
    with create_engine(tracker, future=True).begin() as db:  # the tracker forgets: only the counts remain
        db.execute(text("DELETE FROM events WHERE timestamp < :t"), {"t": retention.day_start(DAY + timedelta(days=1))})
    assert daily_report.build(DAY, tracker, store) == before


def test_markdown_and_csv_name_what_rises_and_reported_numbers(stores: tuple[str, str]) -> None:
    tracker, store = stores
    reports.submit_report("居民甲", "telegram", "举报 13912345678 冒充客服",
                          [{"entity": "phone", "value": "13912345678"}], url=store)
    found = daily_report.build(retention.datetime.now(retention.CHINA).date(), tracker, store)
    assert found.reported == [("phone", "139******78", 1)]  # masked: the review queue shows it whole
    report = daily_report.build(DAY, tracker, store)
    markdown = daily_report.to_markdown(report, {"task_rebate": "刷单返利", "gambling": "网络赌博"})
    assert "## 明显上升（需预警）" in markdown and "- 刷单返利 · 朝阳：5 次" in markdown
    assert "- 网络赌博 · 海淀：3 次" in markdown and "居民甲" not in markdown
    rows = daily_report.to_csv(report).splitlines()
    assert rows[0] == "day,scenario,region,count,mean_7,mean_28,p_value,rising"
    assert "2026-11-29,task_rebate,朝阳,5,1.000,1.000,0.00366,1" in rows
