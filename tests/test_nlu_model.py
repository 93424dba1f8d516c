"""The trained model on the held-out split (never trained on) and on single messages."""

import asyncio
from pathlib import Path

import pytest

from bot.evaluation import read_labelled, score
from bot.nlu_client import Classifier

HOLDOUT = Path(__file__).parent / "data" / "nlu_holdout.yml"


@pytest.fixture(scope="module")
def classifier(trained_model: Path) -> Classifier:
    return asyncio.run(Classifier.load(trained_model))


def classify(classifier: Classifier, text: str) -> dict:
    return asyncio.run(classifier.classify(text))


def test_holdout_scenarios_macro_f1(classifier: Classifier) -> None:
    rows = read_labelled(HOLDOUT)
    assert len(rows) > 400
    predicted = asyncio.run(_predict_all(classifier, [text for text, _ in rows]))
    scores = score([label for _, label in rows], predicted)
    print(scores.report())
    assert scores.macro_f1 >= 0.90
    assert scores.scam_recall >= 0.95


async def _predict_all(classifier: Classifier, texts: list[str]) -> list[str]:
    return [(await classifier.classify(text))["scenario"] for text in texts]


def test_parse_carries_scenario_signals_and_entities(classifier: Classifier) -> None:
    result = classify(classifier, "刚才有人自称公安局说我涉嫌洗钱，让我转到安全账户，是真的吗")
    assert result["scenario"] == "impersonate_police"
    assert 0.0 < result["confidence"] <= 1.0
    assert "safe_account" in result["signals"]
    assert result["risk"] == "high"


def test_money_sent_message(classifier: Classifier) -> None:
    result = classify(classifier, "我刚用工商银行给对方转了3万，怎么办")
    assert result["risk"] == "high"
    assert {"entity": "bank", "value": "工商银行"} in [
        {"entity": e["entity"], "value": e["value"]} for e in result["entities"]]
    assert {"entity": "money", "value": "30000"} in [
        {"entity": e["entity"], "value": e["value"]} for e in result["entities"]]


@pytest.mark.parametrize("text,scenario", [
    ("有人出500块一个月租我的银行卡，说只是走个流水", "card_trafficking"),
    ("【ETC服务】您的ETC认证已过期，请点击 http://etc-rz.top 重新认证，否则将停用", "phishing_link"),
    ("做兼职给商品点赞，前两单返了佣金，现在让我垫付3000才能提现", "task_rebate"),
    ("你好", "none"),
    ("【菜鸟驿站】您的快递已到小区驿站，取件码3-2-1106，请及时领取", "none"),
])
def test_typical_messages(classifier: Classifier, text: str, scenario: str) -> None:
    assert classify(classifier, text)["scenario"] == scenario


def test_holdout_intents(classifier: Classifier) -> None:
    """The conversation intent (what the resident wants) on the held-out split."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    examples = RasaYAMLReader().read(HOLDOUT).intent_examples
    predicted = asyncio.run(_intents(classifier, [m.get("text") for m in examples]))
    truth = [m.get("intent") for m in examples]
    accuracy = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
    print(f"intent accuracy {accuracy:.3f} on {len(truth)}")
    assert accuracy >= 0.90


async def _intents(classifier: Classifier, texts: list[str]) -> list[str]:
    return [(await classifier.parse(text))["intent"]["name"] for text in texts]
