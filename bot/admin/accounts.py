"""Admin accounts: passwords (scrypt), sessions with a CSRF token, lockout after failed logins.

An account is a row of the officers roster (``bot.alerts.model.officers``) with a login
and a password: the same people, the same roles (``officer`` sends alerts, ``admin``
also edits content). Only hashes are stored: of the password, and of the session token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Table, select

from bot.alerts.model import ROLES, audit_log, officers
from bot.store import engine, metadata, now

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD = 10
# scrypt at n=2**14, r=8 (16 MiB, ~50 ms): the parameters OWASP lists for interactive logins.
SCRYPT = {"n": 2**14, "r": 8, "p": 1}

credentials = Table(
    "admin_credentials", metadata,
    Column("officer_id", Integer, ForeignKey("officers.id"), primary_key=True),
    Column("password_hash", String(256), nullable=False),
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


# Checked when the login does not exist, so that a wrong name takes as long as a wrong password.
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


WRONG = "用户名或密码不对。"
LOCKED = "密码错误次数太多，账号已锁定，请 15 分钟后再试。"


class LoginRefused(Exception):
    """Wrong name or password, or locked; the message is what the login page shows."""


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, url: str | None = None) -> None:
        self._engine = engine(url)

    def create(self, login: str, name: str, role: str, password: str) -> int:
        """Create (or reset the password of) the account ``login``; returns the officer id."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
        with self._engine.begin() as db:
            row = db.execute(select(officers.c.id).where(officers.c.login == login)).first()
            if row:
                officer_id = row.id
                db.execute(officers.update().where(officers.c.id == officer_id)
                           .values(name=name, role=role, active=True))
            else:
                officer_id = db.execute(officers.insert().values(
                    name=name, role=role, login=login, active=True, created_at=now())).inserted_primary_key[0]
            db.execute(credentials.delete().where(credentials.c.officer_id == officer_id))
            db.execute(credentials.insert().values(officer_id=officer_id, password_hash=hash_password(password),
                                                   failures=0))
            db.execute(audit_log.insert().values(at=now(), actor="cli", action="admin_account",
                                                 detail=f"{login} ({role})"))
        return officer_id

    def login(self, login: str, password: str) -> str:
        """A new session token for a correct password; raises :class:`LoginRefused` otherwise.

        The failure count is committed before the refusal is raised, so it survives it.
        """
        refusal = ""
        with self._engine.begin() as db:
            row = db.execute(
                select(officers.c.id, officers.c.active, credentials.c.password_hash, credentials.c.failures,
                       credentials.c.locked_until)
                .join(credentials, credentials.c.officer_id == officers.c.id)
                .where(officers.c.login == login)).first()
            locked_until = _aware(row.locked_until) if row else None
            if row is None or not row.active:
                check_password(password, _DUMMY_HASH)
                refusal = WRONG
            elif locked_until and locked_until > now():
                refusal = LOCKED
            elif not check_password(password, row.password_hash):
                failures = row.failures + 1
                locked = failures >= MAX_FAILURES
                values = {"failures": 0, "locked_until": now() + LOCKOUT} if locked else {"failures": failures}
                db.execute(credentials.update().where(credentials.c.officer_id == row.id).values(**values))
                db.execute(audit_log.insert().values(at=now(), actor=login, action="login_failed",
                                                     detail=f"failure {failures}" + (", locked" if locked else "")))
                refusal = LOCKED if locked else WRONG
            else:
                db.execute(credentials.update().where(credentials.c.officer_id == row.id)
                           .values(failures=0, locked_until=None))
                token = secrets.token_urlsafe(32)
                db.execute(sessions.insert().values(token_hash=_token_hash(token), officer_id=row.id,
                                                    csrf=secrets.token_urlsafe(24),
                                                    expires_at=now() + SESSION_LIFETIME))
                db.execute(sessions.delete().where(sessions.c.expires_at < now()))
        if refusal:
            raise LoginRefused(refusal)
        return token

    def user(self, token: str | None) -> User | None:
        """The signed-in user of a session token, or None (unknown, expired, or deactivated)."""
        if not token:
            return None
        with self._engine.connect() as db:
            row = db.execute(
                select(officers.c.id, officers.c.login, officers.c.name, officers.c.role, officers.c.active,
                       sessions.c.csrf, sessions.c.expires_at)
                .join(sessions, sessions.c.officer_id == officers.c.id)
                .where(sessions.c.token_hash == _token_hash(token))).first()
        if row is None or not row.active or _aware(row.expires_at) <= now():
            return None
        return User(row.id, row.login, row.name, row.role, row.csrf)

    def logout(self, token: str) -> None:
        with self._engine.begin() as db:
            db.execute(sessions.delete().where(sessions.c.token_hash == _token_hash(token)))
