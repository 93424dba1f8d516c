"""Grouping texts that are copies of one script: the review queue's groups and the daily report's new scripts.

Texts are compared by their fingerprints (:func:`bot.fingerprints.fingerprint`: links, numbers and ids masked,
punctuation and spacing dropped), so thirty copies of one SMS with thirty links are one group. Grouping is
greedy in the order given (newest first, as callers pass them): a text joins the first group whose first text
it is a near-duplicate of, by the same edit similarity and threshold the known-scam library matches with.
The candidates of each text are found in one rapidfuzz call over the groups so far, in C.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import fuzz, process

from bot.fingerprints import MIN_FINGERPRINT  # shorter texts are grouped only when equal: too little for a script


def group(fingerprints: Sequence[str], threshold: float) -> list[list[int]]:
    """Indices of ``fingerprints`` in groups of near-duplicates (edit similarity ≥ ``threshold``, 0–1), each
    group in the given order, the groups in the order of their first member."""
    groups: list[list[int]] = []
    heads: dict[int, str] = {}  # group → its first fingerprint, when long enough to compare
    exact: dict[str, int] = {}
    for index, print_ in enumerate(fingerprints):
        home = exact.get(print_)
        if home is None and len(print_) >= MIN_FINGERPRINT and heads:
            best = process.extractOne(print_, heads, scorer=fuzz.ratio, score_cutoff=threshold * 100)
            home = best[2] if best is not None else None
        if home is None:
            home = len(groups)
            groups.append([])
            exact[print_] = home
            if len(print_) >= MIN_FINGERPRINT:
                heads[home] = print_
        groups[home].append(index)
    return groups
