"""Nothing the bot keeps or logs names a resident: pseudonymous sender ids and redacted logs.

Three things, each in one place:

- :func:`hash_id`: a sender id (a REST client may use the resident's phone number; Telegram
  and WeChat ids are stable per person) becomes a salted HMAC before it is stored. The same
  id always gives the same key, across restarts and processes sharing the salt, so a
  conversation is still found by its real id, but the database alone does not say whose it is.
- :func:`redacted`: every string in a JSON-like value (an event, metadata, slots) passed
  through :func:`nlu.entities.redact`, the one redaction for text; entity values labelled as
  personal (a QQ number found after "QQ号：") are masked even when they look harmless alone.
- :func:`install`: every log record of the process, from any logger at any level (Rasa logs
  the resident's text at DEBUG in ``rasa/core/processor.py``, and at ERROR in
  ``rasa/core/channels/rest.py`` when a client disconnects mid-request), and every warning
  (Rasa warns with the text of a ``/intent`` message it cannot parse), is redacted before a
  handler sees it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot import health
from bot.config import PROJECT_ROOT
from nlu.entities import REDACTED_LABELS, is_official_number, mask, redact

SALT_ENV = "FRAUDBOT_ID_SALT"
SALT_FILE = PROJECT_ROOT / "var" / "id_salt"
"""Generated on first use when FRAUDBOT_ID_SALT is not set; var/ is not in git. Losing it orphans old conversations."""

# Hex digits written as letters: a stored key never contains a digit, so it can never be
# mistaken for (or masked as) a phone number, and a search of the database for digits finds none.
_HEX_AS_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


@lru_cache(maxsize=1)
def _salt() -> bytes:
    configured = os.environ.get(SALT_ENV, "")
    if configured:
        return configured.encode("utf-8")
    try:
        return _salt_from_file(SALT_FILE)
    except OSError as error:  # a read-only deployment: still pseudonymous, but only until the restart
        health.degraded("id_salt", f"cannot keep {SALT_FILE}: {type(error).__name__}; set {SALT_ENV}")
        return secrets.token_hex(32).encode("ascii")


def _salt_from_file(path: Path) -> bytes:
    """The secret in ``path``, created (0600) by whichever process comes first."""
    if path.exists():
        existing = path.read_bytes().strip()
        if existing:
            return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_hex(32).encode("ascii"))
    try:
        os.link(draft, path)  # atomic: never a half-written salt, never two different ones
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    salt = path.read_bytes().strip()
    if not salt:
        raise OSError(f"{path} is empty")
    return salt


def hash_id(value: str) -> str:
    """The stored key for sender id ``value``: 32 letters, the same for the same id, never the id itself."""
    digest = hmac.new(_salt(), value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return digest[:32].translate(_HEX_AS_LETTERS)


def redacted(value: Any) -> Any:
    """``value`` with every string in it (dict keys too) redacted; dicts and lists are walked."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        out = {(_redacted_key(key) if isinstance(key, str) else key): redacted(item) for key, item in value.items()}
        return _masked_entity(value, out)
    if isinstance(value, (list, tuple)):
        return [redacted(item) for item in value]
    return value


_CLEAN_KEYS: set[str] = set()
MAX_CLEAN_KEYS = 4096
"""Dict keys remembered as needing no redaction. An event has the same few dozen keys every time (two
thirds of the strings in a stored turn, issue 14); anything beyond the bound is simply redacted again."""


def _redacted_key(key: str) -> str:
    """``redact(key)``, remembered for the keys it leaves unchanged: :func:`redact` depends on its text
    alone, and a key it leaves unchanged holds nothing it would mask, so nothing personal is kept."""
    if key in _CLEAN_KEYS:
        return key
    result = redact(key)
    if result == key and len(_CLEAN_KEYS) < MAX_CLEAN_KEYS:
        _CLEAN_KEYS.add(key)
    return result


def _masked_entity(original: dict, out: dict) -> dict:
    """An entity labelled as personal keeps no readable value; a phone entity that is an official line does."""
    label, value = original.get("entity"), original.get("value")
    if label not in REDACTED_LABELS or not isinstance(value, str) or out.get("value") != value:
        return out
    if not (label == "phone" and is_official_number(value.lstrip("+"))):
        out["value"] = mask(value)
    return out


# --- logs --------------------------------------------------------------------------------

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_DONE = "_fraudbot_redacted"
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", _DONE}
_EXCEPTION_FORMATTER = logging.Formatter()


_BOT_TOKEN = re.compile(r"(bot)\d{5,}:[A-Za-z0-9_-]{20,}")
"""A Telegram bot token inside a Bot API URL (``…/bot123456:AA…/sendMessage``), as httpx logs every
request under PTB: whoever holds it controls the bot. Any process, any logger."""


def redact_log_text(text: str) -> str:
    """``text`` as a log line may show it: JSON escapes read, personal numbers masked, encodable.

    Rasa's structured logs are JSON with ``\\uXXXX`` escapes, where a full-width or Chinese-numeral
    phone number would hide from redaction; the escapes are read back first.
    """
    if "\\u" in text:
        text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    text = _BOT_TOKEN.sub(r"\1<token>", text)
    text = redact(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: a handler would fail and print the raw record
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def redact_record(record: logging.LogRecord) -> None:
    """Replace the record's message (msg with args), exception and stack text by their redacted form."""
    if getattr(record, _DONE, False):
        return
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep what can be shown, never the raw args
        message = f"{record.msg} (log arguments could not be formatted)"
    record.msg, record.args = redact_log_text(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = _EXCEPTION_FORMATTER.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact_log_text(record.exc_text)
    if record.stack_info:
        record.stack_info = redact_log_text(record.stack_info)
    setattr(record, _DONE, True)


class RedactingFilter(logging.Filter):
    """A handler filter that lets every record through, redacted (``extra`` fields too, e.g. Sanic's request line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRIBUTES and isinstance(value, str):
                setattr(record, key, redact_log_text(value))
        return True


_FILTER = RedactingFilter()
_install_lock = threading.Lock()
_factory_installed = False


def install() -> None:
    """Redact every log record and warning of this process from now on; safe to call again.

    The record factory covers every logger and handler, including ones configured later; the
    filter is added to the handlers that exist now, for fields passed with ``extra``. Call it
    where a process starts logging (and again after it adds handlers).
    """
    global _factory_installed
    with _install_lock:
        if not _factory_installed:
            _wrap_record_factory()
            _wrap_warnings()
            _factory_installed = True
        for handler in _handlers():
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)


def _wrap_record_factory() -> None:
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record)
        return record

    logging.setLogRecordFactory(factory)


def _wrap_warnings() -> None:
    previous = warnings.showwarning

    def showwarning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    file: Any = None, line: str | None = None) -> None:
        previous(redact_log_text(str(message)), category, filename, lineno, file, line)

    warnings.showwarning = showwarning


def _handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger(), *(item for item in logging.Logger.manager.loggerDict.values()
                                      if isinstance(item, logging.Logger))]
    return [handler for logger in loggers for handler in logger.handlers]
