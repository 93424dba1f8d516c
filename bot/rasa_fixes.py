"""Fixes to Rasa 3.6 itself, installed by every process that runs the dialogue (``bot.rasa_server``,
``bot.dialogue``), each measured and each keeping Rasa's behaviour.

``RemoteAction._validate_action_result`` checks every action server response with
``jsonschema.validate``, which with jsonschema 4.17 first validates the *schema* against its
metaschema on every call: about 30 ms of pure Python per action call, most of a message's
time (a cProfile of ``fraudbot check``: 1.19 s of 1.7 s over 40 messages). The schema is a
constant, so it is checked once and one compiled validator is reused: the same responses are
accepted, the same ``ValidationError`` with the same hint is raised for the others.

``EndpointConfig.request`` opens a new aiohttp ``ClientSession`` (and connection) for every call
to the action server and for every response rendered by the NLG endpoint. One session per event
loop (and per set of headers and credentials) is kept open and reused instead; each request still
carries its own URL, parameters and timeout. Measured with ``bench/vs_stock.py`` (two runs, a
busier machine): sequential p99 1.23 and 1.15 × the stock bot's, 16-sender throughput 0.98 and 1.01 ×,
against 1.56 and 0.86 with the validation fix alone.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

_installed = False


@lru_cache(maxsize=1)
def _action_result_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, as jsonschema.validate would on every call
    return cls(schema)


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    from jsonschema import ValidationError
    from rasa.shared.constants import DOCS_BASE_URL

    try:
        _action_result_validator().validate(result)
        return True
    except ValidationError as error:
        error.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error


class _KeptSession:
    """``async with endpoint.session()`` that hands out the endpoint's one open session and keeps it open."""

    def __init__(self, session: Any) -> None:
        self._session = session

    async def __aenter__(self) -> Any:
        return self._session

    async def __aexit__(self, *exc: Any) -> None:
        return None


_sessions: dict[tuple[Any, ...], Any] = {}


def _kept_session(self: Any) -> _KeptSession:
    """The open session for this event loop and this endpoint's headers and credentials (what a
    session carries; the URL goes with each request)."""
    import asyncio

    key = (id(asyncio.get_running_loop()), tuple(sorted((self.headers or {}).items())), repr(self.basic_auth))
    session = _sessions.get(key)
    if session is None or session.closed:
        session = _sessions[key] = _new_session(self)
    return _KeptSession(session)


_new_session: Any = None


def install() -> None:
    """Put the fixes in place (idempotent)."""
    global _installed, _new_session
    if _installed:
        return
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    RemoteAction._validate_action_result = _validate_action_result
    _new_session = EndpointConfig.session
    EndpointConfig.session = _kept_session
    _installed = True
