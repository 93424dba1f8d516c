"""Time to deliver one alert to 1,000 Telegram groups at Telegram's real limits, next to the floor.

    .venv/bin/python bench/alerts_fanout.py [GROUPS]

The floor is what the limits allow: GROUPS / 30 messages per second (1,000 → 33.3 s). The
worker runs for real against a local fake Bot API on loopback; the script prints the time,
the floor, their ratio, and duplicates / lost messages (both must be 0), and writes
bench/results/alerts_fanout.json.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.results_file import write  # noqa: E402
from bot.alerts.service import AlertService  # noqa: E402
from bot.alerts.worker import OutboxWorker  # noqa: E402
from bot.senders.telegram import TELEGRAM_OVERALL_PER_SECOND, TelegramGroupSender, alerts_bot  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402


async def deliver(service: AlertService, api: FakeTelegram) -> float:
    bot = alerts_bot("123456:BENCH", api.base_url)
    await bot.initialize()
    worker = OutboxWorker(service, {"telegram": TelegramGroupSender(bot)})
    started = time.perf_counter()
    await worker.run(until_idle=True, poll=0.05)
    elapsed = time.perf_counter() - started
    await bot.shutdown()
    return elapsed


def main() -> None:
    groups = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    api = FakeTelegram().start()
    with tempfile.TemporaryDirectory() as tmp:
        service = AlertService(f"sqlite:///{Path(tmp) / 'store.db'}")
        for i in range(groups):
            service.registry.record("telegram", str(-1_000_000 - i), f"群{i}", "全市")
        service.add_officer("值班民警", login="duty")
        service.create(service.authorize("login", "duty"), "基准测试", "通报正文", "全市")
        elapsed = asyncio.run(deliver(service, api))
    api.stop()
    per_group = Counter(int(c.params["chat_id"]) for c in api.sent())
    floor = groups / TELEGRAM_OVERALL_PER_SECOND
    result = {"groups": groups, "seconds": round(elapsed, 2), "floor_seconds": round(floor, 2),
              "ratio": round(elapsed / floor, 3), "duplicates": sum(n - 1 for n in per_group.values() if n > 1),
              "lost": groups - len(per_group)}
    write("alerts_fanout", result)


if __name__ == "__main__":
    main()
