"""Loads the data files administrators edit: scenarios, report lines, regions, signals.

One loader per file, cached; ``reload()`` drops the caches so an edited file takes effect
without restarting the action server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).with_name("data")
DEFAULT_STOP = "请先停下，不要转账。"


@dataclass(frozen=True)
class ReportLine:
    """A number (or app) a resident can call, with when to use it."""

    number: str
    name: str
    use: str

    def render(self) -> str:
        label = self.number if self.number == self.name else f"{self.number} {self.name}"
        return f"{label}：{self.use}" if self.use else label


@dataclass(frozen=True)
class ScenarioInfo:
    """What the bot says about one scenario (``data/scenarios.yml``)."""

    id: str
    name: str
    situation: str
    truth: str
    advice: tuple[str, ...]
    ask_on_call: bool
    stop: str
    covers: frozenset[str]


def _read(name: str) -> Any:
    return yaml.safe_load((DATA_DIR / name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def scenarios() -> dict[str, ScenarioInfo]:
    return {
        sid: ScenarioInfo(sid, spec["name"], spec["situation"], spec.get("truth") or "",
                          tuple(spec.get("advice") or ()), bool(spec.get("ask_on_call")),
                          spec.get("stop") or DEFAULT_STOP, frozenset(spec.get("covers") or ()))
        for sid, spec in _read("scenarios.yml").items()
    }


@lru_cache(maxsize=1)
def report_lines() -> dict[str, Any]:
    return _read("report_lines.yml")


@lru_cache(maxsize=1)
def regions() -> dict[str, Any]:
    return _read("regions.yml") or {}


def region_key() -> str:
    """The deployment's region (``FRAUDBOT_REGION``), ``national`` when unset or unknown."""
    key = os.environ.get("FRAUDBOT_REGION", "national")
    return key if key in regions() else "national"


def reload() -> None:
    """Forget cached data so the next reply reads the edited files."""
    for loader in (scenarios, report_lines, regions):
        loader.cache_clear()
