"""The library of known scam texts, and the in-memory index that finds the one a pasted message copies.

Scam texts (every 警情通报 sent through the alerts, imports, confirmed reports, new scripts an officer added)
are stored redacted in ``known_scams``, each with its fingerprint and MinHash signature
(:mod:`bot.fingerprints`). :class:`KnownIndex` keeps them in memory per process (refreshed when the table
changes) and finds the near-duplicate of a pasted message: LSH band keys pick the candidates, the most alike
of them by MinHash have their edit similarity measured, and ``SIMILARITY_THRESHOLD`` (chosen on the
validation part of ``tests/data/known_scams_eval.yml``) decides. About 1 ms per message with 100,000 texts
(bench/known_match.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from rapidfuzz import fuzz, process
from sqlalchemy import Column, DateTime, Integer, LargeBinary, String, Table, Text, func, select
from sqlalchemy.engine import Connection, Engine, Row

from bot.fingerprints import (
    LSH_BANDS,
    MAX_SCORED,
    MIN_FINGERPRINT,
    NUM_PERM,
    SIMILARITY_THRESHOLD,
    band_keys,
    fingerprint,
    signature,
)
from bot.store import aware, engine, metadata, now
from nlu.entities import redact

logger = logging.getLogger(__name__)

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
        values = signature(print_).tobytes()
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


class _Library:
    """The known texts as one match reads them: MinHash values in one array, every band key of every text in
    one sorted array (LSH by binary search), the fingerprints and what a reply names.

    Never changed once built: new rows make a new one (``extended``) that replaces the old in one assignment,
    so a match never waits for a refresh and never sees half of one. Numpy arrays rather than datasketch's
    index of Python sets: a tenth of the memory, loaded in a second, and nothing for the garbage collector
    to walk through at every full collection."""

    def __init__(self, ids: np.ndarray, signatures: np.ndarray, keys: np.ndarray, owners: np.ndarray,
                 fingerprints: tuple[str, ...], details: tuple[tuple[str, str, str, datetime], ...]) -> None:
        self.ids = ids  # int64: the rows' ids, in id order
        self.signatures = signatures  # uint32 (len, NUM_PERM)
        self.keys = keys  # uint64: LSH_BANDS band keys per text, sorted
        self.owners = owners  # int32: the position of the text each key belongs to
        self.fingerprints = fingerprints
        self.details = details  # (source, title, scenario, added_at)

    @classmethod
    def empty(cls) -> _Library:
        return cls(np.empty(0, np.int64), np.empty((0, NUM_PERM), np.uint32), np.empty(0, np.uint64),
                   np.empty(0, np.int32), (), ())

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def last_id(self) -> int:
        return int(self.ids[-1]) if len(self.ids) else 0

    def extended(self, rows: Sequence[Row]) -> _Library:
        """This library with ``rows`` (of ``known_scams``, ids above ``last_id``, in id order) added."""
        if not rows:
            return self
        signatures = np.frombuffer(b"".join(row.minhash for row in rows), dtype=np.uint32).reshape(-1, NUM_PERM)
        keys = band_keys(signatures).ravel()
        owners = np.repeat(np.arange(len(self), len(self) + len(rows), dtype=np.int32), LSH_BANDS)
        order = np.argsort(keys, kind="stable")
        keys, owners = keys[order], owners[order]
        at = np.searchsorted(self.keys, keys)  # merged in: linear in the library, no sort of it again
        return _Library(np.concatenate([self.ids, np.fromiter((row.id for row in rows), np.int64, len(rows))]),
                        np.concatenate([self.signatures, signatures]),
                        np.insert(self.keys, at, keys), np.insert(self.owners, at, owners),
                        self.fingerprints + tuple(row.fingerprint for row in rows),
                        self.details + tuple((row.source, row.title, row.scenario, aware(row.added_at))
                                             for row in rows))

    def _hits(self, values: np.ndarray) -> np.ndarray:
        """The position of a text once for each LSH band it shares with the MinHash ``values``."""
        wanted = band_keys(values[None, :])[0]
        starts = np.searchsorted(self.keys, wanted, "left").tolist()
        ends = np.searchsorted(self.keys, wanted, "right").tolist()
        found = [self.owners[start:end] for start, end in zip(starts, ends, strict=True) if end > start]
        return np.concatenate(found) if found else np.empty(0, np.int32)

    def candidates(self, values: np.ndarray) -> np.ndarray:
        """Positions of the texts sharing at least one band with the MinHash ``values``."""
        return np.unique(self._hits(values))

    def closest(self, values: np.ndarray, limit: int = MAX_SCORED) -> np.ndarray:
        """The candidates, at most ``limit``: those whose MinHash agrees most with ``values``.

        Many candidates are first narrowed to the ``8 * limit`` sharing the most bands (counted for free), so
        that comparing all ``NUM_PERM`` values, the finer measure, costs the same whatever the wave's size."""
        found, bands = np.unique(self._hits(values), return_counts=True)
        if len(found) > 8 * limit:
            found = found[np.argpartition(bands, len(found) - 8 * limit)[len(found) - 8 * limit:]]
        if len(found) > limit:
            agreement = np.count_nonzero(self.signatures[found] == values, axis=1)
            found = found[np.argpartition(agreement, len(found) - limit)[len(found) - limit:]]
        return found


class KnownIndex:
    """The library of known scam texts in this process's memory, refreshed when the table changes.

    A message costs one MinHash, a binary search per LSH band, and the edit similarity of at most
    ``MAX_SCORED`` candidates: no database round trip. The first match loads the library; afterwards, at most
    every ``refresh_seconds``, a background thread asks ``max(id), count(*)`` (20 ms on SQLite with 100,000
    texts: not a resident's wait) and loads rows that were added, or everything again when rows were removed.
    ``refresh_seconds=0`` checks before every match, in the caller's thread."""

    def __init__(self, url: str | None = None, refresh_seconds: float = 5.0,
                 threshold: float = SIMILARITY_THRESHOLD) -> None:
        self._url = url
        self._refresh_seconds = refresh_seconds
        self.threshold = threshold
        self._lock = threading.Lock()  # one refresh at a time
        self._checked = float("-inf")
        self._loaded = False
        self._refreshing = False
        self._spawning = threading.Lock()  # guards _refreshing: a match never waits for a refresh's lock
        self._state: tuple[int, int] = (0, 0)
        self._library = _Library.empty()

    def __len__(self) -> int:
        return len(self._library)

    def refresh(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._checked < self._refresh_seconds:
            return
        with self._lock:
            self._checked = time.monotonic()
            with engine(self._url).connect() as db:
                last, count = db.execute(select(func.coalesce(func.max(known_scams.c.id), 0),
                                                func.count(known_scams.c.id))).one()
                if (last, count) != self._state:
                    library = self._library
                    if count < len(library) or last < library.last_id:
                        library = _Library.empty()
                    library = self._read(db, library, last)
                    if len(library) != count:  # rows removed as others were added: read them all again
                        library = self._read(db, _Library.empty(), last)
                    self._library = library
                    self._state = (last, count)
            self._loaded = True

    @staticmethod
    def _read(db: Connection, library: _Library, last: int) -> _Library:
        """``library`` with the rows after its last id, up to ``last`` (rows added since the check wait for the
        next one), read in parts: a whole library's rows are never in memory at once."""
        query = select(known_scams.c.id, known_scams.c.fingerprint, known_scams.c.minhash, known_scams.c.source,
                       known_scams.c.title, known_scams.c.scenario, known_scams.c.added_at).where(
            known_scams.c.id > library.last_id, known_scams.c.id <= last).order_by(known_scams.c.id)
        for rows in db.execution_options(stream_results=True).execute(query).partitions(20_000):
            library = library.extended(rows)
        return library

    def _keep_fresh(self) -> None:
        """Load the library before the first match; later, refresh it in the background when it is due."""
        if not self._loaded or self._refresh_seconds <= 0:
            self.refresh()
            return
        if time.monotonic() - self._checked < self._refresh_seconds:
            return
        with self._spawning:
            if self._refreshing:
                return
            self._refreshing = True
        threading.Thread(target=self._refresh_in_background, name="known-index-refresh", daemon=True).start()

    def _refresh_in_background(self) -> None:
        try:
            self.refresh()
        except Exception:  # noqa: BLE001 - matching goes on with the texts already loaded; retried when due
            logger.exception("known scams: refreshing the library failed, matching with the texts already loaded")
        finally:
            self._refreshing = False

    def candidates(self, fingerprint_text: str) -> list[int]:
        """The ids of the texts MinHash LSH proposes for a fingerprint (before ``MAX_SCORED``): for benchmarks."""
        library = self._library
        return library.ids[library.candidates(signature(fingerprint_text))].tolist()

    def match(self, text: str) -> KnownMatch | None:
        """The known scam ``text`` is a near-duplicate of (the most similar above the threshold), or None."""
        self._keep_fresh()
        library = self._library
        print_ = fingerprint(text)
        if len(print_) < MIN_FINGERPRINT or not len(library):
            return None
        positions = library.closest(signature(print_)).tolist()
        # the candidates' edit similarity in one call into rapidfuzz's C code, not one Python call each
        best = process.extractOne(print_, [library.fingerprints[p] for p in positions], scorer=fuzz.ratio,
                                  score_cutoff=self.threshold * 100)
        if best is None:
            return None
        _choice, score, chosen = best
        position = positions[chosen]
        source, title, scenario, added_at = library.details[position]
        return KnownMatch(int(library.ids[position]), score / 100.0, source, title, scenario, added_at)


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
