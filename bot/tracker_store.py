"""Rasa's SQL tracker store, keeping nothing that names a resident and never stopping the server.

Conversations outlive the chat in the tracker store (SQLite by default, PostgreSQL when
scaled out). What is written:

- the sender id as :func:`bot.privacy.hash_id` (a REST client may use a phone number as its
  sender); the store is still asked with the real id, and hashes it on the way in;
- every event passed through :func:`bot.privacy.redacted` (texts, parse data, entity values,
  slots, ``input_channel``, metadata), with metadata capped at :data:`MAX_METADATA_BYTES`
  per event (a client once sent 5 MB of it, stored twice).

The live conversation is unaffected: the message being answered is parsed before it is
stored, and the slots the dialogue uses (scenario, bank, yes/no answers) carry no numbers.

A turn costs one read and one write, the rows being exactly those Rasa's own store writes (issue 14:
the store took 2.8 of 7.0 s in a cProfile of 200 messages). Rasa saves the empty tracker of every
new conversation before its first turn, counting the stored events and committing nothing: here
a tracker without events is not sent to the database. Rasa counts the stored events again before
every write, with the query that has just read them: here the number of rows read is kept for the
tracker that read returned (and 0 for the tracker created after a read that found none). The new
events go in one executemany, in their order, instead of one ORM object each.

A failing database (read-only, removed, disk full) must neither stop the process nor make
conversations forget their last turn. Rasa's own store calls ``sys.exit(1)`` from
``SQLTrackerStore.session_scope`` on any ``ValueError``, which a sender id with a lone
surrogate raised (issue 18); here every error is caught, reported once with
``bot.health.degraded("tracker_store", …)`` (``FRAUDBOT_DEGRADED`` in the log, ``degraded`` on
``/health``), and the trackers that could not be written are kept in memory, served to the
next turn, and written when the database works again (``FRAUDBOT_RECOVERED``).

endpoints.yml::

    tracker_store:
      type: bot.tracker_store.RedactingSQLTrackerStore
      dialect: sqlite      # or postgresql, with url/db/username/password
      db: rasa.db
"""

from __future__ import annotations

import contextlib
import itertools
import json
import weakref
from collections import OrderedDict
from typing import Any, Generator, Iterable

from rasa.core.tracker_store import SQLTrackerStore, ensure_schema_exists
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker

from bot import health, privacy
from bot.privacy import hash_id, redact_log_text, redacted

COMPONENT = "tracker_store"
MAX_METADATA_BYTES = 2048
"""Serialised metadata kept per event; larger values are dropped (their keys are counted)."""
MAX_METADATA_DEPTH = 8
"""Nesting kept in a metadata value: a deeply nested one would exhaust the recursion of every later step."""
MAX_STORED_CHARS = 4000
"""Any one string kept in an event; channels already cut a resident's text to 2,000 characters."""
MAX_PENDING = 1000
"""Conversations kept in memory while the database fails; the oldest is dropped beyond this."""
_COLUMN_CHARS = 255

privacy.install()  # the Rasa process imports this module: from here on its logs are redacted


class StoredKey(str):
    """A conversation key as stored (already hashed), as :meth:`RedactingSQLTrackerStore.keys` returns it.

    Rasa's exporter and marker loader retrieve conversations by the keys they list; a key of
    this type is used as it is. A plain string (what any channel passes) is always hashed, so
    no client can reach a conversation by sending its stored key.
    """


def storage_key(sender_id: str) -> str:
    """The key a conversation is stored under."""
    return str(sender_id) if isinstance(sender_id, StoredKey) else hash_id(sender_id)


def capped_metadata(metadata: Any) -> dict[str, Any]:
    """``metadata`` with the keys that fit :data:`MAX_METADATA_BYTES`, first come first kept."""
    if not isinstance(metadata, dict):
        return {}
    kept: dict[str, Any] = {}
    size, dropped = 2, 0
    for key, value in metadata.items():
        item_size = _serialised_size(str(key), value)
        if item_size is None or size + item_size > MAX_METADATA_BYTES:
            dropped += 1
            continue
        kept[str(key)] = value
        size += item_size
    if dropped:
        kept["dropped_keys"] = dropped
    return kept


def _serialised_size(key: str, value: Any) -> int | None:
    """Bytes of ``{key: value}`` as JSON; None when it is nested too deeply or cannot be serialised."""
    if _deeper_than(value, MAX_METADATA_DEPTH):
        return None
    try:
        return len(json.dumps({key: value}, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError):
        return None


def _deeper_than(value: Any, limit: int) -> bool:
    if not isinstance(value, (dict, list, tuple)):
        return False
    if limit == 0:
        return True
    items = value.values() if isinstance(value, dict) else value
    return any(_deeper_than(item, limit - 1) for item in items)


def _bounded(value: Any) -> Any:
    """``value`` with every string cut to :data:`MAX_STORED_CHARS` (before redaction, which reads it all)."""
    if isinstance(value, str):
        return value[:MAX_STORED_CHARS]
    if isinstance(value, dict):
        return {key: _bounded(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_bounded(item) for item in value]
    return value


def stored_event(event: Event) -> dict[str, Any]:
    """The event as it is written: metadata capped, strings bounded, personal numbers masked."""
    data = event.as_dict()
    if "metadata" in data:
        data["metadata"] = capped_metadata(data["metadata"])
    parse_data = data.get("parse_data")
    if isinstance(parse_data, dict) and "metadata" in parse_data:  # a copy: the live event keeps its own
        data["parse_data"] = {**parse_data, "metadata": capped_metadata(parse_data["metadata"])}
    return redacted(_bounded(data))


def stored_row(key: str, event: Event) -> dict[str, Any]:
    """The ``events`` row of ``event`` in conversation ``key``: the indexed columns and the event as it is written."""
    data = stored_event(event)
    return {
        "sender_id": key,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": _column((data.get("parse_data") or {}).get("intent", {}).get("name")),
        "action_name": _column(data.get("name")),
        "data": json.dumps(data),
    }


def _column(value: Any) -> str | None:
    """A short indexed column (intent, action): redacted, encodable, within the column's 255 characters."""
    return redact_log_text(value[:_COLUMN_CHARS])[:_COLUMN_CHARS] if isinstance(value, str) else None


def _reason(error: BaseException) -> str:
    """What went wrong, for the operator: the database's own message, without data or parameters."""
    detail = getattr(error, "orig", None) or error
    return redact_log_text(f"{type(error).__name__}: {detail}".splitlines()[0][:200])


class RedactingSQLTrackerStore(SQLTrackerStore):
    """:class:`SQLTrackerStore` with hashed sender ids, masked events, and failures reported instead of raised."""

    def __init__(self, domain: Domain | None = None, **kwargs: Any) -> None:
        super().__init__(domain, **kwargs)
        privacy.install()  # again: Rasa and Sanic have set up their handlers by now
        self._pending: OrderedDict[str, str] = OrderedDict()
        self._failing: dict[str, str] = {}
        self._rows: dict[int, tuple[weakref.ref, int]] = {}  # id(tracker) -> (the tracker, rows read)
        self._found_empty: str | None = None  # the conversation the last read found no rows of

    @contextlib.contextmanager
    def session_scope(self) -> Generator[Any, None, None]:
        """Rasa's session scope, minus its ``sys.exit(1)`` on any ``ValueError``: errors are raised to the caller."""
        session = self.sessionmaker()
        try:
            ensure_schema_exists(session)
            yield session
        finally:
            session.close()

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Write the tracker's new events; if the database fails, keep the tracker in memory instead.

        A tracker without events has nothing to write (Rasa would count the stored events and commit
        nothing), so the database is not asked. That is the tracker Rasa's ``create_tracker`` saves
        for every new conversation, right after a read that found nothing: its stored events are
        then known to be none.
        """
        key = storage_key(tracker.sender_id)
        stored = self._rows_read(tracker)
        found_empty, self._found_empty = self._found_empty, None
        if not tracker.events:
            if found_empty == key:
                self._remember_rows(tracker, 0)
            return
        try:
            await self.stream_events(tracker)  # with an event broker configured, this reads the conversation
            self._found_empty = None
            self._write(key, tracker, stored)
        except Exception as error:  # noqa: BLE001 - nothing the database does may stop a conversation
            self._failed("save", error)
            self._keep_pending(key, tracker)
            return
        self._pending.pop(key, None)
        self._worked("save", "retrieve", "keys")  # a write that worked: the database reads as well

    def _write(self, key: str, tracker: DialogueStateTracker, stored: int | None) -> None:
        """Add the events after the first ``stored`` (counted in the database, as Rasa does, when None),
        in one statement (an executemany: the rows in the tracker's order, without the ORM's unit of work)."""
        with self.session_scope() as session:
            if self._failing:  # the file may have been removed: recreate the table
                self.Base.metadata.create_all(self.engine)
            if stored is None:
                stored = self._event_query(session, key, fetch_events_from_all_sessions=False).count()
            rows = [stored_row(key, event) for event in itertools.islice(tracker.events, stored, None)]
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        """The stored tracker for the real ``sender_id`` (or one kept in memory while the database failed)."""
        key = storage_key(sender_id)
        self._found_empty = None
        pending = self._pending.get(key)
        if pending is not None:
            return self.deserialise_tracker(sender_id, pending)
        try:
            with self.session_scope() as session:
                rows = self._event_query(
                    session, key, fetch_events_from_all_sessions=fetch_events_from_all_sessions).all()
                events = [json.loads(row.data) for row in rows]
            tracker = (DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
                       if self.domain and events else None)
        except Exception as error:  # noqa: BLE001 - the resident still gets an answer, in a new conversation
            self._failed("retrieve", error)
            return None
        self._worked("retrieve", "keys")
        if not rows:
            self._found_empty = key
        elif tracker is not None and not fetch_events_from_all_sessions:
            self._remember_rows(tracker, len(rows))
        return tracker

    def _remember_rows(self, tracker: DialogueStateTracker, rows: int) -> None:
        """Note that ``tracker`` was read from ``rows`` stored events: what :meth:`_write` would count.

        Rasa counts them again in every save, in the same query that read them (those since the
        latest session start). Between the read and the save of one message the conversation is
        held by the lock store, so the number is still right; it is kept for that very object
        only (not a copy of it, not another tracker of the same conversation), until it is saved
        or dropped.
        """
        index = id(tracker)
        forget = self._rows.pop  # no reference to the store's self from the weakref's callback
        self._rows[index] = (weakref.ref(tracker, lambda _: forget(index, None)), rows)

    def _rows_read(self, tracker: DialogueStateTracker) -> int | None:
        """How many of ``tracker``'s events are stored, if this store read it and nothing failed since; once."""
        remembered = self._rows.pop(id(tracker), None)
        if remembered is None or remembered[0]() is not tracker or self._failing:
            return None
        return remembered[1]

    async def keys(self) -> Iterable[str]:
        """The stored (hashed) conversation keys, usable with ``retrieve`` and ``retrieve_full_tracker``."""
        try:
            with self.session_scope() as session:
                rows = session.query(self.SQLEvent.sender_id).distinct().all()
        except Exception as error:  # noqa: BLE001
            self._failed("keys", error)
            return []
        self._worked("keys")
        return [StoredKey(key) for (key,) in rows]

    def _keep_pending(self, key: str, tracker: DialogueStateTracker) -> None:
        self._pending[key] = self.serialise_tracker(tracker)
        self._pending.move_to_end(key)
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)

    def _failed(self, operation: str, error: BaseException) -> None:
        self._failing[operation] = _reason(error)
        problems = "; ".join(f"{name} failed: {reason}" for name, reason in sorted(self._failing.items()))
        health.degraded(COMPONENT, problems)

    def _worked(self, *operations: str) -> None:
        cleared = [self._failing.pop(operation) for operation in operations if operation in self._failing]
        if cleared and not self._failing:
            health.recovered(COMPONENT)
