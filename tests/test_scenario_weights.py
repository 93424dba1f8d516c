"""How the scenario classifier weighs its training examples (nlu/components.py)."""

from __future__ import annotations

import numpy as np

from nlu.components import ScenarioClassifier, _fit_model, _held_out_scores, _weights


def test_none_weighs_none_weight_times_one_scenario_whatever_the_counts() -> None:
    """Balanced, `none` (most of the examples) would weigh as much as ONE scam scenario: a prior for "some scam"
    that a genuine look-alike's topic tips. ``none_weight`` sets how many scenarios' worth it weighs."""
    labels = ["none"] * 60 + ["romance"] * 10 + ["gambling"] * 30
    for none_weight in (1.0, 2.0):
        weights = _weights({"none_weight": none_weight}, labels)
        total = {label: weights[[i for i, x in enumerate(labels) if x == label]].sum() for label in set(labels)}
        assert np.isclose(total["romance"], total["gambling"])
        assert np.isclose(total["none"], none_weight * total["romance"])


def test_a_heavier_none_lowers_the_scam_probability_of_an_unseen_topic_word() -> None:
    texts = (["今天天气不错", "谢谢你", "我去超市买菜", "孩子放学了", "晚上吃饺子", "明天开会"] * 3
             + ["网恋对象让我转钱", "网友让我投资", "交友软件的人要我充值"] * 2
             + ["刷单返利先垫付", "做任务先垫钱返佣金", "点赞任务要先交钱"] * 2)
    labels = ["none"] * 18 + ["romance"] * 6 + ["task_rebate"] * 6
    probabilities = []
    for none_weight in (1.0, 4.0):
        component = ScenarioClassifier({"none_weight": none_weight, "calibration_folds": 3}, None, None)  # type: ignore[arg-type]
        component._vectorizer, component._classifier = _fit_model(component._config, texts, labels)
        ranking = component.predict("网友说周末一起去超市")
        probabilities.append(1.0 - next(r["confidence"] for r in ranking if r["name"] == "none"))
    assert probabilities[1] < probabilities[0]


def test_fitting_side_by_side_gives_the_model_and_calibration_of_one_after_another() -> None:
    """``make train`` fits the calibration folds and the final model in worker processes; the result must be
    the one the sequential fits give."""
    texts = ([f"今天{w}不错" for w in "天气心情饭菜电影风景"] * 2
             + [f"网友让我{w}" for w in ("转钱", "投资", "充值", "交定金", "下载软件")] * 2)
    labels = ["none"] * 20 + ["romance"] * 10
    component = ScenarioClassifier({"calibration_folds": 3}, None, None)  # type: ignore[arg-type]
    calibration, (vectorizer, classifier) = component._fit_all(texts, labels)
    assert calibration is not None
    folds = component._calibration_folds(texts, labels)
    scores = [_held_out_scores(component._config, [texts[i] for i in train], [labels[i] for i in train],
                               [texts[i] for i in held]) for train, held in folds]
    sequential = component._calibrate(folds, scores, labels)
    assert sequential is not None
    assert np.allclose(calibration[0], sequential[0]) and np.allclose(calibration[1], sequential[1])
    alone_vectorizer, alone = _fit_model(component._config, texts, labels)
    probe = ["网友让我先交钱", "今天饭菜不错"]
    assert np.allclose(classifier.predict_proba(vectorizer.transform(probe)),
                       alone.predict_proba(alone_vectorizer.transform(probe)))
