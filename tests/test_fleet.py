"""The bot as a fleet: two Rasa replicas and two action servers behind HAProxy, PostgreSQL, Redis (bot/fleet.py).

Everything is real: Debian's PostgreSQL, Redis and HAProxy on loopback ports, the trained
model, Rasa's SQL tracker store (redacting) on PostgreSQL and its Redis lock store. Turns are
sent to chosen replicas directly, or through the balancer as a channel would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.fleet import Fleet

TOKEN = "fleet-test-token"
FIRST_QUESTION = "对方有没有让您转账"
SECOND_QUESTION = "对方有没有要验证码"
THIRD_QUESTION = "您的钱已经转出去了吗"
CALL = "刚才有个人打电话说是快递客服，说我的包裹丢了要理赔"


@pytest.fixture(scope="module")
def fleet(trained_model: Path) -> Iterator[Fleet]:
    directory = Path(tempfile.mkdtemp(prefix="fraudbot-fleet-"))
    directory.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data directory
    fleet = Fleet(directory, trained_model, replicas=2, action_servers=2, durable=False,
                  env={"FRAUDBOT_RASA_TOKEN": TOKEN, "TICKET_LOCK_LIFETIME": "10"})
    try:
        yield fleet.start()
    finally:
        fleet.stop()
        shutil.rmtree(directory, ignore_errors=True)


def say(server: str, sender: str, text: str, timeout: float = 60) -> list[dict[str, Any]]:
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(f"{server}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        assert reply.status == 200
        return json.loads(reply.read())


def joined(replies: list[dict[str, Any]]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def user_texts(server: str, sender: str) -> list[tuple[str, list[str]]]:
    """Each stored user message with the bot's texts that followed it, from the tracker store."""
    url = f"{server}/conversations/{urllib.parse.quote(sender)}/tracker?token={TOKEN}"
    with urllib.request.urlopen(url, timeout=30) as reply:
        events = json.loads(reply.read())["events"]
    turns: list[tuple[str, list[str]]] = []
    for event in events:
        if event["event"] == "user":
            turns.append((event.get("text") or "", []))
        elif event["event"] == "bot" and turns:
            turns[-1][1].append(event.get("text") or "")
    return turns


def test_fleet_conversation_keeps_its_state_across_replicas(fleet: Fleet) -> None:
    """The three-question call check, each turn on another replica: the form goes on where it was."""
    first, second = fleet.replica_urls
    sender = "fleet-form-across"
    assert FIRST_QUESTION in joined(say(first, sender, CALL))
    assert SECOND_QUESTION in joined(say(second, sender, "没有"))
    assert THIRD_QUESTION in joined(say(first, sender, "没有"))
    verdict = joined(say(fleet.url, sender, "还没有"))
    assert "不像诈骗" in verdict, verdict
    # both replicas read the same conversation from PostgreSQL
    assert [text for text, _ in user_texts(first, sender)] == [CALL, "没有", "没有", "还没有"]
    assert user_texts(first, sender) == user_texts(second, sender)


def test_fleet_same_sender_at_once_is_answered_in_order(fleet: Fleet) -> None:
    """Messages of one resident sent at the same moment to both replicas: Redis's lock makes
    them take turns, so every message is kept and each is answered before the next is read."""
    sender = "fleet-same-time"
    texts = [f"我想问一下第{n}个问题，有人加我微信说能帮忙办信用卡提额" for n in range(1, 9)]
    replicas = fleet.replica_urls
    with ThreadPoolExecutor(len(texts)) as pool:
        answers = list(pool.map(lambda item: say(replicas[item[0] % 2], sender, item[1]), enumerate(texts)))
    assert all(answer and joined(answer) for answer in answers)
    turns = user_texts(replicas[0], sender)
    assert sorted(text for text, _ in turns) == sorted(texts), "a message was lost or stored twice"
    assert all(bot_texts for _, bot_texts in turns), "a message's answer was stored after the next message"


CONTENDER = """
import asyncio, sys, time
import redis
from bot.lock_store import AtomicRedisLockStore

store = AtomicRedisLockStore(host="127.0.0.1", port=int(sys.argv[1]), db=3)
counter = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), db=3)

async def main():
    for _ in range(25):
        async with store.lock("one-resident"):
            value = int(counter.get("counter") or 0)  # read, wait, write: lost unless the lock holds
            time.sleep(0.002)
            counter.set("counter", value + 1)

asyncio.run(main())
"""


def test_fleet_lock_store_serves_one_process_at_a_time(fleet: Fleet) -> None:
    """Four processes taking one conversation's lock 25 times each: no two ever hold it at once."""
    import subprocess
    import sys

    import redis

    assert fleet.redis is not None
    port = str(fleet.redis.port)
    processes = [subprocess.Popen([sys.executable, "-c", CONTENDER, port], cwd=Path(__file__).resolve().parents[1])
                 for _ in range(4)]
    assert [process.wait(120) for process in processes] == [0, 0, 0, 0]
    assert int(redis.Redis(host="127.0.0.1", port=fleet.redis.port, db=3).get("counter")) == 100


def test_fleet_replica_killed_mid_load_loses_no_conversation(fleet: Fleet) -> None:
    """Sixteen residents going through the call check through the balancer; one replica is
    SIGKILLed a third of the way in. Every message is answered and no conversation loses a turn."""
    senders = [f"fleet-load-{n}" for n in range(16)]
    turns = [CALL, "没有", "也没有", "还没有"]
    answered = 0
    lock = threading.Lock()
    third = threading.Event()

    def resident(sender: str) -> list[str]:
        nonlocal answered
        replies = []
        for text in turns:
            replies.append(joined(say(fleet.url, sender, text, timeout=90)))
            with lock:
                answered += 1
                if answered >= len(senders) * len(turns) // 3:
                    third.set()
        return replies

    with ThreadPoolExecutor(len(senders)) as pool:
        futures = [pool.submit(resident, sender) for sender in senders]
        while not third.wait(0.2):  # a resident whose request failed ends the wait with its error
            for future in futures:
                if future.done():
                    future.result()
        victim = fleet.rasa[0]
        os.kill(victim.pid, signal.SIGKILL)
        results = [future.result(timeout=300) for future in futures]
    victim.wait(10)

    for replies in results:
        assert len(replies) == len(turns)
        assert all(reply.strip() for reply in replies), "a resident got an empty answer"
        assert all("96110" in reply or "？" in reply or "不像诈骗" in reply for reply in replies)
    survivor = fleet.replica_urls[1]
    for sender in senders:
        stored = [text for text, _ in user_texts(survivor, sender)]
        # a message whose replica died after storing it but before answering is retried by the
        # balancer and stored again, next to itself; none may be missing, and the order is kept
        collapsed = [text for n, text in enumerate(stored) if n == 0 or text != stored[n - 1]]
        assert collapsed == turns, (sender, stored)


def test_fleet_deploy_haproxy_config_is_what_the_fleet_runs() -> None:
    """deploy/haproxy.cfg (the example for a data centre) is the generated configuration, and HAProxy accepts it."""
    import subprocess

    from bot.fleet import Frontend, haproxy_config

    deployed = (Path(__file__).resolve().parents[1] / "deploy" / "haproxy.cfg").read_text(encoding="utf-8")
    generated = haproxy_config([Frontend("rasa", 5000, [5005, 5006], "/"),
                                Frontend("actions", 5050, [5055, 5056], "/health")])
    assert "\n".join(line for line in deployed.splitlines() if not line.startswith("#")).strip() == generated.strip()
    checked = subprocess.run([shutil.which("haproxy") or "/usr/sbin/haproxy", "-c", "-f",
                              str(Path(__file__).resolve().parents[1] / "deploy" / "haproxy.cfg")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_fleet_a_retry_reaching_another_replica_is_seen(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Message ids are remembered in Redis: a WeChat retry or Telegram update that the balancer
    sends to the other replica is recognised; with Redis gone each replica still catches its own."""
    from bot import health
    from bot.channels.seen import SeenMessages
    from bot.fleet import Redis

    server = Redis(tmp_path_factory.mktemp("seen-redis")).start()
    try:
        first, second = (SeenMessages(namespace="wechat:msg", url=server.url) for _ in range(2))
        assert first.first_time("msg-1") is True
        assert second.first_time("msg-1") is False  # the retry, on the other replica
        assert SeenMessages(namespace="telegram:update", url=server.url).first_time("msg-1") is True
    finally:
        server.stop()
    assert first.first_time("msg-2") is True
    assert first.first_time("msg-2") is False
    assert SeenMessages.COMPONENT in health.status()["problems"]
    health.recovered(SeenMessages.COMPONENT)


def test_fleet_a_replayed_wechat_callback_is_refused_by_the_other_replica(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A signed WeChat callback replayed with another body to another replica is refused there too;
    the same bytes again are WeChat retrying."""
    from bot.channels.wechat_common import ReplayGuard, Seen
    from bot.fleet import Redis

    server = Redis(tmp_path_factory.mktemp("replay-redis")).start()
    try:
        first, second = (ReplayGuard(namespace="wechat", url=server.url) for _ in range(2))
        key = ("1795996620", "nonce-1", "signature-1")
        assert first.check(key, b"<xml>message</xml>") is Seen.NEW
        assert second.check(key, b"<xml>other</xml>") is Seen.REPLAY
        assert second.check(("1795996620", "nonce-2", "signature-2"), b"<xml>message</xml>") is Seen.NEW
        assert ReplayGuard(namespace="wechat", url=server.url).check(key, b"<xml>message</xml>") is Seen.RETRY
    finally:
        server.stop()
