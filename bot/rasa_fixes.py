"""Fixes to Rasa 3.6 itself, installed by every process that runs the dialogue (``bot.rasa_server``,
``bot.dialogue``), each measured and each keeping Rasa's behaviour.

``RemoteAction._validate_action_result`` checks every action server response with
``jsonschema.validate``, which with jsonschema 4.17 first validates the *schema* against its
metaschema on every call: about 30 ms of pure Python per action call, most of a message's
time (a cProfile of ``fraudbot check``: 1.19 s of 1.7 s over 40 messages). The schema is a
constant, so it is checked once and one compiled validator is reused: the same responses are
accepted, the same ``ValidationError`` with the same hint is raised for the others.
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


def install() -> None:
    """Put the fixes in place (idempotent)."""
    global _installed
    if _installed:
        return
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = _validate_action_result
    _installed = True
