"""The action server, plus the NLG endpoint that renders the domain's responses.

Rasa asks ``POST /nlg`` for every response it sends (``endpoints.yml`` ``nlg: url:``), and
the answer is read from ``domain.yml`` under the content root as it is on disk now. So an
administrator's edit to a response is live at the next message, without retraining or
reloading the model; and a candidate copy of the files (``FRAUDBOT_CONTENT_DIR``) gets a
server of its own that answers with the candidate's texts.

    python -m actions.server --port 5055      (listens on 127.0.0.1; FRAUDBOT_ACTIONS_HOST to change)
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
from typing import Any

from rasa_sdk import endpoint
from sanic import Sanic, response
from sanic.request import Request

from bot import privacy
from core.knowledge import domain_responses

logger = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"\{([^\n{}]+?)\}")
# Rasa keeps one HTTP session open to this server (bot/rasa_fixes.py) and reuses its idle connections for up
# to aiohttp's 15 s. Sanic closes an idle one after 5 s by default: a call that picks it up just as the server
# closes it fails ("Cannot write to closing transport") and the resident gets the hotline fallback instead of the
# verdict. The server must outlast the client, so that it is always the client that closes an idle connection.
KEEP_ALIVE_SECONDS = 75.0


def fill(text: str, values: dict[str, Any]) -> str:
    """Put slot values and arguments into ``{name}`` placeholders; unknown ones stay as written."""
    return PLACEHOLDER.sub(lambda m: str(values[m[1]]) if values.get(m[1]) is not None else m[0], text)


def _matches(variation: dict[str, Any], slots: dict[str, Any]) -> bool:
    return all(slots.get(c.get("name")) == c.get("value") for c in variation.get("condition") or ())


def render(name: str, channel: str | None, slots: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """One variation of response ``name``, as Rasa's own generator picks it, filled in.

    Variations for this channel win over general ones, and variations whose slot
    conditions hold win over unconditional ones. An unknown response renders as ``{}``:
    Rasa then sends nothing for it, as it would for a response missing from the domain.
    """
    variations = [v for v in domain_responses().get(name) or () if isinstance(v, dict) and _matches(v, slots)]
    for_channel = [v for v in variations if v.get("channel") == channel]
    pool = for_channel or [v for v in variations if not v.get("channel")]
    conditional = [v for v in pool if v.get("condition")]
    if not pool:
        return {}
    chosen = {k: v for k, v in random.choice(conditional or pool).items() if k not in ("channel", "condition")}
    values = {**slots, **arguments}
    if isinstance(chosen.get("text"), str):
        chosen["text"] = fill(chosen["text"], values)
    if isinstance(chosen.get("buttons"), list):
        chosen["buttons"] = [{**b, **{k: fill(b[k], values) for k in ("title", "payload") if isinstance(b.get(k), str)}}
                             for b in chosen["buttons"] if isinstance(b, dict)]
    return chosen


async def nlg(request: Request) -> response.HTTPResponse:
    """Rasa's NLG callback: ``{"response", "arguments", "tracker", "channel"}`` in, a message out."""
    body = request.json if isinstance(request.json, dict) else None
    if not body or not isinstance(body.get("response"), str):
        return response.json({"error": "expected a JSON body with a response name"}, status=400)
    tracker = body.get("tracker") if isinstance(body.get("tracker"), dict) else {}
    channel = (body.get("channel") or {}).get("name") if isinstance(body.get("channel"), dict) else None
    arguments = body.get("arguments") if isinstance(body.get("arguments"), dict) else {}
    return response.json(render(body["response"], channel, tracker.get("slots") or {}, arguments))


def create_app() -> Sanic:
    """rasa_sdk's action server app with ``/nlg`` added."""
    app = endpoint.create_app("actions")
    app.add_route(nlg, "/nlg", methods=["POST"])
    app.config.KEEP_ALIVE_TIMEOUT = KEEP_ALIVE_SECONDS
    return app


def main(argv: list[str] | None = None) -> None:
    privacy.install()  # before anything logs: no resident's number in any log line
    parser = argparse.ArgumentParser(description="action server and NLG endpoint")
    # unauthenticated by design (Rasa calls it): loopback unless the deployment says otherwise
    parser.add_argument("--host", default=os.environ.get("FRAUDBOT_ACTIONS_HOST") or "127.0.0.1",
                        help="interface to listen on (FRAUDBOT_ACTIONS_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    app = create_app()
    privacy.install()  # again: Sanic added its handlers in create_app
    app.run(host=args.host, port=args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
