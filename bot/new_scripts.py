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

The daily job finds them once a day and keeps them in ``new_scripts`` (:func:`record`), so that the admin's
研判 page reads rows instead of the tracker store's week and the library; an officer adds one to the known-scam
library or dismisses it (:func:`decide`, audited).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process
from sqlalchemy import Column, Date, DateTime, Integer, String, Table, Text, UniqueConstraint, create_engine, select
from sqlalchemy.exc import IntegrityError

from bot import fingerprints, near_duplicates, scam_library
from bot.alerts.model import audit_log
from bot.retention import CHINA, consultations_since, day_start
from bot.store import engine, metadata, now, utc
from core.knowledge import content_root

WINDOW_DAYS = 7
MIN_RESIDENTS = 3
SAMPLE_CHARS = 80
MAX_MESSAGES = 20_000
"""At most the week's newest this many scam consultations are grouped: a wave shows in any recent sample, and the
grouping compares each message with every group so far (20,000 distinct messages ≈ 1 min in the daily job; a
training-example check ≈ 0.9 ms and a library check ≈ 1 ms each)."""
OPEN, LIBRARY, DISMISSED = "open", "library", "dismissed"

findings = Table(
    "new_scripts", metadata,
    Column("id", Integer, primary_key=True),
    Column("day", Date, nullable=False),  # the report's day (the week up to it)
    Column("fingerprint", Text, nullable=False),  # of ``text``: the same script is recorded once a day
    Column("residents", Integer, nullable=False),
    Column("messages", Integer, nullable=False),
    Column("scenario", String(64), nullable=False),
    Column("sample", String(SAMPLE_CHARS), nullable=False),
    Column("text", Text, nullable=False),  # the newest copy, redacted
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False, default=OPEN),
    Column("decided_by", String(128)),
    Column("decided_at", DateTime(timezone=True)),
    UniqueConstraint("day", "fingerprint", name="one_new_script_per_day"),
)


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
                print_ = fingerprints.fingerprint(example)
                if len(print_) >= fingerprints.MIN_FINGERPRINT:
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
         min_residents: int = MIN_RESIDENTS, threshold: float = fingerprints.SIMILARITY_THRESHOLD,
         training: dict[int, str] | None = None) -> list[Script]:
    """New scripts among the consultations of the ``days`` days up to ``day``, the most residents first."""
    messages = scam_messages(tracker_url, day - timedelta(days=days - 1), day)[:MAX_MESSAGES]
    library = scam_library.known_index(store_url)
    examples = training_fingerprints() if training is None else training
    unknown = []
    for text, scenario, sender, moment in messages:
        print_ = fingerprints.fingerprint(text)
        if len(print_) < fingerprints.MIN_FINGERPRINT or library.match(text) is not None:
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


@dataclass(frozen=True)
class Finding:
    """A new script as the daily job recorded it."""

    id: int
    day: date
    residents: int
    messages: int
    scenario: str
    sample: str
    text: str
    state: str


def record(day: date, scripts: list[Script], store_url: str | None = None) -> int:
    """Keep ``day``'s new scripts (a script already recorded for that day is skipped); returns how many."""
    added = 0
    for script in scripts:
        try:
            with engine(store_url).begin() as db:
                db.execute(findings.insert().values(
                    day=day, fingerprint=fingerprints.fingerprint(script.text), residents=script.residents,
                    messages=script.messages, scenario=script.scenario[:64], sample=script.sample[:SAMPLE_CHARS],
                    text=script.text, first_seen=utc(script.first_seen),
                    last_seen=utc(script.last_seen), state=OPEN))
            added += 1
        except IntegrityError:
            continue
    return added


def recorded(since: date, until: date, store_url: str | None = None, state: str | None = OPEN) -> list[Finding]:
    """Recorded new scripts of the days from ``since`` to ``until``, the most residents first."""
    query = select(findings).where(findings.c.day >= since, findings.c.day <= until)
    if state:
        query = query.where(findings.c.state == state)
    with engine(store_url).connect() as db:
        rows = db.execute(query.order_by(findings.c.residents.desc(), findings.c.day.desc())).all()
    return [Finding(r.id, r.day, r.residents, r.messages, r.scenario, r.sample, r.text, r.state) for r in rows]


def decide(actor: str, finding_id: int, decision: str, scenario: str = "", title: str = "",
           store_url: str | None = None) -> Finding | None:
    """An officer adds a new script to the known-scam library (``library``: from then on a pasted copy is named
    as this scam) or ``dismiss``-es it; audited in the same transaction. None when it is no longer open."""
    if decision not in (LIBRARY, DISMISSED):
        raise ValueError(f"unknown decision {decision!r}")
    with engine(store_url).begin() as db:
        row = db.execute(select(findings).where(findings.c.id == finding_id, findings.c.state == OPEN)
                         .with_for_update()).first()
        if row is None:
            return None
        chosen = scenario or row.scenario
        db.execute(findings.update().where(findings.c.id == row.id).values(
            state=decision, decided_by=actor[:128], decided_at=now(), scenario=chosen[:64]))
        if decision == LIBRARY:
            scam_library.add_known([{"text": row.text, "scenario": chosen, "title": title or row.sample[:40],
                              "source": f"new_script:{row.id}"}], connection=db)
        db.execute(audit_log.insert().values(at=now(), actor=actor[:256], action=f"new_script_{decision}",
                                             detail=json.dumps({"id": row.id, "day": row.day.isoformat(),
                                                                "scenario": chosen, "residents": row.residents},
                                                               ensure_ascii=False, sort_keys=True)))
        return Finding(row.id, row.day, row.residents, row.messages, chosen, row.sample, row.text, decision)
