"""Time per message through the REST channel: real Rasa server + real action server.

    make train && .venv/bin/python bench/rest_latency.py [N]

Sends N resident messages (default 300, taken from the held-out split) one after another,
each from a new sender, and prints p50/p90/p99/max in milliseconds; writes
bench/results/rest_latency.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.results_file import write  # noqa: E402

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
from bot.processes import action_endpoints, start_action_server, wait_http  # noqa: E402

ACTION_PORT, RASA_PORT = 5155, 5105


def texts(n: int) -> list[str]:
    import yaml

    data = yaml.safe_load((ROOT / "tests" / "data" / "nlu_holdout.yml").read_text(encoding="utf-8"))
    lines = [line[2:] for block in data["nlu"] for line in block["examples"].splitlines() if line.strip()]
    return (lines * (n // len(lines) + 1))[:n]


def post(text: str) -> float:
    body = json.dumps({"sender": uuid.uuid4().hex, "message": text}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{RASA_PORT}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    actions = start_action_server(ACTION_PORT)
    with tempfile.TemporaryDirectory() as tmp:
        endpoints = Path(tmp) / "endpoints.yml"
        endpoints.write_text(action_endpoints(f"http://127.0.0.1:{ACTION_PORT}")
                             + "tracker_store:\n  type: bot.tracker_store.RedactingSQLTrackerStore\n"
                             f'  dialect: sqlite\n  db: "{Path(tmp) / "rasa.db"}"\n')
        rasa = subprocess.Popen(
            [sys.executable, "-m", "rasa", "run", "-m", "models/fraudbot.tar.gz", "--endpoints",
             str(endpoints), "--credentials", "credentials.yml", "--port", str(RASA_PORT)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_http(f"http://127.0.0.1:{RASA_PORT}/webhooks/rest/", 240, rasa)
            for text in texts(10):
                post(text)  # warm-up
            timings = sorted(post(text) for text in texts(n))
        finally:
            rasa.terminate()
            actions.terminate()
            rasa.wait(timeout=30)
            actions.wait(timeout=30)

    def pct(p: float) -> float:
        return round(timings[min(len(timings) - 1, int(p * len(timings)))], 1)

    result = {"messages": n, "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
              "max_ms": round(timings[-1], 1), "mean_ms": round(statistics.mean(timings), 1)}
    write("rest_latency", result)


if __name__ == "__main__":
    main()
