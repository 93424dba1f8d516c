"""The known-scam matcher on an independent hold-out set (tests/data/known_scams_holdout.yml).

``SIMILARITY_THRESHOLD`` was chosen on tests/data/known_scams_eval.yml; this set was written by hand without
reading that file, so it tells whether the threshold holds on texts it was never tuned on: hand-made copies
of a library text (new digits and links, typos, a sentence added or dropped) must be found, other scams of the
same topic and genuine messages that borrow its words must not. Run with ``-s`` to see the figures and every
failure.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot import migrations
from bot.fingerprints import fingerprint, similarity
from bot.scam_library import KnownIndex, add_known, known_scams
from bot.store import engine

HOLDOUT = Path(__file__).parent / "data" / "known_scams_holdout.yml"
MIN_RECALL = 0.90
MAX_FALSE_MATCH_RATE = 0.02
SOURCE_PREFIX = "holdout:"


@cache
def load_holdout() -> dict:
    return yaml.safe_load(HOLDOUT.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Probe:
    """One message sent to the matcher, with what it should match (``expected`` id, or None for nothing)."""

    label: str  # "copy", "near_miss" or "genuine"
    text: str
    expected: str | None
    note: str


@dataclass(frozen=True)
class Outcome:
    probe: Probe
    found: str | None  # the library id matched, or None
    score: float | None  # the matcher's similarity, when it matched
    closest: tuple[str, float]  # the library entry whose fingerprint is nearest, and that similarity

    @property
    def right(self) -> bool:
        return self.found == self.probe.expected

    def line(self) -> str:
        found = f"matched {self.found} ({self.score:.2f})" if self.found else "no match"
        nearest, nearest_score = self.closest
        return (f"  [{self.probe.label}] expected {self.probe.expected or 'nothing'}, {found}; "
                f"nearest {nearest} {nearest_score:.2f} — {self.probe.note}\n      {self.probe.text}")


@dataclass
class Report:
    copies: list[Outcome] = field(default_factory=list)
    negatives: list[Outcome] = field(default_factory=list)

    @property
    def missed(self) -> list[Outcome]:
        return [o for o in self.copies if not o.right]

    @property
    def false_matches(self) -> list[Outcome]:
        return [o for o in self.negatives if not o.right]

    @property
    def recall(self) -> float:
        return 1 - len(self.missed) / len(self.copies)

    @property
    def false_match_rate(self) -> float:
        return len(self.false_matches) / len(self.negatives)

    def summary(self) -> str:
        lowest = min((o.score for o in self.copies if o.right and o.score is not None), default=float("nan"))
        highest = max(o.closest[1] for o in self.negatives)
        lines = [f"known-scam hold-out: {len(load_holdout()['library'])} library texts",
                 f"  copies: recall {self.recall:.3f} ({len(self.copies) - len(self.missed)}/{len(self.copies)}),"
                 f" lowest similarity of a copy found {lowest:.2f}",
                 f"  negatives: false-match rate {self.false_match_rate:.3f}"
                 f" ({len(self.false_matches)}/{len(self.negatives)}),"
                 f" highest similarity of a negative to any library text {highest:.2f}"]
        lines.append("the five negatives nearest to a library text:")
        lines += [o.line() for o in sorted(self.negatives, key=lambda o: -o.closest[1])[:5]]
        lines.append("the five copies farthest from their own text (nearest library text shown):")
        lines += [o.line() for o in sorted(self.copies, key=lambda o: o.score or 0.0)[:5]]
        if self.missed:
            lines.append("copies not matched to their own entry:")
            lines += [o.line() for o in self.missed]
        if self.false_matches:
            lines.append("negatives that matched:")
            lines += [o.line() for o in self.false_matches]
        return "\n".join(lines)


def probes(data: dict) -> list[Probe]:
    found = []
    for entry in data["library"]:
        found += [Probe("copy", copy["text"], entry["id"], copy["change"]) for copy in entry["copies"]]
        found += [Probe("near_miss", text, None, f"another {entry['kind']} script") for text in entry["near_misses"]]
    found += [Probe("genuine", item["text"], None, f"genuine, shares words with {item['shares']}")
              for item in data["genuine"]]
    return found


def library_store(data: dict) -> str:
    """A fresh SQLite store at head holding the library, each row's source naming its entry."""
    folder = Path(tempfile.mkdtemp(prefix="fraudbot-"))
    folder.chmod(0o755)
    url = f"sqlite:///{folder / 'store.db'}"
    migrations.upgrade(url)
    entries = [{"text": e["text"], "title": e["kind"], "scenario": "", "source": SOURCE_PREFIX + e["id"]}
               for e in data["library"]]
    assert add_known(entries, url) == len(entries), "every library text is long enough to fingerprint"
    return url


def stored_fingerprints(url: str) -> dict[str, str]:
    with engine(url).connect() as db:
        rows = db.execute(select(known_scams.c.source, known_scams.c.fingerprint)).all()
    return {source.removeprefix(SOURCE_PREFIX): print_ for source, print_ in rows}


@pytest.fixture(scope="module")
def report() -> Report:
    data = load_holdout()
    url = library_store(data)
    index = KnownIndex(url)
    prints = stored_fingerprints(url)
    result = Report()
    for probe in probes(data):
        found = index.match(probe.text)
        print_ = fingerprint(probe.text)
        closest = max(((key, similarity(print_, value)) for key, value in prints.items()), key=lambda kv: kv[1])
        outcome = Outcome(probe, found.source.removeprefix(SOURCE_PREFIX) if found else None,
                          found.similarity if found else None, closest)
        (result.copies if probe.label == "copy" else result.negatives).append(outcome)
    print("\n" + result.summary())
    return result


def test_the_set_is_what_the_issue_asks() -> None:
    """≥ 40 library texts of 40–200 characters with 2–3 copies each, ≥ 120 negatives, only fake numbers and
    example domains: the figures below mean something only on a set this size."""
    data = load_holdout()
    library = data["library"]
    assert len(library) >= 40
    assert len({e["id"] for e in library}) == len(library)
    assert all(40 <= len(e["text"]) <= 200 for e in library), [e["id"] for e in library
                                                              if not 40 <= len(e["text"]) <= 200]
    assert all(2 <= len(e["copies"]) <= 3 for e in library)
    assert sum(len(e["near_misses"]) for e in library) + len(data["genuine"]) >= 120
    every_text = [probe.text for probe in probes(data)] + [e["text"] for e in library]
    hosts = {host for text in every_text for host in re.findall(r"https?://([A-Za-z0-9.-]+)", text)}
    assert hosts and all(re.fullmatch(r"([\w-]+\.)*example\.(com|net|org)", host) for host in hosts), hosts
    mobiles = {number for text in every_text for number in re.findall(r"(?<!\d)1[3-9]\d{9}(?!\d)", text)}
    assert all(number.startswith("1380000") for number in mobiles), mobiles


def test_copies_match_their_own_library_text(report: Report) -> None:
    assert report.recall >= MIN_RECALL, report.summary()


def test_other_scripts_and_genuine_messages_match_nothing(report: Report) -> None:
    assert report.false_match_rate <= MAX_FALSE_MATCH_RATE, report.summary()
