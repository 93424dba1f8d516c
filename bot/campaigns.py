"""宣传 campaigns: tips, case stories and quiz questions pushed into the groups on a schedule, and what they reached.

An officer plans a campaign in the admin (``/admin/campaigns``): what (a kind of content — tips, stories or
quiz questions of one scenario or of all, one item, or the "timely daily tip"), where (region tags and channels
of the group registry, as alerts choose their targets), when (once on a day at a time, daily at HH:MM China
time, or weekdays only) and its quiet hours (default 21:30–08:00 China time: nothing is sent then, and a send
that falls due waits for their end).

The scheduler (:mod:`bot.campaign_scheduler`) runs in the daily job's loop and only writes rows; the alerts
worker delivers them. What each group gets is composed in :mod:`bot.campaign_messages`.

Exactly once per day per group, across restarts, clock jumps and several schedulers: a send is claimed by
inserting a ``campaign_runs`` row keyed (campaign, day, channel, chat) under a unique constraint, in the same
transaction as its outbox row, so a second scheduler, a restarted one or a clock moved back finds the claim and
queues nothing. Only the latest occurrence of a schedule is ever due (for at most :data:`MAX_LATE`), and never
one from before the campaign was planned or resumed, so a scheduler that was down does not send a backlog.

Delivery is the alerts outbox (:mod:`bot.alerts.worker`): the same senders, budgets, retries, gone targets and
report, with ``priority`` CAMPAIGN_PRIORITY and the message in the row; the worker never starts a campaign row
while an alert row is due or in flight (alerts first). A timely tip differs by region, hence a text per row.

The timely daily tip (:mod:`bot.campaign_messages`) answers what is happening now: per group, a tip of the
scenario its regions consulted most in the last week.

Results per campaign (:meth:`Campaigns.results`): groups reached (delivered rows), the delivery report, and the
quiz answers per scenario with the share right, from :meth:`bot.quiz.QuizStore.scenario_results` (answers the
quiz records with this campaign's id; :func:`campaign_for` tells a channel which campaign asked a question).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    case,
    func,
    select,
)

from bot.alerts.model import CANCELLED, DELIVERED, PENDING, audit_log, outbox
from bot.alerts.service import (
    ALL_REGIONS,
    regions_of,  # the alerts' one reading of a region list
)
from bot.campaign_messages import DAILY_TIP, KINDS, TIMELY, TIMELY_DAYS, compose, items
from bot.inbound import normalise
from bot.retention import CHINA
from bot.store import aware, engine, groups, metadata, now, utc

logger = logging.getLogger(__name__)

ONCE, DAILY, WEEKDAYS = "once", "daily", "weekdays"
SCHEDULES = {ONCE: "只发一次", DAILY: "每天", WEEKDAYS: "工作日（周一至周五）"}
CHANNELS = {"telegram": "Telegram 群", "wecom_robot": "企业微信群机器人", "wecom_appchat": "企业微信应用群聊",
            "wechat_oa_tag": "公众号标签群发"}
DEFAULT_CHANNELS = ("telegram", "wecom_robot", "wecom_appchat")
"""Official Account mass sends are left out unless chosen: a subscription account may mass-send once a day."""
DEFAULT_QUIET = (time(21, 30), time(8, 0))
MAX_LATE = timedelta(hours=24)
"""An occurrence is due this long at most (quiet hours may hold it overnight); after that the next one counts."""
HOLD_AHEAD = timedelta(seconds=60)
"""The scheduler looks every minute: quiet hours that begin within a minute already hold what is still queued."""
MAX_NAME = 100

campaigns = Table(
    "campaigns", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(MAX_NAME), nullable=False),
    Column("kind", String(16), nullable=False),  # tip | story | quiz | daily_tip
    Column("content", Text, nullable=False),  # comma-separated content ids, or "timely"
    Column("regions", String(512), nullable=False),  # region tags as alerts take them ("全部": every group)
    Column("channels", String(256), nullable=False),  # comma-separated channels of the group registry
    Column("schedule", String(16), nullable=False),  # once | daily | weekdays
    Column("at", String(5), nullable=False),  # HH:MM China time
    Column("on_day", Date),  # the day of a "once" campaign
    Column("quiet_start", String(5), nullable=False),
    Column("quiet_end", String(5), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("active_since", DateTime(timezone=True), nullable=False),  # planned or resumed: nothing earlier is due
)

campaign_runs = Table(
    "campaign_runs", metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id"), nullable=False),
    Column("day", Date, nullable=False),  # the China-time day of the occurrence
    Column("channel", String(32), nullable=False),
    Column("chat_id", String(128), nullable=False),
    Column("content_id", String(64), nullable=False),  # the tip, story or question sent
    Column("scenario", String(64), nullable=False),
    Column("outbox_id", Integer, ForeignKey("alert_outbox.id"), index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("campaign_id", "day", "channel", "chat_id", name="one_campaign_message_per_day_and_target"),
)

Clock = Callable[[], datetime]


class InvalidCampaign(ValueError):
    """The campaign cannot be planned as written; the message says why, in Chinese."""


class NotYours(PermissionError):
    """Only the officer who planned a campaign, or an administrator, may pause or resume it."""


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    kind: str
    content: tuple[str, ...]  # content ids, or ("timely",)
    regions: str
    channels: tuple[str, ...]
    schedule: str
    at: time
    on_day: date | None
    quiet_start: time
    quiet_end: time
    created_by: str
    created_at: datetime
    active: bool
    active_since: datetime

    @property
    def timely(self) -> bool:
        return self.content == (TIMELY,)

    def occurrence(self, moment: datetime) -> datetime | None:
        """The latest scheduled time at or before ``moment`` (China time), or None."""
        moment = moment.astimezone(CHINA)
        if self.schedule == ONCE:
            planned = datetime.combine(self.on_day, self.at, CHINA) if self.on_day else None
            return planned if planned is not None and planned <= moment else None
        for back in range(8):
            day = moment.date() - timedelta(days=back)
            if self.schedule == WEEKDAYS and day.weekday() >= 5:
                continue
            planned = datetime.combine(day, self.at, CHINA)
            if planned <= moment:
                return planned
        return None

    def due(self, moment: datetime) -> datetime | None:
        """The occurrence to send now: the latest one, not older than :data:`MAX_LATE`, not from before the
        campaign was planned or resumed, outside quiet hours; None when nothing is to be sent now."""
        planned = self.occurrence(moment)
        if not self.active or planned is None or planned < self.active_since or moment - planned >= MAX_LATE:
            return None
        return None if self.quiet_soon(moment) else planned

    def quiet_soon(self, moment: datetime) -> bool:
        """Quiet hours now, or within the scheduler's next look (:data:`HOLD_AHEAD`)."""
        return any(in_quiet(self.quiet_start, self.quiet_end, (moment + ahead).astimezone(CHINA).time())
                   for ahead in (timedelta(0), HOLD_AHEAD))


def in_quiet(start: time, end: time, moment: time) -> bool:
    """Whether ``moment`` falls in the quiet hours from ``start`` to ``end`` (across midnight when start > end)."""
    if start == end:
        return False
    return start <= moment < end if start < end else (moment >= start or moment < end)


def quiet_ends(start: time, end: time, moment: datetime) -> datetime:
    """When the quiet hours that hold ``moment`` (or begin within :data:`HOLD_AHEAD`) end, China time."""
    local = (moment + HOLD_AHEAD).astimezone(CHINA) if not in_quiet(start, end, moment.astimezone(CHINA).time()) \
        else moment.astimezone(CHINA)
    ends = datetime.combine(local.date(), end, CHINA)
    return ends if ends > local else ends + timedelta(days=1)


def hh_mm(value: str, what: str) -> time:
    """"08:00" as a time; :class:`InvalidCampaign` naming ``what`` otherwise."""
    try:
        hours, minutes = str(value).strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise InvalidCampaign(f"{what}请写成 08:00 这样的时间（时:分）。") from None


def campaign_of(row: Any) -> Campaign:
    stored = row._mapping
    return Campaign(
        id=stored["id"], name=stored["name"], kind=stored["kind"], content=_listed(stored["content"]),
        regions=stored["regions"], channels=_listed(stored["channels"]),
        schedule=stored["schedule"], at=hh_mm(stored["at"], "时间"), on_day=stored["on_day"],
        quiet_start=hh_mm(stored["quiet_start"], "免打扰开始"), quiet_end=hh_mm(stored["quiet_end"], "免打扰结束"),
        created_by=stored["created_by"], created_at=aware(stored["created_at"]), active=bool(stored["active"]),
        active_since=aware(stored["active_since"]))


def _listed(stored: str) -> tuple[str, ...]:
    return tuple(part for part in stored.split(",") if part)


def outbox_rows_of(campaign_id: int) -> Any:
    """The outbox ids of a campaign's messages (a subquery)."""
    return select(campaign_runs.c.outbox_id).where(campaign_runs.c.campaign_id == campaign_id)


def _delivered() -> Any:
    """Rows delivered, summed over a group of campaign runs joined to their outbox rows."""
    return func.sum(case((outbox.c.state == DELIVERED, 1), else_=0))


# -- planning, pausing, results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    groups: int
    sample: str  # the message the first group would get
    note: str = ""


@dataclass(frozen=True)
class Results:
    campaign: Campaign
    reached: int  # groups with at least one delivered message
    channels: dict[str, dict[str, int]]  # channel -> state -> rows
    problems: list[dict[str, Any]]  # failed and uncertain rows with the reason
    days: list[tuple[date, int, int]]  # (day, delivered, queued)
    sent: Counter[str] = field(default_factory=Counter)  # scenario -> messages queued
    quiz: list[Any] = field(default_factory=list)  # bot.quiz.ScenarioResult, most answered first

    @property
    def answers(self) -> int:
        return sum(result.answered for result in self.quiz)


class Campaigns:
    """Planning, listing, pausing and the results of campaigns on the project's store."""

    def __init__(self, url: str | None = None, tracker_url: str | None = None,
                 clock: Clock = lambda: datetime.now(CHINA)) -> None:
        self.url, self.tracker_url, self.clock = url, tracker_url, clock
        self.engine = engine(url)

    # -- targets, as alerts find them, narrowed to the campaign's channels

    def targets(self, regions: str, channels: Iterable[str], db: Any = None) -> list[tuple[str, str, str]]:
        """Active groups of ``regions`` on ``channels``: (channel, chat id, region tags)."""
        wanted, allowed = regions_of(regions), set(channels)
        query = select(groups.c.channel, groups.c.chat_id, groups.c.regions).where(
            groups.c.active.is_(True), groups.c.channel.in_(sorted(allowed)))
        if db is None:
            with self.engine.connect() as connection:
                rows = connection.execute(query.order_by(groups.c.channel, groups.c.chat_id)).all()
        else:
            rows = db.execute(query.order_by(groups.c.channel, groups.c.chat_id)).all()
        return [(r.channel, r.chat_id, r.regions) for r in rows
                if wanted & ALL_REGIONS or regions_of(r.regions) & wanted]

    def count_targets(self, regions: str, channels: Iterable[str]) -> int:
        """How many groups a campaign to ``regions`` on ``channels`` reaches today (the planning preview)."""
        return len(self.targets(regions, channels))

    # -- planning

    def check(self, name: str, kind: str, regions: str, channels: Iterable[str], schedule: str, at: str,
              on_day: str | date | None = None, scenario: str = "", content_id: str = "",
              quiet_start: str = "21:30", quiet_end: str = "08:00") -> dict[str, Any]:
        """The stored values of a plan, or :class:`InvalidCampaign` with what to change."""
        name, regions = normalise(name).strip(), normalise(regions).strip()
        chosen = [c for c in channels if c]
        if not name or len(name) > MAX_NAME:
            raise InvalidCampaign(f"请给活动起个名字（最多{MAX_NAME}字）。")
        if kind not in KINDS:
            raise InvalidCampaign("请选择要发的内容类型。")
        if not regions_of(regions):
            raise InvalidCampaign("请至少指定一个地区（或“全部”）。")
        if not chosen or any(c not in CHANNELS for c in chosen):
            raise InvalidCampaign("请至少选择一个渠道。")
        if schedule not in SCHEDULES:
            raise InvalidCampaign("请选择发送方式：只发一次、每天或工作日。")
        when, quiet = hh_mm(at, "发送时间"), (hh_mm(quiet_start, "免打扰开始"), hh_mm(quiet_end, "免打扰结束"))
        day = None
        if schedule == ONCE:
            try:
                day = on_day if isinstance(on_day, date) else date.fromisoformat(str(on_day or "").strip())
            except ValueError:
                raise InvalidCampaign("只发一次的活动请写上日期（年-月-日）。") from None
            if datetime.combine(day, when, CHINA) <= self.clock():
                raise InvalidCampaign("这个时间已经过了，请选以后的日期和时间。")
        return {"name": name, "kind": kind, "content": ",".join(self.content_ids(kind, scenario, content_id)),
                "regions": ",".join(sorted(regions_of(regions))), "channels": ",".join(sorted(set(chosen))),
                "schedule": schedule, "at": when.strftime("%H:%M"), "on_day": day,
                "quiet_start": quiet[0].strftime("%H:%M"), "quiet_end": quiet[1].strftime("%H:%M")}

    @staticmethod
    def content_ids(kind: str, scenario: str = "", content_id: str = "") -> list[str]:
        """What a plan sends: one chosen item, every item of a scenario (or of all), or the timely tip."""
        if kind == DAILY_TIP:
            return [TIMELY]
        available = items(kind)
        if content_id:
            if content_id not in {item.id for item in available}:
                raise InvalidCampaign(f"内容里没有「{content_id[:64]}」这一条（{KINDS[kind]}）。")
            return [content_id]
        chosen = [item.id for item in available if not scenario or item.scenario == scenario]
        if not chosen:
            raise InvalidCampaign(f"这个诈骗类型还没有{KINDS[kind]}内容，请换一个类型或内容。")
        return chosen

    def plan(self, author: str, **fields: Any) -> int:
        """Store a campaign (checked by :meth:`check`) and audit it; returns its id."""
        values = self.check(**fields)
        moment = self._utc_now()
        with self.engine.begin() as db:
            campaign_id = int(db.execute(campaigns.insert().values(
                **values, created_by=author[:128], created_at=moment, active=True, active_since=moment)
            ).inserted_primary_key[0])
            audited(db, author, "campaign_planned", f"#{campaign_id} 《{values['name']}》 {values['kind']} "
                   f"{values['schedule']} {values['at']} to {values['regions']} on {values['channels']}")
        return campaign_id

    def preview(self, **fields: Any) -> Preview:
        """How many groups the plan reaches, and the message the first of them would get today."""
        values = self.check(**fields)
        plan = campaign_of(_Row({**values, "id": 0, "created_by": "", "created_at": self.clock(), "active": True,
                               "active_since": self.clock()}))
        targets = self.targets(plan.regions, plan.channels)
        note = f"每个群按所在地区最近{TIMELY_DAYS}天居民咨询最多的诈骗类型挑一条提示；没有咨询的地区轮流发各类型。" \
            if plan.timely else ""
        if not targets:
            return Preview(0, "", note)
        day = self.clock().astimezone(CHINA).date()
        first = compose(plan, day, targets[:1], 0, self.tracker_url, self.url)
        return Preview(len(targets), next(iter(first.values())).text if first else "", note)

    def _utc_now(self) -> datetime:
        """The clock's time as stored: UTC (SQLite keeps no zone, and :func:`bot.store.aware` reads UTC back)."""
        return utc(self.clock())

    def get(self, campaign_id: int) -> Campaign | None:
        with self.engine.connect() as db:
            row = db.execute(select(campaigns).where(campaigns.c.id == campaign_id)).first()
        return campaign_of(row) if row else None

    def recent(self, limit: int = 50) -> list[tuple[Campaign, int, int]]:
        """The newest campaigns with their messages queued and delivered so far."""
        with self.engine.connect() as db:
            rows = db.execute(select(campaigns).order_by(campaigns.c.id.desc()).limit(limit)).all()
            tallies = {r.campaign_id: (int(r.queued), int(r.delivered or 0)) for r in db.execute(
                select(campaign_runs.c.campaign_id, func.count(campaign_runs.c.id).label("queued"),
                       _delivered().label("delivered"))
                .select_from(campaign_runs.outerjoin(outbox, outbox.c.id == campaign_runs.c.outbox_id))
                .where(campaign_runs.c.campaign_id.in_([r.id for r in rows]))
                .group_by(campaign_runs.c.campaign_id))}
        return [(campaign_of(r), *tallies.get(r.id, (0, 0))) for r in rows]

    def set_active(self, campaign_id: int, active: bool, actor: str, is_admin: bool) -> Campaign:
        """Pause (what is still queued is cancelled) or resume (from now on: nothing missed is sent)."""
        found = self.get(campaign_id)
        if found is None:
            raise InvalidCampaign(f"没有编号为 {campaign_id} 的活动。")
        if not is_admin and found.created_by != actor:
            with self.engine.begin() as db:
                audited(db, actor, "refused", f"{'resume' if active else 'pause'} of campaign #{campaign_id}")
            raise NotYours("只有安排这个活动的民警或管理员可以暂停或恢复它。")
        with self.engine.begin() as db:
            db.execute(campaigns.update().where(campaigns.c.id == campaign_id).values(
                active=active, **({"active_since": self._utc_now()} if active else {})))
            if not active:
                db.execute(outbox.update().where(outbox.c.id.in_(outbox_rows_of(campaign_id)),
                                                 outbox.c.state == PENDING)
                           .values(state=CANCELLED, last_error="campaign paused", updated_at=now()))
            audited(db, actor, "campaign_resumed" if active else "campaign_paused", f"#{campaign_id}")
        return self.get(campaign_id)  # type: ignore[return-value]

    def results(self, campaign_id: int) -> Results:
        """Groups reached, the delivery report, messages per scenario and the quiz answers of one campaign."""
        found = self.get(campaign_id)
        if found is None:
            raise InvalidCampaign(f"没有编号为 {campaign_id} 的活动。")
        joined = campaign_runs.outerjoin(outbox, outbox.c.id == campaign_runs.c.outbox_id)
        mine = campaign_runs.c.campaign_id == campaign_id
        delivered = _delivered()
        with self.engine.connect() as db:
            reached = db.execute(select(func.count()).select_from(
                select(campaign_runs.c.channel, campaign_runs.c.chat_id).select_from(joined)
                .where(mine, outbox.c.state == DELIVERED).distinct().subquery())).scalar_one()
            channels: dict[str, dict[str, int]] = {}
            for channel, state, count in db.execute(select(campaign_runs.c.channel, outbox.c.state, func.count())
                                                    .select_from(joined).where(mine)
                                                    .group_by(campaign_runs.c.channel, outbox.c.state)):
                channels.setdefault(channel, {})[state or CANCELLED] = int(count)
            problems = [dict(r._mapping) for r in db.execute(
                select(campaign_runs.c.day, campaign_runs.c.channel, campaign_runs.c.chat_id, outbox.c.state,
                       outbox.c.last_error).select_from(joined)
                .where(mine, outbox.c.state.in_(("failed", "uncertain"))).order_by(campaign_runs.c.day).limit(50))]
            days = [(r.day, int(r.delivered or 0), int(r.queued)) for r in db.execute(
                select(campaign_runs.c.day, delivered.label("delivered"), func.count().label("queued"))
                .select_from(joined).where(mine).group_by(campaign_runs.c.day).order_by(campaign_runs.c.day))]
            sent = Counter({r.scenario: int(r.n) for r in db.execute(
                select(campaign_runs.c.scenario, func.count().label("n")).where(mine)
                .group_by(campaign_runs.c.scenario))})
        return Results(found, int(reached), channels, problems, days, sent, quiz_results(campaign_id, self.url))


def quiz_results(campaign_id: int, url: str | None = None) -> list[Any]:
    """Quiz answers recorded with this campaign's id, per scenario: :meth:`bot.quiz.QuizStore.scenario_results`."""
    from bot.quiz import QuizStore

    return QuizStore(url).scenario_results(campaign_id=campaign_id)


def campaign_for(channel: str, chat_id: str | int, question_id: str, day: date, url: str | None = None) -> int | None:
    """The campaign that sent ``question_id`` to this group on ``day`` (or the day before), if any: what a quiz
    answer given in that group is counted for (``campaign_id`` of :meth:`bot.quiz.QuizStore.answer`)."""
    with engine(url).connect() as db:
        return db.execute(select(campaign_runs.c.campaign_id).where(
            campaign_runs.c.channel == channel, campaign_runs.c.chat_id == str(chat_id),
            campaign_runs.c.content_id == question_id, campaign_runs.c.day.in_((day, day - timedelta(days=1))))
            .order_by(campaign_runs.c.day.desc(), campaign_runs.c.id.desc()).limit(1)).scalar()


def todays_question(channel: str, chat_id: str | int, day: date, url: str | None = None) -> str | None:
    """The quiz question a campaign posted to this group on ``day`` (or the day before), if any: what a member's
    ``/quiz`` in that group asks, so that the answers count for the campaign (:func:`campaign_for`)."""
    with engine(url).connect() as db:
        return db.execute(select(campaign_runs.c.content_id).where(
            campaign_runs.c.channel == channel, campaign_runs.c.chat_id == str(chat_id),
            campaign_runs.c.content_id.like("quiz\\_%", escape="\\"),
            campaign_runs.c.day.in_((day, day - timedelta(days=1))))
            .order_by(campaign_runs.c.day.desc(), campaign_runs.c.id.desc()).limit(1)).scalar()


class _Row:
    """A plan's values shaped like a stored row, for :func:`_campaign` (the preview is never stored)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._mapping = values


def audited(db: Any, actor: str, action: str, detail: str) -> None:
    db.execute(audit_log.insert().values(at=now(), actor=actor[:256], action=action, detail=detail))
