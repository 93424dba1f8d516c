"""The one place that reads deployment configuration from the environment.

Secrets (bot tokens, webhook secrets) never live in files in the repository; the values
below are read when a component starts, so tests and deployments set them per process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """SQLAlchemy URL of the project's store: SQLite in the project folder unless FRAUDBOT_DB_URL says otherwise."""
    return os.environ.get("FRAUDBOT_DB_URL") or f"sqlite:///{PROJECT_ROOT / 'fraudbot.db'}"


def reply_timeout() -> float:
    """Seconds a resident may wait for an answer before the hotline fallback: FRAUDBOT_REPLY_TIMEOUT, default 10.

    Rasa itself waits up to 300 s for the action server; a resident must not.
    """
    try:
        seconds = float(os.environ.get("FRAUDBOT_REPLY_TIMEOUT") or 10)
    except ValueError:
        return 10.0
    return seconds if 0 < seconds < 3600 else 10.0


def redis_url() -> str:
    """Redis shared by the processes of a fleet (``FRAUDBOT_REDIS_URL``); "" for the embedded one-process default.

    The send budget (:mod:`bot.senders.budget`) keeps Telegram's and WeCom's limits there, so
    that every process sending with the same token counts against one limit.
    """
    return os.environ.get("FRAUDBOT_REDIS_URL", "").strip()


def _positive(env: str, default: float) -> float:
    """A positive number from the environment, else ``default`` (a typo must not stop sending)."""
    try:
        value = float(os.environ.get(env) or default)
    except ValueError:
        return default
    return value if 0 < value < 1e6 else default


# The services' own limits (python-telegram-bot's constants; WeCom's robot documentation).
TELEGRAM_OVERALL_PER_SECOND = 30
TELEGRAM_GROUP_PER_MINUTE = 20
WECOM_ROBOT_PER_MINUTE = 20


def telegram_per_second() -> int:
    """Messages a second for the whole bot token (``FRAUDBOT_TELEGRAM_PER_SECOND``, Telegram's ~30)."""
    return int(_positive("FRAUDBOT_TELEGRAM_PER_SECOND", TELEGRAM_OVERALL_PER_SECOND))


def telegram_group_per_minute() -> int:
    """Messages a minute into one group (``FRAUDBOT_TELEGRAM_GROUP_PER_MINUTE``, Telegram's 20)."""
    return int(_positive("FRAUDBOT_TELEGRAM_GROUP_PER_MINUTE", TELEGRAM_GROUP_PER_MINUTE))


def wecom_robot_per_minute() -> int:
    """Messages a minute per WeCom group robot (``FRAUDBOT_WECOM_ROBOT_PER_MINUTE``, WeCom's 20)."""
    return int(_positive("FRAUDBOT_WECOM_ROBOT_PER_MINUTE", WECOM_ROBOT_PER_MINUTE))


def alert_lease_seconds() -> float:
    """How long an alerts worker's claim on an outbox row lasts without renewal (``FRAUDBOT_ALERT_LEASE``).

    A worker renews its claims every third of this; a row whose claim ran out belongs to a
    worker that is gone, and another worker may take it (or report it uncertain, if it was
    being sent). Longer is safer against a stalled worker, shorter recovers sooner.
    """
    return _positive("FRAUDBOT_ALERT_LEASE", 30.0)


TOKEN_ENV = "FRAUDBOT_RASA_TOKEN"
TOKEN_FILE_ENV = "FRAUDBOT_RASA_TOKEN_FILE"


def rasa_token() -> str:
    """The Rasa API token: ``FRAUDBOT_RASA_TOKEN``, else the file ``FRAUDBOT_RASA_TOKEN_FILE``, else "".

    An unreadable token file raises :class:`OSError`: starting without the intended token
    would leave the API either open or unusable.
    """
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    path = os.environ.get(TOKEN_FILE_ENV, "")
    lines = Path(path).read_text(encoding="utf-8").split() if path else []
    return lines[0] if lines else ""


def setting(credentials: dict | None, key: str, env: str, default: str = "") -> str:
    """A channel setting: credentials.yml's value when given, else the environment variable."""
    value = (credentials or {}).get(key)
    return str(value) if value not in (None, "") else os.environ.get(env, default)


@dataclass(frozen=True)
class TelegramConfig:
    """Telegram bot settings (TELEGRAM_* variables), overridable from credentials.yml."""

    token: str = ""
    webhook_secret: str = ""
    public_url: str = ""  # https://host: the webhook is set to <public_url>/webhooks/telegram_bot/webhook
    mode: str = "webhook"  # or "polling" (development without a public URL)
    api_base_url: str = "https://api.telegram.org/bot"
    autowarn_min_chars: int = 15
    autowarn_min_confidence: float = 0.8

    @classmethod
    def from_env(cls, overrides: dict | None = None) -> TelegramConfig:
        values = {k: v for k, v in (overrides or {}).items() if v not in (None, "")}
        env = os.environ
        return cls(
            token=str(values.get("token") or env.get("TELEGRAM_BOT_TOKEN", "")),
            webhook_secret=str(values.get("webhook_secret") or env.get("TELEGRAM_WEBHOOK_SECRET", "")),
            public_url=str(values.get("public_url") or env.get("TELEGRAM_PUBLIC_URL", "")).rstrip("/"),
            mode=str(values.get("mode") or env.get("TELEGRAM_MODE", "webhook")),
            api_base_url=str(values.get("api_base_url") or env.get("TELEGRAM_API_BASE_URL")
                             or cls.api_base_url),
            autowarn_min_chars=int(values.get("autowarn_min_chars") or env.get("TELEGRAM_AUTOWARN_MIN_CHARS", 15)),
            autowarn_min_confidence=float(values.get("autowarn_min_confidence")
                                          or env.get("TELEGRAM_AUTOWARN_MIN_CONFIDENCE", 0.8)),
        )


@dataclass(frozen=True)
class AdminConfig:
    """Where the web admin finds the live files, keeps its draft and models, and reaches Rasa."""

    live_root: Path  # FRAUDBOT_CONTENT_DIR: the files the live bot reads (this repository by default)
    admin_dir: Path  # FRAUDBOT_ADMIN_DIR: draft, candidate models, candidate servers' files
    rasa_urls: tuple[str, ...]  # FRAUDBOT_RASA_URLS: every live Rasa replica (its HTTP API is enabled)
    rasa_token: str  # FRAUDBOT_RASA_TOKEN: the replicas' --auth-token
    live_model: Path  # the model file a restart of the live bot loads
    endpoints: Path  # the live bot's endpoints.yml (for the tracker store behind the overview)
    secure_cookies: bool  # FRAUDBOT_ADMIN_SECURE_COOKIE=1 behind HTTPS

    @classmethod
    def from_env(cls) -> AdminConfig:
        env = os.environ
        urls = env.get("FRAUDBOT_RASA_URLS", "http://127.0.0.1:5005")
        return cls(
            live_root=Path(env.get("FRAUDBOT_CONTENT_DIR") or PROJECT_ROOT),
            admin_dir=Path(env.get("FRAUDBOT_ADMIN_DIR") or PROJECT_ROOT / "var" / "admin"),
            rasa_urls=tuple(u.strip().rstrip("/") for u in urls.split(",") if u.strip()),
            rasa_token=rasa_token(),
            live_model=Path(env.get("FRAUDBOT_MODEL") or PROJECT_ROOT / "models" / "fraudbot.tar.gz"),
            endpoints=Path(env.get("FRAUDBOT_ENDPOINTS") or PROJECT_ROOT / "endpoints.yml"),
            secure_cookies=env.get("FRAUDBOT_ADMIN_SECURE_COOKIE", "") == "1",
        )
