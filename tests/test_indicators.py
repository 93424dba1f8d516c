"""Indicators: one normalised form for every spelling, and the store's states (reported, confirmed, expired)."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from bot import known
from core.indicators import DOMAIN, PHONE, from_entities, lookup_keys, normalise
from core.replies import compose
from core.verdict import Case, risk


@pytest.mark.parametrize(("kind", "value", "expected"), [
    (PHONE, "+86 138-0000-1111", "13800001111"),
    (PHONE, "0086 13800001111", "13800001111"),
    (PHONE, "１３８ ００００ １１１１", "13800001111"),
    (PHONE, "0571-12345678", "057112345678"),
    (PHONE, "+86 571 1234 5678", "057112345678"),
    (PHONE, "95588", None),  # a service number is on the official list, never an indicator
    (DOMAIN, "HTTP://WWW.Example.COM/path", "example.com"),
    (DOMAIN, "https://pay.Evil-Bank.top:8443/login?next=/a#x", "pay.evil-bank.top"),
    (DOMAIN, "http://例子.中国/路径", "xn--fsqu00a.xn--fiqs8s"),
    (DOMAIN, "xn--fsqu00a.xn--fiqs8s", "xn--fsqu00a.xn--fiqs8s"),
    (DOMAIN, "http://user@evil.top", None),
    ("bank_card", "6222 0212-3456 7890 123", "6222021234567890123"),
    ("im_account", " WXid_ABC88 ", "wxid_abc88"),
    ("app", "安全 盾APP", "安全盾app"),
])
def test_every_spelling_lands_on_one_value(kind: str, value: str, expected: str | None) -> None:
    assert normalise(kind, value) == expected


def test_a_domain_is_looked_up_with_its_parents_down_to_the_registrable_one() -> None:
    assert lookup_keys(DOMAIN, "a.pay.example.com.cn") == ["a.pay.example.com.cn", "pay.example.com.cn",
                                                           "example.com.cn"]
    assert lookup_keys(PHONE, "13800001111") == ["13800001111"]


def test_entities_become_lookups_once_each() -> None:
    entities = [{"entity": "phone", "value": "+8613800001111"}, {"entity": "phone", "value": "13800001111"},
                {"entity": "url", "value": "http://www.etc-rz.top/a"}, {"entity": "money", "value": "500"}]
    assert from_entities(entities) == [(PHONE, "13800001111"), (DOMAIN, "etc-rz.top")]


@pytest.fixture()
def store_url() -> str:
    folder = Path(tempfile.mkdtemp(prefix="fraudbot-"))
    return f"sqlite:///{folder / 'store.db'}"


def test_states_in_the_store(store_url: str) -> None:
    known.report(PHONE, "+86 138-0000-1111", store_url)
    reported = known.report(PHONE, "13800001111", store_url)
    assert (reported.state, reported.report_count) == ("reported", 2)
    confirmed = known.confirm(DOMAIN, "evil-bank.top", officer="王警官", url=store_url)
    assert confirmed.confirmed_by == "王警官" and confirmed.confirmed_at is not None

    found = known.lookup([(PHONE, "13800001111"), (DOMAIN, "pay.evil-bank.top"), (DOMAIN, "evil-bank.top.cn")],
                         store_url)
    assert [(i.kind, i.value, i.state) for i in found] == [("domain", "evil-bank.top", "confirmed"),
                                                           ("phone", "13800001111", "reported")]
    # confirming a reported one keeps its count; expiring and rejecting take them out of the lookups
    assert known.confirm(PHONE, "13800001111", "王警官", store_url).report_count == 2
    known.expire(DOMAIN, "evil-bank.top", store_url)
    known.reject(PHONE, "13800001111", store_url)
    assert known.lookup([(PHONE, "13800001111"), (DOMAIN, "evil-bank.top")], store_url) == []


def test_a_confirmation_past_its_expiry_is_not_matched(store_url: str) -> None:
    known.confirm(PHONE, "13911112222", "李警官", store_url, expires_in=timedelta(seconds=-1))
    known.confirm(PHONE, "13933334444", "李警官", store_url, expires_in=timedelta(days=30))
    assert [i.value for i in known.lookup([(PHONE, "13911112222"), (PHONE, "13933334444")], store_url)] \
        == ["13933334444"]


def test_import_adds_new_rows_only_and_skips_what_does_not_normalise(store_url: str) -> None:
    items = [{"kind": "phone", "value": "138 0000 1111"}, {"kind": "phone", "value": "+8613800001111"},
             {"kind": "domain", "value": "HTTP://WWW.Fake-Gov.TOP/x"}, {"kind": "phone", "value": "12"},
             {"kind": "nonsense", "value": "x"}]
    assert known.import_indicators(items, store_url, officer="导入") == 2
    assert known.import_indicators(items, store_url) == 0
    assert {(i.value, i.confirmed_by) for i in known.listing(store_url)} == {("13800001111", "导入"),
                                                                             ("fake-gov.top", "导入")}


def _case(text: str, indicators: list[dict], **extra: object) -> Case:
    return Case(text=text, scenario="none", confidence=0.3, scam_probability=0.3,
                entities=[{"entity": "phone", "value": i["value"]} for i in indicators if i["kind"] == "phone"],
                indicators=indicators, **extra)


def test_a_confirmed_number_makes_it_high_and_the_first_bubble_says_so() -> None:
    case = _case("刚才13800001111给我打电话，说是客服", [
        {"kind": "phone", "value": "13800001111", "state": "confirmed", "report_count": 0,
         "confirmed_at": "2026-11-20"}])
    assert risk(case) == "high"
    reply = compose(case)
    assert reply.risk == "high"
    assert "这个号码已被公安机关确认为诈骗号码（11月20日）" in reply.messages[0]
    assert len(reply.messages) <= 3 and all(len(m) <= 200 for m in reply.messages)


def test_a_reported_number_is_mentioned_with_its_count_and_decides_nothing() -> None:
    case = _case("刚才13800001111给我打电话，说是客服", [
        {"kind": "phone", "value": "13800001111", "state": "reported", "report_count": 3, "confirmed_at": None}])
    plain = _case("刚才13800001111给我打电话，说是客服", [])
    assert risk(case) == risk(plain)
    assert "这个号码已有3位居民举报过" in "\n".join(compose(case).messages)


def test_an_official_number_stays_official_whatever_the_store_holds() -> None:
    case = _case("95588给我打电话说信用卡要年费", [
        {"kind": "phone", "value": "95588", "state": "confirmed", "report_count": 0, "confirmed_at": "2026-11-20"}])
    assert "确认为诈骗" not in "\n".join(compose(case).messages)
