"""The redacting SQL tracker store, on a real SQLite database: pseudonymous, masked, never stopping."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import health
from bot.fleet import PG_USER, Postgres
from bot.privacy import hash_id
from bot.tracker_store import MAX_METADATA_BYTES, RedactingSQLTrackerStore, StoredKey

DOMAIN = Domain.from_yaml(Path("domain.yml").read_text(encoding="utf-8"))
SECRETS = ("13812345678", "6222021234567890123", "110101199003071234")


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed salt: the tests never create var/id_salt in the working tree."""
    monkeypatch.setenv("FRAUDBOT_ID_SALT", "test-salt")
    from bot import privacy
    privacy._salt.cache_clear()


@pytest.fixture(autouse=True)
def clean_health() -> Iterator[None]:
    health.recovered("tracker_store")
    yield
    health.recovered("tracker_store")


def store_at(db: Path) -> RedactingSQLTrackerStore:
    return RedactingSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(db))


def conversation(sender: str, text: str = "你好", metadata: dict | None = None) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(sender, [
        ActionExecuted("action_listen"),
        UserUttered(text, {"name": "consult", "confidence": 0.9}, metadata=metadata, input_channel="rest"),
        SlotSet("scenario", "impersonate_police"),
        BotUttered("请不要转账，拨打96110"),
    ])


def database_text(db: Path) -> str:
    """Every value of every row of every table, as one string."""
    connection = sqlite3.connect(db)
    tables = [name for (name,) in connection.execute("select name from sqlite_master where type='table'")]
    rows = [row for table in tables for row in connection.execute(f"select * from {table}")]
    connection.close()
    return "\n".join(str(value) for row in rows for value in row)


def add_turn(tracker: DialogueStateTracker, text: str) -> None:
    tracker.update(UserUttered(text, {"name": "inform", "confidence": 0.9}))
    tracker.update(BotUttered(f"收到：{text}"))


def test_nothing_personal_is_written_and_the_tracker_still_loads(tmp_path: Path) -> None:
    db = tmp_path / "rasa.db"
    store = store_at(db)
    tracker = DialogueStateTracker.from_events("13900001111", [
        ActionExecuted("action_listen"),
        UserUttered("骗子电话13812345678，让我转到卡6222021234567890123，我身份证110101199003071234，QQ号：12345",
                    {"name": "consult", "confidence": 0.9},
                    [{"entity": "phone", "value": "13812345678", "start": 4, "end": 15},
                     {"entity": "im_account", "value": "12345", "start": 60, "end": 69},
                     {"entity": "phone", "value": "96110", "start": 70, "end": 75}],
                    input_channel="13700002222"),
        SlotSet("scenario", "impersonate_police"),
        BotUttered("请不要转账，拨打96110"),
    ])
    asyncio.run(store.save(tracker))
    stored = database_text(db)
    for secret in (*SECRETS, "13900001111", "13700002222", "12345"):
        assert secret not in stored
    assert "96110" in stored and "impersonate_police" in stored
    loaded = asyncio.run(store.retrieve("13900001111"))
    assert loaded is not None and loaded.sender_id == "13900001111"
    assert loaded.get_slot("scenario") == "impersonate_police"
    assert loaded.latest_message.text.startswith("骗子电话138")
    assert [e["value"] for e in loaded.latest_message.entities] == ["138******78", "*****", "96110"]


def test_sender_ids_are_stored_hashed_and_found_by_the_real_id(tmp_path: Path) -> None:
    db = tmp_path / "rasa.db"
    store = store_at(db)
    asyncio.run(store.save(conversation("resident-13900001111")))
    senders = {row[0] for row in sqlite3.connect(db).execute("select sender_id from events")}
    assert senders == {hash_id("resident-13900001111")}
    assert not any(ch.isdigit() for ch in hash_id("resident-13900001111"))

    assert asyncio.run(store.exists("resident-13900001111"))
    assert not asyncio.run(store.exists("someone-else"))
    keys = list(asyncio.run(store.keys()))
    assert keys == [hash_id("resident-13900001111")] and isinstance(keys[0], StoredKey)
    # Rasa's exporter retrieves by the keys it listed; a client sending the key as text gets nothing.
    assert asyncio.run(store.retrieve_full_tracker(keys[0])).get_slot("scenario") == "impersonate_police"
    assert asyncio.run(store.retrieve(str(keys[0]))) is None


def test_later_turns_are_appended_not_duplicated(tmp_path: Path) -> None:
    store = store_at(tmp_path / "rasa.db")
    asyncio.run(store.save(conversation("u1")))
    tracker = asyncio.run(store.retrieve("u1"))
    add_turn(tracker, "建行")
    asyncio.run(store.save(tracker))
    again = asyncio.run(store.retrieve("u1"))
    assert [e.as_dict()["event"] for e in again.events] == [e.as_dict()["event"] for e in tracker.events]
    assert again.latest_message.text == "建行"


def test_a_lone_surrogate_sender_neither_stops_nor_breaks_the_store(tmp_path: Path) -> None:
    """Issue 18: Rasa's store took the encoding error for a missing schema and called sys.exit(1)."""
    store = store_at(tmp_path / "rasa.db")
    tracker = conversation("\ud800", text="你好\udfff")
    tracker.update(UserUttered("/x", {"name": "bad\udc00intent", "confidence": 1.0}))
    asyncio.run(store.save(tracker))
    loaded = asyncio.run(store.retrieve("\ud800"))
    assert loaded is not None and loaded.get_slot("scenario") == "impersonate_police"
    assert loaded.latest_message.intent["name"] == "bad\udc00intent"
    assert health.status() == {"status": "ok"}


def test_an_error_inside_a_session_is_raised_not_turned_into_an_exit(tmp_path: Path) -> None:
    store = store_at(tmp_path / "rasa.db")
    with pytest.raises(UnicodeEncodeError), store.session_scope():
        "\ud800".encode("utf-8")


def test_oversized_metadata_is_capped(tmp_path: Path) -> None:
    db = tmp_path / "rasa.db"
    store = store_at(db)
    metadata = {"channel_user": "13812345678", "huge": "x" * 5_000_000}
    asyncio.run(store.save(conversation("u1", metadata=metadata)))
    assert db.stat().st_size < 200_000
    user_rows = [json.loads(data) for (data,) in sqlite3.connect(db).execute(
        "select data from events where type_name = 'user'")]
    kept = user_rows[0]["metadata"]
    assert len(json.dumps(kept, ensure_ascii=False).encode()) <= MAX_METADATA_BYTES + 32
    assert kept["channel_user"] == "138******78" and kept["dropped_keys"] == 1


def test_deeply_nested_metadata_is_dropped_not_fatal(tmp_path: Path) -> None:
    nested: list = []
    for _ in range(900):
        nested = [nested]
    store = store_at(tmp_path / "rasa.db")
    asyncio.run(store.save(conversation("u1", metadata={"deep": nested, "ok": "yes"})))
    assert health.status() == {"status": "ok"}
    user = asyncio.run(store.retrieve("u1")).latest_message
    assert user.metadata == {"ok": "yes", "dropped_keys": 1}


def read_only(store: RedactingSQLTrackerStore) -> None:
    """Make every new connection refuse writes, as SQLite does for a read-only database file."""
    sa.event.listen(store.engine, "connect", _query_only)


def _query_only(connection: sqlite3.Connection, _record: object) -> None:
    connection.execute("PRAGMA query_only = ON")


def test_a_read_only_database_is_reported_and_the_conversation_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = store_at(tmp_path / "rasa.db")
    asyncio.run(store.save(conversation("u1")))
    read_only(store)
    caplog.set_level(logging.WARNING, logger="fraudbot.health")

    tracker = asyncio.run(store.retrieve("u1"))
    add_turn(tracker, "工商银行")
    asyncio.run(store.save(tracker))  # does not raise
    assert health.status()["status"] == "degraded"
    assert "readonly" in health.status()["problems"]["tracker_store"]
    degraded = [r for r in caplog.records if "FRAUDBOT_DEGRADED" in r.getMessage()]
    assert len(degraded) == 1 and "component=tracker_store" in degraded[0].getMessage()

    # The next turn still sees the one that could not be written.
    assert asyncio.run(store.retrieve("u1")).latest_message.text == "工商银行"

    sa.event.remove(store.engine, "connect", _query_only)
    tracker = asyncio.run(store.retrieve("u1"))
    add_turn(tracker, "没有")
    asyncio.run(store.save(tracker))
    assert health.status() == {"status": "ok"}
    assert any("FRAUDBOT_RECOVERED component=tracker_store" in r.getMessage() for r in caplog.records)
    fresh = store_at(tmp_path / "rasa.db")  # what a restarted server reads: every turn was written
    texts = [e.text for e in asyncio.run(fresh.retrieve("u1")).events if isinstance(e, UserUttered)]
    assert texts == ["你好", "工商银行", "没有"]


def test_a_removed_database_is_reported_and_recreated(tmp_path: Path) -> None:
    db = tmp_path / "rasa.db"
    store = store_at(db)
    asyncio.run(store.save(conversation("u1")))
    db.unlink()

    assert asyncio.run(store.retrieve("u1")) is None  # a new conversation, not a crash
    assert "retrieve failed" in health.status()["problems"]["tracker_store"]
    asyncio.run(store.save(conversation("u1")))  # the table is made again, and the store is well
    assert health.status() == {"status": "ok"}
    assert asyncio.run(store_at(db).retrieve("u1")).get_slot("scenario") == "impersonate_police"


# --- what a turn costs: the same rows as Rasa's own store, without its redundant queries (issue 14) ------------

TURNS = (("u1", "你好", False), ("u2", "我被骗了", False), ("u1", "工商银行", False), ("u1", "又是我", True),
         ("u1", "没有", False), ("u2", "谢谢", False))
"""Sender, text, and whether the turn starts a new session (as after an expired one)."""


def statements(store: SQLTrackerStore) -> list[str]:
    """Every SQL statement the store sends from now on."""
    sent: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: sent.append(args[2].lower()))
    return sent


async def play(store: SQLTrackerStore) -> None:
    """Turns of two conversations as Rasa's processor plays them: through its fail-safe wrapper, the tracker
    fetched or created (and the new one saved empty), a session started when due, the turn added, saved."""
    wrapped = FailSafeTrackerStore(store)
    for sender, text, new_session in TURNS:
        tracker = await wrapped.get_or_create_tracker(sender, append_action_listen=False)
        if not tracker.events or new_session:
            for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
                tracker.update(event)
        add_turn(tracker, text)
        await wrapped.save(tracker)


def stored_rows(store: SQLTrackerStore) -> list[list[tuple[Any, ...]]]:
    """Each conversation's rows in order (by first row), events without their timestamps."""
    with store.engine.connect() as db:
        rows = db.execute(sa.text("SELECT sender_id, type_name, action_name, intent_name, data FROM events "
                                  "ORDER BY id")).all()
    conversations: dict[str, list[tuple[Any, ...]]] = {}
    for sender, *columns, data in rows:
        event = {key: value for key, value in json.loads(data).items() if key != "timestamp"}
        conversations.setdefault(sender, []).append((*columns, event))
    return list(conversations.values())


def rasas_store_writes_the_same(ours: SQLTrackerStore, rasas: SQLTrackerStore) -> None:
    sent, sent_by_rasa = statements(ours), statements(rasas)
    asyncio.run(play(ours))
    asyncio.run(play(rasas))
    assert stored_rows(ours) == stored_rows(rasas)
    assert [len(rows) for rows in stored_rows(ours)] == [14, 7]  # every event once, none twice
    assert sum("count(" in statement for statement in sent_by_rasa) == len(TURNS) + 2  # two new conversations
    assert not any("count(" in statement for statement in sent)
    assert sum(statement.startswith("insert") for statement in sent) == len(TURNS)  # one statement a turn


def test_turns_are_stored_as_rasas_own_store_stores_them(tmp_path: Path) -> None:
    """Nothing personal in these turns, so redaction changes nothing and the rows must be Rasa's, one for one."""
    rasas_store_writes_the_same(store_at(tmp_path / "ours.db"),
                                SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db")))


def test_fleet_turns_are_stored_on_postgresql_as_rasas_own_store_stores_them(postgres: Postgres) -> None:
    def store(cls: type[SQLTrackerStore], database: str) -> SQLTrackerStore:
        postgres.create_database(database)
        return cls(DOMAIN, dialect="postgresql", host="127.0.0.1", port=postgres.port, db=database,
                   username=PG_USER)

    rasas_store_writes_the_same(store(RedactingSQLTrackerStore, "ours"), store(SQLTrackerStore, "rasas"))


def test_an_empty_tracker_is_not_sent_to_the_database(tmp_path: Path) -> None:
    store = store_at(tmp_path / "rasa.db")
    sent = statements(store)
    asyncio.run(store.save(DialogueStateTracker("u1", DOMAIN.slots)))
    assert sent == [] and asyncio.run(store.retrieve("u1")) is None


def test_a_tracker_the_store_did_not_just_read_is_counted_as_rasa_counts_it(tmp_path: Path) -> None:
    """A copy of a read tracker, or the same tracker saved twice: the stored rows are counted again."""
    store = store_at(tmp_path / "rasa.db")
    asyncio.run(store.save(conversation("u1")))
    read = asyncio.run(store.retrieve("u1"))
    copied = copy.deepcopy(read)
    add_turn(copied, "建行")
    sent = statements(store)
    asyncio.run(store.save(copied))
    add_turn(copied, "没有")
    asyncio.run(store.save(copied))
    assert sum("count(" in statement for statement in sent) == 2
    texts = [e.text for e in asyncio.run(store.retrieve("u1")).events if isinstance(e, UserUttered)]
    assert texts == ["你好", "建行", "没有"]
