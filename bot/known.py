"""Known scams: indicators officers confirm or residents report, and a library of scam texts matched by similarity.

Scams run in waves of one script: the same SMS with a new link, the same call in a hundred cities. Two
stores answer "have we seen this before?" for every consultation:

- ``indicators``: phone numbers, domains, bank cards, QQ/WeChat ids and app names, normalised by
  :mod:`core.indicators`, in one of the states ``reported`` (by residents, with a count and when first and
  last seen), ``confirmed`` (by an officer, who and when, optional expiry), ``rejected`` or ``expired``.
  A message's indicators cost one query (:func:`lookup`).
- ``known_scams``: scam texts (every 警情通报 sent through the alerts, imports, confirmed cases), stored
  redacted, each with a fingerprint: the text with digits, links and ids masked and punctuation and spacing
  dropped, and its MinHash over character bigrams. :class:`KnownIndex` keeps them in memory per process
  (refreshed when the table changes) and finds the near-duplicate of a pasted message: MinHash LSH picks the
  candidates, the edit similarity of the fingerprints decides (``SIMILARITY_THRESHOLD``, chosen on the
  validation part of ``tests/data/known_scams_eval.yml``).

The resident's 举报, feedback and the admin's review queue (later work) write ``reported`` indicators and
confirm, reject or expire them through the same functions.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH
from rapidfuzz import fuzz, process
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
)
from sqlalchemy.engine import Connection, Engine

from bot.store import engine, metadata, now
from core.indicators import KINDS, from_entities, lookup_keys, normalise
from nlu.entities import PATTERNS, redact

logger = logging.getLogger(__name__)

REPORTED, CONFIRMED, REJECTED, EXPIRED = "reported", "confirmed", "rejected", "expired"
STATES = (REPORTED, CONFIRMED, REJECTED, EXPIRED)

indicators = Table(
    "indicators", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # core.indicators.KINDS
    Column("value", String(256), nullable=False),  # normalised (core.indicators.normalise)
    Column("state", String(16), nullable=False),
    Column("report_count", Integer, nullable=False, default=0),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("confirmed_by", String(128)),
    Column("confirmed_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    Column("note", Text),
    UniqueConstraint("kind", "value", name="uq_indicators_kind_value"),
)

known_scams = Table(
    "known_scams", metadata,
    Column("id", Integer, primary_key=True),
    Column("text", Text, nullable=False),  # redacted (nlu.entities.redact) before it is stored
    Column("title", String(256), nullable=False, default=""),  # what a reply names: an alert's title
    Column("scenario", String(64), nullable=False, default=""),
    Column("source", String(128), nullable=False),  # "alert:12", "import", "case:…"
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("fingerprint", Text, nullable=False),  # the masked text the similarity is measured on
    Column("minhash", LargeBinary, nullable=False),  # NUM_PERM uint32 hash values of the fingerprint
)

# -- fingerprints ------------------------------------------------------------------------------------

NUM_PERM = 64
SEED = 7
SHINGLE = 2  # character bigrams: a changed character breaks two, where trigrams would lose three
LSH_THRESHOLD = 0.3  # Jaccard at which LSH makes a pair a candidate: below the similarity of any copy kept
SIMILARITY_THRESHOLD = 0.50
"""Edit similarity (rapidfuzz ``fuzz.ratio`` / 100) of the fingerprints at which a message is the known scam.
Chosen on the validation part of ``tests/data/known_scams_eval.yml`` (``choose_threshold``): the midpoint
between the best-scoring genuine message and the worst-scoring perturbed copy, rounded down to 0.05."""
MIN_FINGERPRINT = 16  # a message shorter than this (after masking) is too short to be "the same text"

_FULLWIDTH = str.maketrans({code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)})
_URL = dict(PATTERNS)["url"]
_TOKEN = re.compile(r"[A-Za-z0-9_\-]+")
_KEEP = re.compile(r"[^\u3400-\u9fff\uf900-\ufaffa-z#0@]")


def fingerprint(text: str) -> str:
    """``text`` as it is compared: links → ``@``, numbers → ``0``, ids mixing letters and digits → ``#``,
    words in Latin letters lower-case (ETC, APP, QQ stay), punctuation and spacing dropped.
    A new link, a new number or a new WeChat id in the same script gives the same fingerprint."""
    view = _URL.sub("@", text.translate(_FULLWIDTH))

    def token(match: re.Match[str]) -> str:
        word = match.group()
        if word.isdigit():
            return "0"
        return word.lower() if word.isalpha() else "#"

    return _KEEP.sub("", _TOKEN.sub(token, view))


_PROTOTYPE = MinHash(num_perm=NUM_PERM, seed=SEED)
_PERMUTATIONS, SCHEME = _PROTOTYPE.permutations, _PROTOTYPE.scheme  # made once: the same in every process


def minhash(fingerprint_text: str) -> MinHash:
    """The MinHash of a fingerprint's character bigrams."""
    found = MinHash(num_perm=NUM_PERM, seed=SEED, permutations=_PERMUTATIONS, scheme=SCHEME)
    shingles = {fingerprint_text[i:i + SHINGLE] for i in range(max(len(fingerprint_text) - SHINGLE + 1, 1))}
    found.update_batch([s.encode("utf-8") for s in shingles])
    return found


def similarity(a: str, b: str) -> float:
    """Edit similarity of two fingerprints, 0–1."""
    return fuzz.ratio(a, b) / 100.0


# -- known scam texts --------------------------------------------------------------------------------

@dataclass(frozen=True)
class KnownMatch:
    """The known scam a message is a near-duplicate of."""

    id: int
    similarity: float
    source: str
    title: str
    scenario: str
    added_at: datetime

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "similarity": round(self.similarity, 3), "source": self.source}


def add_known(texts: Iterable[dict[str, str]], url: str | None = None, db_engine: Engine | None = None,
              connection: Connection | None = None) -> int:
    """Add scam texts (``{"text", "scenario", "source", "title"}``) to the library; returns how many.

    The text is redacted before it is stored (no resident's or victim's number in the library); texts too
    short to fingerprint are skipped. With ``connection``, inside the caller's transaction (an alert and
    its library entry are written together)."""
    rows = []
    added = now()
    for item in texts:
        text = redact(str(item.get("text") or "")).strip()
        print_ = fingerprint(text)
        if len(print_) < MIN_FINGERPRINT:
            continue
        values = minhash(print_).hashvalues.astype(np.uint32).tobytes()  # affine32: values fit 32 bits
        rows.append({"text": text, "title": str(item.get("title") or "")[:256],
                     "scenario": str(item.get("scenario") or "")[:64],
                     "source": str(item.get("source") or "import")[:128], "added_at": added,
                     "fingerprint": print_, "minhash": values})
    if rows and connection is not None:
        connection.execute(known_scams.insert(), rows)
    elif rows:
        with (db_engine or engine(url)).begin() as db:
            db.execute(known_scams.insert(), rows)
    return len(rows)


class KnownIndex:
    """The library of known scam texts in this process's memory, refreshed when the table changes.

    A message costs one MinHash and an LSH query, then the edit similarity of a handful of candidates:
    no database round trip. At most every ``refresh_seconds`` a cheap ``max(id), count(*)`` tells whether
    rows were added (loaded incrementally) or removed (reloaded)."""

    def __init__(self, url: str | None = None, refresh_seconds: float = 5.0,
                 threshold: float = SIMILARITY_THRESHOLD) -> None:
        self._url = url
        self._refresh_seconds = refresh_seconds
        self.threshold = threshold
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._state: tuple[int, int] = (0, 0)
        self._reset()

    def _reset(self) -> None:
        self._lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        self._rows: dict[int, tuple[str, str, str, str, datetime]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def refresh(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._checked < self._refresh_seconds:
            return
        with self._lock:
            self._checked = time.monotonic()
            db_engine = engine(self._url)
            with db_engine.connect() as db:
                last, count = db.execute(select(func.coalesce(func.max(known_scams.c.id), 0),
                                                func.count(known_scams.c.id))).one()
                if (last, count) == self._state:
                    return
                if count < len(self._rows) or last < self._state[0]:
                    self._reset()
                since = max(self._rows, default=0)
                query = select(known_scams.c.id, known_scams.c.fingerprint, known_scams.c.minhash,
                               known_scams.c.source, known_scams.c.title, known_scams.c.scenario,
                               known_scams.c.added_at).where(known_scams.c.id > since).order_by(known_scams.c.id)
                with self._lsh.insertion_session() as session:
                    for row in db.execution_options(stream_results=True).execute(query):
                        hashvalues = np.frombuffer(row.minhash, dtype=np.uint32)
                        session.insert(row.id, LeanMinHash(seed=SEED, hashvalues=hashvalues, scheme=SCHEME))
                        self._rows[row.id] = (row.fingerprint, row.source, row.title, row.scenario,
                                              _aware(row.added_at))
            self._state = (last, count)

    def match(self, text: str) -> KnownMatch | None:
        """The known scam ``text`` is a near-duplicate of (the most similar above the threshold), or None."""
        self.refresh()
        print_ = fingerprint(text)
        if len(print_) < MIN_FINGERPRINT or not self._rows:
            return None
        candidates = {key: self._rows[key][0] for key in self._lsh.query(minhash(print_))}
        # the candidates' edit similarity in one call into rapidfuzz's C code, not one Python call each
        best = process.extractOne(print_, candidates, scorer=fuzz.ratio, score_cutoff=self.threshold * 100)
        if best is None:
            return None
        _choice, score, key = best
        _print, source, title, scenario, added_at = self._rows[key]
        return KnownMatch(key, score / 100.0, source, title, scenario, added_at)


_INDEXES: dict[str, KnownIndex] = {}
_INDEXES_LOCK = threading.Lock()


def known_index(url: str | None = None) -> KnownIndex:
    """The process's index of the store at ``url`` (default ``FRAUDBOT_DB_URL``)."""
    from bot.config import database_url

    key = url or database_url()
    with _INDEXES_LOCK:
        if key not in _INDEXES:
            _INDEXES[key] = KnownIndex(key)
        return _INDEXES[key]


# -- indicators --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Indicator:
    kind: str
    value: str
    state: str
    report_count: int
    first_seen: datetime
    last_seen: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None
    expires_at: datetime | None
    note: str | None

    def as_case(self) -> dict[str, object]:
        """What the verdict reads (plain data: core/ never imports the store)."""
        return {"kind": self.kind, "value": self.value, "state": self.state, "report_count": self.report_count,
                "confirmed_at": self.confirmed_at.date().isoformat() if self.confirmed_at else None}


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything here is UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def _indicator(row: object) -> Indicator:
    values = dict(row._mapping)  # type: ignore[attr-defined]
    values.pop("id", None)
    for name in ("first_seen", "last_seen", "confirmed_at", "expires_at"):
        values[name] = _aware(values[name])
    return Indicator(**values)


def _key(kind: str, value: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown indicator kind {kind!r}: one of {', '.join(KINDS)}")
    found = normalise(kind, value)
    if not found:
        raise ValueError(f"not a {kind}: {redact(value)}")
    return found


def lookup(pairs: Iterable[tuple[str, str]], url: str | None = None) -> list[Indicator]:
    """The stored indicators (not rejected, not expired) for normalised (kind, value) pairs, in one query.

    A domain also finds its confirmed parent domains (``pay.evil.top`` finds ``evil.top``); a confirmed
    indicator past its ``expires_at`` is left out. Confirmed first."""
    wanted = {(kind, key) for kind, value in pairs for key in lookup_keys(kind, value)}
    if not wanted:
        return []
    condition = or_(*(and_(indicators.c.kind == kind, indicators.c.value == value) for kind, value in wanted))
    with engine(url).connect() as db:
        rows = [_indicator(row) for row in db.execute(
            select(indicators).where(condition, indicators.c.state.in_((REPORTED, CONFIRMED))))]
    moment = now()
    live = [r for r in rows if r.state == REPORTED or r.expires_at is None or r.expires_at > moment]
    return sorted(live, key=lambda r: (r.state != CONFIRMED, r.kind, r.value))


def report(kind: str, value: str, url: str | None = None, note: str | None = None) -> Indicator:
    """A resident reported an indicator: counted, first/last seen kept; a confirmed one stays confirmed."""
    key = _key(kind, value)
    moment = now()
    with engine(url).begin() as db:
        found = db.execute(select(indicators).where(indicators.c.kind == kind, indicators.c.value == key)).first()
        if found is None:
            db.execute(indicators.insert().values(kind=kind, value=key, state=REPORTED, report_count=1,
                                                  first_seen=moment, last_seen=moment, note=note))
        else:
            db.execute(indicators.update().where(indicators.c.id == found.id).values(
                report_count=indicators.c.report_count + 1, last_seen=moment))
        return _indicator(db.execute(select(indicators).where(indicators.c.kind == kind,
                                                              indicators.c.value == key)).one())


def _set_state(kind: str, value: str, url: str | None, **values: object) -> Indicator:
    key = _key(kind, value)
    moment = now()
    with engine(url).begin() as db:
        found = db.execute(select(indicators.c.id).where(indicators.c.kind == kind, indicators.c.value == key)).first()
        if found is None:
            db.execute(indicators.insert().values(kind=kind, value=key, report_count=0, first_seen=moment,
                                                  last_seen=moment, **values))
        else:
            db.execute(indicators.update().where(indicators.c.id == found.id).values(**values))
        return _indicator(db.execute(select(indicators).where(indicators.c.kind == kind,
                                                              indicators.c.value == key)).one())


def confirm(kind: str, value: str, officer: str, url: str | None = None, expires_in: timedelta | None = None,
            note: str | None = None) -> Indicator:
    """An officer confirmed the indicator as a scam's (created if nobody reported it); optional expiry."""
    if not officer.strip():
        raise ValueError("confirming needs the officer's name")
    moment = now()
    values: dict[str, object] = {"state": CONFIRMED, "confirmed_by": officer.strip()[:128], "confirmed_at": moment,
                                 "expires_at": moment + expires_in if expires_in else None}
    if note is not None:
        values["note"] = note
    return _set_state(kind, value, url, **values)


def expire(kind: str, value: str, url: str | None = None) -> Indicator:
    """No longer a scam's (a number reassigned, a domain taken down): not matched any more, kept for history."""
    return _set_state(kind, value, url, state=EXPIRED, expires_at=now())


def reject(kind: str, value: str, url: str | None = None, note: str | None = None) -> Indicator:
    """Reviewed and not a scam's: residents' reports of it are no longer mentioned."""
    values: dict[str, object] = {"state": REJECTED}
    if note is not None:
        values["note"] = note
    return _set_state(kind, value, url, **values)


def listing(url: str | None = None, state: str | None = None, limit: int = 100) -> list[Indicator]:
    query = select(indicators).order_by(indicators.c.last_seen.desc()).limit(limit)
    if state:
        query = query.where(indicators.c.state == state)
    with engine(url).connect() as db:
        return [_indicator(row) for row in db.execute(query)]


def import_indicators(items: Iterable[dict[str, str]], url: str | None = None, officer: str | None = None,
                      db_engine: Engine | None = None, batch: int = 5000) -> int:
    """Bulk import ({"kind", "value", "state"?, "note"?}): new rows only, in batches; confirmed ones get
    ``officer`` (or "import"). Values that do not normalise are skipped. Returns how many were added."""
    moment = now()
    added = 0
    target = db_engine or engine(url)
    for chunk in _chunks(items, batch):
        rows = {}
        for item in chunk:
            kind = str(item.get("kind") or "")
            value = normalise(kind, str(item.get("value") or "")) if kind in KINDS else None
            state = str(item.get("state") or CONFIRMED)
            if not value or state not in STATES:
                continue
            confirmed = state == CONFIRMED
            rows[(kind, value)] = {"kind": kind, "value": value, "state": state,
                                   "report_count": int(item.get("report_count") or 0),
                                   "first_seen": moment, "last_seen": moment,
                                   "confirmed_by": (officer or "import") if confirmed else None,
                                   "confirmed_at": moment if confirmed else None, "expires_at": None,
                                   "note": item.get("note")}
        with target.begin() as db:
            existing = set()
            for kind in {k for k, _ in rows}:
                values = [v for k, v in rows if k == kind]
                existing |= {(kind, v) for (v,) in db.execute(select(indicators.c.value).where(
                    indicators.c.kind == kind, indicators.c.value.in_(values)))}
            fresh = [row for key, row in rows.items() if key not in existing]
            if fresh:
                db.execute(indicators.insert(), fresh)
            added += len(fresh)
    return added


def _chunks(items: Iterable[dict[str, str]], size: int) -> Iterator[list[dict[str, str]]]:
    chunk: list[dict[str, str]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- what a consultation gets ------------------------------------------------------------------------

def lookups_for(text: str, entities: Iterable[dict[str, object]], url: str | None = None
                ) -> tuple[dict[str, object] | None, list[dict[str, object]]]:
    """The plain data a :class:`core.verdict.Case` carries: the known scam ``text`` matches (or None) and the
    stored indicators among ``entities``. A store that cannot be read gives nothing (the verdict stands
    on the message alone) rather than no answer."""
    try:
        found = known_index(url).match(text)
        stored = lookup(from_entities(entities), url)
    except Exception:  # noqa: BLE001 - the resident still gets the verdict of the message itself
        logger.exception("known scams: lookup failed, answering without it")
        return None, []
    known = None
    if found is not None:
        known = {**found.as_json(), "title": found.title, "scenario": found.scenario,
                 "added_at": found.added_at.date().isoformat()}
    return known, [item.as_case() for item in stored]
