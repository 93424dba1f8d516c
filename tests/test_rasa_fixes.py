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


def test_endpoint_calls_share_one_open_session_per_event_loop() -> None:
    """Rasa's action and NLG calls still reach the server and get its answers, through one kept session."""
    import asyncio

    from rasa.utils.endpoints import EndpointConfig

    from tests.fakes import LoopbackJsonServer

    class Echo(LoopbackJsonServer):
        calls: list[str] = []

        def respond(self, path: str, query: str, content_type: str, body: str) -> tuple[int, dict]:
            self.calls.append(path)
            return 200, {"path": path, "body": body}

    server = Echo().start()
    rasa_fixes.install()
    endpoint = EndpointConfig(f"{server.address}/webhook")

    async def twice() -> tuple[list, list]:
        answers = [await endpoint.request(json={"n": n}, method="post", timeout=5) for n in (1, 2)]
        async with endpoint.session() as first, EndpointConfig(f"{server.address}/nlg").session() as second:
            return answers, [first, second]

    try:
        answers, sessions = asyncio.run(twice())
        again, later = asyncio.run(twice())  # a new event loop gets a session of its own
    finally:
        server.stop()
    assert [a["path"] for a in answers + again] == ["/webhook"] * 4 and answers[1]["body"] == '{"n": 2}'
    assert sessions[0] is sessions[1] and not sessions[0].closed  # one kept session for the loop
    assert later[0] is not sessions[0]


def test_the_domain_goes_only_to_the_forms_validation_actions(tmp_path) -> None:
    """With the project's endpoints (``bot.processes.action_endpoints``) Rasa sends the domain
    only to the forms' ``validate_*`` actions: every other action call is ~19 KB lighter."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import read_endpoint_config

    from bot.processes import PROJECT_ROOT, action_endpoints

    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(action_endpoints("http://127.0.0.1:9"), encoding="utf-8")
    endpoint = read_endpoint_config(str(endpoints), "action_endpoint")
    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    tracker = DialogueStateTracker("someone", domain.slots)
    calls = {name: RemoteAction(name, endpoint)._action_call_format(tracker, domain)
             for name in ("action_assess", "validate_call_check_form")}
    assert "domain" not in calls["action_assess"] and calls["action_assess"]["tracker"]["sender_id"] == "someone"
    assert calls["validate_call_check_form"]["domain"]["forms"]  # the form's slots reach its validation
    assert "action_assess" in domain.user_actions and "validate_call_check_form" in domain.user_actions
