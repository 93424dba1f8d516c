"""Report-line routing (actions/report_lines.py) driven by actions/data/*.yml."""

from pathlib import Path

import pytest

from actions import knowledge
from actions.report_lines import bank_line, official_domain, official_number, route


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
        assert bank_line(name) is not None, name


def test_official_numbers_and_domains() -> None:
    assert official_number("95533") == "建设银行官方客服"
    assert official_number("96110")
    assert official_number("13812345678") is None
    assert official_domain("https://www.icbc.com.cn/x")
    assert not official_domain("http://icbc.com.cn.evil.top/")


@pytest.fixture
def county_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "actions" / "data"
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
