"""What a 宣传 campaign sends to each group on a day: the item (tip, story, quiz question) and its text.

A campaign names its content by kind and ids, or asks for the "timely daily tip": for each group, a tip of the
scenario residents of its regions consulted most in the last :data:`TIMELY_DAYS` days (counts from
:func:`bot.retention.daily_counts`, never texts), else a rotation over the scenarios that have tips. The
planner's preview and the scheduler both compose through :func:`compose`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from bot.alerts.service import regions_of
from bot.inbound import normalise
from bot.retention import daily_counts
from core import campaign as content
from nlu.scenario_ids import NONE_SCENARIO, SCENARIO_IDS

logger = logging.getLogger(__name__)

TIP, STORY, QUIZ, DAILY_TIP = "tip", "story", "quiz", "daily_tip"
KINDS = {TIP: "防骗提示", STORY: "真实案例", QUIZ: "答题", DAILY_TIP: "每日时令提示"}
TIMELY = "timely"
TIMELY_DAYS = 7
Target = tuple[str, str]  # (channel, chat id)

@dataclass(frozen=True)
class Message:
    """What one group gets: the item sent and its text as that channel shows it."""

    content_id: str
    scenario: str
    text: str


def items(kind: str) -> list[Any]:
    """The live content of a kind (a daily tip is a tip): :mod:`core.campaign`'s lists."""
    return {TIP: content.tips, DAILY_TIP: content.tips, STORY: content.stories, QUIZ: content.questions}[kind]()


def rendered(kind: str, item: Any, channel: str) -> str:
    """An item as a group reads it; a quiz question says how to answer it on that channel."""
    if kind == STORY:
        return content.render_story(item)
    if kind == QUIZ:
        how = "想答题？发送 /quiz 就来一道（群里、私聊都行），答完告诉您对错和原因。" if channel == "telegram" else \
            "想答题？给我发“答题”两个字，再回复字母就行。"
        return f"{content.render_question(item)}\n\n{how}"
    return content.render_tip(item)


def consulted(day: date, tracker_url: str | None, store_url: str | None) -> dict[str, Counter[str]]:
    """Consultations per region and scenario in the :data:`TIMELY_DAYS` days up to ``day`` (counts only)."""
    per_region: dict[str, Counter[str]] = {}
    counts = daily_counts(day - timedelta(days=TIMELY_DAYS - 1), day, tracker_url, store_url)
    for keyed in counts.values():
        for (scenario, region, _intent), n in keyed.items():
            if scenario != NONE_SCENARIO:
                per_region.setdefault(normalise(region), Counter())[scenario] += n
    return per_region


def timely_scenario(regions: Iterable[str], counts: dict[str, Counter[str]], with_tips: list[str],
                    day: date) -> tuple[str, bool]:
    """The scenario a group's timely tip is about, and whether it came from the counts (else the rotation).

    The most consulted scenario in the group's regions that has a tip (ties: the scenarios' order); with no
    consultation there, the scenarios that have tips in turn, one a day."""
    total: Counter[str] = Counter()
    for region in regions:
        total.update(counts.get(normalise(region), Counter()))
    ranked = sorted((sid for sid in total if sid in with_tips and total[sid] > 0),
                    key=lambda sid: (-total[sid], with_tips.index(sid)))
    if ranked:
        return ranked[0], True
    return with_tips[day.toordinal() % len(with_tips)], False


def _scenario_order(tips: list[Any]) -> list[str]:
    present = {tip.scenario for tip in tips}
    return [sid for sid in SCENARIO_IDS if sid in present] + sorted(present - set(SCENARIO_IDS))


class Plan(Protocol):
    """What composing reads of a campaign (:class:`bot.campaigns.Campaign` has it)."""

    id: int
    kind: str
    content: tuple[str, ...]
    timely: bool


def compose(plan: Plan, day: date, targets: list[tuple[str, str, str]], turn: int,
            tracker_url: str | None = None, store_url: str | None = None) -> dict[Target, Message]:
    """The message of each target ``(channel, chat id, region tags)`` for ``day``: the ``turn``-th item of the
    campaign's list (one a day, in turn), or for a timely tip the tip of each group's most consulted scenario.
    Items no longer in the content are skipped; an empty dict when none is left."""
    if plan.timely:
        tips = items(TIP)
        if not tips:
            return {}
        order = _scenario_order(tips)
        counts = consulted(day, tracker_url, store_url)
        found: dict[Target, Message] = {}
        for channel, chat_id, regions in targets:
            scenario, _counted = timely_scenario(regions_of(regions), counts, order, day)
            of_scenario = [tip for tip in tips if tip.scenario == scenario]
            tip = of_scenario[day.toordinal() % len(of_scenario)]
            found[(channel, chat_id)] = Message(tip.id, tip.scenario, rendered(TIP, tip, channel))
        return found
    known = {item.id: item for item in items(plan.kind)}
    listed = [known[cid] for cid in plan.content if cid in known]
    if not listed:
        logger.warning("campaign %s: none of its %d items is in the content any more", plan.id, len(plan.content))
        return {}
    item = listed[turn % len(listed)]
    return {(channel, chat_id): Message(item.id, item.scenario, rendered(plan.kind, item, channel))
            for channel, chat_id, _regions in targets}
