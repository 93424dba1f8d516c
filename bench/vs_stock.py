"""This bot against a stock ``rasa init`` bot of the same Rasa, side by side in one run (issue 14).

    .venv/bin/python bench/vs_stock.py [--messages N] [--concurrent-messages M] [--senders S]

Builds the stock bot in a temporary folder (``rasa init --no-prompt``, which trains its model
there; nothing is written inside the repository) and starts it with ``rasa run`` and its own
default endpoints and credentials (its ``actions.py`` is empty: no action server). Starts this
bot as ``make serve`` does, minus the admin and the alerts worker: the real action server and
``python -m bot.rasa_server run`` with the NLG endpoint and a SQLite tracker store in the
temporary folder. Both listen on free loopback ports.

Then, through the REST channel, every message from a new sender (each starts a conversation):

1. sequential: N rounds (default 200), one message to each bot per round, interleaved (the
   bot that goes first alternates), the same 8 residents' messages in turn;
2. S concurrent senders (default 16), M messages per bot (default 400), one bot at a time;
3. each Rasa process's VmRSS after the run (and its peak, sampled every 50 ms).

Prints both bots, the ratios (this / stock) against the issue's targets, the median time of
each message kind, and where this bot's time goes: from its tracker store's event timestamps
(request → NLU done → last action → answer), the NLG round trips per message, and one NLG
round trip timed alone. Writes bench/results/vs_stock.json. Everything it started is stopped,
also on Ctrl-C, SIGTERM or an error. ``--stock-project DIR`` reuses a stock project that
``rasa init`` made earlier (its newest model); ``--keep`` keeps the temporary folder (logs).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# what `make serve` exports, for both bots
for _name, _value in (("RASA_TELEMETRY_ENABLED", "false"), ("TF_CPP_MIN_LOG_LEVEL", "2"),
                      ("SQLALCHEMY_SILENCE_UBER_WARNING", "1"), ("TF_INTER_OP_PARALLELISM_THREADS", "2"),
                      ("TF_INTRA_OP_PARALLELISM_THREADS", "2")):
    os.environ.setdefault(_name, _value)
from bench.hostile import RssSampler, post  # noqa: E402
from bench.results_file import write  # noqa: E402
from bot.processes import free_port, start_action_server, wait_http  # noqa: E402
from tests.conftest import MODEL, start_rasa, stop, tracker_db  # noqa: E402

MESSAGES: dict[str, str] = {
    "scam_story": "刚才有人打电话说是公安局的，说我涉嫌洗钱，让我把钱转到安全账户配合调查，是真的吗",
    "money_sent": "我刚用工商银行给对方转了3万，怎么办",
    "sms_link": "【ETC服务】您的ETC认证已过期，将影响正常通行，请点击 http://etc-rz.top 重新认证",
    "greeting": "你好",
    "question": "你能帮我做什么",
    "genuine_notice": "【中国移动】尊敬的客户，您3月账单已出，本月消费58.20元，可发送CXZD到10086查询详情。",
    "long_story": "我跟你说啊我今年七十多了前几天在公园里认识一个小伙子对我特别好天天问候我 后来他说他在做一个养老"
                  "项目国家有补贴投一万一个月就能返两千 我先投了五千第一个月真给我返了一千 现在他又让我把存款都拿出来"
                  "投进去说名额马上就满了还不让我跟儿女说 你帮我看看这个靠谱不",
    "call_report": "刚才有个人打电话说是快递客服，说我的包裹丢了要给我理赔，让我加他QQ",
}
"""Eight kinds of resident's message, sent in turn to both bots."""
TARGETS = {"p50": 1.0, "p99": 1.2, "throughput": 1.0, "rss_mb": 1024.0}
"""Issue 14: p50 ≤ stock, p99 ≤ 1.2 × stock, 16-sender throughput ≥ stock, RSS ≤ 1.0 GB."""


def launch(command: list[str], cwd: Path, log: Path, ready_url: str, seconds: float = 300) -> subprocess.Popen:
    """Start ``command`` with its output in ``log`` and wait until ``ready_url`` answers; stopped if it never does."""
    with open(log, "ab") as output:  # the child has its own copy
        process = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_http(ready_url, seconds, process)
    except BaseException:
        stop(process)
        raise
    return process


def stock_project(tmp: Path, stack: contextlib.ExitStack) -> tuple[Path, float]:
    """``rasa init --no-prompt`` in ``tmp/stock`` (it trains there); the project folder and seconds taken."""
    project = tmp / "stock"
    project.mkdir()
    started = time.perf_counter()
    with open(tmp / "stock-init.log", "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir", str(project)],
                                   cwd=project, stdout=output, stderr=subprocess.STDOUT)
    stack.callback(stop, process)
    if process.wait(timeout=1800) != 0:
        raise RuntimeError(f"rasa init failed ({process.returncode}); see {tmp / 'stock-init.log'}")
    return project, time.perf_counter() - started


def start_stock(project: Path, tmp: Path, stack: contextlib.ExitStack) -> tuple[subprocess.Popen, str]:
    """The stock bot with its own defaults (in-memory tracker store, REST channel), its newest model."""
    model = max((project / "models").glob("*.tar.gz"), key=lambda path: path.stat().st_mtime)
    port = free_port()
    process = launch([sys.executable, "-m", "rasa", "run", "-m", str(model), "--endpoints", "endpoints.yml",
                      "--credentials", "credentials.yml", "--port", str(port), "-i", "127.0.0.1"],
                     project, tmp / "stock-rasa.log", f"http://127.0.0.1:{port}/webhooks/rest/")
    stack.callback(stop, process)
    return process, f"http://127.0.0.1:{port}"


def start_this(tmp: Path, stack: contextlib.ExitStack) -> tuple[subprocess.Popen, str, str, Path]:
    """The action server and ``bot.rasa_server`` as ``make serve`` starts them; Rasa, its URL, the actions URL, DB."""
    actions_port = free_port()
    actions = start_action_server(actions_port, log=tmp / "actions.log")
    stack.callback(stop, actions)
    actions_url = f"http://127.0.0.1:{actions_port}"
    process, url = start_rasa(MODEL, f"{actions_url}/webhook", tmp, "rasa.log", module="bot.rasa_server")
    stack.callback(stop, process)
    return process, url, actions_url, tracker_db(tmp, urlsplit(url).port)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)


def send(url: str, text: str) -> dict:
    """One message from a new sender: wall-clock send and answer times, milliseconds, status, replies."""
    sent = time.time()
    seconds, status, replies = post(url, text)
    return {"sent": sent, "answered": time.time(), "ms": seconds * 1000, "status": status, "replies": len(replies)}


def sequential(bots: dict[str, str], rounds: int) -> dict[str, list[dict]]:
    """``rounds`` rounds, one message to each bot per round; the bot that goes first alternates."""
    kinds = list(MESSAGES)
    records: dict[str, list[dict]] = {name: [] for name in bots}
    for round_ in range(rounds):
        kind = kinds[round_ % len(kinds)]
        for name in (list(bots) if round_ % 2 == 0 else list(bots)[::-1]):
            records[name].append({"kind": kind, **send(bots[name], MESSAGES[kind])})
        if (round_ + 1) % 50 == 0:
            print(f"  sequential: {round_ + 1}/{rounds} rounds", flush=True)
    return records


def concurrent(url: str, count: int, senders: int) -> dict[str, float]:
    """``count`` messages through ``senders`` parallel senders: messages per second, latency percentiles."""
    texts = [MESSAGES[kind] for kind in list(MESSAGES) * (count // len(MESSAGES) + 1)][:count]
    pool = ThreadPoolExecutor(max_workers=senders)
    started = time.perf_counter()
    try:
        records = list(pool.map(lambda text: send(url, text), texts))
    finally:
        pool.shutdown(cancel_futures=True)  # on Ctrl-C: only the messages already on the wire are waited for
    seconds = time.perf_counter() - started
    ms = [r["ms"] for r in records]
    return {"messages": count, "senders": senders, "seconds": round(seconds, 2),
            "msg_per_s": round(count / seconds, 1), "p50_ms": percentile(ms, 0.5), "p99_ms": percentile(ms, 0.99),
            "errors": sum(r["status"] != 200 for r in records)}


def latency(records: list[dict]) -> dict:
    ms = [r["ms"] for r in records]
    kinds = [kind for kind in MESSAGES if any(r["kind"] == kind for r in records)]
    by_kind = {kind: round(statistics.median(r["ms"] for r in records if r["kind"] == kind), 1) for kind in kinds}
    replies = {kind: max(r["replies"] for r in records if r["kind"] == kind) for kind in kinds}
    return {"messages": len(ms), "p50_ms": percentile(ms, 0.5), "p90_ms": percentile(ms, 0.9),
            "p99_ms": percentile(ms, 0.99), "max_ms": round(max(ms), 1),
            "errors": sum(r["status"] != 200 for r in records), "p50_ms_by_kind": by_kind, "replies_by_kind": replies}


def conversations(database: Path) -> dict[str, list[tuple[str, float, str | None, dict]]]:
    """Every stored conversation's events in order: type, timestamp, action name, data."""
    found: dict[str, list[tuple[str, float, str | None, dict]]] = {}
    with contextlib.closing(sqlite3.connect(database)) as db:
        for sender, type_name, timestamp, action, data in db.execute(
                "SELECT sender_id, type_name, timestamp, action_name, data FROM events ORDER BY id"):
            found.setdefault(sender, []).append((type_name, timestamp, action, json.loads(data)))
    return found


def breakdown(records: list[dict], database: Path) -> tuple[dict, list]:
    """Where this bot's sequential time goes, from the event timestamps its tracker store wrote.

    A conversation belongs to the sequential message whose send-to-answer window holds its first
    event (sequential messages to one bot never overlap). The segments: request in → first event
    (HTTP, channel, tracker read, session start); → user event (NLU); → last event (slot
    extraction, policies, actions, NLG round trips); → answer (tracker write, HTTP back).
    """
    custom = set(yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8")).get("actions") or ())
    windows = sorted((r["sent"], r["answered"], r["kind"]) for r in records)
    starts = [w[0] for w in windows]
    segments: dict[str, list[float]] = {"request_to_session_ms": [], "nlu_ms": [], "dialogue_ms": [],
                                        "save_and_answer_ms": []}
    nlg_calls: dict[str, list[int]] = {kind: [] for kind in MESSAGES}
    action_calls: dict[str, list[int]] = {kind: [] for kind in MESSAGES}
    steps: dict[str, list[float]] = {}
    sample: list = []
    for events in conversations(database).values():
        first = min(e[1] for e in events)
        index = bisect.bisect_right(starts, first) - 1
        user = [e for e in events if e[0] == "user"]
        if index < 0 or first > windows[index][1] or len(user) != 1:
            continue  # warm-up or concurrent message
        sent, answered, kind = windows[index]
        heard, last = user[0][1], max(e[1] for e in events)
        segments["request_to_session_ms"].append((first - sent) * 1000)
        segments["nlu_ms"].append((heard - first) * 1000)
        segments["dialogue_ms"].append((last - heard) * 1000)
        segments["save_and_answer_ms"].append((answered - last) * 1000)
        nlg_calls[kind].append(sum(e[0] == "bot" and "utter_action" in (e[3].get("metadata") or {}) for e in events))
        action_calls[kind].append(sum(e[0] == "action" and e[2] in custom for e in events))
        sample = max(sample, [e[3] for e in events], key=len)
        # an action's event is written when it has run: the gap since the previous one is its prediction and run
        previous = heard
        for type_name, timestamp, action, _ in events:
            if type_name == "action" and timestamp > heard:
                steps.setdefault(action, []).append((timestamp - previous) * 1000)
                previous = timestamp
    result = {"matched": len(segments["nlu_ms"])}
    result.update({name: round(statistics.median(values), 1) for name, values in segments.items() if values})
    result["nlg_calls_by_kind"] = {k: max(v) for k, v in nlg_calls.items() if v}
    result["custom_action_calls_by_kind"] = {k: max(v) for k, v in action_calls.items() if v}
    result["step_ms_median"] = {name: round(statistics.median(v), 1) for name, v in sorted(steps.items())}
    result["steps_per_message"] = round(sum(map(len, steps.values())) / max(1, result["matched"]), 1)
    return result, sample


def tracker_state(events: list[dict]) -> dict:
    """A tracker as Rasa sends it to the action server and the NLG endpoint, from one stored turn."""
    slots: dict = {}
    latest: dict = {}
    for event in events:
        if event.get("event") == "slot":
            slots[event.get("name")] = event.get("value")
        elif event.get("event") == "user":
            latest = event.get("parse_data") or {}
    return {"sender_id": "bench", "slots": slots, "latest_message": latest, "events": events, "paused": False,
            "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"}


def time_post(url: str, body: dict, rounds: int = 50) -> float:
    """Median milliseconds of ``POST url`` with ``body`` alone (a new connection each time, as Rasa makes)."""
    data = json.dumps(body).encode()
    timings = []
    for _ in range(rounds):
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 1)


def time_action_server(actions_url: str, events: list[dict]) -> dict:
    """One NLG round trip and one ``action_assess`` call alone, with the body sizes Rasa sends."""
    tracker = tracker_state(events)
    nlg = {"response": "utter_greet", "arguments": {}, "channel": {"name": "rest"}, "tracker": tracker}
    # With enable_selective_domain (bot.processes.action_endpoints) Rasa sends no domain to action_assess;
    # only the forms' validate_* actions get it (the file's content stands in for Domain.as_dict())
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    action = {"next_action": "action_assess", "sender_id": "bench", "tracker": tracker, "version": "3.6.21"}
    return {"nlg_round_trip_ms": time_post(f"{actions_url}/nlg", nlg),
            "assess_call_ms": time_post(f"{actions_url}/webhook", action),
            "tracker_json_kb": round(len(json.dumps(tracker)) / 1024, 1),
            "domain_json_kb": round(len(json.dumps(domain)) / 1024, 1)}


def ratio(this: float, stock: float) -> float:
    return round(this / stock, 2) if stock else float("inf")


def print_table(result: dict) -> None:
    this, stock = result["this"], result["stock"]
    rows = [("sequential p50 ms", "p50_ms", "sequential", TARGETS["p50"], "≤"),
            ("sequential p90 ms", "p90_ms", "sequential", None, ""),
            ("sequential p99 ms", "p99_ms", "sequential", TARGETS["p99"], "≤"),
            (f"{this['concurrent']['senders']} senders msg/s", "msg_per_s", "concurrent", TARGETS["throughput"], "≥"),
            (f"{this['concurrent']['senders']} senders p99 ms", "p99_ms", "concurrent", None, ""),
            ("Rasa RSS after run MB", "rss_mb", "memory", None, ""),
            ("Rasa peak RSS MB", "peak_rss_mb", "memory", None, "")]
    print(f"\n{'':<24}{'this bot':>10}{'stock':>10}{'this/stock':>12}  target")
    for label, key, section, target, sign in rows:
        mine, theirs = this[section][key], stock[section][key]
        share = ratio(mine, theirs)
        mark = ""
        if target is not None:
            ok = share <= target if sign == "≤" else share >= target
            mark = f"{sign} {target:g} × stock  {'ok' if ok else 'OVER'}"
        if key == "rss_mb":
            mark = f"≤ {TARGETS['rss_mb']:g} MB  {'ok' if mine <= TARGETS['rss_mb'] else 'OVER'}"
        print(f"{label:<24}{mine:>10}{theirs:>10}{share:>12}  {mark}")
    print(f"\n{'median ms by message':<24}{'this bot':>10}{'stock':>10}  replies (this/stock)  NLG calls  actions")
    where = result["this_time"]
    nlg_calls, action_calls = where["nlg_calls_by_kind"], where["custom_action_calls_by_kind"]
    for kind in this["sequential"]["p50_ms_by_kind"]:
        print(f"{kind:<24}{this['sequential']['p50_ms_by_kind'][kind]:>10}"
              f"{stock['sequential']['p50_ms_by_kind'][kind]:>10}"
              f"  {this['sequential']['replies_by_kind'][kind]:>8} / {stock['sequential']['replies_by_kind'][kind]:<9}"
              f"  {nlg_calls.get(kind, '?'):>9}  {action_calls.get(kind, '?'):>7}")
    print(f"\nthis bot, median of {where['matched']} sequential messages, from its tracker store's timestamps:")
    for key, label in (("request_to_session_ms", "request in → session started (HTTP, channel, tracker read)"),
                       ("nlu_ms", "→ user event (NLU pipeline)"),
                       ("dialogue_ms", "→ last event (policies, action server, NLG round trips)"),
                       ("save_and_answer_ms", "→ answer received (tracker write, HTTP back)")):
        print(f"  {label:<62}{where.get(key, '?'):>8} ms")
    print(f"  dialogue steps per message: {where['steps_per_message']}; median ms per step (prediction + run): "
          + ", ".join(f"{name} {ms}" for name, ms in where["step_ms_median"].items()))
    print(f"  one NLG round trip alone (POST /nlg, a turn's tracker)        {where['nlg_round_trip_ms']:>8} ms")
    print(f"  one action_assess call alone (POST /webhook)                  {where['assess_call_ms']:>8} ms")
    print(f"  (a turn's tracker {where['tracker_json_kb']} KB of JSON; the domain, {where['domain_json_kb']} KB, "
          "goes only to the forms' validate_* calls)")


def run(args: argparse.Namespace, tmp: Path) -> dict:
    with contextlib.ExitStack() as stack:
        if args.stock_project:
            project, init_s = Path(args.stock_project).resolve(), None
        else:
            print(f"rasa init --no-prompt in {tmp / 'stock'} (trains the stock model) …", flush=True)
            project, init_s = stock_project(tmp, stack)
            print(f"  done in {init_s:.0f} s", flush=True)
        print("starting both bots …", flush=True)
        this_rasa, this_url, actions_url, database = start_this(tmp, stack)
        stock_rasa, stock_url = start_stock(project, tmp, stack)
        samplers = {"this": RssSampler(this_rasa.pid), "stock": RssSampler(stock_rasa.pid)}
        for sampler in samplers.values():
            stack.callback(sampler.close)
        bots = {"this": this_url, "stock": stock_url}
        load_before = os.getloadavg()
        for text in list(MESSAGES.values()) * 3:  # warm-up
            for url in bots.values():
                post(url, text)
        print(f"sequential: {args.messages} rounds, one message to each bot per round …", flush=True)
        records = sequential(bots, args.messages)
        result: dict = {name: {"sequential": latency(records[name])} for name in bots}
        for name, url in bots.items():
            print(f"{args.senders} concurrent senders, {args.concurrent_messages} messages to {name} …", flush=True)
            result[name]["concurrent"] = concurrent(url, args.concurrent_messages, args.senders)
        for name, sampler in samplers.items():
            result[name]["memory"] = {"rss_mb": round(sampler.rss() / 1024**2),
                                      "peak_rss_mb": round(sampler.peak / 1024**2)}
        where, sample = breakdown(records["this"], database)
        where.update(time_action_server(actions_url, sample))
        result["this_time"] = where
        result["machine"] = {"cpus": os.cpu_count(), "loadavg_before": [round(x, 2) for x in load_before],
                             "loadavg_after": [round(x, 2) for x in os.getloadavg()]}
        result["stock_init_s"] = round(init_s, 1) if init_s is not None else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200, help="sequential rounds (messages per bot)")
    parser.add_argument("--concurrent-messages", type=int, default=400, help="messages per bot with parallel senders")
    parser.add_argument("--senders", type=int, default=16, help="parallel senders")
    parser.add_argument("--stock-project", help="reuse a stock project made by `rasa init` instead of a new one")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, stock project)")
    args = parser.parse_args()
    if not MODEL.exists():
        raise SystemExit(f"no trained model at {MODEL}: run `make train`")

    def terminated(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # the ExitStack stops every process on the way out

    signal.signal(signal.SIGTERM, terminated)
    tmp = Path(tempfile.mkdtemp(prefix="vs_stock-"))
    try:
        result = run(args, tmp)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    this, stock = result["this"], result["stock"]
    ratios = {"p50": ratio(this["sequential"]["p50_ms"], stock["sequential"]["p50_ms"]),
              "p99": ratio(this["sequential"]["p99_ms"], stock["sequential"]["p99_ms"]),
              "throughput": ratio(this["concurrent"]["msg_per_s"], stock["concurrent"]["msg_per_s"]),
              "concurrent_p99": ratio(this["concurrent"]["p99_ms"], stock["concurrent"]["p99_ms"]),
              "rss": ratio(this["memory"]["rss_mb"], stock["memory"]["rss_mb"])}
    result["ratios"] = ratios
    result["targets_met"] = {"p50": ratios["p50"] <= TARGETS["p50"], "p99": ratios["p99"] <= TARGETS["p99"],
                             "throughput": ratios["throughput"] >= TARGETS["throughput"],
                             "rss": this["memory"]["rss_mb"] <= TARGETS["rss_mb"]}
    write("vs_stock", result)
    print_table(result)


if __name__ == "__main__":
    main()
