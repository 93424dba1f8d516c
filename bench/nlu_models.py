"""Compare scenario-classifier variants on the held-out split and the independent set.

    .venv/bin/python bench/nlu_models.py [--diet]

Prints accuracy, macro-F1 and scam recall per variant and writes bench/results/nlu_models.json.
The n-gram variants train in seconds. ``--diet`` also trains Rasa's DIET on the same data with
the scenarios as intents (character 1-3-gram counts, 40 epochs: several minutes on 2 cores).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import jieba
from rasa.shared.nlu.training_data.loading import load_data
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.results_file import write  # noqa: E402
from bot.evaluation import read_labelled, score  # noqa: E402
from nlu.components import scenario_label  # noqa: E402

jieba.setLogLevel(logging.WARNING)


def labelled(path: Path) -> tuple[list[str], list[str]]:
    data = load_data(str(path))
    pairs = [(m.get("text"), label) for m in data.intent_examples
             if (label := scenario_label(m)) is not None]
    return [t for t, _ in pairs], [label for _, label in pairs]


def words(text: str) -> list[str]:
    return [w for w in jieba.lcut(text) if w.strip()]


VARIANTS = {
    "char 1-2 (chosen)": lambda: [TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)],
    "char_wb 1-4": lambda: [TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True)],
    "char_wb 1-3 + jieba words 1-2": lambda: [
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True),
        TfidfVectorizer(analyzer=words, sublinear_tf=True)],
}


def diet_variant(train_x: list[str], train_y: list[str], sets: dict) -> dict:
    """DIET with scenarios as intents, trained and evaluated through Rasa itself."""
    import asyncio
    import tempfile

    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "nlu.yml"
        blocks = {}
        for text, label in zip(train_x, train_y, strict=True):
            blocks.setdefault(label, []).append(text)
        lines = ['version: "3.1"', "nlu:"]
        for label, texts in blocks.items():
            lines += [f"- intent: {label}", "  examples: |"]
            lines += [f"    - {t}" for t in texts]
        data.write_text("\n".join(lines) + "\n", encoding="utf-8")
        config = Path(tmp) / "config.yml"
        config.write_text("language: zh\npipeline:\n  - name: JiebaTokenizer\n"
                          "  - name: CountVectorsFeaturizer\n    analyzer: char\n    min_ngram: 1\n"
                          "    max_ngram: 3\n  - name: DIETClassifier\n    epochs: 40\n"
                          "    entity_recognition: false\n    random_seed: 2026\n", encoding="utf-8")
        started = time.perf_counter()
        model = train_nlu(str(config), str(data), str(Path(tmp) / "models"))
        seconds = time.perf_counter() - started
        agent = Agent.load(model)
        result = {"train_seconds": round(seconds, 1)}
        for set_name, (xs, ys) in sets.items():
            predicted = [asyncio.run(agent.parse_message(x))["intent"]["name"] for x in xs]
            s = score(ys, predicted)
            result[set_name] = {"accuracy": round(s.accuracy, 3), "macro_f1": round(s.macro_f1, 3),
                                "scam_recall": round(s.scam_recall, 3)}
        return result


def main() -> None:
    train_x, train_y = labelled(ROOT / "nlu" / "data")
    sets = {"holdout": labelled(ROOT / "tests" / "data" / "nlu_holdout.yml")}
    independent = ROOT / "bench" / "data" / "independent_eval.csv"
    rows = read_labelled(independent)
    sets["independent"] = ([t for t, _ in rows], [label for _, label in rows])
    results = {}
    for name, make in VARIANTS.items():
        started = time.perf_counter()
        vectorizers = make()
        features = hstack([v.fit_transform(train_x) for v in vectorizers]).tocsr()
        model = LogisticRegression(C=50, max_iter=3000, class_weight="balanced").fit(features, train_y)
        seconds = time.perf_counter() - started
        results[name] = {"train_seconds": round(seconds, 2)}
        for set_name, (xs, ys) in sets.items():
            predicted = model.predict(hstack([v.transform(xs) for v in vectorizers]).tocsr())
            s = score(ys, list(predicted))
            results[name][set_name] = {"accuracy": round(s.accuracy, 3), "macro_f1": round(s.macro_f1, 3),
                                       "scam_recall": round(s.scam_recall, 3)}
        print(name, json.dumps(results[name], ensure_ascii=False))
    if "--diet" in sys.argv:
        results["DIET (scenarios as intents)"] = diet_variant(train_x, train_y, sets)
        print("DIET", json.dumps(results["DIET (scenarios as intents)"], ensure_ascii=False))
    write("nlu_models", results)


if __name__ == "__main__":
    main()
