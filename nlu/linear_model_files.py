"""How our linear text classifiers (intent and scenario) are kept in a Rasa model: arrays and JSON.

Both are TF-IDF over character n-grams plus a linear layer; pickles are never written, so a
model archive holds nothing that runs code when it is loaded. One writer and one reader keep
the two components' files identical in shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def column_major(coef: np.ndarray) -> np.ndarray:
    """The weights laid out so that ``features @ coef.T`` reads them in place.

    A message's features are one sparse row; scipy multiplies it with a C-ordered dense matrix only,
    so ``coef.T`` of C-ordered weights was copied whole (16 × 40,000 numbers) for every message:
    0.3 ms each for the intent and the scenario classifier. Stored column-major, ``coef.T`` is
    C-ordered already (0.004 ms); the numbers and the products are the same.
    """
    return np.asfortranarray(coef)


@dataclass(frozen=True)
class LinearModelFiles:
    """What a trained linear text classifier is: its vocabulary, idf, classes and weights."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    classes: list[str]
    coef: np.ndarray
    intercept: np.ndarray

    def write(self, directory: Path) -> None:
        """``vocabulary.json``, ``classes.json`` and ``weights.npz`` in ``directory``."""
        vocabulary = {term: int(index) for term, index in self.vocabulary.items()}
        (directory / "vocabulary.json").write_text(json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
        (directory / "classes.json").write_text(json.dumps([str(c) for c in self.classes], ensure_ascii=False),
                                                encoding="utf-8")
        np.savez(directory / "weights.npz", idf=self.idf, coef=self.coef, intercept=self.intercept)

    @classmethod
    def read(cls, directory: Path) -> LinearModelFiles:
        """The files :meth:`write` wrote; ``FileNotFoundError`` when there are none."""
        vocabulary = json.loads((directory / "vocabulary.json").read_text(encoding="utf-8"))
        classes = json.loads((directory / "classes.json").read_text(encoding="utf-8"))
        with np.load(directory / "weights.npz") as weights:
            return cls(vocabulary, weights["idf"], classes, column_major(weights["coef"]), weights["intercept"])
