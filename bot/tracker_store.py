"""Rasa's SQL tracker store, with residents' numbers masked before anything is written.

Conversations outlive the chat in the tracker store (SQLite by default, PostgreSQL when
scaled out). Phone, card, ID and QQ/WeChat numbers in texts, parse data, entities and slots
are stored masked (138******78, via :func:`nlu.entities.redact`). The live conversation
is unaffected: the message being answered is parsed before it is stored, and the slots the
dialogue uses (scenario, bank, yes/no answers) carry no such numbers.

endpoints.yml::

    tracker_store:
      type: bot.tracker_store.RedactingSQLTrackerStore
      dialect: sqlite      # or postgresql, with url/db/username/password
      db: rasa.db
"""

from __future__ import annotations

from typing import Any, Iterator

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker

from nlu.entities import redact


def redacted(value: Any) -> Any:
    """``value`` with every string in it redacted (dicts and lists walked)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redacted(item) for item in value]
    return value


class _RedactedEvent:
    """An event as the SQL store writes it (``type_name`` and ``as_dict``), masked."""

    def __init__(self, event: Event) -> None:
        self._event = event
        self.type_name = event.type_name

    def as_dict(self) -> dict[str, Any]:
        return redacted(self._event.as_dict())


class RedactingSQLTrackerStore(SQLTrackerStore):
    """:class:`SQLTrackerStore` that writes events with personal numbers masked."""

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Any]:
        return (_RedactedEvent(event) for event in super()._additional_events(session, tracker))
