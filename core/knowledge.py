"""Loads the files administrators edit: scenarios, report lines, regions, money words, responses.

They are read from the content root (``FRAUDBOT_CONTENT_DIR``, default: this repository),
so the admin's candidate copy can run beside the live one. Each file is re-read when it
changes on disk: an edit put live by the admin takes effect at the next reply, without
restarting the action server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
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


def content_root() -> Path:
    """Where the editable files live: the repository, or the admin's candidate copy."""
    return Path(os.environ.get("FRAUDBOT_CONTENT_DIR") or PROJECT_ROOT)


def data_dir() -> Path:
    return content_root() / "core" / "data"


_loaded: dict[Path, tuple[tuple[int, int], Any]] = {}


def fresh_yaml(path: Path) -> Any:
    """The parsed file, parsed again only when its modification time or size changed."""
    stat = path.stat()
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _loaded.get(path)
    if cached is None or cached[0] != key:
        cached = (key, yaml.safe_load(path.read_text(encoding="utf-8")))
        _loaded[path] = cached
    return cached[1]


def _read(name: str) -> Any:
    return fresh_yaml(data_dir() / name)


def domain_responses() -> dict[str, list[dict[str, Any]]]:
    """The responses of the live domain (``domain.yml`` under the content root)."""
    return (fresh_yaml(content_root() / "domain.yml") or {}).get("responses") or {}


def scenarios() -> dict[str, ScenarioInfo]:
    return {
        sid: ScenarioInfo(sid, spec["name"], spec["situation"], spec.get("truth") or "",
                          tuple(spec.get("advice") or ()), bool(spec.get("ask_on_call")),
                          spec.get("stop") or DEFAULT_STOP, frozenset(spec.get("covers") or ()))
        for sid, spec in _read("scenarios.yml").items()
    }


def report_lines() -> dict[str, Any]:
    return _read("report_lines.yml")


def money_sent_patterns() -> list[str]:
    """Regular expressions for words that say money has left the resident (``data/money_sent.yml``)."""
    return list((_read("money_sent.yml") or {}).get("patterns") or [])


def money_direction_patterns(kind: str) -> list[str]:
    """Regular expressions of ``data/money_sent.yml``: ``incoming`` (money that came to the resident),
    ``sender`` (the resident as the one who sent it), ``others`` (a victim in a retold story), ``market``
    (a market loss in the resident's own account) or ``own_bill`` (a bill paid through the official channel)."""
    return list((_read("money_sent.yml") or {}).get(kind) or [])


def loss_confirmations() -> list[str]:
    """Regular expressions for a loss the resident confirms (把我删了, 人没了): ``data/money_sent.yml``."""
    return list((_read("money_sent.yml") or {}).get("confirmations") or [])


def regions() -> dict[str, Any]:
    return _read("regions.yml") or {}


def region_key() -> str:
    """The deployment's region (``FRAUDBOT_REGION``), ``national`` when unset or unknown."""
    key = os.environ.get("FRAUDBOT_REGION", "national")
    return key if key in regions() else "national"


def reload() -> None:
    """Forget every parsed file (the next read parses again, changed or not)."""
    _loaded.clear()
