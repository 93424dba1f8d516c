"""Alerts (警情通报): who may send, fan-out into the outbox, recall, expiry, the delivery report.

Every operation that changes something is one database transaction and one audit-log row,
so a crash never leaves half an alert and "who sent what to whom" is always answerable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from bot.alerts.model import CANCELLED, PENDING, ROLES, SEVERITIES, alerts, audit_log, officers, outbox
from bot.config import database_url
from bot.inbound import normalise
from bot.scam_library import add_known
from bot.store import GroupRegistry, aware, engine, groups, now
from core.knowledge import scenarios

logger = logging.getLogger(__name__)

ALL_REGIONS = {"全部", "all", "*"}
MAX_EXPIRES_HOURS = 24 * 365
MIN_ID, MAX_ID = 1, 2**63 - 1  # what an SQL BIGINT holds; SQLite raises OverflowError beyond it
IDENTITY_COLUMNS = {"telegram": officers.c.telegram_id, "wecom": officers.c.wecom_id, "login": officers.c.login}


class Refused(PermissionError):
    """The person is not an active officer (or not an admin where one is needed)."""


class InvalidAlert(ValueError):
    """The alert cannot be sent as written; the message says why, in Chinese."""


@dataclass(frozen=True)
class Officer:
    id: int
    name: str
    role: str


@dataclass(frozen=True)
class Alert:
    id: int
    title: str
    body: str
    scenario: str
    regions: str
    severity: str
    author_id: int
    created_at: datetime
    expires_at: datetime | None
    recalled_at: datetime | None

    @property
    def live(self) -> bool:
        """Neither recalled nor expired: may still be delivered."""
        expires = aware(self.expires_at)
        return self.recalled_at is None and (expires is None or expires > now())


def render(alert: Alert, channel: str) -> str:
    """The alert as residents read it on one channel."""
    footer = "拿不准的，请拨打96110反诈专线；已经转账的，立刻拨打110。"
    if channel == "wecom_robot":
        return f"**【警情通报】{alert.title}**\n>{alert.body.strip()}\n\n{footer}"
    return f"【警情通报】{alert.title}\n\n{alert.body.strip()}\n\n{footer}"


def regions_of(value: str | list[str] | None) -> set[str]:
    if value is None:
        return set()
    parts = value if isinstance(value, list) else value.replace("，", ",").split(",")
    return {normalise(p) for p in parts if normalise(p)}


class AlertService:
    """Alerts on the project's store (``FRAUDBOT_DB_URL``)."""

    def __init__(self, url: str | None = None) -> None:
        self.engine = engine(url or database_url())
        self.registry = GroupRegistry(url)

    # -- roster --------------------------------------------------------------------------------

    def add_officer(self, name: str, role: str = "officer", telegram_id: str | None = None,
                    wecom_id: str | None = None, login: str | None = None) -> int:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        with self.engine.begin() as db:
            result = db.execute(officers.insert().values(
                name=name, role=role, telegram_id=telegram_id, wecom_id=wecom_id, login=login, active=True,
                created_at=now()))
            self._audit(db, "system", "officer_added", f"{name} ({role})")
            return int(result.inserted_primary_key[0])

    def authorize(self, channel: str, identity: str | int | None, admin: bool = False) -> Officer:
        """The officer behind an identity on a channel; refused (and logged) otherwise."""
        column = IDENTITY_COLUMNS.get(channel)
        row = None
        if column is not None and identity not in (None, ""):
            with self.engine.connect() as db:
                row = db.execute(select(officers).where(column == str(identity),
                                                        officers.c.active.is_(True))).first()
        if row is None or (admin and row.role != "admin"):
            shown = str(identity)[:64]  # a caller-supplied header may be kilobytes long
            with self.engine.begin() as db:  # committed even though the caller gets an exception
                self._audit(db, f"{channel}:{shown}", "refused", "not an authorised officer")
            logger.warning("refused alert access for %s:%s", channel, shown)
            raise Refused("只有登记过的民警可以发布警情通报。")
        return Officer(row.id, row.name, row.role)

    # -- targets -------------------------------------------------------------------------------

    def add_target(self, channel: str, address: str, name: str, regions: str) -> None:
        """An administrator adds a WeCom robot, app chat or Official Account tag (or re-tags a group)."""
        self.registry.record(channel, address, name, regions)
        with self.engine.begin() as db:
            self._audit(db, "admin", "target_added", f"{channel}:{name} [{regions}]")

    def _targets(self, db: Any, regions: set[str]) -> list[tuple[str, str]]:
        rows = db.execute(select(groups.c.channel, groups.c.chat_id, groups.c.regions)
                          .where(groups.c.active.is_(True))).all()
        if regions & ALL_REGIONS:
            return [(r.channel, r.chat_id) for r in rows]
        return [(r.channel, r.chat_id) for r in rows if regions_of(r.regions) & regions]

    # -- alerts --------------------------------------------------------------------------------

    def create(self, officer: Officer, title: str, body: str, regions: str | list[str],
               scenario: str = "none", severity: str = "high", expires_at: datetime | None = None) -> int:
        """Validate, store the alert and one outbox row per matching target, in one transaction."""
        title, body, wanted = normalise(title), normalise(body), regions_of(regions)
        if not title or not body:
            raise InvalidAlert("标题和正文都不能为空。")
        if len(title) > 200 or len(body) > 3000:
            raise InvalidAlert("标题最多200字，正文最多3000字。")
        if scenario not in scenarios():
            raise InvalidAlert(f"未知的诈骗类型：{scenario}")
        if severity not in SEVERITIES:
            raise InvalidAlert(f"紧急程度只能是：{'、'.join(SEVERITIES)}")
        if not wanted:
            raise InvalidAlert("请至少指定一个地区（或“全部”）。")
        if expires_at is not None and aware(expires_at) <= now():
            raise InvalidAlert("有效期已经过了。")
        with self.engine.begin() as db:
            alert_id = int(db.execute(alerts.insert().values(
                title=title, body=body, scenario=scenario, regions=",".join(sorted(wanted)), severity=severity,
                author_id=officer.id, created_at=now(), expires_at=expires_at)).inserted_primary_key[0])
            targets = self._targets(db, wanted)
            if targets:
                db.execute(outbox.insert(), [
                    {"alert_id": alert_id, "channel": channel, "chat_id": chat_id, "state": PENDING,
                     "attempts": 0, "next_attempt_at": 0.0, "updated_at": now()}
                    for channel, chat_id in targets])
            self._audit(db, f"officer:{officer.id}:{officer.name}", "alert_sent",
                        f"#{alert_id} 《{title}》 to {len(targets)} targets in {','.join(sorted(wanted))}")
            # the alert's text joins the known scams, so a pasted copy of it is recognised (bot/known.py)
            add_known([{"text": body, "title": title, "scenario": scenario, "source": f"alert:{alert_id}"}],
                      connection=db)
        return alert_id

    def count_targets(self, regions: str | list[str]) -> int:
        """How many active targets an alert to ``regions`` would reach (for the preview)."""
        with self.engine.connect() as db:
            return len(self._targets(db, regions_of(regions)))

    def alert_for_message(self, channel: str, chat_id: str, message_id: str) -> Alert | None:
        """The alert a delivered message carried (a resident replied to it)."""
        with self.engine.connect() as db:
            row = db.execute(select(alerts).join(outbox, outbox.c.alert_id == alerts.c.id).where(
                outbox.c.channel == channel, outbox.c.chat_id == chat_id,
                outbox.c.message_id == message_id)).first()
        return Alert(**row._mapping) if row else None

    def recall(self, officer: Officer, alert_id: int) -> None:
        """Stop delivery now; the worker deletes delivered Telegram messages where Telegram allows.

        Only the officer who sent the alert, or an admin, may recall it: otherwise any officer
        could silence another's warning to residents. A refusal is audited.
        """
        alert = self.get(alert_id)
        if alert is None:
            raise InvalidAlert(f"没有编号为 {alert_id} 的通报。")
        actor = f"officer:{officer.id}:{officer.name}"
        if officer.role != "admin" and alert.author_id != officer.id:
            with self.engine.begin() as db:  # committed even though the caller gets an exception
                self._audit(db, actor, "refused", f"recall of #{alert_id} (sent by officer {alert.author_id})")
            raise Refused("只有发布这条通报的民警或管理员可以撤回。")
        with self.engine.begin() as db:
            db.execute(alerts.update().where(alerts.c.id == alert_id).values(recalled_at=now()))
            db.execute(outbox.update().where(outbox.c.alert_id == alert_id, outbox.c.state == PENDING)
                       .values(state=CANCELLED, last_error="recalled", updated_at=now()))
            self._audit(db, actor, "alert_recalled", f"#{alert_id}")

    def get(self, alert_id: int) -> Alert | None:
        """The alert, or ``None`` (also for an id no database column could hold)."""
        if not MIN_ID <= alert_id <= MAX_ID:
            return None
        with self.engine.connect() as db:
            row = db.execute(select(alerts).where(alerts.c.id == alert_id)).first()
        return Alert(**row._mapping) if row else None

    def recent(self, limit: int = 20) -> list[Alert]:
        """The newest alerts first (the admin page lists them with their delivery report)."""
        with self.engine.connect() as db:
            rows = db.execute(select(alerts).order_by(alerts.c.id.desc()).limit(limit)).all()
        return [Alert(**row._mapping) for row in rows]

    def status(self, alert_id: int) -> dict[str, Any]:
        """Delivered / pending / failed … per channel, with failure reasons."""
        alert = self.get(alert_id)
        if alert is None:
            raise InvalidAlert(f"没有编号为 {alert_id} 的通报。")
        with self.engine.connect() as db:
            counts = db.execute(select(outbox.c.channel, outbox.c.state, func.count())
                                .where(outbox.c.alert_id == alert_id)
                                .group_by(outbox.c.channel, outbox.c.state)).all()
            problems = db.execute(select(outbox.c.channel, outbox.c.chat_id, outbox.c.state, outbox.c.last_error)
                                  .where(and_(outbox.c.alert_id == alert_id,
                                              outbox.c.state.in_(("failed", "uncertain")))))
            problems = [dict(row._mapping) for row in problems]
        channels: dict[str, dict[str, int]] = {}
        for channel, state, count in counts:
            channels.setdefault(channel, {})[state] = count
        return {"id": alert.id, "title": alert.title, "recalled": alert.recalled_at is not None,
                "expired": not alert.live and alert.recalled_at is None, "channels": channels,
                "problems": problems}

    def latest_for(self, channel: str, chat_id: str, within: timedelta = timedelta(hours=48)) -> Alert | None:
        """The newest live alert delivered to a group recently (for "像这个吗" after an alert)."""
        since = now() - within
        with self.engine.connect() as db:
            row = db.execute(select(alerts).join(outbox, outbox.c.alert_id == alerts.c.id)
                             .where(outbox.c.channel == channel, outbox.c.chat_id == chat_id,
                                    outbox.c.state == "delivered", alerts.c.recalled_at.is_(None))
                             .order_by(alerts.c.id.desc())).first()
        if row is None or aware(row.created_at) < since:
            return None
        return Alert(**row._mapping)

    def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as db:
            rows = db.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit))
            return [dict(row._mapping) for row in rows]

    @staticmethod
    def _audit(db: Any, actor: str, action: str, detail: str) -> None:
        db.execute(audit_log.insert().values(at=now(), actor=actor, action=action, detail=detail))

    @staticmethod
    def expires_in(hours: object) -> datetime:
        """When an alert given ``hours`` to live expires; a non-positive or absurd value is refused.

        Zero once meant "never expires": an alert must always end, so 0 is an error like -1.
        """
        if isinstance(hours, bool) or not isinstance(hours, (int, float)):
            raise InvalidAlert("有效期必须是一个数字（小时）。")
        if not 0 < hours <= MAX_EXPIRES_HOURS:  # also false for NaN and infinity; huge ints compare exactly
            raise InvalidAlert(f"有效期必须大于0小时，最多{MAX_EXPIRES_HOURS}小时。")
        return now() + timedelta(hours=hours)
