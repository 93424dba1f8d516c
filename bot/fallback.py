"""The answer every channel gives when the bot itself cannot: never leave a resident without 110/96110.

The text is the domain's ``utter_hotline_fallback`` response, so administrators edit it in
one place; the constant below is only used if ``domain.yml`` cannot be read at all.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)

DOMAIN_PATH = Path(__file__).resolve().parents[1] / "domain.yml"
LAST_RESORT = "系统暂时忙，请稍后再试。拿不准是不是诈骗，请打96110反诈专线；如果已经转了钱，立刻打110报警。"


@lru_cache(maxsize=1)
def hotline_fallback_text() -> str:
    """The domain's fallback text (it names 96110 and 110)."""
    try:
        domain = yaml.safe_load(DOMAIN_PATH.read_text(encoding="utf-8"))
        return domain["responses"]["utter_hotline_fallback"][0]["text"]
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        logger.exception("domain.yml unreadable; using the built-in fallback text")
        return LAST_RESORT
