"""The one function that decides which report lines a reply names (``route``).

Data-driven: situations and numbers come from ``data/report_lines.yml``, local lines from
``data/regions.yml``. Nothing here invents a number.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache
from urllib.parse import urlsplit

import idna
from publicsuffixlist import PublicSuffixList

from core.knowledge import ReportLine, region_key, regions, report_lines

STOP_PAYMENT = "stop_payment"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_OTHER_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+-]*:(?!\d)")  # javascript:, mailto:, http:host


def line(key: str) -> ReportLine:
    """A national line by its key in ``report_lines.yml`` (police, anti_fraud, …)."""
    spec = report_lines()["lines"][key]
    return ReportLine(str(spec["number"]), spec["name"], spec.get("use", ""))


def bank_line(bank: str | None) -> ReportLine | None:
    """The official line of a bank or payment platform, for stop-payment; None if unknown."""
    number = report_lines()["banks"].get(bank or "")
    if number is None:
        return None
    return ReportLine(str(number), f"{bank}官方客服", "说明被骗，申请紧急止付")


def in_app_service(product: str | None) -> str | None:
    """The app whose in-app customer service handles a pay-later product with no listed number
    (京东白条 → 京东), or None. The bot never guesses a number for these."""
    return (report_lines().get("in_app_service") or {}).get(product or "")


def official_site(owner: str | None) -> str | None:
    """The official domain of a bank or platform (``domain_owners`` in report_lines.yml), or None."""
    for domain, name in (report_lines().get("domain_owners") or {}).items():
        if name == owner:
            return str(domain)
    return None


def regional_lines() -> list[ReportLine]:
    """Lines the deployment's region adds after the national ones (none by default)."""
    spec = regions().get(region_key()) or {}
    return [ReportLine(str(item["number"]), item["name"], item.get("use", ""))
            for item in spec.get("lines") or []]


def route(situation: str, bank: str | None = None) -> list[ReportLine]:
    """Report lines for a situation (``money_sent``, ``call``, ``sms``, …), most urgent first.

    For ``money_sent`` the bank's or payment platform's line comes right after 110 when it is
    known; when it is not, the caller asks which one it was.
    """
    keys = report_lines()["situations"].get(situation) or report_lines()["situations"]["consult"]
    lines: list[ReportLine] = []
    for key in keys:
        if key == STOP_PAYMENT:
            found = bank_line(bank)
            if found:
                lines.append(found)
        else:
            lines.append(line(key))
    return lines + regional_lines()


def official_number(number: str) -> str | None:
    """What an official number is (110, 96110, a bank's 95xxx …), or None if not on the list."""
    data = report_lines()
    if number in data["official_numbers"]:
        return data["official_numbers"][number]
    for bank, bank_number in data["banks"].items():
        if str(bank_number) == number:
            return f"{bank}官方客服"
    return None


def link_host(url: str) -> str | None:
    """The host a browser would open for ``url``, lower-case ASCII; None when it is not to be trusted.

    Parsed, never split: the query (``https://icbc-safe.top?.icbc.com.cn``), the fragment and the
    port stay out of the host. A link that hides its host behind user info (``icbc.com.cn@evil.top``)
    or backslashes, that is not http(s), or whose host is an IP address or has an IDN label
    (punycode ``xn--``, a dotless ``ı``, a Cyrillic ``с``) gets None: such tricks only exist to
    mislead a reader, and every official domain on our list is plain ASCII.
    """
    url = url.strip()
    if "\\" in url:
        return None
    if not _SCHEME.match(url):
        if _OTHER_SCHEME.match(url):
            return None
        url = "http://" + url.removeprefix("//")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or "@" in parts.netloc or not parts.hostname:
        return None
    host = parts.hostname.removesuffix(".")
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")  # also maps full-width ｉｃｂｃ。com
    except (idna.IDNAError, UnicodeError):
        return None
    labels = ascii_host.split(".")
    if not all(labels) or any(label.startswith("xn--") for label in labels):
        return None
    return ascii_host


@cache
def _suffixes() -> PublicSuffixList:
    """The public suffix list shipped inside the ``publicsuffixlist`` package (nothing fetched)."""
    return PublicSuffixList()


def registrable_domain(host: str) -> str:
    """The part of ``host`` one owner registers (eTLD+1): ``mybank.icbc.com.cn`` -> ``icbc.com.cn``.

    A host that is itself a public suffix (``gov.cn``) is returned as it is.
    """
    return _suffixes().privatesuffix(host) or host


def official_domain(url: str) -> bool:
    """True when the link opens an official domain or a subdomain of one.

    The registrable domain is compared, so ``icbc-com.cn`` and ``icbc.com.cn.evil.top`` never count.
    An official entry that is itself a public suffix (``gov.cn``: only government bodies register
    under it) covers every domain registered under it.
    """
    host = link_host(url)
    if host is None:
        return False
    official = {str(d).strip().lower().rstrip(".") for d in report_lines()["official_domains"]}
    return registrable_domain(host) in official or _suffixes().publicsuffix(host) in official
