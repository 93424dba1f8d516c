"""Scores for the scenario classifier on a labelled CSV (``text,scenario``)."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

NONE = "none"


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

    def as_dict(self) -> dict:
        return {
            "n": self.n, "accuracy": self.accuracy, "macro_f1": self.macro_f1,
            "scam_recall": self.scam_recall, "scam_precision": self.scam_precision,
            "per_scenario": {k: dict(zip(("precision", "recall", "f1", "support"), v, strict=True))
                             for k, v in self.per_scenario.items()},
            "confusions": [{"true": t, "predicted": p, "count": c} for t, p, c in self.confusions],
        }

    def report(self) -> str:
        lines = [f"examples: {self.n}", f"accuracy: {self.accuracy:.3f}", f"macro-F1: {self.macro_f1:.3f}",
                 f"scam-vs-none recall: {self.scam_recall:.3f}  precision: {self.scam_precision:.3f}",
                 "", f"{'scenario':<26}{'precision':>10}{'recall':>8}{'F1':>8}{'n':>6}"]
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


def score(truth: list[str], predicted: list[str]) -> Scores:
    """Scores for predicted scenarios against the truth."""
    labels = sorted(set(truth) | set(predicted))
    p, r, f, n = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    per = {label: (float(p[i]), float(r[i]), float(f[i]), int(n[i])) for i, label in enumerate(labels)
           if n[i] > 0 or label in truth}
    confusions = Counter((t, q) for t, q in zip(truth, predicted, strict=True) if t != q)
    scam_true = [t != NONE for t in truth]
    scam_pred = [q != NONE for q in predicted]
    hits = sum(a and b for a, b in zip(scam_true, scam_pred, strict=True))
    return Scores(
        n=len(truth),
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro",
                                zero_division=0)),
        per_scenario=per,
        confusions=[(t, q, c) for (t, q), c in confusions.most_common()],
        scam_recall=hits / max(1, sum(scam_true)),
        scam_precision=hits / max(1, sum(scam_pred)),
    )
