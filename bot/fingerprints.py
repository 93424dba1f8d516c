"""How two texts are compared: the fingerprint of a text, its MinHash signature, and LSH band keys.

A scam script comes back with another link, another number, another name and a few words changed. A text is
compared by its fingerprint (links, numbers and ids masked, punctuation and spacing dropped), and two
fingerprints are the same script when their edit similarity reaches :data:`SIMILARITY_THRESHOLD`. To find
candidates among 100,000 texts without comparing them all, each fingerprint has a MinHash signature over its
character bigrams, cut into LSH bands (:func:`band_keys`). The known-scam library (:mod:`bot.scam_library`),
the review queue's groups and the new scripts of the daily report (:mod:`bot.near_duplicates`) all compare
this way.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
from datasketch import MinHash
from datasketch.hashfunc import sha1_hash32
from rapidfuzz import fuzz

from nlu.entities import PATTERNS

NUM_PERM = 64
SEED = 7
SHINGLE = 2  # character bigrams: a changed character breaks two, where trigrams would lose three
LSH_BANDS, LSH_ROWS = 32, 2
"""MinHash LSH: a library text is a candidate when its MinHash values agree with the message's on all ``LSH_ROWS``
of at least one of ``LSH_BANDS`` bands, with probability 1 - (1 - J²)³² for a Jaccard J of their bigrams:
0.9999 at J = 0.5 (a copy with a tenth of its characters changed has J ≥ 0.51 in the validation part), 0.95 at
0.3, 0.03 at 0.03 (texts of other scripts). datasketch's choice for a threshold of 0.3, 21 bands of 3, gives
0.94 at J = 0.5: on bench/known_match.py's library it missed 16 of 5,779 messages that comparing with every
text matches, these bands miss 1."""
MAX_SCORED = 64
"""At most this many candidates have their edit similarity measured: those whose MinHash agrees most with the
message's. A wave of one script puts thousands of near-copies in a library, and scoring all of them was most of
the 26 ms p99; the 64 most alike decide as well (the same 5,779 decisions as scoring every candidate)."""
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


_PROTOTYPE = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32")
_PERMUTATIONS, SCHEME = _PROTOTYPE.permutations, _PROTOTYPE.scheme  # made once: the same in every process
_MULTIPLIERS, _OFFSETS = (part.astype(np.uint32) for part in _PERMUTATIONS)


@lru_cache(maxsize=1 << 16)
def _bigram_hash(bigram: str) -> int:
    """datasketch's default hash of one bigram, kept: hashing was most of a MinHash's cost, and a library's
    bigrams are mostly the same few thousand."""
    return sha1_hash32(bigram.encode("utf-8"))


def _premix(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer: what datasketch's "affine32" scheme applies to each hash before its
    permutations (a*h + b mod 2³²)."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def signature(fingerprint_text: str) -> np.ndarray:
    """The ``NUM_PERM`` MinHash values (uint32) of a fingerprint's character bigrams, in one numpy expression.

    The same numbers as datasketch's ``MinHash.update_batch`` with its default hash and "affine32" scheme, so
    the values stored by earlier releases stay valid (tests/test_known.py compares them)."""
    bigrams = {fingerprint_text[i:i + SHINGLE] for i in range(max(len(fingerprint_text) - SHINGLE + 1, 1))}
    hashes = np.fromiter(map(_bigram_hash, bigrams), dtype=np.uint32, count=len(bigrams))
    return (_premix(hashes)[:, None] * _MULTIPLIERS + _OFFSETS).min(axis=0)


def minhash(fingerprint_text: str) -> MinHash:
    """The MinHash of a fingerprint's character bigrams, as a datasketch object."""
    return MinHash(num_perm=NUM_PERM, seed=SEED, hashvalues=signature(fingerprint_text), permutations=_PERMUTATIONS,
                   scheme=SCHEME)


def similarity(a: str, b: str) -> float:
    """Edit similarity of two fingerprints, 0–1."""
    return fuzz.ratio(a, b) / 100.0


_KEY_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplying by it mixes without losing values
_BAND_SHIFT = np.uint64(58)  # the band's number above 58 bits of its values' hash: up to 64 bands in one array
_KEY_MASK = np.uint64((1 << 58) - 1)


def band_keys(signatures: np.ndarray) -> np.ndarray:
    """One uint64 per band of each signature (rows of ``signatures``): the band's number in the top bits, a hash
    of its ``LSH_ROWS`` values below, so that every band of every text sorts into one array. Two different
    bands that hash alike only add a candidate, which the MinHash agreement and edit similarity then judge."""
    bands = signatures[:, :LSH_BANDS * LSH_ROWS].reshape(len(signatures), LSH_BANDS, LSH_ROWS).astype(np.uint64)
    keys = np.zeros((len(signatures), LSH_BANDS), dtype=np.uint64)
    for row in range(LSH_ROWS):
        keys = keys * _KEY_MULTIPLIER + bands[:, :, row]
    return (np.arange(LSH_BANDS, dtype=np.uint64) << _BAND_SHIFT) | (keys & _KEY_MASK)
