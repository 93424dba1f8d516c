"""The redacting SQL tracker store, on a real SQLite database."""

import asyncio
import sqlite3
from pathlib import Path

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import RedactingSQLTrackerStore, redacted


def test_redacted_walks_nested_values() -> None:
    data = {"text": "我电话13812345678", "parse_data": {"entities": [{"value": "6222021234567890123"}]},
            "n": 3, "banks": ["95588"]}
    out = redacted(data)
    assert "13812345678" not in str(out) and "6222021234567890123" not in str(out)
    assert out["n"] == 3 and out["banks"] == ["95588"]


def test_nothing_personal_is_written_and_the_tracker_still_loads(tmp_path: Path) -> None:
    db = tmp_path / "rasa.db"
    domain = Domain.from_yaml(Path("domain.yml").read_text(encoding="utf-8"))
    store = RedactingSQLTrackerStore(domain, dialect="sqlite", db=str(db))
    tracker = DialogueStateTracker.from_events("resident", [
        ActionExecuted("action_listen"),
        UserUttered("骗子电话13812345678，让我转到卡6222021234567890123，我身份证110101199003071234",
                    {"name": "consult", "confidence": 0.9},
                    [{"entity": "phone", "value": "13812345678", "start": 4, "end": 15}]),
        SlotSet("scenario", "impersonate_police"),
        BotUttered("请不要转账，拨打96110"),
    ])
    asyncio.run(store.save(tracker))
    rows = sqlite3.connect(db).execute("select data from events").fetchall()
    stored = "\n".join(row[0] for row in rows)
    for secret in ("13812345678", "6222021234567890123", "110101199003071234"):
        assert secret not in stored
    assert "96110" in stored and "impersonate_police" in stored
    loaded = asyncio.run(store.retrieve("resident"))
    assert loaded.get_slot("scenario") == "impersonate_police"
    assert loaded.latest_message.text.startswith("骗子电话138")
