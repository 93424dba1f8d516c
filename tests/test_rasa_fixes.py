"""The fixes of bot/rasa_fixes.py keep Rasa's behaviour: the action result check accepts and
refuses exactly what ``jsonschema.validate`` with Rasa's schema does."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from bot import rasa_fixes

GOOD = [
    {"events": [{"event": "slot", "name": "money_sent", "value": True}], "responses": [{"text": "好的"}]},
    {"events": [], "responses": []},
    {},
]
BAD = [
    {"events": "not a list"},
    {"events": [{"event": "slot", "name": 3}]},
    {"responses": "不是列表"},
    {"events": [{"no_event_key": 1}]},
]


@pytest.mark.parametrize("result", GOOD + BAD)
def test_the_check_agrees_with_jsonschema_validate(result: dict) -> None:
    schema = RemoteAction.action_response_format_spec()
    try:
        jsonschema.validate(result, schema)
        expected = True
    except jsonschema.ValidationError:
        expected = False
    rasa_fixes.install()
    action = RemoteAction("action_assess", None)
    if expected:
        assert action._validate_action_result(result) is True
    else:
        with pytest.raises(jsonschema.ValidationError) as refused:
            action._validate_action_result(result)
        assert "Failed to validate Action server response" in refused.value.message
    assert (result in GOOD) == expected  # the cases mean what they say
