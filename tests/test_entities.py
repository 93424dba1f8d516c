"""Rule entities (nlu/entities.py): shapes residents paste, normalised values, redaction."""

import pytest

from nlu.entities import chinese_number, find_entities, money_value, redact


def found(text: str) -> list[tuple[str, str]]:
    return [(f.label, f.value) for f in find_entities(text)]


@pytest.mark.parametrize("text,value", [
    ("三万", 30000), ("一万五", 15000), ("两千五百", 2500), ("两千五", 2500), ("一百零五", 105),
    ("十二", 12), ("二十", 20), ("十万八千", 108000), ("五", 5),
])
def test_chinese_numbers(text: str, value: int) -> None:
    assert chinese_number(text) == value


def test_chinese_number_rejects_other_text() -> None:
    assert chinese_number("三块钱") is None


@pytest.mark.parametrize("text,value", [
    ("3万", "30000"), ("3万元", "30000"), ("1.5w", "15000"), ("5千", "5000"), ("2,000元", "2000"),
    ("五千块", "5000"), ("800块钱", "800"),
])
def test_money_values(text: str, value: str) -> None:
    assert money_value(text) == value


def test_story_with_every_kind_of_entity() -> None:
    text = ("我刚用工商银行给对方转了3万元，对方电话13812345678，让我点http://etc-rz.top/a，"
            "卡号6222 0212 3456 7890 123，半小时前用腾讯会议共享了屏幕")
    assert found(text) == [
        ("bank", "工商银行"), ("money", "30000"), ("phone", "13812345678"),
        ("url", "http://etc-rz.top/a"), ("bank_card", "6222021234567890123"),
        ("time_ago", "半小时前"), ("app", "腾讯会议"),
    ]


@pytest.mark.parametrize("text,expected", [
    ("打010-62345678找我", ("phone", "01062345678")),
    ("95588发来的", ("phone", "95588")),
    ("显示+852 6123 4567", ("phone", "+85261234567")),
    ("身份证110101199003071234", ("id_number", "110101199003071234")),
    ("加我qq号123456789", ("im_account", "123456789")),
    ("微信号：abc_123456", ("im_account", "abc_123456")),
    ("用建行转的", ("bank", "建设银行")),
    ("花呗借的", ("platform", "支付宝")),
    ("用微信转了", ("platform", "微信支付")),
    ("访问 icbc-vip.cn/login 认证", ("url", "icbc-vip.cn/login")),
    ("昨天晚上接到电话", ("time_ago", "昨天晚上")),
])
def test_single_entities(text: str, expected: tuple[str, str]) -> None:
    assert expected in found(text)


def test_amounts_are_not_phone_numbers() -> None:
    assert found("转了110元") == [("money", "110")]


def test_redact_masks_personal_numbers_but_keeps_service_lines() -> None:
    text = "我电话13812345678，卡6222021234567890123，身份证110101199003071234，95588说的"
    masked = redact(text)
    for secret in ("13812345678", "6222021234567890123", "110101199003071234"):
        assert secret not in masked
    assert "95588" in masked
    assert masked.startswith("我电话138")
    assert len(masked) == len(text)


def test_huge_input_is_handled() -> None:
    text = "转账" * 10_000 + "13812345678"
    assert ("phone", "13812345678") in found(text)
