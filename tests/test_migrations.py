"""The store's schema migrations (bot/migrations): an empty store, a store of the previous release, the CLI.

A store of the previous release is built from the frozen copy of its tables
(tests/data/previous_schema.py), filled with a row in every table, and upgraded: nothing may be
lost, and the admin's history must name the domain data where it now lives (core/data/).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.pool import NullPool

from bot import migrations, store
from bot.fleet import Postgres
from bot.migrations import target
from tests.data import previous_schema as previous

ROOT = Path(__file__).resolve().parents[1]
AT = datetime(2026, 11, 20, 8, 30, tzinfo=timezone.utc)
OLD_FILES = {
    "domain.yml": "version: \"3.1\"\n",
    "actions/data/report_lines.yml": "money_sent:\n  - 110\n",
    "actions/data/regions.yml": "示例县:\n  name: 示例县公安局反诈中心\n",
    "nlu/data/general/greet.yml": "nlu: []\n",
    "stories/rules.yml": "rules: []\n",
}


def sqlite_url(directory: Path, name: str = "store.db") -> str:
    return f"sqlite:///{directory / name}"


def difference(url: str) -> list:
    """What Alembic's autogenerate finds between the store at ``url`` and the project's tables."""
    engine = create_engine(url, future=True, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection), target.metadata)
    finally:
        engine.dispose()


def fill_previous_release(url: str) -> None:
    """A store as the previous release left it: its tables made by create_all, a row in every one."""
    engine = create_engine(url, future=True, poolclass=NullPool)
    previous.metadata.create_all(engine)
    packed = zlib.compress(json.dumps(OLD_FILES, ensure_ascii=False).encode(), 9)
    with engine.begin() as db:
        db.execute(previous.groups.insert(), [
            dict(channel="telegram", chat_id="-1001", title="幸福小区邻里群", active=True, autowarn=False,
                 regions="朝阳区", added_at=AT, removed_at=None),
            dict(channel="wecom_robot", chat_id="key-1", title="街道群", active=False, autowarn=True,
                 regions="", added_at=AT, removed_at=AT + timedelta(days=1))])
        db.execute(previous.shared_values.insert().values(key="wecom:corp", value='"token"', expires_at=1.8e9))
        db.execute(previous.officers.insert(), [
            dict(id=1, name="张警官", role="admin", telegram_id="42", wecom_id=None, login="zhang", active=True,
                 created_at=AT),
            dict(id=2, name="李警官", role="officer", telegram_id=None, wecom_id="li", login=None, active=False,
                 created_at=AT)])
        db.execute(previous.alerts.insert().values(
            id=1, title="冒充公检法诈骗高发", body="近期多名居民接到自称公安的电话。", scenario="impersonate_police",
            regions="朝阳区", severity="high", author_id=1, created_at=AT, expires_at=AT + timedelta(days=7),
            recalled_at=None))
        db.execute(previous.outbox.insert(), [
            dict(id=1, alert_id=1, channel="telegram", chat_id="-1001", state="delivered", attempts=1,
                 next_attempt_at=0.0, last_error=None, message_id="77", updated_at=AT),
            dict(id=2, alert_id=1, channel="wecom_robot", chat_id="key-1", state="failed", attempts=5,
                 next_attempt_at=1.79e9, last_error="HTTP 500", message_id=None, updated_at=AT)])
        db.execute(previous.audit_log.insert(), [
            dict(id=1, at=AT, actor="telegram:42", action="alert_sent", detail="#1 → 2 targets"),
            dict(id=2, at=AT, actor="telegram:99", action="refused", detail="not an authorised officer")])
        db.execute(previous.credentials.insert().values(officer_id=1, password_hash="scrypt$16384$8$1$c2FsdA==$a2V5",
                                                        failures=0, locked_until=None))
        db.execute(previous.sessions.insert().values(token_hash="ab" * 32, officer_id=1, csrf="cd" * 32,
                                                     expires_at=AT + timedelta(hours=12)))
        db.execute(previous.login_throttle.insert().values(key="ef" * 32, failures=2, last_failure=AT, refused=1))
        db.execute(previous.versions.insert().values(
            id=1, at=AT, author="张警官", summary="更新止付电话", how="runtime",
            changed="actions/data/report_lines.yml\nnlu/data/general/greet.yml", diff="--- a\n+++ b\n", files=packed))
    engine.dispose()


def snapshot(url: str) -> dict[str, list[dict]]:
    """Every row of every previous-release table, read through the frozen tables, in key order."""
    engine = create_engine(url, future=True, poolclass=NullPool)
    try:
        with engine.connect() as db:
            return {table.name: [dict(row._mapping) for row in db.execute(
                select(table).order_by(*table.primary_key.columns))] for table in previous.metadata.sorted_tables}
    finally:
        engine.dispose()


def history_of(url: str) -> tuple[list[str], dict[str, str]]:
    rows = snapshot(url)["content_versions"]
    assert len(rows) == 1
    return rows[0]["changed"].split("\n"), json.loads(zlib.decompress(rows[0]["files"]))


def upgrade_previous_release_and_check(url: str) -> None:
    """Upgrade a filled store of the previous release; every row kept, the history renamed, no schema drift."""
    fill_previous_release(url)
    before = snapshot(url)
    assert migrations.current(url) is None  # the previous release had no alembic_version

    migrations.upgrade(url)

    assert migrations.current(url) == migrations.head()
    after = snapshot(url)
    for name, rows in before.items():
        assert len(after[name]) == len(rows) > 0, name
        if name != "content_versions":
            assert after[name] == rows, name
    kept = {k: v for k, v in after["content_versions"][0].items() if k not in ("changed", "files")}
    assert kept == {k: v for k, v in before["content_versions"][0].items() if k not in ("changed", "files")}
    changed, files = history_of(url)
    assert changed == ["core/data/report_lines.yml", "nlu/data/general/greet.yml"]
    assert files == {path.replace("actions/data/", "core/data/"): text for path, text in OLD_FILES.items()}
    assert not any(path.startswith("actions/") for path in files)
    assert difference(url) == []


def test_empty_store_upgraded_to_head_has_every_table_and_matches_the_code(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    migrations.upgrade(url)
    tables = set(inspect(create_engine(url, poolclass=NullPool)).get_table_names())
    assert tables == set(target.metadata.tables) | {"alembic_version"}
    assert migrations.current(url) == migrations.head()
    assert difference(url) == []


def sqlite_schema(url: str) -> list[tuple]:
    """Every table and index as SQLite stores its CREATE statement (Alembic's own table left out)."""
    engine = create_engine(url, future=True, poolclass=NullPool)
    try:
        with engine.connect() as db:
            return [tuple(row) for row in db.exec_driver_sql(
                "SELECT type, name, tbl_name, sql FROM sqlite_master"
                " WHERE tbl_name != 'alembic_version' ORDER BY name")]
    finally:
        engine.dispose()


def test_baseline_is_exactly_what_the_previous_release_created(tmp_path: Path) -> None:
    baseline, made_by_create_all = sqlite_url(tmp_path, "baseline.db"), sqlite_url(tmp_path, "previous.db")
    migrations.upgrade(baseline, migrations.BASELINE)
    previous.metadata.create_all(create_engine(made_by_create_all, poolclass=NullPool))
    assert len(sqlite_schema(baseline)) == 20  # 10 tables, their 2 indexes, 8 automatic key/unique indexes
    assert sqlite_schema(baseline) == sqlite_schema(made_by_create_all)


def test_previous_release_store_is_stamped_and_keeps_every_row(tmp_path: Path) -> None:
    upgrade_previous_release_and_check(sqlite_url(tmp_path))


def test_downgrade_gives_the_history_back_its_old_paths(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    fill_previous_release(url)
    migrations.upgrade(url)
    migrations.downgrade(url, "0001")
    changed, files = history_of(url)
    assert migrations.current(url) == "0001"
    assert changed == ["actions/data/report_lines.yml", "nlu/data/general/greet.yml"]
    assert files == OLD_FILES


def test_previous_release_store_with_only_some_tables_gets_the_rest(tmp_path: Path) -> None:
    """create_all made only the tables whose modules were imported: a channel-only store has two."""
    url = sqlite_url(tmp_path)
    engine = create_engine(url, future=True, poolclass=NullPool)
    previous.metadata.create_all(engine, tables=[previous.groups, previous.shared_values])
    with engine.begin() as db:
        db.execute(previous.groups.insert().values(channel="telegram", chat_id="-1001", title="群", active=True,
                                                   autowarn=True, regions="", added_at=AT))
    engine.dispose()

    migrations.upgrade(url)

    assert migrations.current(url) == migrations.head()
    assert [row["chat_id"] for row in snapshot(url)["group_registry"]] == ["-1001"]
    assert difference(url) == []


UPGRADE_ON_GO = """
import sys
from bot import migrations
print("ready", flush=True)
sys.stdin.readline()
migrations.upgrade(sys.argv[1])
"""


def test_processes_upgrading_one_new_sqlite_store_at_once_take_turns(tmp_path: Path) -> None:
    """``make serve``'s processes may all open a new store at the same moment: one migrates, the others wait
    on the store's write lock and then find it done (without the lock they fail on "table already exists")."""
    url = sqlite_url(tmp_path)
    processes = [subprocess.Popen([sys.executable, "-c", UPGRADE_ON_GO, url], cwd=ROOT, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    try:
        for process in processes:  # everything imported: the upgrades start together
            assert process.stdout.readline().strip() == "ready"
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        errors = [process.communicate(timeout=60)[1] for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait()
    assert [process.returncode for process in processes] == [0, 0, 0, 0], errors
    assert migrations.current(url) == migrations.head()
    assert difference(url) == []


def test_alembic_runs_one_at_a_time_in_a_process(tmp_path: Path) -> None:
    """Two threads opening two new SQLite stores at once: Alembic's globals would mix their runs up."""
    urls = [sqlite_url(tmp_path, f"{n}.db") for n in range(3)]
    start, failures = threading.Barrier(len(urls)), []

    def upgrade(url: str) -> None:
        start.wait()
        try:
            migrations.upgrade(url)
        except Exception as error:  # noqa: BLE001 - collected for the assertion below
            failures.append(error)

    threads = [threading.Thread(target=upgrade, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert [migrations.current(url) for url in urls] == [migrations.head()] * len(urls)


def test_engine_follows_the_configured_url_and_readies_a_new_sqlite_store(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """engine() reads FRAUDBOT_DB_URL at each call (it used to keep the first one), and a new SQLite file
    is at head on first use, as create_all used to leave it."""
    monkeypatch.setenv("FRAUDBOT_DB_URL", sqlite_url(tmp_path, "first.db"))
    first = store.engine()
    monkeypatch.setenv("FRAUDBOT_DB_URL", sqlite_url(tmp_path, "second.db"))
    second = store.engine()
    assert first is not second and second is store.engine(sqlite_url(tmp_path, "second.db"))
    assert migrations.current(sqlite_url(tmp_path, "second.db")) == migrations.head()
    store.GroupRegistry().record("telegram", "-1002", "群")
    assert [group.chat_id for group in store.GroupRegistry(sqlite_url(tmp_path, "second.db")).active()] == ["-1002"]


def sqlite_change_counter(path: Path) -> bytes:
    """SQLite's file change counter (header bytes 24-27): it moves with every committed write."""
    with open(path, "rb") as file:
        return file.read(100)[24:28]


def fraudbot(*args: str, url: str) -> str:
    result = subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "FRAUDBOT_DB_URL": url}, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_db_upgrade_twice_changes_nothing_the_second_time_and_current_prints_the_head(tmp_path: Path) -> None:
    url, path = sqlite_url(tmp_path), tmp_path / "store.db"
    fill_previous_release(url)

    assert fraudbot("db", "current", url=url) == f"none (head is {migrations.head()})"
    assert fraudbot("db", "upgrade", url=url) == f"the store is at {migrations.head()} (head), upgraded from none"
    counter, rows = sqlite_change_counter(path), snapshot(url)
    assert fraudbot("db", "upgrade", url=url) == f"the store is already at {migrations.head()} (head)"
    assert sqlite_change_counter(path) == counter  # not one write
    assert snapshot(url) == rows
    assert fraudbot("db", "current", url=url) == f"{migrations.head()} (head)"



def test_fleet_migration_from_previous_release_keeps_rows(postgres: Postgres) -> None:
    upgrade_previous_release_and_check(postgres.create_database("previous_release"))


def test_fleet_baseline_is_exactly_what_the_previous_release_created(postgres: Postgres) -> None:
    url = postgres.create_database("baseline")
    migrations.upgrade(url, migrations.BASELINE)
    engine = create_engine(url, future=True, poolclass=NullPool)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), previous.metadata) == []
    engine.dispose()


def test_fleet_empty_postgres_store_is_upgraded_only_by_the_explicit_step(
        postgres: Postgres, caplog: pytest.LogCaptureFixture) -> None:
    """A replica that opens an empty PostgreSQL store creates nothing (it says what to run); the upgrade does."""
    url = postgres.create_database("empty")
    with caplog.at_level(logging.ERROR, logger="bot.store"):
        store.engine(url)
    assert "fraudbot db upgrade" in caplog.text
    assert inspect(create_engine(url, poolclass=NullPool)).get_table_names() == []

    migrations.upgrade(url)

    assert migrations.current(url) == migrations.head()
    assert difference(url) == []
