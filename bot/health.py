"""A process's own view of what is broken, for ``/health`` and for an operator's monitoring.

A broken tracker store or an unreachable action server does not stop replies: residents
still get an answer (the safety net), but conversations forget turns. Such a state must
not be silent. Components report here; each change is logged once, at ERROR with the
stable marker ``FRAUDBOT_DEGRADED`` (monitoring alerts on it) and ``FRAUDBOT_RECOVERED``
when it clears, and ``/health`` answers ``degraded`` with the reasons.
"""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger("fraudbot.health")

_lock = threading.Lock()
_problems: dict[str, tuple[str, float]] = {}


def degraded(component: str, reason: str) -> None:
    """Record that ``component`` fails; logged when it starts failing or the reason changes."""
    with _lock:
        previous = _problems.get(component)
        _problems[component] = (reason, previous[1] if previous else time.time())
    if previous is None or previous[0] != reason:
        logger.error("FRAUDBOT_DEGRADED component=%s reason=%s", component, reason)


def recovered(component: str) -> None:
    """Record that ``component`` works again (a no-op when it was not degraded)."""
    with _lock:
        previous = _problems.pop(component, None)
    if previous is not None:
        logger.warning("FRAUDBOT_RECOVERED component=%s after=%.0fs", component, time.time() - previous[1])


def status() -> dict[str, object]:
    """``{"status": "ok"}`` or ``{"status": "degraded", "problems": {component: reason}}``."""
    with _lock:
        problems = {name: reason for name, (reason, _) in _problems.items()}
    return {"status": "degraded", "problems": problems} if problems else {"status": "ok"}
