"""Admin accounts: passwords (scrypt), sessions with a CSRF token, throttled logins.

An account is a row of the officers roster (``bot.alerts.model.officers``) with a login
and a password: the same people, the same roles (``officer`` sends alerts, ``admin``
also edits content). Only hashes are stored: of the password, and of the session token.

A refused login says nothing about the account: an unknown login, a wrong password and an
attempt made too soon get the same message and cost the same scrypt work. Failures slow
down the next attempt instead of locking the account, so nobody can lock an officer out:
delays grow for one login from one address, and for one address whatever login it tries;
an officer at another address is never held back by someone else's failures.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Table, case, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.alerts.model import ROLES, audit_log, officers
from bot.store import aware, engine, metadata, now

logger = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD = 10
# scrypt at n=2**14, r=8 (16 MiB, ~50 ms): the parameters OWASP lists for interactive logins.
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class Throttle:
    """Failures allowed without waiting, then a wait doubling from ``first`` up to ``cap``."""

    free: int
    first: timedelta
    cap: timedelta

    def wait(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta(0)
        return min(self.cap, self.first * 2 ** min(failures - self.free, 30))


# One login from one address: a few typos are free, then 1 s, 2 s, 4 s … up to 15 minutes.
PER_LOGIN = Throttle(free=3, first=timedelta(seconds=1), cap=timedelta(minutes=15))
# One address whatever the login (password spraying); an office behind one NAT gets more room.
PER_ADDRESS = Throttle(free=10, first=timedelta(seconds=1), cap=timedelta(minutes=15))
# Failures older than this are forgotten (and their rows deleted).
FORGET_AFTER = timedelta(hours=24)

credentials = Table(
    "admin_credentials", metadata,
    Column("officer_id", Integer, ForeignKey("officers.id"), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    # From the old hard lockout; kept because existing databases have them (NOT NULL), no longer read.
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
)

sessions = Table(
    "admin_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("officer_id", Integer, ForeignKey("officers.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Failures per (login, address) and per address; the key is a hash, so any typed login fits.
login_throttle = Table(
    "admin_login_throttle", metadata,
    Column("key", String(64), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("last_failure", DateTime(timezone=True), nullable=False),
    Column("refused", Integer, nullable=False, default=0),  # attempts refused unchecked, made too soon
)


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    encode = base64.b64encode
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${encode(salt).decode()}${encode(key).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, key = stored.split("$")
        expected = base64.b64decode(key)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Checked whenever there is no real hash to check (unknown login, or an attempt made too soon),
# so that every refusal costs the same scrypt work as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


@dataclass(frozen=True)
class User:
    id: int
    login: str
    name: str
    role: str
    csrf: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# The one answer to every refused login: it must not tell an unknown login from a wrong password
# or from an attempt made too soon, so it names all of them.
REFUSED = "用户名或密码不对，或者尝试太频繁。请核对后稍等一会儿再试。"


class LoginRefused(Exception):
    """Any refused login; the message is what the login page shows, the same in every case."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _throttle_keys(login: str, address: str) -> list[tuple[str, Throttle]]:
    pair = hashlib.sha256(f"login\0{login}\0{address}".encode()).hexdigest()
    alone = hashlib.sha256(f"address\0{address}".encode()).hexdigest()
    return [(pair, PER_LOGIN), (alone, PER_ADDRESS)]


class _TooSoon(Exception):
    """A parallel attempt was counted first: this one is refused as if it came too soon."""


def _throttle_row(db: Connection, key: str, moment: datetime) -> Row:
    row = db.execute(select(login_throttle).where(login_throttle.c.key == key)).first()
    if row is None:
        db.execute(login_throttle.insert().values(key=key, failures=0, last_failure=moment, refused=0))
        row = db.execute(select(login_throttle).where(login_throttle.c.key == key)).first()
    return row


def _must_wait(row: Row, throttle: Throttle, moment: datetime) -> bool:
    wait = throttle.wait(row.failures)
    return bool(wait) and moment < aware(row.last_failure) + wait  # a free attempt is free even on a clock behind


class Accounts:
    def __init__(self, url: str | None = None, clock: Callable[[], datetime] = now) -> None:
        self._engine = engine(url)
        self._clock = clock

    def create(self, login: str, name: str, role: str, password: str) -> int:
        """Create (or reset the password of) the account ``login``; returns the officer id.

        A reset signs the account out everywhere: whoever held a session with the old
        password (or took it over) must not keep it.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
        moment = self._clock()
        with self._engine.begin() as db:
            row = db.execute(select(officers.c.id).where(officers.c.login == login)).first()
            if row:
                officer_id = row.id
                db.execute(officers.update().where(officers.c.id == officer_id)
                           .values(name=name, role=role, active=True))
            else:
                officer_id = db.execute(officers.insert().values(
                    name=name, role=role, login=login, active=True, created_at=moment)).inserted_primary_key[0]
            db.execute(credentials.delete().where(credentials.c.officer_id == officer_id))
            db.execute(credentials.insert().values(officer_id=officer_id, password_hash=hash_password(password),
                                                   failures=0))
            revoked = db.execute(sessions.delete().where(sessions.c.officer_id == officer_id)).rowcount
            db.execute(audit_log.insert().values(at=moment, actor="cli", action="admin_account",
                                                 detail=f"{login} ({role}), {revoked} session(s) revoked"))
        return officer_id

    def login(self, login: str, password: str, address: str) -> str:
        """A new session token for a correct password; raises :class:`LoginRefused` otherwise.

        ``address`` is the client's address. The attempt is counted as a failure before the
        password is checked (so that parallel requests cannot all slip through one opening),
        and taken back when the password is right. Every path does one scrypt and the same
        database writes, so that the time taken tells nothing either.
        """
        moment = self._clock()
        keys = _throttle_keys(login, address)
        allowed = self._claim(keys, moment)
        with self._engine.connect() as db:
            row = db.execute(
                select(officers.c.id, officers.c.active, credentials.c.password_hash)
                .join(credentials, credentials.c.officer_id == officers.c.id)
                .where(officers.c.login == login)).first()
        real = allowed and row is not None and row.active
        correct = check_password(password, row.password_hash if real else _DUMMY_HASH) and real
        if correct:
            return self._open_session(row.id, keys, moment)
        self._audit_refusal(login, address, moment, allowed, known=row is not None)
        raise LoginRefused(REFUSED)

    def _claim(self, keys: list[tuple[str, Throttle]], moment: datetime) -> bool:
        """Count one more failure under every key, unless one of them must still wait (then count
        one more refusal under it); all in one transaction."""
        try:
            with self._engine.begin() as db:  # an exception inside rolls everything back
                db.execute(login_throttle.delete().where(login_throttle.c.last_failure < moment - FORGET_AFTER))
                rows = [(_throttle_row(db, key, moment), throttle) for key, throttle in keys]
                waiting = [row for row, throttle in rows if _must_wait(row, throttle, moment)]
                if waiting:
                    db.execute(login_throttle.update().where(login_throttle.c.key == waiting[0].key)
                               .values(refused=login_throttle.c.refused + 1))
                    return False
                for row, _ in rows:  # compare-and-set: when a parallel attempt counted first, this one waits
                    claimed = db.execute(login_throttle.update()
                                         .where(login_throttle.c.key == row.key,
                                                login_throttle.c.failures == row.failures)
                                         .values(failures=row.failures + 1, last_failure=moment)).rowcount
                    if claimed != 1:
                        raise _TooSoon
        except (_TooSoon, IntegrityError):  # IntegrityError: a parallel attempt inserted the row first
            return False
        except OperationalError as error:  # SQLite: a parallel attempt held the write lock too long
            logger.warning("login attempt refused, the throttle could not be counted: %s", type(error).__name__)
            return False
        return True

    def _audit_refusal(self, login: str, address: str, moment: datetime, checked: bool, known: bool) -> None:
        pair = _throttle_keys(login, address)[0][0]
        with self._engine.begin() as db:
            counts = db.execute(select(login_throttle.c.failures, login_throttle.c.refused)
                                .where(login_throttle.c.key == pair)).first()
            failures, refused = counts or (0, 0)
            detail = f"from {address[:64]}, failure {failures} from there" if checked else \
                f"from {address[:64]}, too soon after failure {failures}, {refused} refused unchecked"
            db.execute(audit_log.insert().values(
                at=moment, actor=login[:128], action="login_failed" if checked else "login_too_soon",
                detail=detail + ("" if known else ", no such account")))

    def _open_session(self, officer_id: int, keys: list[tuple[str, Throttle]], moment: datetime) -> str:
        """The session of a correct login; the attempt counted in advance is taken back."""
        (pair, _), (alone, _) = keys
        token = secrets.token_urlsafe(32)
        with self._engine.begin() as db:
            # this login's failures from this address were its owner's: the address's count forgets them too
            owned = db.execute(select(login_throttle.c.failures).where(login_throttle.c.key == pair)).scalar() or 0
            db.execute(login_throttle.delete().where(login_throttle.c.key == pair))
            db.execute(login_throttle.update().where(login_throttle.c.key == alone)
                       .values(failures=case((login_throttle.c.failures > owned, login_throttle.c.failures - owned),
                                             else_=0)))
            db.execute(sessions.insert().values(token_hash=_token_hash(token), officer_id=officer_id,
                                                csrf=secrets.token_urlsafe(24), expires_at=moment + SESSION_LIFETIME))
            db.execute(sessions.delete().where(sessions.c.expires_at < moment))
        return token

    def user(self, token: str | None) -> User | None:
        """The signed-in user of a session token, or None (unknown, expired, revoked or deactivated)."""
        if not token:
            return None
        with self._engine.connect() as db:
            row = db.execute(
                select(officers.c.id, officers.c.login, officers.c.name, officers.c.role, officers.c.active,
                       sessions.c.csrf, sessions.c.expires_at)
                .join(sessions, sessions.c.officer_id == officers.c.id)
                .where(sessions.c.token_hash == _token_hash(token))).first()
        if row is None or not row.active or aware(row.expires_at) <= self._clock():
            return None
        return User(row.id, row.login, row.name, row.role, row.csrf)

    def logout(self, token: str) -> None:
        with self._engine.begin() as db:
            db.execute(sessions.delete().where(sessions.c.token_hash == _token_hash(token)))
