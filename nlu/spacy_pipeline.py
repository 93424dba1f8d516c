"""The spaCy pipeline that Rasa's ``SpacyNLP`` loads: blank Chinese with jieba, plus entity rules.

spaCy's Chinese model packages cannot be downloaded here, so the pipeline is built from
``spacy.blank("zh")`` in code and saved to disk (Rasa refuses an in-memory pipeline).
Rasa fingerprints the pipeline by its path only, so the version is part of the folder name:
bump ``PIPELINE_VERSION`` when the pipeline's structure changes. The entity rules themselves
are read from ``nlu/lexicon.yml`` and :mod:`nlu.entities` when the pipeline loads, so editing
the lexicon needs no rebuild.

Run ``python -m nlu.spacy_pipeline`` to (re)build it; ``make train`` does.
"""

import sys
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from nlu.entities import find_entities

PIPELINE_VERSION = 1
PIPELINE_DIR = Path(__file__).parent / "spacy" / f"zh_fraudbot_v{PIPELINE_VERSION}"
COMPONENT = "fraudbot_entities"


class EntityRules:
    """Sets ``doc.ents`` from the rules of :mod:`nlu.entities`; the normalised value goes to ``kb_id``.

    The rules run on the text, not on tokens, because jieba splits URLs and spaced card
    numbers into many tokens; spans are then widened to the nearest token boundaries.
    """

    def __call__(self, doc: Doc) -> Doc:
        spans = []
        for found in find_entities(doc.text):
            span = doc.char_span(found.start, found.end, label=found.label,
                                 kb_id=found.value, alignment_mode="expand")
            if span is not None:
                spans.append(span)
        doc.set_ents(spacy.util.filter_spans(spans))
        return doc


@Language.factory(COMPONENT)
def create_entity_rules(nlp: Language, name: str) -> EntityRules:
    """spaCy factory for :class:`EntityRules` (also registered as an entry point).

    No ``from __future__ import annotations`` in this module: spaCy validates factory
    arguments from their real annotations.
    """
    return EntityRules()


def build(path: Path = PIPELINE_DIR) -> Path:
    """Build the blank Chinese pipeline with jieba segmentation and save it to ``path``."""
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    nlp.add_pipe(COMPONENT)
    path.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(path)
    return path


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else PIPELINE_DIR))
