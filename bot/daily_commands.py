"""``fraudbot report daily``, ``fraudbot retention run|policy``, ``fraudbot followup cards`` and ``fraudbot daily``:
the daily analysis and the 回访 case cards from the command line, and the long-running job (which also starts
the follow-ups that are due, :mod:`bot.followup_job`).

The tracker store is found the way Rasa finds it, from the endpoints file (``--endpoints``, default
``FRAUDBOT_ENDPOINTS`` or the project's ``endpoints.yml``); the project's store from ``FRAUDBOT_DB_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from bot.config import PROJECT_ROOT


def add_parsers(commands: argparse._SubParsersAction) -> None:
    endpoints = argparse.ArgumentParser(add_help=False)
    endpoints.add_argument("--endpoints", type=Path,
                           default=Path(os.environ.get("FRAUDBOT_ENDPOINTS") or PROJECT_ROOT / "endpoints.yml"),
                           help="Rasa's endpoints file: where the tracker store is")
    report = commands.add_parser("report", help="每日研判").add_subparsers(dest="action", required=True)
    daily = report.add_parser("daily", parents=[endpoints], help="a day's consultations per scenario × region")
    daily.add_argument("--date", type=date.fromisoformat, help="YYYY-MM-DD, China time (default: yesterday)")
    daily.add_argument("--format", choices=("md", "csv", "chat"), default="md")
    daily.add_argument("--send", action="store_true", help="also send the chat version to FRAUDBOT_REPORT_TARGETS")
    retention = commands.add_parser("retention", help="how long conversations are kept").add_subparsers(
        dest="action", required=True)
    run = retention.add_parser("run", parents=[endpoints], help="roll up finished days, delete old conversations")
    run.add_argument("--days", type=int, help="keep this many days (default FRAUDBOT_RETENTION_DAYS or 30)")
    retention.add_parser("policy", parents=[endpoints], help="print the retention policy")
    commands.add_parser("daily", parents=[endpoints],
                        help="the daily job: retention, 研判 and suggestions at FRAUDBOT_DAILY_AT, and the 回访 "
                             "follow-ups when due (runs until stopped)")
    followup = commands.add_parser("followup", help="回访: the anonymous case cards of follow-ups")
    cards = followup.add_subparsers(dest="action", required=True).add_parser(
        "cards", help="one line per case card: no sender, no address, no text, no number")
    cards.add_argument("--since", type=date.fromisoformat, help="YYYY-MM-DD, China time (default: every card)")
    cards.add_argument("--until", type=date.fromisoformat, help="YYYY-MM-DD, China time (default: today)")
    cards.add_argument("--format", choices=("text", "csv"), default="text")


def run(args: argparse.Namespace) -> int:
    from bot import daily, daily_report, retention
    from core.knowledge import scenarios

    if args.command == "followup":
        return _followup_cards(args)

    tracker_url = retention.tracker_db_url(args.endpoints) if getattr(args, "endpoints", None) and \
        args.endpoints.exists() else None
    if args.command == "retention" and args.action == "policy":
        print(f"conversations are kept {retention.retention_days()} days (FRAUDBOT_RETENTION_DAYS); "
              "counts per day, scenario and region are kept")
        return 0
    if tracker_url is None and args.command != "report":
        print(f"no tracker store: {args.endpoints} does not name one", file=sys.stderr)
        return 2
    if args.command == "retention":
        done = retention.run(tracker_url, days=args.days)  # type: ignore[arg-type]
        print(f"kept from {done.cutoff}: deleted {done.conversations_deleted} conversations and "
              f"{done.events_deleted} events; rolled up {len(done.rolled)} days")
        return 0
    if args.command == "daily":
        return asyncio.run(_daily_job(tracker_url))
    day = args.date or datetime.now(retention.CHINA).date() - timedelta(days=1)
    report = daily_report.build(day, tracker_url)
    names = {sid: info.name for sid, info in scenarios().items()}
    chat = daily_report.to_chat(report, names)
    print({"md": lambda: daily_report.to_markdown(report, names), "csv": lambda: daily_report.to_csv(report),
           "chat": lambda: chat}[args.format](), end="" if args.format != "chat" else "\n")
    if args.send:
        return asyncio.run(_send(chat, daily.report_targets()))
    return 0


async def _send(text: str, targets: list[tuple[str, str]]) -> int:
    from bot.alerts.runtime import senders_from_env

    senders = await senders_from_env()
    failed = 0
    for channel, target in targets:
        sender = senders.get(channel)
        result = await sender.send(target, text) if sender else None
        if result is None or not result.ok:
            failed += 1
            print(f"not sent to {channel}: {result.error if result else 'no sender configured'}", file=sys.stderr)
    return 1 if failed else 0


async def _daily_job(tracker_url: str | None) -> int:
    from bot.alerts.runtime import senders_from_env
    from bot.daily import DailyJob
    from bot.followup_job import FollowupJob

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    senders = await senders_from_env()
    job = DailyJob(tracker_url, senders=senders)
    followups = FollowupJob.from_env(senders)
    logging.getLogger(__name__).info("daily job: every day at %s China time; follow-ups on %s",
                                     job.at.strftime("%H:%M"), ", ".join(sorted(followups.senders)) or "no channel")
    try:
        await job.serve(stop, also=followups.run_due)
    finally:
        await followups.close()
    return 0


def _followup_cards(args: argparse.Namespace) -> int:
    """``fraudbot followup cards``: the 回访 case cards, as lines or CSV."""
    from bot import followups
    from core.knowledge import scenarios

    found = followups.list_cards(args.since, args.until)
    if args.format == "csv":
        print(followups.cards_csv(found), end="")
        return 0
    names = {sid: info.name for sid, info in scenarios().items()}
    print("\t".join(("day", *followups.CARD_FIELDS)))
    for card in found:
        print("\t".join((card.day.isoformat(), names.get(card.scenario, card.scenario), card.channel,
                         *(followups.shown(getattr(card, name)) for name in followups.CARD_FIELDS[2:]))))
    print(f"{len(found)} case card{'' if len(found) == 1 else 's'}", file=sys.stderr)
    return 0
