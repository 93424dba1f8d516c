"""The first NLU component: every later one reads the normalised text (``nlu.normalize``).

It runs on the training data and on every parsed message alike, so the models learn and
predict on the same spelling. It replaces the message's TEXT; Rasa then reports that text as
the parse's ``text`` (what actions read as ``latest_message["text"]``), and entity spans
refer to it. The resident's own words stay in the conversation's event (``UserUttered.text``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import INTENT_MESSAGE_PREFIX
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu import normalize
from nlu.normalize import normalise_for_nlu

logger = logging.getLogger(__name__)


# Registered as a tokenizer-stage component: Rasa runs those (and featurizers) on the training
# data before training the classifiers, and on each message in pipeline order. It is no
# Tokenizer subclass, so it does not count as the pipeline's one tokenizer.
@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class TextNormalizer(GraphComponent):
    """Replaces each message's text by :func:`nlu.normalize.normalise_for_nlu` of it."""

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext) -> TextNormalizer:
        return cls()

    @staticmethod
    def required_packages() -> List[str]:
        return ["opencc"]

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> str | None:
        """Rasa re-runs the training steps after this one when the rules or dictionary change.

        Rasa's cache only sees this class's source and config; the normalisation lives in
        ``nlu/normalize.py``, ``nlu/homophones.yml`` and OpenCC's version.
        """
        digest = hashlib.sha256()
        for path in (normalize.__file__, normalize.HOMOPHONES_PATH):
            with open(path, "rb") as handle:
                digest.update(handle.read())
        digest.update(importlib.metadata.version("opencc").encode())
        return digest.hexdigest()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            _normalise_message(message)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            _normalise_message(message)
        return messages


def _normalise_message(message: Message) -> None:
    text = message.get(TEXT)
    if not isinstance(text, str) or not text or text.startswith(INTENT_MESSAGE_PREFIX):
        return  # no text (an intent or action name only, from stories), or a button's /intent payload
    normalised = normalise_for_nlu(text)
    if normalised == text or not normalised:
        return  # nothing but emoji or stickers: left as sent, since models fail on empty text
    entities = message.get(ENTITIES)
    if entities:
        message.set(ENTITIES, _moved_entities(text, normalised, entities))
    message.set(TEXT, normalised)


def _moved_entities(text: str, normalised: str, entities: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Annotated entities of a training example, with spans found again in the normalised text.

    An entity whose words the normalisation changed beyond finding (rare: an annotated emoji or
    placeholder) is dropped with a warning rather than left pointing at the wrong characters.
    """
    moved, cursor = [], 0
    for entity in sorted(entities, key=lambda item: item.get(ENTITY_ATTRIBUTE_START, 0)):
        start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
        if not isinstance(start, int) or not isinstance(end, int):
            moved.append(entity)
            continue
        words = normalise_for_nlu(text[start:end])
        found = normalised.find(words, cursor) if words else -1
        if found < 0:
            logger.warning("Entity %r of %r is lost by normalisation; example kept without it.",
                           text[start:end], text)
            continue
        cursor = found + len(words)
        moved.append({**entity, ENTITY_ATTRIBUTE_START: found, ENTITY_ATTRIBUTE_END: cursor})
    return moved
