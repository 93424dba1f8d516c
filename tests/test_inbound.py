"""The door every channel's text goes through (bot/inbound.py): plain, bounded text whatever a client sent."""

from __future__ import annotations

import json
import time

import pytest

from bot.inbound import MAX_METADATA_BYTES, MAX_TEXT_CHARS, CleanText, clean_text, known_metadata, normalise


@pytest.mark.parametrize("raw, expected", [
    ("\ud800", "\ufffd"),
    ("你好\udc00吗", "你好\ufffd吗"),
    ("\ud83d\ude00", "\ufffd\ufffd"),  # a surrogate pair as two code points is still two lone halves
])
def test_lone_surrogates_are_replaced_and_the_text_can_be_encoded(raw: str, expected: str) -> None:
    text = normalise(raw)
    assert text == expected
    text.encode("utf-8")  # what the SQL tracker store does; a lone surrogate raised here


@pytest.mark.parametrize("raw", ["138\u200b1234\u200c5678", "138\u200d1234\ufeff5678", "1381234\u20605678",
                                 "\u202e13812345678", "138\u00ad12345678", "138\U000e0041" "12345678"])
def test_invisible_characters_inside_a_number_are_dropped(raw: str) -> None:
    assert normalise(raw) == "13812345678"


def test_full_width_digits_and_letters_become_half_width_but_chinese_punctuation_stays() -> None:
    assert normalise("电话１３８１２３４５６７８，ＱＱ：ａｂｃ") == "电话13812345678，QQ：abc"
    assert normalise("转账\u30003万") == "转账 3万"


def test_control_characters_are_dropped_but_newlines_and_tabs_kept() -> None:
    assert normalise("\x00\x01转\x07账\x1b[31m\x7f\x9f") == "转账[31m"
    assert normalise("第一行\n第二行\t完") == "第一行\n第二行\t完"
    assert normalise("  \r\n 你好 \n") == "你好"


@pytest.mark.parametrize("raw", [None, 5, 3.5, True, [], ["你好"], {"text": "你好"}, b"\xe4\xbd\xa0"])
def test_anything_but_a_string_is_empty_text(raw: object) -> None:
    assert clean_text(raw) == CleanText("", truncated=False)


def test_short_text_is_kept_whole() -> None:
    assert clean_text("  我刚转了3万  ") == CleanText("我刚转了3万", truncated=False)
    assert clean_text("啊" * MAX_TEXT_CHARS) == CleanText("啊" * MAX_TEXT_CHARS, truncated=False)


def test_long_text_is_cut_and_says_so() -> None:
    cleaned = clean_text("对方让我转到安全账户" + "1" * 20_000)
    assert cleaned.truncated
    assert len(cleaned.text) == MAX_TEXT_CHARS
    assert cleaned.text.startswith("对方让我转到安全账户")


def test_invisible_characters_do_not_count_towards_the_limit() -> None:
    cleaned = clean_text("\u200b".join("12345") * 300)  # 1,500 digits, 1,200 invisible characters
    assert cleaned == CleanText("12345" * 300, truncated=False)


def test_a_huge_body_is_cleaned_quickly() -> None:
    started = time.monotonic()
    cleaned = clean_text("\u200b" * 10_000_000)
    assert time.monotonic() - started < 1.0
    assert cleaned == CleanText("", truncated=True)


def test_metadata_keeps_only_known_keys_with_plain_values() -> None:
    raw = {"page": "help\u200b", "count": 3, "nested": {"a": 1}, "other": "x", "flag": True, "list": [1],
           "nan": float("nan")}
    assert known_metadata(raw, {"page", "count", "nested", "flag", "list", "nan"}) == {"page": "help", "count": 3,
                                                                                      "flag": True}


def test_metadata_never_carries_an_alert_from_a_client() -> None:
    raw = {"alert": {"title": "假冒的警情标题", "scenario": "fake_police"}, "page": "x"}
    assert known_metadata(raw, {"alert", "page"}) == {"page": "x"}


def test_metadata_over_the_size_limit_is_dropped_whole() -> None:
    kept = known_metadata({"page": "页" * 700}, {"page"})  # 2,100 bytes in UTF-8
    assert kept == {}
    small = known_metadata({"page": "页" * 100}, {"page"})
    assert len(json.dumps(small, ensure_ascii=False).encode()) <= MAX_METADATA_BYTES and small


@pytest.mark.parametrize("raw", [None, "text", 5, ["page"], True])
def test_metadata_that_is_not_an_object_is_ignored(raw: object) -> None:
    assert known_metadata(raw, {"page"}) == {}
