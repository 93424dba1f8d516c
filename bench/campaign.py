"""Alerts first: a 警情通报's delivery time to 1,000 Telegram groups alone, and next to a daily tip to the same groups.

    .venv/bin/python bench/campaign.py [GROUPS]

Three runs in one process, each on a store of its own, the real outbox worker and Telegram sender at Telegram's
real limits (30 messages a second for the bot, 20 a minute per group) against the local fake Bot API:

- ``alone``: the alert only;
- ``same_time``: the day's timely tip is queued for every group
  (:class:`bot.campaign_scheduler.CampaignScheduler`), then the alert, before the worker starts;
- ``during``: the tip is being delivered, and the alert is queued when the 100th tip has gone out.

The alert's delivery time runs from the moment it is queued to its last group's message; the target is the
same time within 5 % with the campaign as without. The script also prints how many tips went out between the
alert being queued and its last message (at most the worker's small batch of campaign rows in flight), that
every group got each message exactly once, and writes bench/results/campaign.json.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.results_file import write  # noqa: E402
from bot.alerts.service import AlertService  # noqa: E402
from bot.alerts.worker import OutboxWorker  # noqa: E402
from bot.campaign_messages import DAILY_TIP  # noqa: E402
from bot.campaign_scheduler import CampaignScheduler  # noqa: E402
from bot.campaigns import DAILY, Campaigns  # noqa: E402
from bot.retention import CHINA  # noqa: E402
from bot.senders.budget import SendBudget  # noqa: E402
from bot.senders.telegram import TELEGRAM_OVERALL_PER_SECOND, TelegramSender, alerts_bot  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

ALERT_MARK = "【警情通报】"
DURING_AFTER = 100  # tips delivered before the alert is queued in the "during" run


class Timed(TelegramSender):
    """The real sender, noting when each delivered message (alert or tip) came back, and calling ``after``."""

    def __init__(self, bot: Any, budget: SendBudget) -> None:
        super().__init__(bot, budget=budget)
        self.delivered: list[tuple[str, float]] = []
        self.after: Callable[[int], Awaitable[None]] | None = None

    async def deliver(self, target: str, text: str) -> Any:
        result = await super().deliver(target, text)
        kind = "alert" if text.startswith(ALERT_MARK) else "tip"
        self.delivered.append((kind, time.perf_counter()))
        if self.after is not None and kind == "tip":
            await self.after(sum(1 for k, _ in self.delivered if k == "tip"))
        return result


def store_with_groups(directory: str, groups: int) -> str:
    url = f"sqlite:///{Path(directory) / 'store.db'}"
    service = AlertService(url)
    for number in range(groups):
        service.registry.record("telegram", str(-1_000_000 - number), f"群{number}", "全市")
    service.add_officer("值班民警", login="duty")
    return url


def queue_alert(url: str) -> float:
    """Queue the alert; returns the moment it was queued."""
    service = AlertService(url)
    queued = time.perf_counter()
    service.create(service.authorize("login", "duty"), "冒充客服诈骗高发",
                   "近期有人冒充电商客服以退款为名诈骗，请勿转账。", "全市")
    return queued


def queue_tip(url: str) -> int:
    """Plan the timely daily tip for every group and let the scheduler queue tomorrow morning's send."""
    Campaigns(url).plan("bench", name="每日时令提示", kind=DAILY_TIP, regions="全市", channels=["telegram"],
                        schedule=DAILY, at="09:00")
    tomorrow = datetime.now(CHINA).date() + timedelta(days=1)
    fired = CampaignScheduler(url, clock=lambda: datetime.combine(tomorrow, day_time(9, 0), CHINA)).run_due()
    return sum(f.queued for f in fired)


async def run(mode: str, groups: int) -> dict[str, Any]:
    api = FakeTelegram().start()
    bot = alerts_bot("123456:BENCH", api.base_url)
    await bot.initialize()
    sender = Timed(bot, SendBudget())  # a budget of its own: one run's windows do not spill into the next
    queued_at: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="fraudbot-") as directory:
            url = store_with_groups(directory, groups)
            tips = await asyncio.to_thread(queue_tip, url) if mode != "alone" else 0
            if mode != "during":
                queued_at.append(await asyncio.to_thread(queue_alert, url))
            else:
                async def alert_when_under_way(tips_sent: int) -> None:
                    if tips_sent == DURING_AFTER:
                        queued_at.append(await asyncio.to_thread(queue_alert, url))
                sender.after = alert_when_under_way
            started = time.perf_counter()
            await OutboxWorker(AlertService(url), {"telegram": sender}).run(until_idle=True, poll=0.05)
            finished = time.perf_counter()
    finally:
        await bot.shutdown()
        api.stop()
    alert_times = [at for kind, at in sender.delivered if kind == "alert"]
    last_alert = max(alert_times)
    per_group = Counter((int(call.params["chat_id"]), call.params["text"].startswith(ALERT_MARK))
                        for call in api.sent())
    expected = groups * (2 if mode != "alone" else 1)
    return {"mode": mode, "alert_seconds": round(last_alert - queued_at[0], 2),
            "tips_queued": tips, "run_seconds": round(finished - started, 2),
            "tips_sent_while_alert_pending": sum(1 for kind, at in sender.delivered
                                                 if kind == "tip" and queued_at[0] <= at <= last_alert),
            "duplicates": sum(n - 1 for n in per_group.values() if n > 1),
            "lost": expected - len(per_group)}


def main() -> None:
    groups = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    runs = {mode: asyncio.run(run(mode, groups)) for mode in ("alone", "same_time", "during")}
    alone = runs["alone"]["alert_seconds"]
    result = {"groups": groups, "floor_seconds": round(groups / TELEGRAM_OVERALL_PER_SECOND, 2),
              "alert_alone_seconds": alone,
              "alert_with_tip_queued_same_time_seconds": runs["same_time"]["alert_seconds"],
              "alert_during_tip_seconds": runs["during"]["alert_seconds"],
              "ratio_same_time": round(runs["same_time"]["alert_seconds"] / alone, 3),
              "ratio_during": round(runs["during"]["alert_seconds"] / alone, 3),
              "target_ratio": 1.05,
              "runs": list(runs.values())}
    result["met"] = max(result["ratio_same_time"], result["ratio_during"]) <= result["target_ratio"]
    write("campaign", result)


if __name__ == "__main__":
    main()
