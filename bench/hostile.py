"""One 20,000-character message against the real servers: its time, a bystander's wait, Rasa's peak memory.

    make train && .venv/bin/python bench/hostile.py [ROUNDS]

Issue 18 found 20,000 digits tied Rasa up for 65-77 s (a money-already-sent message from
another resident waited 63 s behind it) and a 20,000-character random paste pushed Rasa
above 10 GB. This starts the real action server and Rasa (REST on loopback, SQLite tracker
store in a temporary directory) and, for each kind of paste, ROUNDS times (default 3):
sends the paste, sends a normal message from another resident as soon as the paste is on
the wire, and samples Rasa's VmRSS every 50 ms. It prints the figures against the targets
(paste answered in ≤ 1 s, the bystander in ≤ 200 ms, peak RSS ≤ 1.8 GB) and writes
bench/results/hostile.json. Rasa is killed if it passes 6 GB, so a regression cannot take
the machine down; that run is reported as over the limit.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
from bench.results_file import write  # noqa: E402
from bot.processes import free_port, start_action_server  # noqa: E402
from tests.conftest import MODEL, start_rasa, stop  # noqa: E402
from tests.hostile_inputs import SMS_SHAPES, digits, lone_surrogates, random_paste  # noqa: E402

LONG_CHARS = 20_000
TARGET_LONG_S = 1.0
TARGET_BYSTANDER_MS = 200.0
TARGET_PEAK_RSS_MB = 1800.0
KILL_RSS_BYTES = 6 * 1024**3
BYSTANDER = "我刚用工商银行给对方转了3万，怎么办"


def _cut(text: str) -> str:
    return (text * (LONG_CHARS // max(1, len(text)) + 1))[:LONG_CHARS]


PASTES: dict[str, Callable[[int], str]] = {
    "digits": lambda _: digits(LONG_CHARS),
    "random_paste": lambda round_: random_paste(LONG_CHARS, seed=round_),
    "sms_repeated": lambda _: _cut("".join(SMS_SHAPES).format(
        bank="工商银行", url="http://icbc-safe.top?.icbc.com.cn", last4="1234", hour=9, minute="05",
        amount=30000, phone="13812345678", card="6222021234567890123", code="123456", qq="987654321")),
    "surrogates_zero_width": lambda _: _cut(lone_surrogates(random.Random(7), 20) + "\u200b1"),
}
"""Kinds of 20,000-character paste: the issue's two, plus entity-dense SMS and invisible characters."""


class RssSampler:
    """VmRSS of one process every 50 ms, in a thread; kills it above ``limit`` bytes."""

    def __init__(self, pid: int, limit: int = KILL_RSS_BYTES) -> None:
        self.pid, self.limit = pid, limit
        self.peak, self.killed = 0, False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def rss(self) -> int:
        try:
            found = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{self.pid}/status").read_text(), re.M)
        except OSError:
            return 0
        return int(found[1]) * 1024 if found else 0

    def reset(self) -> None:
        self.peak = self.rss()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            rss = self.rss()
            self.peak = max(self.peak, rss)
            if rss > self.limit and not self.killed:
                self.killed = True
                os.kill(self.pid, 9)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def post(url: str, text: str, on_sent: Callable[[], None] | None = None) -> tuple[float, int, list]:
    """Seconds to the whole answer, HTTP status, replies; ``on_sent`` runs once the body is on the wire."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=300)
    body = json.dumps({"sender": uuid.uuid4().hex, "message": text}).encode("ascii")
    started = time.perf_counter()
    try:
        connection.request("POST", "/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
        if on_sent:
            on_sent()
        response = connection.getresponse()
        payload = response.read()
        return time.perf_counter() - started, response.status, json.loads(payload) if response.status == 200 else []
    finally:
        connection.close()


def one_round(url: str, sampler: RssSampler, paste: str) -> dict[str, float]:
    """The paste and a bystander sent right behind it; seconds, milliseconds and peak MB."""
    sent, result = threading.Event(), {}

    def send_paste() -> None:
        try:
            result["seconds"], result["status"], _ = post(url, paste, sent.set)
        except OSError as error:
            result["error"] = repr(error)
        finally:
            sent.set()

    sampler.reset()
    thread = threading.Thread(target=send_paste, daemon=True)
    thread.start()
    sent.wait(60)
    try:
        bystander_s, status, _ = post(url, BYSTANDER)
    except OSError:  # Rasa gone (killed over the memory limit)
        bystander_s, status = float("inf"), 0
    thread.join(300)
    return {"long_s": result.get("seconds", float("inf")), "long_status": result.get("status", 0),
            "bystander_ms": bystander_s * 1000 if status == 200 else float("inf"),
            "peak_rss_mb": sampler.peak / 1024**2, "error": result.get("error", "")}


def summary(runs: list[dict[str, float]]) -> dict[str, float]:
    return {"long_s_median": round(statistics.median(r["long_s"] for r in runs), 3),
            "long_s_max": round(max(r["long_s"] for r in runs), 3),
            "bystander_ms_median": round(statistics.median(r["bystander_ms"] for r in runs), 1),
            "bystander_ms_max": round(max(r["bystander_ms"] for r in runs), 1),
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
            "all_answered_200": all(r["long_status"] == 200 for r in runs)}


def verdicts(kinds: dict[str, dict[str, float]]) -> dict[str, object]:
    """Each target against the worst kind."""
    worst_long = max(k["long_s_max"] for k in kinds.values())
    worst_bystander = max(k["bystander_ms_max"] for k in kinds.values())
    worst_rss = max(k["peak_rss_mb"] for k in kinds.values())
    return {"long_s_worst": worst_long, "long_s_target": TARGET_LONG_S, "long_ok": worst_long <= TARGET_LONG_S,
            "bystander_ms_worst": worst_bystander, "bystander_ms_target": TARGET_BYSTANDER_MS,
            "bystander_ok": worst_bystander <= TARGET_BYSTANDER_MS,
            "peak_rss_mb_worst": worst_rss, "peak_rss_mb_target": TARGET_PEAK_RSS_MB,
            "peak_rss_ok": worst_rss <= TARGET_PEAK_RSS_MB}


def measure(url: str, sampler: RssSampler, rounds: int) -> dict[str, dict[str, float]]:
    """Every kind of paste, ``rounds`` times; stops early if Rasa was killed over the memory limit."""
    kinds: dict[str, dict[str, float]] = {}
    for name, make in PASTES.items():
        kinds[name] = summary([one_round(url, sampler, make(round_)) for round_ in range(rounds)])
        print(f"{name:>22}: answered in {kinds[name]['long_s_max']:.2f} s (max), bystander "
              f"{kinds[name]['bystander_ms_max']:.0f} ms (max), peak RSS {kinds[name]['peak_rss_mb']} MB", flush=True)
        if sampler.killed:
            kinds[name]["killed_over_mb"] = KILL_RSS_BYTES / 1024**2
            break
    return kinds


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory() as tmp:
        actions_port = free_port()
        actions = start_action_server(actions_port, log=Path(tmp) / "actions.log")
        try:
            rasa, url = start_rasa(MODEL, f"http://127.0.0.1:{actions_port}/webhook", Path(tmp), "rasa.log")
            sampler = RssSampler(rasa.pid)
            try:
                for _ in range(5):
                    post(url, BYSTANDER)  # warm-up
                baseline_ms = statistics.median(post(url, BYSTANDER)[0] * 1000 for _ in range(10))
                idle_rss_mb = sampler.rss() / 1024**2
                kinds = measure(url, sampler, rounds)
            finally:
                sampler.close()
                stop(rasa)
        finally:
            stop(actions)
    result = {"chars": LONG_CHARS, "rounds": rounds, "bystander_alone_ms_median": round(baseline_ms, 1),
              "rasa_idle_rss_mb": round(idle_rss_mb), "kinds": kinds, "targets": verdicts(kinds)}
    targets = result["targets"]
    for label, key, unit in (("20,000 characters answered", "long_s", "s"),
                             ("a normal message during it", "bystander_ms", "ms"),
                             ("Rasa peak RSS, worst paste", "peak_rss_mb", "MB")):
        mark = "ok" if targets[f"{key.rsplit('_', 1)[0]}_ok"] else "OVER"
        print(f"{label:<28} {targets[f'{key}_worst']:>9} {unit:<3} target ≤ {targets[f'{key}_target']} {unit}  {mark}")
    write("hostile", result)


if __name__ == "__main__":
    main()
