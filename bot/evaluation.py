"""Scores for the scenario classifier and the risk verdict on a labelled CSV (``text,scenario``).

Besides macro-F1: scam recall and ``none`` recall (scam vs none by scenario), the share of
genuine (``none``) messages given ``high`` risk, the share of scams given at least ``medium``,
and the expected calibration error of the scam probability (10 equal-width bins).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

NONE = "none"
ECE_BINS = 10


@dataclass
class Scores:
    """Accuracy, macro-F1, per-scenario P/R/F1, confusions, and scam-vs-none detection."""

    n: int
    accuracy: float
    macro_f1: float
    per_scenario: dict[str, tuple[float, float, float, int]]
    confusions: list[tuple[str, str, int]]
    scam_recall: float
    scam_precision: float
    none_recall: float = 0.0
    # from the risk verdict and the calibrated scam probability (None when not given)
    genuine_high: float | None = None
    scam_flagged: float | None = None
    calibration_error: float | None = None
    risk_counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "n": self.n, "accuracy": self.accuracy, "macro_f1": self.macro_f1,
            "scam_recall": self.scam_recall, "scam_precision": self.scam_precision,
            "none_recall": self.none_recall, "genuine_given_high": self.genuine_high,
            "scam_given_medium_or_high": self.scam_flagged, "calibration_error": self.calibration_error,
            "risk_counts": self.risk_counts,
            "per_scenario": {k: dict(zip(("precision", "recall", "f1", "support"), v, strict=True))
                             for k, v in self.per_scenario.items()},
            "confusions": [{"true": t, "predicted": p, "count": c} for t, p, c in self.confusions],
        }

    def report(self) -> str:
        lines = [f"examples: {self.n}", f"accuracy: {self.accuracy:.3f}", f"macro-F1: {self.macro_f1:.3f}",
                 f"scam-vs-none recall: {self.scam_recall:.3f}  precision: {self.scam_precision:.3f}",
                 f"scam recall: {self.scam_recall:.3f}", f"none recall: {self.none_recall:.3f}"]
        if self.genuine_high is not None:
            lines.append(f"genuine (none) given high: {self.genuine_high:.3f}")
        if self.scam_flagged is not None:
            lines.append(f"scams given medium or high: {self.scam_flagged:.3f}")
        if self.calibration_error is not None:
            lines.append(f"calibration error of P(scam) (ECE, {ECE_BINS} bins): {self.calibration_error:.3f}")
        for truth, counts in self.risk_counts.items():
            lines.append(f"risk of {truth} messages: " + "  ".join(f"{k} {v}" for k, v in counts.items()))
        lines += ["", f"{'scenario':<26}{'precision':>10}{'recall':>8}{'F1':>8}{'n':>6}"]
        for name, (p, r, f, n) in sorted(self.per_scenario.items()):
            lines.append(f"{name:<26}{p:>10.3f}{r:>8.3f}{f:>8.3f}{n:>6}")
        lines += ["", "most frequent confusions (true -> predicted):"]
        lines += [f"  {t} -> {p}: {c}" for t, p, c in self.confusions[:15]] or ["  none"]
        return "\n".join(lines)


def read_labelled(path: Path) -> list[tuple[str, str]]:
    """(text, scenario) pairs from a ``text,scenario`` CSV file or a Rasa NLU YAML file.

    YAML examples take their scenario as the training data does (``nlu.components.scenario_label``),
    so the held-out split ``tests/data/nlu_holdout.yml`` can be scored directly.
    """
    if path.suffix in (".yml", ".yaml"):
        from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

        from nlu.components import scenario_label

        data = RasaYAMLReader().read(path)
        return [(m.get("text"), label) for m in data.intent_examples
                if (label := scenario_label(m)) is not None]
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return [(row["text"], row["scenario"].strip()) for row in csv.DictReader(handle)]


def calibration_error(probabilities: Sequence[float], outcomes: Sequence[bool], bins: int = ECE_BINS) -> float:
    """Expected calibration error: the share-weighted gap between the mean predicted probability
    and the observed frequency, over ``bins`` equal-width bins of the probability."""
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(outcomes, dtype=float)
    if len(p) == 0:
        return 0.0
    index = np.minimum((p * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += members.sum() / len(p) * abs(p[members].mean() - y[members].mean())
    return float(error)


def score(truth: list[str], predicted: Sequence[str | Mapping[str, Any]]) -> Scores:
    """Scores for predicted scenarios against the truth.

    ``predicted`` holds scenario ids, or whole ``fraudbot classify`` results (then the risk and
    scam-probability figures are filled in too).
    """
    results = [p for p in predicted if isinstance(p, Mapping)]
    if results and len(results) == len(predicted):
        scores = score(truth, [str(r["scenario"]) for r in results])
        _add_risk_figures(scores, truth, results)
        return scores
    labels = sorted(set(truth) | set(predicted))
    p, r, f, n = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    per = {label: (float(p[i]), float(r[i]), float(f[i]), int(n[i])) for i, label in enumerate(labels)
           if n[i] > 0 or label in truth}
    confusions = Counter((t, q) for t, q in zip(truth, predicted, strict=True) if t != q)
    scam_true = [t != NONE for t in truth]
    scam_pred = [q != NONE for q in predicted]
    hits = sum(a and b for a, b in zip(scam_true, scam_pred, strict=True))
    none_hits = sum(not a and not b for a, b in zip(scam_true, scam_pred, strict=True))
    return Scores(
        n=len(truth),
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro",
                                zero_division=0)),
        per_scenario=per,
        confusions=[(t, q, c) for (t, q), c in confusions.most_common()],
        scam_recall=hits / max(1, sum(scam_true)),
        scam_precision=hits / max(1, sum(scam_pred)),
        none_recall=none_hits / max(1, len(truth) - sum(scam_true)),
    )


def _add_risk_figures(scores: Scores, truth: Sequence[str], results: Iterable[Mapping[str, Any]]) -> None:
    results = list(results)
    genuine = [r for t, r in zip(truth, results, strict=True) if t == NONE]
    scams = [r for t, r in zip(truth, results, strict=True) if t != NONE]
    scores.genuine_high = sum(r.get("risk") == "high" for r in genuine) / max(1, len(genuine))
    scores.scam_flagged = sum(r.get("risk") in ("high", "medium") for r in scams) / max(1, len(scams))
    for name, group in (("scam", scams), ("none", genuine)):
        counts = Counter(str(r.get("risk")) for r in group)
        scores.risk_counts[name] = {level: counts.get(level, 0) for level in ("high", "medium", "low")}
    pairs = [(float(r["scam_probability"]), t != NONE) for t, r in zip(truth, results, strict=True)
             if isinstance(r.get("scam_probability"), (int, float))]
    if pairs:
        scores.calibration_error = calibration_error([p for p, _ in pairs], [o for _, o in pairs])


async def evaluate(classifier: Any, rows: Sequence[tuple[str, str]]) -> Scores:
    """Scores of a loaded :class:`bot.nlu_client.Classifier` on (text, scenario) pairs."""
    results = [await classifier.classify(text) for text, _ in rows]
    return score([label for _, label in rows], results)
