"""Indicators (phone numbers, domains, bank cards, QQ/WeChat ids, app names) in the one form they are matched in.

Residents paste the same number as ``+86 138-0000-1111``, ``0086 13800001111`` or ``１３８００００１１１１``,
and the same link as ``HTTP://WWW.Example.COM/path?x=1``. A blacklist is only useful when every spelling
lands on one key, so the store keeps and looks up values only through :func:`normalise`. Pure
functions, no database: the store (``bot/known.py``) and the adapters share them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import idna

from core.report_lines import link_host, registrable_domain

PHONE, DOMAIN, BANK_CARD, IM_ACCOUNT, APP = "phone", "domain", "bank_card", "im_account", "app"
KINDS = (PHONE, DOMAIN, BANK_CARD, IM_ACCOUNT, APP)
# The NLU's entity labels (nlu/entities.py) and the indicator kind each one is checked as.
ENTITY_KINDS = {"phone": PHONE, "url": DOMAIN, "bank_card": BANK_CARD, "im_account": IM_ACCOUNT, "app": APP}

_FULLWIDTH = str.maketrans({code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)})
_NOT_DIGIT = re.compile(r"\D")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0[1-9]\d{8,10}")  # area code (2-4 digits with the 0) and a 7-8 digit number


def normalise_phone(value: str) -> str | None:
    """An 11-digit mobile (13800001111) or an area-code landline (057112345678); None for anything else.

    The country code (+86, 0086, 86 before a mobile), spaces, dashes, brackets and full-width digits go.
    Short service numbers (110, 95588) are not indicators: they are on the official list.
    """
    digits = _NOT_DIGIT.sub("", value.translate(_FULLWIDTH))
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) in (10, 11, 12):
            rest = digits[len(prefix):]
            digits = rest if _MOBILE.fullmatch(rest) else "0" + rest.lstrip("0")
            break
    if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits):
        return digits
    return None


def normalise_domain(value: str) -> str | None:
    """The host of a link or domain, lower-case ASCII (punycode for an IDN), without ``www.``: ``example.com``.

    Scheme, ``www.``, case, port, path, query and fragment are dropped; :func:`lookup_keys` adds the parent
    domains down to the registrable one, so a confirmed ``example.com`` matches ``pay.example.com``.
    A link the bot cannot trust to name its host (user info, an IP address) gives None. IDN labels are kept
    here as punycode (the official-domain check refuses them, a blacklist must still match them).
    """
    text = value.strip().translate(_FULLWIDTH)
    host = link_host(text)
    if host is None:
        host = _idn_host(text)
    if host is None:
        return None
    return host.lower().removeprefix("www.")


def _idn_host(text: str) -> str | None:
    """The punycode host of a link whose host has non-ASCII labels (``例子.中国`` → ``xn--fsqu00a.xn--fiqs8s``)."""
    if "://" not in text:
        text = "http://" + text.removeprefix("//")
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").removesuffix(".")
        if not host or "@" in parts.netloc:
            return None
        return idna.encode(host, uts46=True).decode("ascii")
    except (ValueError, idna.IDNAError, UnicodeError):
        return None


def lookup_keys(kind: str, value: str) -> list[str]:
    """The stored values that match a normalised ``value``: itself, and for a domain each parent down to the
    registrable domain (``a.b.example.com`` → a.b.example.com, b.example.com, example.com), so a confirmed
    domain also matches its subdomains (and never a public suffix such as ``com.cn``)."""
    if kind != DOMAIN:
        return [value]
    labels = value.split(".")
    stop = len(registrable_domain(value).split("."))
    return [".".join(labels[i:]) for i in range(max(len(labels) - stop, 0) + 1)]


def normalise(kind: str, value: str) -> str | None:
    """``value`` as the store keeps an indicator of ``kind``; None when it is not one."""
    if kind == PHONE:
        return normalise_phone(value)
    if kind == DOMAIN:
        return normalise_domain(value)
    if kind == BANK_CARD:
        digits = _NOT_DIGIT.sub("", value.translate(_FULLWIDTH))
        return digits if 12 <= len(digits) <= 19 else None
    if kind in (IM_ACCOUNT, APP):
        cleaned = re.sub(r"\s+", "", value.translate(_FULLWIDTH)).lower()
        return cleaned or None
    raise ValueError(f"unknown indicator kind {kind!r}: one of {', '.join(KINDS)}")


def from_entities(entities: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The (kind, normalised value) pairs to look up for the entities the NLU found, without repeats."""
    found: list[tuple[str, str]] = []
    for entity in entities:
        kind = ENTITY_KINDS.get(str(entity.get("entity")))
        value = normalise(kind, str(entity.get("value") or "")) if kind else None
        if kind and value and (kind, value) not in found:
            found.append((kind, value))
    return found
