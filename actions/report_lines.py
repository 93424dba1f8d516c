"""The one function that decides which report lines a reply names (``route``).

Data-driven: situations and numbers come from ``data/report_lines.yml``, local lines from
``data/regions.yml``. Nothing here invents a number.
"""

from __future__ import annotations

from actions.knowledge import ReportLine, region_key, regions, report_lines

STOP_PAYMENT = "stop_payment"


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


def official_domain(url: str) -> bool:
    """True when the link's host is an official domain or a subdomain of one."""
    host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    return any(host == d or host.endswith("." + d) for d in report_lines()["official_domains"])
