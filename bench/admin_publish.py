"""How long the admin's steps take against the real bot: validating, and putting live by each path.

    make train && .venv/bin/python bench/admin_publish.py [--examples]

Starts the action server (with its NLG endpoint) and a Rasa server with its HTTP API on a
temporary copy of the content files, then measures with the admin's own Publisher:

* validate: one save's validation of the whole content (Rasa's checks + ours), median of 3;
* runtime: an advice edit put live, until the REST channel answers with the new text;
* rule: a rule edit put live: training with Rasa's cache, ``PUT /model``, until the bot follows the rule;
* examples (with ``--examples``): one new NLU example, which retrains the intent model.

Writes bench/results/admin_publish.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
from bench.results_file import write  # noqa: E402
from bot.processes import action_endpoints, free_port, wait_http  # noqa: E402

STORY = "有人打电话自称公安局的，说我涉嫌洗钱，让我把钱转到安全账户配合调查"
NEW_TRUTH = "【基准测试】真警察不会在电话里让你转账。"


def say(rasa: str, text: str, sender: str) -> str:
    request = urllib.request.Request(f"{rasa}/webhooks/rest/webhook", method="POST",
                                     data=json.dumps({"sender": sender, "message": text}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return "\n".join(m.get("text", "") for m in json.loads(response.read()))


def until(predicate: object, timeout: float = 60) -> float:
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise TimeoutError("the live bot did not change")
        time.sleep(0.05)
    return time.perf_counter() - started


async def publish(publisher: object, summary: str) -> float:
    started = time.perf_counter()
    job = publisher.publish("bench", summary)
    await publisher._task
    if job.state != "done":
        raise RuntimeError(job.error)
    return time.perf_counter() - started


async def measure(tmp: Path, rasa: str, env: dict[str, str], with_examples: bool) -> dict[str, float]:
    from bot.admin import content
    from bot.admin.content import SCENARIOS, Draft, read_files
    from bot.admin.history import History
    from bot.admin.publish import Publisher
    from bot.admin.validation import validate_files
    from bot.config import AdminConfig

    files = read_files(ROOT)
    validate_s = statistics.median(_timed(lambda: validate_files(files)) for _ in range(3))
    config = AdminConfig(live_root=Path(env["FRAUDBOT_CONTENT_DIR"]), admin_dir=tmp / "admin", rasa_urls=(rasa,),
                         rasa_token="bench", live_model=Path(env["FRAUDBOT_MODEL"]), endpoints=tmp / "none.yml",
                         secure_cookies=False)
    draft = Draft(config.live_root, config.admin_dir / "draft")
    publisher = Publisher(config, draft, History(f"sqlite:///{tmp / 'store.db'}"))
    result = {"validate_s": round(validate_s, 2)}

    draft.save({SCENARIOS: content.edit_scenario(draft.read(SCENARIOS), "impersonate_police", {
        "name": "冒充公检法", "situation": "call", "truth": NEW_TRUTH, "advice": "挂断电话", "ask_on_call": True})})
    job_s = await publish(publisher, "runtime")
    live_s = until(lambda: NEW_TRUTH in say(rasa, STORY, f"r{time.time()}"))
    result.update(runtime_publish_s=round(job_s, 2), runtime_until_live_s=round(job_s + live_s, 2))

    rules = draft.read("stories/rules.yml").replace(
        "      - intent: bot_challenge\n      - action: utter_iamabot\n",
        "      - intent: bot_challenge\n      - action: utter_iamabot\n      - action: utter_what_i_can_do\n")
    draft.save({"stories/rules.yml": rules})
    job_s = await publish(publisher, "rule")
    live_s = until(lambda: "我能帮您" in say(rasa, "你是机器人吗", f"r{time.time()}"))
    result.update(rule_publish_s=round(job_s, 2), rule_until_live_s=round(job_s + live_s, 2))

    if with_examples:
        path = "nlu/data/general/intents.yml"
        blocks = {b["index"]: "\n".join(b["examples"] + ["您好您好，在吗"])
                  for b in content.example_blocks(path, draft.read(path)) if b["intent"] == "greet"}
        draft.save({path: content.edit_examples(path, draft.read(path), blocks)})
        result["examples_publish_s"] = round(await publish(publisher, "examples"), 2)
    return result


def _timed(work: object) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    from bot.admin.content import read_files, write_files

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        live = tmp / "live"
        write_files(live, read_files(ROOT))
        model = tmp / "live.tar.gz"
        os.link(ROOT / "models" / "fraudbot.tar.gz", model)
        env = {**os.environ, "FRAUDBOT_CONTENT_DIR": str(live), "FRAUDBOT_MODEL": str(model)}
        action_port, rasa_port = free_port(), free_port()
        endpoints = tmp / "endpoints.yml"
        endpoints.write_text(action_endpoints(f"http://127.0.0.1:{action_port}"), encoding="utf-8")
        processes = [subprocess.Popen([sys.executable, "-m", "actions.server", "--port", str(action_port)],
                                      cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        try:
            wait_http(f"http://127.0.0.1:{action_port}/health", 90, processes[0])
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "bot.rasa_server", "run", "-m", str(model), "--enable-api",
                 "--endpoints", str(endpoints), "--credentials", "credentials.yml", "--port", str(rasa_port)],
                cwd=ROOT, env={**env, "FRAUDBOT_RASA_TOKEN": "bench"}, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
            rasa = f"http://127.0.0.1:{rasa_port}"
            wait_http(f"{rasa}/webhooks/rest/", 240, processes[1])
            result = asyncio.run(measure(tmp, rasa, env, "--examples" in sys.argv))
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
    write("admin_publish", result)


if __name__ == "__main__":
    main()
