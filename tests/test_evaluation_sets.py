"""The evaluation and validation sets are never trained on: none of their messages is a training example."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from bot.evaluation import read_labelled

ROOT = Path(__file__).resolve().parents[1]
SETS = [*sorted((ROOT / "bench" / "data").glob("*.csv")), *sorted((ROOT / "tests" / "data").glob("*_validation.csv")),
        ROOT / "tests" / "data" / "nlu_holdout.yml"]
# A greeting is the same two characters whoever writes it, and the intent needs it in the training data.
UNIVERSAL = {"你好", "您好", "再见", "哈喽", "谢谢"}


@pytest.fixture(scope="module")
def training() -> set[str]:
    texts: set[str] = set()
    for path in sorted((ROOT / "nlu" / "data").rglob("*.yml")):
        texts |= {message.get("text").strip() for message in RasaYAMLReader().read(path).intent_examples}
    return texts


def test_the_sets_and_the_training_data_are_found(training: set[str]) -> None:
    assert len(SETS) >= 20 and all(path.exists() for path in SETS)
    assert len(training) > 10_000


@pytest.mark.parametrize("path", SETS, ids=lambda path: path.name)
def test_no_evaluation_message_is_a_training_example(path: Path, training: set[str]) -> None:
    shared = {text.strip() for text, _ in read_labelled(path)} & training
    assert shared <= UNIVERSAL, sorted(shared - UNIVERSAL)
