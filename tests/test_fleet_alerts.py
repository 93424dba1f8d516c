"""Alerts and sends across processes: real PostgreSQL and Redis (bot/fleet.py), the fake Telegram API on loopback.

- Two ``fraudbot alert worker`` processes share one PostgreSQL outbox; one is SIGKILLed in the
  middle and started again: every target gets the alert once, except the rows the killed
  worker had on the wire, which are reported uncertain — and no target gets it twice.
- Several processes sending with one bot token keep Telegram's limits together through the
  send budget in Redis; when Redis stops, sending goes on with each process's own windows and
  health says ``send_budget`` is degraded.

Run as a module (``python -m tests.test_fleet_alerts send …``) this file is also the small
sending process of the budget test.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import select

from bot import health
from bot.alerts.model import SENDING, UNCERTAIN, outbox
from bot.alerts.service import AlertService
from bot.alerts.worker import INTERRUPTED
from bot.fleet import Postgres, Redis
from bot.migrations import upgrade
from bot.processes import spawn, stop
from bot.senders.budget import REDIS_RETRY_SECONDS, SendBudget, Slot, shared_budget
from bot.senders.telegram import TelegramSender, alerts_bot
from bot.store import groups, now
from tests.fakes.telegram_api import FakeTelegram

TARGETS = 1000
CONCURRENCY = 8  # OutboxWorker's default: how many rows one worker has on the wire at most
RESULT = "RESULT "
READY = "READY"


@pytest.fixture(scope="module")
def engines_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="fraudbot-"))
    directory.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data directory
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres(engines_dir: Path) -> Iterator[Postgres]:
    server = Postgres(engines_dir / "postgres", durable=False).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(engines_dir: Path, request: pytest.FixtureRequest) -> Iterator[Redis]:
    server = Redis(engines_dir / f"redis-{request.node.name[:40]}").start()
    try:
        yield server
    finally:
        server.stop()



def store(postgres: Postgres, name: str) -> str:
    url = postgres.create_database(name)
    upgrade(url)
    return url


def busiest_second(moments: list[float], period: float = 1.0) -> int:
    """The most messages any window of ``period`` seconds holds (windows start at each message)."""
    moments = sorted(moments)
    return max((sum(1 for t in moments[i:] if t < start + period) for i, start in enumerate(moments)), default=0)


# -- two workers, one killed ---------------------------------------------------------------------


def test_fleet_two_workers_deliver_1000_targets_exactly_once_with_one_killed(
        postgres: Postgres, redis_server: Redis, telegram: FakeTelegram, engines_dir: Path) -> None:
    url = store(postgres, "alerts_two_workers")
    service = AlertService(url)
    with service.engine.begin() as db:  # 1000 groups at once (the registry records one at a time)
        db.execute(groups.insert(), [{"channel": "telegram", "chat_id": str(-1000000 - i), "title": f"小区群{i}",
                                      "active": True, "autowarn": True, "regions": "朝阳区", "added_at": now()}
                                     for i in range(TARGETS)])
    service.add_officer("张警官", "officer", login="zhang")
    alert_id = service.create(service.authorize("login", "zhang"), "刷单返利诈骗预警", "刷单就是诈骗。", "朝阳区",
                              "task_rebate")
    telegram.latency = 0.01  # a little time on the wire, so that the kill finds messages in flight
    env = {"FRAUDBOT_DB_URL": url, "FRAUDBOT_REDIS_URL": redis_server.url, "TELEGRAM_BOT_TOKEN": "123456:FLEET",
           "TELEGRAM_API_BASE_URL": telegram.base_url, "FRAUDBOT_TELEGRAM_PER_SECOND": "300",
           "FRAUDBOT_ALERT_LEASE": "2"}
    logs = engines_dir / "logs"
    logs.mkdir(exist_ok=True)
    workers = [spawn("bot.cli", "alert", "worker", log=logs / f"worker-{n}.log", env=env) for n in "ab"]
    try:
        assert telegram.wait_for(lambda: len(telegram.sent()) >= 300, 90)
        killed = workers[0]
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        with service.engine.connect() as db:  # what the killed worker had on the wire
            in_flight = set(db.execute(select(outbox.c.id).where(
                outbox.c.state == SENDING, outbox.c.claimed_by.like(f"%:{killed.pid}:%"))).scalars())
        assert len(telegram.sent()) < TARGETS  # really killed in the middle
        workers.append(spawn("bot.cli", "alert", "worker", log=logs / "worker-a-again.log", env=env))

        def finished() -> bool:
            with service.engine.connect() as db:
                return db.execute(select(outbox.c.id).where(outbox.c.state.in_(("pending", "sending")))
                                  .limit(1)).first() is None

        assert telegram.wait_for(finished, 90)
    finally:
        for worker in workers:
            stop(worker)

    with service.engine.connect() as db:
        rows = db.execute(select(outbox.c.id, outbox.c.chat_id, outbox.c.state, outbox.c.last_error)).all()
    final = Counter(row.state for row in rows)
    uncertain = {row.id for row in rows if row.state == UNCERTAIN}
    per_chat = Counter(int(c.params["chat_id"]) for c in telegram.sent())
    assert max(per_chat.values()) == 1  # no target got the alert twice
    assert final["delivered"] + final["uncertain"] == TARGETS
    # uncertain are exactly the rows the killed worker had on the wire: not one of the live worker's
    assert uncertain == in_flight and len(uncertain) <= CONCURRENCY
    assert all(row.last_error == INTERRUPTED for row in rows if row.state == UNCERTAIN)
    delivered_chats = {int(row.chat_id) for row in rows if row.state == "delivered"}
    assert delivered_chats <= set(per_chat)  # every delivered row arrived, once
    assert len(per_chat) - len(delivered_chats) <= len(uncertain)  # the rest that arrived are uncertain ones
    assert service.status(alert_id)["channels"] == {"telegram": dict(final)}


# -- one budget for every process ----------------------------------------------------------------


def sending(env: dict[str, str], logs: Path, name: str, chat_lists: list[list[str]]) -> list[subprocess.Popen]:
    """One process of this module's sending script per list of chats; returns once all of them are sending."""
    go = logs / f"{name}.go"
    processes = [spawn("tests.test_fleet_alerts", "send", str(go), *chats, log=logs / f"{name}-{n}.log", env=env)
                 for n, chats in enumerate(chat_lists)]

    def ready() -> bool:
        for n, process in enumerate(processes):
            assert process.poll() is None, (logs / f"{name}-{n}.log").read_text(encoding="utf-8")[-2000:]
        return all(READY in (logs / f"{name}-{n}.log").read_text(encoding="utf-8") for n in range(len(processes)))

    assert FakeTelegram.wait_for(ready, 60)
    go.touch()
    return processes


def report(log: Path) -> dict:
    """What a sending process printed at its end: how many were sent, and its health."""
    lines = [line for line in log.read_text(encoding="utf-8").splitlines() if line.startswith(RESULT)]
    assert lines, log.read_text(encoding="utf-8")[-2000:]
    return json.loads(lines[-1].removeprefix(RESULT))


def test_fleet_shared_telegram_budget_holds_across_processes(redis_server: Redis, telegram: FakeTelegram,
                                                             engines_dir: Path) -> None:
    limit, group_limit, group = 10, 5, -77
    env = {"FRAUDBOT_REDIS_URL": redis_server.url, "TELEGRAM_BOT_TOKEN": "123456:BUDGET",
           "TELEGRAM_API_BASE_URL": telegram.base_url, "FRAUDBOT_TELEGRAM_PER_SECOND": str(limit),
           "FRAUDBOT_TELEGRAM_GROUP_PER_MINUTE": str(group_limit)}
    logs = engines_dir / "budget-logs"
    # three processes, each 12 private chats of its own and the same group four times
    private = [[str(1000 * (n + 1) + i) for i in range(12)] for n in range(3)]
    logs.mkdir(exist_ok=True)
    processes = sending(env, logs, "shared", [[*chats, *[str(group)] * 4] for chats in private])
    try:
        everyone = {int(chat) for chats in private for chat in chats}
        assert telegram.wait_for(lambda: everyone <= {int(c.params["chat_id"]) for c in telegram.sent()}, 60)
        # the 36 private messages took seconds; the group's minute is still running
        assert len(telegram.sent(group)) == group_limit
        assert busiest_second([c.at for c in telegram.sent()]) <= limit
        # 12 group messages were asked for, 5 went: the other 7 wait in at least two of the processes
        assert sum(1 for p in processes if p.poll() is None) >= 2
    finally:
        for process in processes:
            stop(process)

    # the same with Redis stopped in the middle: each process goes on with its own windows
    env["TELEGRAM_BOT_TOKEN"] = "654321:FALLBACK"
    chats = [[str(50000 * (n + 1) + i) for i in range(20)] for n in range(3)]
    wanted = {int(chat) for mine in chats for chat in mine}

    def arrived() -> list:
        return [c for c in telegram.sent() if int(c.params["chat_id"]) in wanted]

    processes = sending(env, logs, "fallback", chats)
    try:
        assert telegram.wait_for(lambda: len(arrived()) >= 15, 60)
        stopped_at = time.monotonic()
        redis_server.stop()
        assert telegram.wait_for(lambda: len(arrived()) == 60, 60)  # sending went on, all of it
        assert all(p.wait(timeout=30) == 0 for p in processes)
    finally:
        for process in processes:
            stop(process)
    assert sorted(int(c.params["chat_id"]) for c in arrived()) == sorted(wanted)  # each once
    assert busiest_second([c.at for c in arrived() if c.at <= stopped_at]) <= limit
    # a process whose remaining slots were all granted before Redis stopped never asks it again,
    # so not every process must notice; those that asked Redis in vain say so, once
    results = {n: report(logs / f"fallback-{n}.log") for n in range(3)}
    assert all(result["ok"] == 20 for result in results.values())
    noticed = [n for n, result in results.items() if result["health"]["status"] == "degraded"]
    assert noticed, results
    for n in noticed:
        assert "send_budget" in results[n]["health"]["problems"]
        text = (logs / f"fallback-{n}.log").read_text(encoding="utf-8")
        assert text.count("FRAUDBOT_DEGRADED component=send_budget") == 1


class SteppedClock:
    """A monotonic clock the test moves on (the budget asks Redis again only after its fallback time)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_fleet_send_budget_falls_back_and_recovers(redis_server: Redis) -> None:
    clock = SteppedClock()
    budget = SendBudget(redis_server.url, sleep=clock.sleep, clock=clock)
    slot = [Slot("recovery-test", 100, 1.0)]

    async def take() -> None:
        await budget.take(slot)

    asyncio.run(take())
    assert budget.shared and "send_budget" not in health.status().get("problems", {})
    redis_server.stop()
    asyncio.run(take())  # a send is not held up: the local window takes it
    assert not budget.shared and "send_budget" in health.status()["problems"]
    redis_server.start()  # the same port again (the fixture stops it)
    clock.now += REDIS_RETRY_SECONDS
    asyncio.run(take())
    assert budget.shared and "send_budget" not in health.status().get("problems", {})


# -- the sending process of the budget test ------------------------------------------------------


async def send_all(chats: list[str], go: Path) -> int:
    """Send one message to each chat, all at once (they compete for the budget as a busy bot's sends do).

    The bot is initialised first and the sends start when ``go`` exists: the test starts every
    process's sends together, not each after its own start-up.
    """
    sender = TelegramSender(alerts_bot(os.environ["TELEGRAM_BOT_TOKEN"], os.environ["TELEGRAM_API_BASE_URL"]),
                            budget=shared_budget())
    await sender.bot.initialize()
    print(READY, flush=True)
    while not go.exists():
        await asyncio.sleep(0.01)
    results = await asyncio.gather(*(sender.send_message(chat, "拿不准就打96110") for chat in chats))
    await sender.budget.close()
    await sender.bot.shutdown()
    return sum(1 for result in results if result.ok)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "send":
        print("usage: python -m tests.test_fleet_alerts send GO_FILE CHAT…", file=sys.stderr)
        return 2
    ok = asyncio.run(send_all(argv[2:], Path(argv[1])))
    print(RESULT + json.dumps({"ok": ok, "health": health.status()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
