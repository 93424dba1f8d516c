"""The conversation intent (consult, money_already_sent, inform, greet…) by a linear model.

Character n-gram TF-IDF with multinomial logistic regression, like the scenario classifier in
``nlu/components.py``: for a dozen intents it scores as well as DIET on the held-out split and
trains in seconds instead of minutes, without TensorFlow. Features and ``C`` were chosen by
5-fold cross-validation on the training data only; ``bench/nlu_models.py --intents`` compares
it with DIET on the held-out split.

It sets Rasa's ``intent`` and ``intent_ranking`` as DIET does (``{"name", "confidence"}``, the
ranking most likely first, confidences summing to 1), so ``FallbackClassifier`` and the rules
work unchanged. Button payloads (``/inform{"bank": "工商银行"}``) need nothing here: Rasa's
``RegexMessageHandler`` runs after the whole NLU pipeline and replaces the prediction for them.
A message with no text gets no intent (``None``, confidence 0), as DIET gives a message without
features, so ``FallbackClassifier`` turns it into ``nlu_fallback``.

The model is stored as plain arrays and JSON, never pickled.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from nlu.linear_model_files import LinearModelFiles, column_major

logger = logging.getLogger(__name__)

CONFIDENCE = "confidence"
NO_INTENT = {INTENT_NAME_KEY: None, CONFIDENCE: 0.0}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Predicts the intent from character n-grams of the text with logistic regression.

    An ``IntentClassifier``, so that Rasa accepts ``FallbackClassifier`` after it.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        # 5-fold cross-validation on nlu/data only (bench/nlu_models.py --intents --cv), 3,921
        # examples: character 1-2-grams, C=20 had the best accuracy (0.957) and money_already_sent
        # F1 (0.93); 1-1-grams a higher macro-F1 (0.778 vs 0.761, the small intents) but
        # money_already_sent 0.88, and 1-3-grams were lower on both. Balanced class weights:
        # without them the small intents are lost to `consult` (macro-F1 0.64 on 2,478 examples).
        # ranking_length 0 keeps every intent, so the ranking's confidences sum to 1.
        return {"ngram_min": 1, "ngram_max": 2, "C": 20.0, "class_weight": "balanced",
                "ranking_length": 0}

    def __init__(self, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 vectorizer: TfidfVectorizer | None = None, classes: List[str] | None = None,
                 coef: np.ndarray | None = None, intercept: np.ndarray | None = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._vectorizer = vectorizer
        self._classes = classes or []
        self._coef = coef
        self._intercept = intercept

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext) -> LinearIntentClassifier:
        return cls(config, model_storage, resource)

    def _new_vectorizer(self) -> TfidfVectorizer:
        return TfidfVectorizer(analyzer="char",
                               ngram_range=(self._config["ngram_min"], self._config["ngram_max"]),
                               sublinear_tf=True, lowercase=True, dtype=np.float32)

    def _fitted_vectorizer(self, vocabulary: Dict[str, int], idf: np.ndarray) -> TfidfVectorizer:
        vectorizer = self._new_vectorizer()
        vectorizer.vocabulary_ = {term: int(index) for term, index in vocabulary.items()}
        vectorizer.idf_ = np.asarray(idf, dtype=np.float32)
        return vectorizer

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if (m.get(TEXT) or "").strip()]
        texts = [m.get(TEXT) for m in examples]
        labels = [m.get(INTENT) for m in examples]
        if len(set(labels)) < 2:
            logger.warning("LinearIntentClassifier needs at least two intents; not trained.")
            return self._resource
        vectorizer = self._new_vectorizer()
        features = vectorizer.fit_transform(texts)
        model = LogisticRegression(C=self._config["C"], max_iter=3000,
                                   class_weight=self._config["class_weight"])
        model.fit(features, labels)
        # Rebuilt exactly as load() does, so that predictions before and after loading are equal.
        self._vectorizer = self._fitted_vectorizer(vectorizer.vocabulary_, vectorizer.idf_)
        self._classes = [str(c) for c in model.classes_]
        self._coef = column_major(model.coef_.astype(np.float32))
        self._intercept = model.intercept_.astype(np.float32)
        self.persist()
        return self._resource

    def rank(self, text: str) -> List[Dict[str, Any]]:
        """Every intent for ``text`` with its probability, most likely first; [] for no text."""
        if self._vectorizer is None or not text.strip():
            return []
        scores = np.asarray(self._vectorizer.transform([text]) @ self._coef.T)[0] + self._intercept
        if len(self._classes) == 2:
            # sklearn's binary model has one row of weights: the score of the second class.
            positive = 1.0 / (1.0 + np.exp(-float(scores[0])))
            probabilities = np.array([1.0 - positive, positive])
        else:
            exp = np.exp(scores - scores.max())
            probabilities = exp / exp.sum()
        order = np.argsort(-probabilities, kind="stable")
        return [{INTENT_NAME_KEY: self._classes[i], CONFIDENCE: float(probabilities[i])}
                for i in order]

    def process(self, messages: List[Message]) -> List[Message]:
        length = self._config["ranking_length"]
        for message in messages:
            ranking = self.rank(message.get(TEXT) or "")
            message.set(INTENT, dict(ranking[0]) if ranking else dict(NO_INTENT), add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking[:length] if length else ranking,
                        add_to_output=True)
        return messages

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            LinearModelFiles(self._vectorizer.vocabulary_, self._vectorizer.idf_, self._classes, self._coef,
                             self._intercept).write(directory)

    @classmethod
    def load(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> LinearIntentClassifier:
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as directory:
                files = LinearModelFiles.read(directory)
        except (ValueError, FileNotFoundError):
            logger.warning("No trained LinearIntentClassifier found; no message will get an intent.")
            return component
        return cls(config, model_storage, resource, component._fitted_vectorizer(files.vocabulary, files.idf),
                   files.classes, files.coef, files.intercept)
