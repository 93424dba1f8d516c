"""The project's own store: the group registry and shared values here, alerts and admin tables beside, on SQLAlchemy.

SQLite by default, PostgreSQL by URL (``FRAUDBOT_DB_URL``), like Rasa's SQL tracker store.
Channels record here the groups the bot has joined, so that alerts can find them.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable

from sqlalchemy import Boolean, Column, DateTime, Float, MetaData, String, Table, Text, create_engine, event, select
from sqlalchemy.engine import Engine
from wechatpy.session import SessionStorage

from bot.config import database_url

logger = logging.getLogger(__name__)

metadata = MetaData()
"""Every table of the project's store, also those defined beside the code that uses them (bot/migrations/target.py
lists their modules): what the migrations must produce."""

groups = Table(
    "group_registry", metadata,
    Column("channel", String(32), primary_key=True),  # telegram, wecom_robot, …
    Column("chat_id", String(128), primary_key=True),
    Column("title", String(256), nullable=False, default=""),
    Column("active", Boolean, nullable=False, default=True),
    Column("autowarn", Boolean, nullable=False, default=True),
    Column("regions", String(512), nullable=False, default=""),  # comma-separated region tags
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("removed_at", DateTime(timezone=True)),
)


# Short-lived shared values with an expiry: WeChat/WeCom access tokens, so that every sender
# and every replica uses one token instead of fetching its own.
shared_values = Table(
    "shared_values", metadata,
    Column("key", String(256), primary_key=True),
    Column("value", Text, nullable=False),
    Column("expires_at", Float),  # unix time; NULL = never
)


@dataclass(frozen=True)
class Group:
    """A group chat the bot is (or was) a member of."""

    channel: str
    chat_id: str
    title: str
    active: bool
    autowarn: bool
    regions: str
    added_at: datetime
    removed_at: datetime | None

    @property
    def home_region(self) -> str | None:
        """The area a consultation from this group is counted in: its first region tag (alerts use them all)."""
        return next((tag.strip() for tag in self.regions.split(",") if tag.strip()), None)


def now() -> datetime:
    return datetime.now(timezone.utc)


def utc(moment: datetime) -> datetime:
    """A time as it is stored: in UTC. SQLite keeps a datetime's digits and drops its zone, so a China-time
    10:00 (or a China day's 00:00 in a query) would read back as 10:00 UTC and compare wrongly with the others."""
    return moment.astimezone(timezone.utc)


def aware(moment: datetime | None) -> datetime | None:
    """A stored time as UTC: SQLite gives naive datetimes back, PostgreSQL aware ones."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def engine(url: str | None = None) -> Engine:
    """The engine for ``url`` (default: :func:`bot.config.database_url`, read at this call), one per URL.

    The schema comes from the migrations (:mod:`bot.migrations`), never from ``create_all``.
    """
    return _engine(url or database_url())


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    created = create_engine(url, future=True)
    if created.dialect.name == "sqlite":
        event.listen(created, "connect", _sqlite_pragmas)
    _schema_ready(url, created.dialect.name)
    return created


def _schema_ready(url: str, dialect: str) -> None:
    """A SQLite store is brought to the newest revision on first use in a process, as ``create_all`` used to
    make it: it lives on one machine, with nobody else to coordinate, and tests and ``make run`` start
    from a fresh file. Any other store is only checked: PostgreSQL is shared by replicas and is upgraded by
    ``fraudbot db upgrade`` (or ``fraudbot serve``, ``make fleet``) alone, never by whichever replica starts."""
    from bot import migrations

    if dialect == "sqlite":
        migrations.upgrade(url)
        return
    found, wanted = migrations.current(url), migrations.head()
    if found != wanted:
        logger.error("the store's schema is at revision %s, this release needs %s: run `fraudbot db upgrade`",
                     found or "none", wanted)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL with NORMAL sync: durable at every commit against a process crash, and commits fast
    enough for an outbox that records each message (a power cut may lose the last commits)."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class GroupRegistry:
    """Groups per channel: recorded when the bot joins, retired when it leaves."""

    def __init__(self, url: str | None = None) -> None:
        self._engine = engine(url)

    def record(self, channel: str, chat_id: str, title: str, regions: str | None = None) -> None:
        """The bot joined (or re-joined) a group, or an administrator added a push target."""
        with self._engine.begin() as db:
            found = db.execute(select(groups.c.chat_id).where(
                groups.c.channel == channel, groups.c.chat_id == chat_id)).first()
            if found:
                values = {"title": title, "active": True, "removed_at": None}
                if regions is not None:
                    values["regions"] = regions
                db.execute(groups.update().where(groups.c.channel == channel, groups.c.chat_id == chat_id)
                           .values(**values))
            else:
                db.execute(groups.insert().values(channel=channel, chat_id=chat_id, title=title, active=True,
                                                  autowarn=True, regions=regions or "", added_at=now()))

    def retire(self, channel: str, chat_id: str) -> None:
        """The bot left or was removed: keep the row, mark it inactive."""
        with self._engine.begin() as db:
            db.execute(groups.update().where(groups.c.channel == channel, groups.c.chat_id == chat_id)
                       .values(active=False, removed_at=now()))

    def set_autowarn(self, channel: str, chat_id: str, enabled: bool) -> None:
        with self._engine.begin() as db:
            db.execute(groups.update().where(groups.c.channel == channel, groups.c.chat_id == chat_id)
                       .values(autowarn=enabled))

    def get(self, channel: str, chat_id: str) -> Group | None:
        with self._engine.connect() as db:
            row = db.execute(select(groups).where(groups.c.channel == channel,
                                                  groups.c.chat_id == chat_id)).first()
        return Group(**row._mapping) if row else None

    def active(self, channel: str | None = None) -> list[Group]:
        query = select(groups).where(groups.c.active.is_(True))
        if channel:
            query = query.where(groups.c.channel == channel)
        with self._engine.connect() as db:
            return [Group(**row._mapping) for row in db.execute(query.order_by(groups.c.added_at))]


class StoreSessionStorage(SessionStorage):
    """wechatpy's session storage in the project's store: access tokens shared by all senders."""

    def __init__(self, url: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine(url)
        self._clock = clock

    def get(self, key: str, default: object = None) -> object:
        with self._engine.connect() as db:
            row = db.execute(select(shared_values).where(shared_values.c.key == key)).first()
        if row is None or (row.expires_at is not None and row.expires_at <= self._clock()):
            return default
        return json.loads(row.value)

    def set(self, key: str, value: object, ttl: int | None = None) -> None:
        expires = self._clock() + ttl if ttl else None
        with self._engine.begin() as db:
            db.execute(shared_values.delete().where(shared_values.c.key == key))
            db.execute(shared_values.insert().values(key=key, value=json.dumps(value), expires_at=expires))

    def delete(self, key: str) -> None:
        with self._engine.begin() as db:
            db.execute(shared_values.delete().where(shared_values.c.key == key))
