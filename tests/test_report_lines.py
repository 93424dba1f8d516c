"""Report-line routing (core/report_lines.py) driven by core/data/*.yml."""

from pathlib import Path

import pytest

from core import knowledge
from core.report_lines import (
    bank_line,
    in_app_service,
    link_host,
    official_domain,
    official_number,
    registrable_domain,
    route,
)


def numbers(situation: str, bank: str | None = None) -> list[str]:
    return [line.number for line in route(situation, bank)]


def test_money_sent_names_110_then_the_bank() -> None:
    assert numbers("money_sent", "工商银行")[:2] == ["110", "95588"]
    assert numbers("money_sent", "支付宝")[:2] == ["110", "95188"]


def test_money_sent_without_bank_still_names_110_first() -> None:
    assert numbers("money_sent")[0] == "110"


def test_suspicious_call_means_96110() -> None:
    assert numbers("call")[0] == "96110"


def test_phishing_sms_means_12321() -> None:
    assert numbers("sms")[0] == "12321"


def test_card_trafficking_goes_to_the_police() -> None:
    assert numbers("card_trafficking")[0] == "110"


def test_unknown_situation_falls_back_to_96110() -> None:
    assert numbers("no-such-situation") == ["96110"]


def test_every_bank_in_the_lexicon_has_a_line() -> None:
    import yaml

    lexicon = yaml.safe_load(Path("nlu/lexicon.yml").read_text(encoding="utf-8"))
    for name in list(lexicon["bank"]) + list(lexicon["platform"]):
        assert bank_line(name) is not None or in_app_service(name) is not None, name


def test_official_numbers_and_domains() -> None:
    assert official_number("95533") == "建设银行官方客服"
    assert official_number("96110")
    assert official_number("13812345678") is None
    assert official_domain("https://www.icbc.com.cn/x")
    assert not official_domain("http://icbc.com.cn.evil.top/")


@pytest.mark.parametrize("url", [
    "https://www.icbc.com.cn/x",
    "icbc.com.cn",  # no scheme
    "www.icbc.com.cn/personal?id=1",  # www. form, as the entity rules find it
    "//icbc.com.cn/x",
    "https://mybank.icbc.com.cn/icbc/newperbank/",  # a subdomain of an official registrable domain
    "HTTPS://WWW.ICBC.COM.CN/",  # upper case
    "https://icbc.com.cn./",  # the trailing dot of a fully qualified name
    "https://www.icbc.com.cn:443/x",  # a port
    "https://ｉｃｂｃ。ｃｏｍ。ｃｎ/",  # full-width, as a browser maps it
    "https://www.gov.cn/", "http://www.mps.gov.cn/n2254314/",  # gov.cn is itself a public suffix
])
def test_official_links(url: str) -> None:
    assert official_domain(url)


@pytest.mark.parametrize("url", [
    "https://icbc-safe.top?.icbc.com.cn",  # the official name in the query
    "https://icbc-safe.top/?.icbc.com.cn",
    "https://icbc-safe.top#.icbc.com.cn",  # ... in the fragment
    "https://evil.top/.icbc.com.cn",  # ... in the path
    "https://icbc.com.cn@evil.top/",  # user info: the browser opens evil.top
    "https://evil.top@icbc.com.cn/",  # user info used to hide the real host is never vouched for
    "https://evil.top\\@icbc.com.cn/",  # backslash: a browser reads it as "/"
    "https://evil.top\\.icbc.com.cn/",
    "https://icbc.com.cn:443.evil.top/",  # a "port" that is not a number
    "https://icbc.com.cn%2f@evil.top/",
    "https://evil.top%2f.icbc.com.cn/",  # percent-encoding in the host
    "icbc-com.cn",  # a look-alike registrable domain
    "https://icbc.com.cn.evil.top/",  # the official name as a subdomain of another
    "https://icbc.com.cn-evil.top/",
    "https://myicbc.com.cn/",  # another registrable domain that ends the same
    "https://ıcbc.com.cn/",  # dotless i
    "https://xn--cbc-iua.com.cn/",  # the same, as punycode
    "https://іcbc.com.cn/",  # Cyrillic і
    "https://icbс.com.cn/",  # Cyrillic с: a mixed-script host
    "https://www.ícbc.com.cn/",
    "https://icbc.com.cn../",  # an empty label
    "https://gov.cn.evil.top/", "https://evilgov.cn/", "https://gov-cn.top/",
    "http://1.2.3.4/", "http://[::1]/", "http://2130706433/",  # addresses, not names
    "ftp://icbc.com.cn/", "javascript:alert(1)//icbc.com.cn", "data:text/html,icbc.com.cn",
    "", "https://", "http://:80/",
])
def test_look_alike_links_never_count(url: str) -> None:
    assert not official_domain(url)


def test_hosts_are_parsed_to_what_a_browser_opens() -> None:
    assert link_host("https://icbc-safe.top?.icbc.com.cn") == "icbc-safe.top"
    assert link_host("WWW.ICBC.COM.CN:8080/a#b") == "www.icbc.com.cn"
    assert link_host("https://icbc.com.cn@evil.top") is None
    assert registrable_domain("mybank.icbc.com.cn") == "icbc.com.cn"
    assert registrable_domain("a.b.example.com.cn") == "example.com.cn"
    assert registrable_domain("gov.cn") == "gov.cn"


def test_official_domains_come_from_the_data_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "core" / "data"
    data.mkdir(parents=True)
    lines = (knowledge.data_dir() / "report_lines.yml").read_text(encoding="utf-8")
    (data / "report_lines.yml").write_text(lines.replace("  - icbc.com.cn\n", ""), encoding="utf-8")
    monkeypatch.setenv("FRAUDBOT_CONTENT_DIR", str(tmp_path))
    assert not official_domain("https://www.icbc.com.cn/")
    assert official_domain("https://www.ccb.com/")


@pytest.fixture
def county_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "core" / "data"
    data.mkdir(parents=True)
    for name in ("report_lines.yml", "scenarios.yml"):
        (data / name).write_text((knowledge.data_dir() / name).read_text(encoding="utf-8"), encoding="utf-8")
    (data / "regions.yml").write_text(
        "national:\n  name: 全国\n  lines: []\n"
        "test_county:\n  name: 测试县\n  lines:\n"
        "    - {name: 测试县反诈中心, number: '0000-1234567', use: 本地民警接听}\n",
        encoding="utf-8")
    monkeypatch.setenv("FRAUDBOT_CONTENT_DIR", str(tmp_path))
    monkeypatch.setenv("FRAUDBOT_REGION", "test_county")


def test_regional_lines_follow_the_national_ones(county_region: None) -> None:
    assert numbers("call") == ["96110", "国家反诈中心APP", "0000-1234567"]


def test_unknown_region_means_national(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDBOT_REGION", "nowhere")
    assert numbers("call") == ["96110", "国家反诈中心APP"]
