"""Residents' messages per second at 16 concurrent senders: one replica against two, on PostgreSQL, in one run.

    .venv/bin/python bench/fleet.py [--messages N] [--senders S] [--repeats R]

Starts the fleet of ``make fleet`` (bot/fleet.py: PostgreSQL, Redis, HAProxy, two action servers
and two Rasa replicas sharing the tracker store and the lock store) and, as the reference in the
same run, the embedded default of ``make serve`` (one Rasa process, SQLite tracker store, its lock
in memory) against the same action servers. The same 8 residents' messages (bench/vs_stock.py),
each from a new sender, go through S parallel senders (default 16) to:

1. ``embedded``: the single process on SQLite;
2. ``one replica``: replica 1 directly (PostgreSQL, Redis lock);
3. ``two replicas``: HAProxy, spreading over both.

The three are run in the order 1 2 3 3 2 1 … (``--repeats`` times each, default 2) so that the
machine's changing load falls on all of them alike; the figures are the medians. On a machine
with few cores, two replicas compete for the same CPUs: the ratio says what a second replica
brings here, not on a data centre's servers. Writes bench/results/fleet.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _name, _value in (("RASA_TELEMETRY_ENABLED", "false"), ("TF_CPP_MIN_LOG_LEVEL", "2"),
                      ("SQLALCHEMY_SILENCE_UBER_WARNING", "1"), ("FRAUDBOT_ID_SALT", "bench-salt")):
    os.environ.setdefault(_name, _value)
from bench.results_file import write  # noqa: E402
from bench.vs_stock import concurrent  # noqa: E402
from bot.fleet import Fleet  # noqa: E402
from bot.processes import stop  # noqa: E402
from tests.conftest import MODEL, start_rasa  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="fraudbot-bench-fleet-"))
    directory.chmod(0o755)
    fleet = Fleet(directory, MODEL, replicas=2, action_servers=2, durable=True,
                  env={"FRAUDBOT_RASA_TOKEN": "bench"})
    embedded = None
    try:
        started = time.perf_counter()
        fleet.start()
        print(f"fleet up in {time.perf_counter() - started:.0f} s", flush=True)
        embedded, embedded_url = start_rasa(MODEL, f"{fleet.actions_url}/webhook", directory, "embedded.log")
        targets = {"embedded": embedded_url,
                   "one replica": fleet.replica_urls[0],
                   "two replicas": fleet.url}
        runs: dict[str, list[dict]] = {name: [] for name in targets}
        order = list(targets)
        for repeat in range(args.repeats):
            for name in (order if repeat % 2 == 0 else order[::-1]):
                result = concurrent(targets[name], args.messages, args.senders)
                runs[name].append(result)
                print(f"  {name:13s} {result['msg_per_s']:6.1f} msg/s  p50 {result['p50_ms']:6.1f} ms  "
                      f"p99 {result['p99_ms']:7.1f} ms  errors {result['errors']}", flush=True)
        summary = {name: {"msg_per_s": statistics.median(r["msg_per_s"] for r in results),
                          "p50_ms": statistics.median(r["p50_ms"] for r in results),
                          "p99_ms": statistics.median(r["p99_ms"] for r in results),
                          "errors": sum(r["errors"] for r in results)}
                   for name, results in runs.items()}
        two, one = summary["two replicas"]["msg_per_s"], summary["one replica"]["msg_per_s"]
        result = {"senders": args.senders, "messages": args.messages, "repeats": args.repeats,
                  "cpus": os.cpu_count(), "load_average": os.getloadavg(), "summary": summary, "runs": runs,
                  "two_over_one": round(two / one, 2),
                  "one_replica_over_embedded": round(one / summary["embedded"]["msg_per_s"], 2)}
        print(f"\n{args.senders} senders, {args.messages} messages per run, medians of {args.repeats} runs, "
              f"{os.cpu_count()} CPUs:")
        for name, figures in summary.items():
            print(f"  {name:13s} {figures['msg_per_s']:6.1f} msg/s  p50 {figures['p50_ms']:6.1f} ms  "
                  f"p99 {figures['p99_ms']:7.1f} ms  errors {figures['errors']}")
        print(f"  two replicas / one replica: {result['two_over_one']}   "
              f"one replica (PostgreSQL) / embedded (SQLite): {result['one_replica_over_embedded']}")
        print(f"written: {write('fleet', result)}")
    finally:
        if embedded is not None:
            stop(embedded)
        fleet.stop()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
