"""The fixes of bot/rasa_fixes.py keep Rasa's behaviour: each one is held to the Rasa function it replaces
(``rasa_fixes.ORIGINALS``), or to what that function computes (``jsonschema.validate``, ``dask.get``)."""

from __future__ import annotations

import asyncio
import csv
import itertools
from pathlib import Path
from typing import Any, Callable, Iterator

import jsonschema
import pytest
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core import events as ev
from rasa.shared.exceptions import RasaException

from bot import rasa_fixes
from bot.rasa_fixes import ActionResultCheck, split_event_branches

SCHEMA = RemoteAction.action_response_format_spec()


@pytest.fixture(autouse=True, scope="module")
def installed() -> None:
    """The fixes in place, as every process that runs the dialogue has them (Rasa's own in ``ORIGINALS``)."""
    rasa_fixes.install()

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
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot", "name": "risk", "value": "high"}, {"event": "slot", "value": "high"}]},
    {"events": [{"event": "bot", "timestamp": "yesterday"}]},
    {"events": [{"event": 3}]},
    [],
    "text",
]


def every_event() -> list[dict[str, Any]]:
    """One event of each kind the action response schema knows, as an action server sends it."""
    parse = {"text": "我转了3万", "intent": {"name": "money_already_sent", "confidence": 0.98},
             "entities": [{"entity": "money", "value": "30000", "start": 3, "end": 5, "extractor": "x"}],
             "intent_ranking": [{"name": "money_already_sent", "confidence": 0.98}]}
    events = [
        ev.UserUttered("我转了3万", parse["intent"], parse["entities"], parse, input_channel="rest"),
        ev.BotUttered("请马上打110", {"buttons": [{"title": "有用", "payload": "/feedback_useful"}]}),
        ev.SlotSet("risk", "high"), ev.ActionExecuted("action_assess", policy="RulePolicy", confidence=1.0),
        ev.SessionStarted(), ev.ActiveLoop("call_check_form"), ev.FollowupAction("action_listen"), ev.Restarted(),
        ev.AllSlotsReset(), ev.ReminderScheduled("EXTERNAL_reminder", ev.datetime.now()),
        ev.ReminderCancelled(name="r1"), ev.ActionReverted(), ev.UserUtteranceReverted(), ev.ConversationPaused(),
        ev.ConversationResumed(), ev.StoryExported("story.yml"), ev.ActionExecutionRejected("action_assess"),
        ev.LoopInterrupted(True), ev.AgentUttered("hi"), ev.EntitiesAdded([{"entity": "bank", "value": "工商银行"}]),
        ev.DefinePrevUserUtteredFeaturization(False),
    ]
    return [event.as_dict() for event in events] + [{"event": "form", "name": "call_check_form"},
                                                     {"event": "form_validation", "validate": True}]


def mutated(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``event`` with each field removed or given a value of each JSON type, and renamed to other events."""
    for key in event:
        yield {k: v for k, v in event.items() if k != key}
        for value in (None, 1, 1.5, "x", True, [], [1], {}, {"a": 1}):
            yield {**event, key: value}
    for name in ("slot", "bot", "user", "action", "no_such_event"):
        yield {**event, "event": name}


def outcome(check: Callable[[Any], Any], result: Any) -> Any:
    """True, or what the refusal says and where."""
    try:
        check(result)
        return True
    except jsonschema.ValidationError as error:
        return error.message, list(error.path), error.validator


def jsonschema_validate(result: Any) -> None:
    """``jsonschema.validate(result, SCHEMA)``, minus its check of the (constant) schema on every call."""
    error = best_match(validator_for(SCHEMA)(SCHEMA).iter_errors(result))
    if error is not None:
        raise error


@pytest.mark.parametrize("result", GOOD + BAD + ["every event"])
def test_the_check_agrees_with_rasas_own(result: Any) -> None:
    if result == "every event":
        result = {"events": every_event(), "responses": [{"text": "好的", "buttons": []}]}
    action = RemoteAction("action_assess", None)
    expected = outcome(lambda r: rasa_fixes.ORIGINALS["validate_action_result"](action, r), result)
    assert outcome(action._validate_action_result, result) == expected
    assert (expected is True) == (result not in BAD)  # the cases mean what they say
    if expected is not True:
        assert "Failed to validate Action server response" in expected[0]


def test_every_event_kind_is_accepted_the_short_way() -> None:
    """The speed-up applies to every event an action may send (otherwise the full check runs, slowly)."""
    check = ActionResultCheck(SCHEMA)
    events = every_event()
    assert {e["event"] for e in events} == {b["properties"]["event"]["const"]
                                            for b in SCHEMA["properties"]["events"]["items"]["oneOf"]}
    assert all(check.surely_valid({"events": [event], "responses": []}) for event in events)
    assert check.surely_valid({"events": events, "responses": [{"text": "好的"}]})


def test_the_check_agrees_with_jsonschema_on_every_mutated_event() -> None:
    check = ActionResultCheck(SCHEMA)
    results = [{"events": [event]} for event in itertools.chain.from_iterable(map(mutated, every_event()))]
    results += [{"events": [event], "responses": responses} for event in every_event()[:3]
                for responses in ([], [{}], [1], "x", None, [{"text": 1}])]
    outcomes = [(outcome(check.validate, result), outcome(jsonschema_validate, result)) for result in results]
    assert all(mine == expected for mine, expected in outcomes)
    accepted = sum(mine is True for mine, _ in outcomes)
    assert 100 < accepted < len(outcomes) - 100  # both answers are exercised, many times


def test_a_schema_of_another_shape_gets_the_full_check() -> None:
    """References, or two branches for one event (where a "slot" event would match both: not ``oneOf``)."""
    with_reference = {**SCHEMA, "$defs": {"x": {"type": "string"}},
                      "properties": {**SCHEMA["properties"], "extra": {"$ref": "#/$defs/x"}}}
    twice = {"type": "object", "properties": {"events": {"type": "array", "items": {"oneOf": [
        {"properties": {"event": {"const": "slot"}}}, {"properties": {"event": {"const": "slot"}}}]}}}}
    for schema in (with_reference, twice):
        assert split_event_branches(schema) is None
        check = ActionResultCheck(schema)
        assert not check.surely_valid({"events": []})
        check.validate({"events": []})
        with pytest.raises(jsonschema.ValidationError):
            check.validate({"events": [{"event": "slot"}]} if schema is twice else {"extra": 1})


@pytest.mark.parametrize("content", [None, "", {"text": "您好"}, {"text": 3}, {"buttons": "no"}, {"custom": []},
                                     {"text": "x", "image": None, "buttons": [{"title": "是"}]}, {"elements": [1]},
                                     {"attachment": "x"}, {"id": 5}, [], "text"])
def test_the_nlg_response_check_agrees_with_rasas_own(content: Any) -> None:
    from rasa.core.nlg.callback import CallbackNaturalLanguageGenerator

    def answer(check: Callable[[Any], bool]) -> Any:
        try:
            return check(content)
        except RasaException as refused:
            return str(refused)

    expected = answer(rasa_fixes.ORIGINALS["validate_nlg_response"])
    assert answer(CallbackNaturalLanguageGenerator.validate_response) == expected
    assert (expected is True) == (content in (None, "", {"text": "您好"})
                                  or content == {"text": "x", "image": None, "buttons": [{"title": "是"}]})


class FakeRunner:
    """What ``DaskGraphRunner.run`` reads of its runner: a schema and a graph in dask's form, with counted calls."""

    NEEDS = {"text": ["__message__"], "tokens": ["text", "not a key"], "total": ["tokens", "text"],
             "twice": ["total", "tokens"]}
    target_names = ["total", "twice"]
    _execution_context = "a test"
    _add_inputs_to_graph = staticmethod(DaskGraphRunner._add_inputs_to_graph)

    def __init__(self, fail: type[Exception] | None = None) -> None:
        self.calls: list[str] = []
        self.fail = fail
        self._graph_schema = self

    def minimal_graph_schema(self, targets: list[str]) -> set[str]:
        """The targets and every node they need, as Rasa's schema gives them."""
        needed = set()
        while targets:
            needed |= set(targets)
            targets = [name for target in targets for name in self.NEEDS.get(target, ()) if name in self.NEEDS]
        return needed

    def node(self, name: str) -> Callable[..., tuple[str, Any]]:
        def run(*needed: Any) -> tuple[str, Any]:  # (name, value) of a node or an input, or a literal
            self.calls.append(name)
            if self.fail and name == "twice":
                raise self.fail("broken node")
            return name, [item[1] if isinstance(item, tuple) else item for item in needed]

        return run

    def _build_dask_graph(self, schema: set[str]) -> dict[str, Any]:
        return {name: (self.node(name), *needs) for name, needs in self.NEEDS.items() if name in schema}


def test_the_graph_runs_as_dask_ran_it() -> None:
    inputs = {"__message__": ["我转了3万"]}
    for targets in (None, ["total"], ["twice", "text"]):
        ours, theirs = FakeRunner(), FakeRunner()
        assert rasa_fixes._run_graph(ours, inputs, targets) == rasa_fixes.ORIGINALS["run_graph"](theirs, inputs,
                                                                                                targets)
        assert sorted(ours.calls) == sorted(theirs.calls) and len(set(ours.calls)) == len(ours.calls)
        assert ours.calls.index("text") < ours.calls.index("tokens")  # a node after the nodes it needs
    from rasa.engine.exceptions import GraphRunError

    for error, raised in ((RuntimeError, GraphRunError), (ValueError, ValueError)):
        for run in (rasa_fixes._run_graph, rasa_fixes.ORIGINALS["run_graph"]):
            with pytest.raises(raised):
                run(FakeRunner(fail=error), inputs, None)


def test_the_model_parses_and_predicts_as_with_dask(trained_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The trained model's own graphs (NLU pipeline, policies) give the same results without dask."""
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.trackers import DialogueStateTracker

    from bench.vs_stock import MESSAGES

    with open(Path(__file__).parents[1] / "bench/data/independent_eval.csv", encoding="utf-8") as rows:
        texts = list(MESSAGES.values()) + [row["text"] for row in itertools.islice(csv.DictReader(rows), 0, 450, 15)]
    agent = Agent.load(str(trained_model))

    async def play() -> list[Any]:
        seen = []
        for text in texts:
            parsed = await agent.processor.parse_message(UserMessage(text))
            tracker = DialogueStateTracker.from_events("t", [ev.ActionExecuted("action_listen"), ev.UserUttered(
                text, parsed["intent"], parsed["entities"], parsed)], agent.domain.slots)
            first = agent.processor._predict_next_with_tracker(tracker)
            tracker.update(ev.ActionExecuted(agent.domain.action_names_or_texts[first.max_confidence_index]))
            seen.append((parsed, first, agent.processor._predict_next_with_tracker(tracker)))
        return seen

    ours = asyncio.run(play())
    monkeypatch.setattr(DaskGraphRunner, "run", rasa_fixes.ORIGINALS["run_graph"])
    assert asyncio.run(play()) == ours
    assert len({parsed["intent"]["name"] for parsed, _, _ in ours}) > 2  # varied messages, not one answer


def test_endpoint_calls_share_one_open_session_per_event_loop() -> None:
    """Rasa's action and NLG calls still reach the server and get its answers, through one kept session."""
    from rasa.utils.endpoints import EndpointConfig

    from tests.fakes import LoopbackJsonServer

    class Echo(LoopbackJsonServer):
        calls: list[str] = []

        def respond(self, path: str, query: str, content_type: str, body: str) -> tuple[int, dict]:
            self.calls.append(path)
            return 200, {"path": path, "body": body}

    server = Echo().start()
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
