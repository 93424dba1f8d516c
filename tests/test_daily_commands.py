"""``fraudbot report daily``, ``fraudbot retention`` and the ``fraudbot daily`` job, run as commands."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from bot import daily, migrations
from bot.retention import CHINA
from bot.store import engine
from tests.fakes.telegram_api import FakeTelegram
from tests.test_daily_report import DAY, consult
from tests.test_retention import add, at, events_table

ROOT = Path(__file__).resolve().parent.parent
OFFICERS = -100555


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, str]:
    """A tracker store with a rise on DAY and an idle conversation of 50 days ago, the project store, and the
    endpoints file that names the tracker store."""
    tracker, store = f"sqlite:///{tmp_path / 'rasa.db'}", f"sqlite:///{tmp_path / 'store.db'}"
    migrations.upgrade(store)
    events_table(tracker)
    for back in range(1, 29):
        consult(tracker, DAY - timedelta(days=back), "task_rebate", "朝阳")
    consult(tracker, DAY, "task_rebate", "朝阳", n=6)
    add(tracker, "gone", at(DAY - timedelta(days=50)), "user", "consult", "gambling")
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"tracker_store:\n  type: bot.tracker_store.RedactingSQLTrackerStore\n  dialect: sqlite\n"
                         f"  db: {tmp_path / 'rasa.db'}\n", encoding="utf-8")
    return {"tracker": tracker, "store": store, "endpoints": str(endpoints)}


def fraudbot(setup: dict[str, str], *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args, "--endpoints", setup["endpoints"]], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "FRAUDBOT_DB_URL": setup["store"], "FRAUDBOT_REGION": "national", **env})


def test_report_daily_as_csv_and_markdown(setup: dict[str, str]) -> None:
    result = fraudbot(setup, "report", "daily", "--date", DAY.isoformat(), "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["scenario"], r["region"], r["count"], r["rising"]) for r in rows] == [("task_rebate", "朝阳", "6", "1")]
    markdown = fraudbot(setup, "report", "daily", "--date", DAY.isoformat()).stdout
    assert markdown.startswith(f"# 每日研判 {DAY:%Y-%m-%d}") and "刷单返利 · 朝阳：6 次" in markdown


def test_retention_run_and_policy(setup: dict[str, str]) -> None:
    policy = fraudbot(setup, "retention", "policy", FRAUDBOT_RETENTION_DAYS="45")
    assert policy.returncode == 0 and "kept 45 days" in policy.stdout
    result = fraudbot(setup, "retention", "run", "--days", "30")
    assert result.returncode == 0, result.stderr
    assert "deleted 1 conversations" in result.stdout
    with create_engine(setup["tracker"], future=True).connect() as db:
        assert db.execute(text("SELECT COUNT(*) FROM events WHERE sender_id = 'gone'")).scalar_one() == 0



def test_the_daily_job_sends_the_report_once_and_stops_on_sigterm(setup: dict[str, str],
                                                                  telegram: FakeTelegram) -> None:
    """Due at once (FRAUDBOT_DAILY_AT is midnight): the job runs at start, sends to the officers' chat, stops."""
    consult(setup["tracker"], datetime.now(CHINA).date() - timedelta(days=1), "task_rebate", "朝阳", n=2)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "daily", "--endpoints", setup["endpoints"]], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "FRAUDBOT_DB_URL": setup["store"], "FRAUDBOT_DAILY_AT": "00:00",
             "FRAUDBOT_REPORT_TARGETS": f"telegram:{OFFICERS}", "TELEGRAM_BOT_TOKEN": "123456:DAILY",
             "TELEGRAM_API_BASE_URL": telegram.base_url})
    try:
        assert telegram.wait_for(lambda: len(telegram.sent(OFFICERS)) == 1, timeout=60), process.stderr
        assert telegram.sent(OFFICERS)[0].params["text"].startswith("【每日研判】")
        with engine(setup["store"]).connect() as db:
            assert db.execute(select(daily.daily_runs.c.day)).scalars().all() == [datetime.now(CHINA).date()]
    finally:
        process.send_signal(signal.SIGTERM)
        stderr = process.communicate(timeout=30)[1]
    assert process.returncode == 0, stderr
    assert len(telegram.sent(OFFICERS)) == 1
