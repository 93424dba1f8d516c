"""``fraudbot``: classify, check and evaluate with the trained model; run the bot.

    fraudbot classify < in.jsonl > out.jsonl   one JSON line out per JSON line in
    fraudbot check "文本"                        the reply a resident would read
    fraudbot eval FILE.csv                       scores on a text,scenario CSV
    fraudbot serve [--chat]                      action server + Rasa server (or terminal chat)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.nlu_client import DEFAULT_MODEL, PROJECT_ROOT, quiet_logs

ACTION_PORT = 5055
RASA_PORT = 5005


async def _classify(model: Path) -> int:
    from bot.nlu_client import Classifier

    classifier = await Classifier.load(model)
    out = sys.stdout
    for raw in sys.stdin:
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
            text = item["text"] if isinstance(item, dict) else None
            if not isinstance(text, str):
                raise ValueError('expected {"text": "..."}')
            result = await classifier.classify(text)
        except (ValueError, KeyError) as error:
            result = {"scenario": "none", "confidence": 0.0, "risk": "low", "signals": [],
                      "entities": [], "error": str(error)}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    return 0


async def _check(model: Path, text: str) -> int:
    from bot.nlu_client import Classifier

    classifier = await Classifier.load(model)
    print("\n\n".join(await classifier.check(text)))
    return 0


async def _eval(model: Path, path: Path, as_json: bool) -> int:
    from bot.evaluation import read_labelled, score
    from bot.nlu_client import Classifier

    rows = read_labelled(path)
    classifier = await Classifier.load(model)
    predicted = [(await classifier.classify(text))["scenario"] for text, _ in rows]
    scores = score([label for _, label in rows], predicted)
    print(json.dumps(scores.as_dict(), ensure_ascii=False, indent=2) if as_json else scores.report())
    return 0


def wait_http(url: str, seconds: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds:.0f} s")


def start_action_server(port: int = ACTION_PORT, log: Path | None = None) -> subprocess.Popen:
    """Start the rasa_sdk action server and wait until it answers /health."""
    output = open(log, "ab") if log else None
    process = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
        cwd=PROJECT_ROOT, stdout=output, stderr=subprocess.STDOUT if output else None)
    wait_http(f"http://127.0.0.1:{port}/health", 60, process)
    return process


def _rasa(*args: str) -> list[str]:
    return [sys.executable, "-m", "rasa", *args]


def _serve(model: Path, chat: bool) -> int:
    """Action server and Rasa server together; Ctrl-C or SIGTERM stops both."""
    Path(PROJECT_ROOT / "logs").mkdir(exist_ok=True)
    actions = start_action_server(log=PROJECT_ROOT / "logs" / "actions.log" if chat else None)
    if chat:
        command = _rasa("shell", "-m", str(model), "--endpoints", "endpoints.yml")
    else:
        command = _rasa("run", "-m", str(model), "--endpoints", "endpoints.yml",
                        "--credentials", "credentials.yml", "--port", str(RASA_PORT))
    rasa = subprocess.Popen(command, cwd=PROJECT_ROOT)

    def stop(*_: object) -> None:
        for process in (rasa, actions):
            if process.poll() is None:
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        code = rasa.wait()
    except KeyboardInterrupt:
        code = 0
    finally:
        stop()
        for process in (rasa, actions):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    return code


def _test_stories(model: Path) -> int:
    """Rasa's test stories (tests/stories) against the real action server."""
    actions = start_action_server(port=ACTION_PORT)
    try:
        return subprocess.call(
            _rasa("test", "core", "--model", str(model), "--stories", "tests/stories",
                  "--endpoints", "endpoints.yml", "--out", "results/core",
                  "--fail-on-prediction-errors"), cwd=PROJECT_ROOT)
    finally:
        actions.terminate()
        actions.wait(timeout=20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fraudbot", description="反诈助手 command line")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="trained Rasa model")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("classify", help="JSON lines {\"text\"} on stdin -> one JSON line each")
    check = commands.add_parser("check", help="the reply a resident would read")
    check.add_argument("text")
    evaluate = commands.add_parser("eval", help="scores on a text,scenario CSV")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    serve = commands.add_parser("serve", help="action server + Rasa REST server")
    serve.add_argument("--chat", action="store_true", help="chat in this terminal instead")
    commands.add_parser("test-stories", help="run Rasa's test stories against the action server")
    args = parser.parse_args(argv)

    model = args.model.resolve()
    if args.command in ("classify", "check", "eval"):
        quiet_logs()
    if args.command == "classify":
        return asyncio.run(_classify(model))
    if args.command == "check":
        return asyncio.run(_check(model, args.text))
    if args.command == "eval":
        return asyncio.run(_eval(model, args.file, args.json))
    if args.command == "serve":
        return _serve(model, args.chat)
    return _test_stories(model)


if __name__ == "__main__":
    sys.exit(main())
