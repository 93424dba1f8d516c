"""New scam scripts: copies of one message that several residents brought this week and that nobody knows yet.

A script the police have not seen shows up in consultations days before the first case is filed: several
residents paste the same SMS, with other links and numbers. The daily report lists such scripts so an
officer can add one to the known-scam library or warn the groups. A script here is a group of near-duplicate
messages (:mod:`bot.near_duplicates`) of the last :data:`WINDOW_DAYS` days that

- the scenario classifier took for a scam (a scenario other than ``none``),
- matches no text of the known-scam library (that one is known already) and no training example (the bot
  already knows that wording), and
- came from at least :data:`MIN_RESIDENTS` different conversations (one resident pasting it three times is
  not a wave).

The texts are read from the tracker store, where they were stored redacted; the sample shown is cut to
:data:`SAMPLE_CHARS` characters. Counts and samples only: no sender.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process
from sqlalchemy import create_engine

from bot import known, near_duplicates
from bot.retention import CHINA, consultations_since, day_start
from core.knowledge import content_root

WINDOW_DAYS = 7
MIN_RESIDENTS = 3
SAMPLE_CHARS = 80


@dataclass(frozen=True)
class Script:
    """One new script: how many messages and residents, what it resembles, a redacted sample."""

    messages: int
    residents: int
    scenario: str  # the scenario most of its messages were given
    sample: str  # ≤ SAMPLE_CHARS characters, redacted
    text: str  # the newest copy, redacted (what "add to the library" stores)
    copies: tuple[str, ...]  # every message of the group, newest first, redacted
    first_seen: datetime
    last_seen: datetime


def training_fingerprints(root: Path | None = None) -> dict[int, str]:
    """Fingerprints of every training example (``nlu/data/**/*.yml`` of the live content), long enough to compare."""
    found: dict[int, str] = {}
    for path in sorted((root or content_root() / "nlu" / "data").rglob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            for line in str(item.get("examples") or "").splitlines():
                example = line.strip().removeprefix("- ").strip()
                print_ = known.fingerprint(example)
                if len(print_) >= known.MIN_FINGERPRINT:
                    found[len(found)] = print_
    return found


def scam_messages(tracker_url: str, first: date, last: date) -> list[tuple[str, str, str, float]]:
    """(text, scenario, conversation, time) of consultations from ``first`` to ``last`` that the classifier
    gave a scam scenario, newest first."""
    engine = create_engine(tracker_url, future=True)
    found = []
    try:
        with engine.connect() as db:
            query = consultations_since(day_start(first), day_start(last + timedelta(days=1)))
            for timestamp, _intent, data, sender in db.execute(query):
                event = json.loads(data or "{}")
                scenario = ((event.get("parse_data") or {}).get("scenario") or {}).get("name") or "none"
                text = str(event.get("text") or "")
                if scenario != "none" and text and not text.startswith("/"):
                    found.append((text, str(scenario), str(sender), float(timestamp)))
    finally:
        engine.dispose()
    return sorted(found, key=lambda item: -item[3])


def find(tracker_url: str, day: date, store_url: str | None = None, days: int = WINDOW_DAYS,
         min_residents: int = MIN_RESIDENTS, threshold: float = known.SIMILARITY_THRESHOLD,
         training: dict[int, str] | None = None) -> list[Script]:
    """New scripts among the consultations of the ``days`` days up to ``day``, the most residents first."""
    messages = scam_messages(tracker_url, day - timedelta(days=days - 1), day)
    library = known.known_index(store_url)
    examples = training_fingerprints() if training is None else training
    unknown = []
    for text, scenario, sender, moment in messages:
        print_ = known.fingerprint(text)
        if len(print_) < known.MIN_FINGERPRINT or library.match(text) is not None:
            continue
        if examples and process.extractOne(print_, examples, scorer=fuzz.ratio, score_cutoff=threshold * 100):
            continue
        unknown.append((text, scenario, sender, moment, print_))
    scripts = []
    for members in near_duplicates.group([item[4] for item in unknown], threshold):
        copies = [unknown[i] for i in members]
        residents = len({item[2] for item in copies})
        if residents < min_residents:
            continue
        newest = copies[0]
        scripts.append(Script(
            messages=len(copies), residents=residents,
            scenario=Counter(item[1] for item in copies).most_common(1)[0][0],
            sample=newest[0][:SAMPLE_CHARS], text=newest[0], copies=tuple(item[0] for item in copies),
            first_seen=datetime.fromtimestamp(min(item[3] for item in copies), CHINA),
            last_seen=datetime.fromtimestamp(newest[3], CHINA)))
    return sorted(scripts, key=lambda s: (-s.residents, -s.messages))
