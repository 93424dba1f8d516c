"""Fixes to Rasa 3.6 itself, installed by every process that runs the dialogue (``bot.rasa_server``,
``bot.dialogue``), each measured and each keeping Rasa's behaviour.

``RemoteAction._validate_action_result`` checks every action server response with
``jsonschema.validate``, which with jsonschema 4.17 first validates the *schema* against its
metaschema on every call: about 30 ms of pure Python per action call, most of a message's
time (a cProfile of ``fraudbot check``: 1.19 s of 1.7 s over 40 messages). The schema is a
constant, so it is checked once and one compiled validator is reused: the same responses are
accepted, the same ``ValidationError`` with the same hint is raised for the others.

Even compiled, that check took 2.1 ms of a 26 ms message (issue 14, cProfile of 200 REST messages):
each event is tried against all 23 event schemas of the schema's ``oneOf``, because ``oneOf`` must
prove that no second one matches. Each of those schemas names its event with a ``const`` (``"event":
"slot"``), so an event can only ever match the one its name picks: the response is checked against
the schema without that ``oneOf`` and each event against its own schema alone (:class:`ActionResultCheck`,
0.2 ms). Only a response that passes that way is accepted without the full check; anything else goes
through the full check, so a bad response is refused with exactly the error ``jsonschema.validate`` gives.

``CallbackNaturalLanguageGenerator.validate_response`` had the same metaschema check on every
response rendered by the NLG endpoint: 2.7 ms per response, now one compiled validator (6 µs),
the same ``RasaException`` for a bad response.

``DaskGraphRunner.run`` hands every run of the model's graphs (the NLU pipeline once a message, the
policies once a predicted action: three runs a message) to ``dask.get``, whose scheduler (ordering,
task states, callbacks) took 1.7 ms of a message's 22 ms in cProfile for graphs of a few nodes in a
chain, run in this one thread anyway. :func:`_run_graph` runs the same graph itself: each node once,
after the nodes it needs, the targets' results returned as before, a ``RuntimeError`` turned into the
same ``GraphRunError``.

These three with the tracker store's (``bot.tracker_store``: no redundant queries, one insert a turn)
took a message of the Rasa process from 32 to 20 ms in cProfile; ``bench/vs_stock.py --messages 100
--concurrent-messages 200``, three runs: sequential p50 1.00, 0.92, 0.97 × the stock bot's, p99 0.83,
1.07, 1.10 ×, 16-sender throughput 1.03, 0.98, 1.09 × (before: p50 1.21, 1.22; p99 1.60, 1.46; 0.83, 0.85).

``EndpointConfig.request`` opens a new aiohttp ``ClientSession`` (and connection) for every call
to the action server and for every response rendered by the NLG endpoint. One session per event
loop (and per set of headers and credentials) is kept open and reused instead; each request still
carries its own URL, parameters and timeout. Measured with ``bench/vs_stock.py`` (two runs, a
busier machine): sequential p99 1.23 and 1.15 × the stock bot's, 16-sender throughput 0.98 and 1.01 ×,
against 1.56 and 0.86 with the validation fix alone.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

_installed = False

ORIGINALS: dict[str, Any] = {}
"""Rasa's own functions that :func:`install` replaced, by name: the tests hold the fixes to them."""


def _compiled(schema: dict[str, Any]) -> Any:
    """A validator for ``schema``, which is checked against its metaschema once, as ``jsonschema.validate``
    does on every call."""
    from jsonschema.validators import validator_for

    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _raise_best_error(validator: Any, instance: Any) -> None:
    """Raise what ``jsonschema.validate`` raises for ``instance``: the best match among all its errors."""
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


class ActionResultCheck:
    """Rasa's action response schema, with the events' ``oneOf`` decided by each event's name.

    ``oneOf`` holds when exactly one branch matches. Every branch requires its own ``const`` for
    ``event``, so an event whose ``event`` is ``"slot"`` fails every branch but the ``slot`` one: if the
    ``slot`` branch matches, exactly one does. Hence "the schema without the ``oneOf`` holds, and each
    event matches the branch its name picks" implies the full schema holds. When that shortcut does
    not say valid, or the schema is not shaped so (another Rasa), the full check decides.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self._full = _compiled(schema)
        split = split_event_branches(schema)
        self._without_branches = _compiled(split[0]) if split else None
        self._branches = {name: _compiled(branch) for name, branch in split[1].items()} if split else {}

    def validate(self, result: Any) -> None:
        """Return if ``result`` is a valid action server response; raise ``jsonschema.validate``'s error otherwise."""
        if not self.surely_valid(result):
            _raise_best_error(self._full, result)

    def surely_valid(self, result: Any) -> bool:
        """True only when ``result`` is valid under the full schema (False: the full check must say)."""
        if self._without_branches is None or not self._without_branches.is_valid(result):
            return False
        for event in result.get("events") or ():
            name = event.get("event") if isinstance(event, dict) else None
            branch = self._branches.get(name) if isinstance(name, str) else None
            if branch is None or not branch.is_valid(event):
                return False
        return True


def split_event_branches(schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]] | None:
    """``schema`` without the events' ``oneOf``, and that ``oneOf``'s branches by the event name each one's
    ``const`` requires; None unless every branch names a different event and no branch depends on
    anything outside itself (references, ``unevaluated*`` keywords)."""
    try:
        branches = schema["properties"]["events"]["items"]["oneOf"]
        names = [branch["properties"]["event"]["const"] for branch in branches]
    except (KeyError, TypeError):
        return None
    text = json.dumps(schema)
    if (not all(isinstance(name, str) for name in names) or len(set(names)) != len(names)
            or any(word in text for word in ('"$ref"', '"$dynamicRef"', '"$recursiveRef"', '"unevaluated'))):
        return None
    without = copy.deepcopy(schema)
    del without["properties"]["events"]["items"]["oneOf"]
    return without, dict(zip(names, branches, strict=True))


@lru_cache(maxsize=1)
def _action_result_check() -> ActionResultCheck:
    from rasa.core.actions.action import RemoteAction

    return ActionResultCheck(RemoteAction.action_response_format_spec())


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    from jsonschema import ValidationError
    from rasa.shared.constants import DOCS_BASE_URL

    try:
        _action_result_check().validate(result)
        return True
    except ValidationError as error:
        error.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error


@lru_cache(maxsize=1)
def _nlg_response_validator() -> Any:
    from rasa.core.nlg.callback import nlg_response_format_spec

    return _compiled(nlg_response_format_spec())


def _validate_nlg_response(content: dict[str, Any] | None) -> bool:
    """``CallbackNaturalLanguageGenerator.validate_response`` with the compiled validator."""
    from jsonschema import ValidationError
    from rasa.shared.exceptions import RasaException

    try:
        if content is None or content == "":  # the endpoint did not want to respond with anything
            return True
        _raise_best_error(_nlg_response_validator(), content)
        return True
    except ValidationError as e:
        raise RasaException(  # noqa: B904 - raised as Rasa raises it
            f"{e.message}. Failed to validate NLG response from API, make sure "
            f"your response from the NLG endpoint is valid. "
            f"For more information about the format please consult the "
            f"`nlg_response_format_spec` function from this same module: "
            f"https://github.com/RasaHQ/rasa/blob/main/rasa/core/nlg/callback.py"
        )


def _run_graph(self: Any, inputs: dict[str, Any] | None = None, targets: list[str] | None = None) -> dict[str, Any]:
    """``DaskGraphRunner.run`` evaluating Rasa's task graph as ``dask.get`` does, without its scheduler.

    Rasa builds the graph itself (``_build_dask_graph``): a node is ``(GraphNode, *names of the nodes it
    needs)``, an input is ``(name, value)``. As in dask, a tuple whose first item is callable is a task,
    its arguments that name a key of the graph are replaced by that key's result, and anything else is
    a value as it stands; every node of the graph is a target or needed by one, and runs once.
    """
    from rasa.engine.exceptions import GraphRunError

    run_targets = targets if targets else self._graph_schema.target_names
    graph = self._build_dask_graph(self._graph_schema.minimal_graph_schema(run_targets))
    if inputs:
        self._add_inputs_to_graph(inputs, graph)
    results: dict[str, Any] = {}

    def result(key: str) -> Any:
        if key not in results:
            task = graph[key]
            if type(task) is tuple and task and callable(task[0]):
                results[key] = task[0](*(result(arg) if isinstance(arg, str) and arg in graph else arg
                                         for arg in task[1:]))
            else:
                results[key] = task
        return results[key]

    try:
        return dict(result(target) for target in run_targets)
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e


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
        session = _sessions[key] = ORIGINALS["endpoint_session"](self)
    return _KeptSession(session)


def install() -> None:
    """Put the fixes in place (idempotent)."""
    global _installed
    if _installed:
        return
    from rasa.core.actions.action import RemoteAction
    from rasa.core.nlg.callback import CallbackNaturalLanguageGenerator
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.utils.endpoints import EndpointConfig

    ORIGINALS.update(validate_action_result=RemoteAction._validate_action_result,
                     validate_nlg_response=CallbackNaturalLanguageGenerator.validate_response,
                     run_graph=DaskGraphRunner.run, endpoint_session=EndpointConfig.session)
    RemoteAction._validate_action_result = _validate_action_result
    CallbackNaturalLanguageGenerator.validate_response = staticmethod(_validate_nlg_response)
    DaskGraphRunner.run = _run_graph
    EndpointConfig.session = _kept_session
    _installed = True
