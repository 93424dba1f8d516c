"""Loads the trained Rasa model in-process and turns a parse into a verdict.

The command line uses this to give exactly what the bot gives: the same model file, the
same NLU components, the same verdict functions.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from bot.inbound import clean_text
from bot.known import lookups_for
from core.verdict import NONE, Case, assessment, readable, reported_scenario, says_money_sent

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = PROJECT_ROOT / "models" / "fraudbot.tar.gz"


def quiet_logs() -> None:
    """Warnings only, on stderr: Rasa's structured logs would otherwise print every text to stdout."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for name in ("rasa", "tensorflow", "jieba", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)


class Classifier:
    """A loaded Rasa model that classifies texts (``await Classifier.load()``)."""

    def __init__(self, agent: Any) -> None:
        self._agent = agent

    @classmethod
    async def load(cls, model: Path = DEFAULT_MODEL) -> Classifier:
        os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
        from rasa.core.agent import Agent

        model = Path(model).resolve()
        if not model.exists():
            raise FileNotFoundError(f"no trained model at {model}: run `make train` first")
        # config.yml names the spaCy pipeline by a path relative to the project root.
        os.chdir(PROJECT_ROOT)
        return cls(Agent.load(str(model)))

    async def parse(self, text: str) -> dict[str, Any]:
        """Rasa's parse of ``text``: intent, entities, scenario, signals.

        The text passes the same door as every channel's (``bot.inbound.clean_text``): normalised
        and cut to 2,000 characters, so ``fraudbot classify`` is bounded like the bot.
        """
        return await self._agent.parse_message(clean_text(text).text)

    async def classify(self, text: str) -> dict[str, Any]:
        """The stable classification contract: scenario, confidence, risk, signals, entities,
        plus the evidence ids that decided the risk, the calibrated scam probability, and the
        scenario the message resembles (``scenario`` is ``none`` when the evidence shows a genuine
        situation, see :func:`core.verdict.reported_scenario`; ``confidence`` is the resemblance's)."""
        parse = await self.parse(text)
        case = case_from_parse(parse)
        found = assessment(case)
        return {
            "scenario": reported_scenario(case, found),
            "confidence": round(case.confidence, 4),
            "risk": found.risk,
            "signals": case.signals,
            "entities": [
                {"entity": e["entity"], "value": e.get("value"), "start": e.get("start"),
                 "end": e.get("end")}
                for e in case.entities
            ],
            "evidence": found.decided_by,
            "scam_probability": round(case.p_scam, 4),
            "resembles": case.scenario,
            "known": ({key: case.known[key] for key in ("id", "similarity", "source")} if case.known else None),
            "indicators": [{"kind": i["kind"], "value": i["value"], "state": i["state"]} for i in case.indicators],
        }


def case_from_parse(parse: dict[str, Any]) -> Case:
    """A :class:`Case` from one parsed message, with no conversation around it."""
    scenario = parse.get("scenario") or {}
    entities = list(parse.get("entities") or [])
    text = parse.get("text") or ""
    probability = parse.get("scam_probability")
    known, stored = lookups_for(text, entities)
    ranking = parse.get("scenario_ranking") or ()
    return Case(
        text=text,
        scenario=scenario.get("name", "none"),
        confidence=float(scenario.get("confidence") or 0.0),
        signals=list(parse.get("signals") or []),
        entities=entities,
        money_sent=says_money_sent(parse.get("intent"), text, parse.get("intent_ranking") or (), entities),
        bank=next((str(e["value"]) for e in entities if e.get("entity") in ("bank", "platform")), None),
        unreadable=not readable(text, entities),
        scam_probability=float(probability) if isinstance(probability, (int, float)) else None,
        nearest_scam=next((str(r["name"]) for r in ranking if r.get("name") not in (None, NONE)), None),
        known=known,
        indicators=stored,
    )
