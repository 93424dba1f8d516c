"""Retention: old conversations leave the tracker store, the counts officers read stay (bot/retention.py)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot import migrations, retention
from bot.admin.stats import overview
from bot.fleet import Postgres

TODAY = date(2026, 11, 30)
CHINA = retention.CHINA


def at(day: date, hour: int = 12) -> float:
    return datetime.combine(day, datetime.min.time(), CHINA).timestamp() + hour * 3600


def events_table(url: str) -> None:
    """The columns of Rasa 3.6's SQL tracker store that retention reads."""
    with create_engine(url, future=True).begin() as db:
        db.execute(text("CREATE TABLE events (id SERIAL PRIMARY KEY, sender_id VARCHAR(255), type_name VARCHAR(255), "
                        "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"
                        if url.startswith("postgresql") else
                        "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, "
                        "timestamp REAL, intent_name TEXT, action_name TEXT, data TEXT)"))


def add(url: str, sender: str, moment: float, type_name: str = "user", intent: str | None = None,
        scenario: str = "none") -> None:
    data = json.dumps({"text": "…", "parse_data": {"scenario": {"name": scenario}}} if type_name == "user" else {})
    with create_engine(url, future=True).begin() as db:
        db.execute(text("INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) "
                        "VALUES (:s, :t, :m, :i, :d)"),
                   {"s": sender, "t": type_name, "m": moment, "i": intent, "d": data})


def senders_and_count(url: str) -> dict[str, int]:
    with create_engine(url, future=True).connect() as db:
        return dict(db.execute(text("SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id")).all())


def seed(url: str) -> None:
    """An idle conversation from 40 days ago, and a resident who came 40 days ago and again today."""
    events_table(url)
    old = TODAY - timedelta(days=40)
    add(url, "idle", at(old, 9), "session_started")
    add(url, "idle", at(old, 9), "user", "consult", "task_rebate")
    add(url, "idle", at(old, 9), "user", "greet")
    add(url, "back", at(old, 10), "session_started")
    add(url, "back", at(old, 10), "user", "money_already_sent", "impersonate_police")
    add(url, "back", at(TODAY - timedelta(days=2), 10), "user", "consult", "task_rebate")  # same old session
    add(url, "back", at(TODAY, 8), "session_started")
    add(url, "back", at(TODAY, 8), "user", "consult", "fake_loan")


def check_retention(tracker_url: str, store_url: str) -> None:
    seed(tracker_url)
    before = overview(tracker_url, days=60, today=TODAY, store_url=store_url)
    assert before.total == 4

    result = retention.run(tracker_url, store_url, days=30, today=TODAY)

    assert result.cutoff == TODAY - timedelta(days=30)
    assert result.rolled == [TODAY - timedelta(days=40), TODAY - timedelta(days=2)]  # today is not finished
    assert result.conversations_deleted == 1
    left = senders_and_count(tracker_url)
    assert "idle" not in left
    # the returning resident keeps the recent part of the old session and the whole current one
    assert left == {"back": 3}
    after = overview(tracker_url, days=60, today=TODAY, store_url=store_url)
    assert after.per_day == before.per_day and after.total == 4  # the counts survive the deletion

    again = retention.run(tracker_url, store_url, days=30, today=TODAY)
    assert (again.rolled, again.events_deleted) == ([], 0)  # nothing counted twice, nothing more to delete
    assert overview(tracker_url, days=60, today=TODAY, store_url=store_url).total == 4


def test_old_conversations_go_and_counts_stay(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    migrations.upgrade(store_url)
    check_retention(f"sqlite:///{tmp_path / 'rasa.db'}", store_url)


def test_a_store_without_conversations_is_left_alone(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    migrations.upgrade(store_url)
    result = retention.run(f"sqlite:///{tmp_path / 'rasa.db'}", store_url, today=TODAY)
    assert (result.rolled, result.conversations_deleted, result.events_deleted) == ([], 0, 0)


def test_the_retention_period_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAUDBOT_RETENTION_DAYS", raising=False)
    assert retention.retention_days() == 30
    monkeypatch.setenv("FRAUDBOT_RETENTION_DAYS", "7")
    assert retention.retention_days() == 7
    for bad in ("0", "-3"):
        monkeypatch.setenv("FRAUDBOT_RETENTION_DAYS", bad)
        assert retention.retention_days() == 1
    monkeypatch.setenv("FRAUDBOT_RETENTION_DAYS", "a month")
    assert retention.retention_days() == 30



def test_fleet_retention_on_postgresql(postgres: Postgres) -> None:
    store_url = postgres.create_database("store")
    migrations.upgrade(store_url)
    check_retention(postgres.create_database("rasa"), store_url)


def test_numbers_kept_for_a_typed_report_expire_and_are_purged(tmp_path: Path) -> None:
    from bot import reports
    from bot.store import engine, shared_values

    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    migrations.upgrade(store_url)
    reports.offer("resident", "wechat_oa", [{"entity": "phone", "value": "15011112222"}], url=store_url)
    assert reports.offered("resident", "wechat_oa", url=store_url) == [{"entity": "phone", "value": "15011112222"}]
    assert reports.offered("someone else", "wechat_oa", url=store_url) == []
    with engine(store_url).begin() as db:  # an hour later
        db.execute(shared_values.update().values(expires_at=shared_values.c.expires_at - reports.OFFER_SECONDS - 1))
    assert reports.offered("resident", "wechat_oa", url=store_url) == []
    retention.run(f"sqlite:///{tmp_path / 'rasa.db'}", store_url, today=TODAY)
    with engine(store_url).connect() as db:
        assert db.execute(shared_values.select()).all() == []
