"""The evaluation and validation sets are never trained on: none of their messages is a training example,
nor a near copy of one (a writer who changes one word of a training example measures nothing new)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rapidfuzz import fuzz, process
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from bot.evaluation import read_labelled

ROOT = Path(__file__).resolve().parents[1]
SETS = [*sorted((ROOT / "bench" / "data").glob("*.csv")), *sorted((ROOT / "tests" / "data").glob("*_validation.csv")),
        ROOT / "tests" / "data" / "nlu_holdout.yml"]
# A greeting is the same two characters whoever writes it, and the intent needs it in the training data.
UNIVERSAL = {"你好", "您好", "再见", "哈喽", "谢谢"}
# Near copies: edit similarity (rapidfuzz ratio, 0-100) at or above this between messages of at least NEAR_MIN_LENGTH
# characters. Independent writers of short questions meet at 85-89 (在哪查征信 / 去哪查征信) without copying; at 90 and
# above one text is the other with a word changed (稳赚不赔的理财是真的吗 / 稳赚不赔的理财是真的有吗).
NEAR_COPY = 90
NEAR_MIN_LENGTH = 8


@pytest.fixture(scope="module")
def training() -> set[str]:
    texts: set[str] = set()
    for path in sorted((ROOT / "nlu" / "data").rglob("*.yml")):
        texts |= {message.get("text").strip() for message in RasaYAMLReader().read(path).intent_examples}
    return texts


@pytest.fixture(scope="module")
def long_examples(training: set[str]) -> list[str]:
    """The training examples long enough to be compared for near copies, filtered once for every set."""
    return sorted(text for text in training if len(text) >= NEAR_MIN_LENGTH)


def test_the_sets_and_the_training_data_are_found(training: set[str]) -> None:
    assert len(SETS) >= 20 and all(path.exists() for path in SETS)
    assert len(training) > 10_000


@pytest.mark.parametrize("path", SETS, ids=lambda path: path.name)
def test_no_evaluation_message_is_a_training_example(path: Path, training: set[str]) -> None:
    shared = {text.strip() for text, _ in read_labelled(path)} & training
    assert shared <= UNIVERSAL, sorted(shared - UNIVERSAL)


@pytest.mark.parametrize("path", SETS, ids=lambda path: path.name)
def test_no_evaluation_message_is_a_near_copy_of_a_training_example(path: Path, long_examples: list[str]) -> None:
    examples = long_examples
    messages = sorted({text.strip() for text, _ in read_labelled(path) if len(text.strip()) >= NEAR_MIN_LENGTH})
    similarity = process.cdist(messages, examples, scorer=fuzz.ratio, score_cutoff=NEAR_COPY, workers=-1)
    near = [(messages[i], examples[j]) for i, j in zip(*similarity.nonzero(), strict=True)]
    assert not near, near[:10]


def test_a_near_copy_is_caught_and_a_different_question_is_not() -> None:
    """The threshold on two pairs whose verdict is plain: one word changed, and the same topic in other words."""
    assert fuzz.ratio("稳赚不赔的理财是真的有吗", "稳赚不赔的理财是真的吗") >= NEAR_COPY
    assert fuzz.ratio("怎么查自己的征信报告", "征信报告在哪里可以打印") < NEAR_COPY
