"""LinearIntentClassifier on a small in-memory training set: no trained model needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.intent_classifier import LinearIntentClassifier

EXAMPLES = {
    "greet": ["你好", "您好", "在吗", "早上好", "警察同志好", "有人在吗"],
    "thanks": ["谢谢", "谢谢你", "多谢提醒", "非常感谢", "感谢感谢", "谢谢啦"],
    "money_already_sent": ["我已经转了3万", "钱已经转过去了怎么办", "刚给他转了五千",
                           "转账转出去了能追回吗", "我被骗了2万已经打过去了", "已经付了钱"],
    "consult": ["有人说我涉嫌洗钱让我转到安全账户", "网上兼职刷单先垫付是真的吗",
                "有人出500块租我的银行卡", "收到短信说ETC认证过期要点链接",
                "自称客服说要退款让我开屏幕共享", "网友拉我进群投资稳赚不赔"],
}
TEXTS = ["你好啊", "我已经转了两万块", "有人让我刷单垫付", "谢谢你们", "zzz", "/greet", '/inform{"bank": "工商银行"}']


def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


@pytest.fixture()
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


@pytest.fixture()
def trained(storage: LocalModelStorage) -> LinearIntentClassifier:
    data = TrainingData([Message(data={TEXT: text, INTENT: intent})
                         for intent, texts in EXAMPLES.items() for text in texts])
    classifier = LinearIntentClassifier.create({}, storage, Resource("intent"), context())
    classifier.train(data)
    return classifier


def parse(classifier: LinearIntentClassifier, text: str | None) -> Message:
    data = {} if text is None else {TEXT: text}
    return classifier.process([Message(data=data)])[0]


def test_learns_the_training_intents(trained: LinearIntentClassifier) -> None:
    assert parse(trained, "你好啊").get(INTENT)["name"] == "greet"
    assert parse(trained, "我已经转了两万块").get(INTENT)["name"] == "money_already_sent"
    assert parse(trained, "谢谢你们").get(INTENT)["name"] == "thanks"


@pytest.mark.parametrize("text", TEXTS)
def test_ranking_is_every_intent_most_likely_first_summing_to_one(
        trained: LinearIntentClassifier, text: str) -> None:
    message = parse(trained, text)
    ranking = message.get(INTENT_RANKING_KEY)
    assert sorted(r["name"] for r in ranking) == sorted(EXAMPLES)
    confidences = [r["confidence"] for r in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0, abs=1e-6)
    assert all(isinstance(c, float) and 0.0 <= c <= 1.0 for c in confidences)
    assert message.get(INTENT) == ranking[0]
    assert {INTENT, INTENT_RANKING_KEY} <= set(message.as_dict(only_output_properties=True))


def test_persists_and_loads_back_with_identical_predictions(
        trained: LinearIntentClassifier, storage: LocalModelStorage) -> None:
    loaded = LinearIntentClassifier.load({}, storage, Resource("intent"), context())
    for text in TEXTS:
        assert parse(loaded, text).get(INTENT_RANKING_KEY) == parse(trained, text).get(INTENT_RANKING_KEY)
    with storage.read_from(Resource("intent")) as directory:
        assert sorted(p.name for p in directory.iterdir()) == ["classes.json", "vocabulary.json",
                                                                "weights.npz"]


@pytest.mark.parametrize("text", [None, "", "   \n"])
def test_no_text_gets_no_intent(trained: LinearIntentClassifier, text: str | None) -> None:
    # As DIET for a message without features: FallbackClassifier then predicts nlu_fallback.
    message = parse(trained, text)
    assert message.get(INTENT) == {"name": None, "confidence": 0.0}
    assert message.get(INTENT_RANKING_KEY) == []


def test_ranking_length_cuts_the_ranking(storage: LocalModelStorage) -> None:
    data = TrainingData([Message(data={TEXT: text, INTENT: intent})
                         for intent, texts in EXAMPLES.items() for text in texts])
    classifier = LinearIntentClassifier.create({"ranking_length": 2}, storage, Resource("cut"), context())
    classifier.train(data)
    assert len(parse(classifier, "你好").get(INTENT_RANKING_KEY)) == 2


def test_two_intents(storage: LocalModelStorage) -> None:
    data = TrainingData([Message(data={TEXT: text, INTENT: intent})
                         for intent in ("greet", "thanks") for text in EXAMPLES[intent]])
    classifier = LinearIntentClassifier.create({}, storage, Resource("two"), context())
    classifier.train(data)
    loaded = LinearIntentClassifier.load({}, storage, Resource("two"), context())
    ranking = parse(loaded, "谢谢").get(INTENT_RANKING_KEY)
    assert [r["name"] for r in ranking][0] == "thanks"
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)


def test_untrained_or_missing_model_gives_no_intent(storage: LocalModelStorage) -> None:
    classifier = LinearIntentClassifier.create({}, storage, Resource("none"), context())
    classifier.train(TrainingData([Message(data={TEXT: "你好", INTENT: "greet"})]))
    loaded = LinearIntentClassifier.load({}, storage, Resource("none"), context())
    assert parse(loaded, "你好").get(INTENT) == {"name": None, "confidence": 0.0}


def test_weights_are_kept_so_that_a_message_s_product_reads_them_in_place() -> None:
    """``features @ coef.T`` of a sparse row copies C-ordered weights whole for every message; the
    column-major weights give the same products without the copy (issue 14)."""
    import numpy as np
    import scipy.sparse as sp

    from nlu.linear_model_files import column_major

    rng = np.random.default_rng(7)
    coef = rng.random((5, 300)).astype(np.float32)
    features = sp.random(1, 300, density=0.05, format="csr", dtype=np.float32, random_state=7)
    kept = column_major(coef)
    assert kept.T.flags.c_contiguous and not coef.T.flags.c_contiguous
    assert np.array_equal(np.asarray(features @ kept.T), np.asarray(features @ coef.T))
