"""Red-flag signals (nlu/signals.yml)."""

import pytest

from nlu.signals import detect_signals, signal_table


@pytest.mark.parametrize("text,signal", [
    ("他说我涉嫌洗钱，让我把钱转到安全账户", "safe_account"),
    ("最后让她把钱转到一个安全的账户里", "safe_account"),
    ("我现在先发给你一个同事看看，再不打钱后果自负", "threat"),
    ("对方让我下载腾讯会议开屏幕共享", "screen_share"),
    ("客服让我把收到的验证码告诉他", "verification_code"),
    ("贷款要先交解冻费才能放款", "upfront_fee"),
    ("先垫付再返佣金", "advance_payment"),
    ("让我下载一个APP投资", "unknown_app"),
    ("点击链接领取补贴", "suspicious_link"),
    ("警官说这事要保密，不要告诉家人", "secrecy"),
    ("卖家让我私下交易", "off_platform"),
    ("老师说稳赚不赔", "high_return"),
    ("有人高价收购银行卡", "account_lending"),
    ("帮忙跑分有提成", "account_lending"),
])
def test_detects(text: str, signal: str) -> None:
    assert signal in detect_signals(text)


def test_negated_flags_do_not_count() -> None:
    assert detect_signals("他没让我下载APP，也没要验证码") == []
    assert detect_signals("在美团里申请退款，没人找她要验证码") == []
    assert detect_signals("兼职的工资老板直接转到我卡上 从没说过要我先垫钱") == []
    assert detect_signals("他说要我先垫钱") == ["advance_payment"]
    # a negation that sets a condition, the threat after it
    assert "upfront_fee" in detect_signals("做期货的说我账户爆仓了，不补保证金还要倒赔")
    assert detect_signals("我用微信视频教他交电费，没用什么共享屏幕的软件") == []
    # a negation does not reach across a clause
    assert detect_signals("钱对不上，让我下载APP") == ["unknown_app"]


def test_someone_only_imagined_asks_for_nothing() -> None:
    """"要是有人让我转钱" asks how to tell; the same demand told as it happened is one."""
    assert detect_signals("要是有人让我下载APP 我咋知道真假") == []
    assert detect_signals("柜员问我是不是有人打电话让我下载会议软件") == []
    assert detect_signals("有人打电话让我下载会议软件") == ["unknown_app"]


def test_a_game_account_sold_is_not_a_card_lent() -> None:
    assert "account_lending" not in detect_signals("【交易猫】您出售的游戏账号已被买家确认收货")
    assert "account_lending" in detect_signals("有人出五百块收我的微信号")


def test_plain_greeting_has_no_flags() -> None:
    assert detect_signals("你好，今天天气不错") == []


def test_a_url_entity_raises_the_link_flag() -> None:
    assert detect_signals("看看这个 http://a.top", has_link=True) == ["suspicious_link"]


def test_every_signal_has_words_for_residents() -> None:
    for signal in signal_table().values():
        assert signal.name and signal.explain.endswith("。")
        assert signal.severity in ("high", "medium")


def test_a_question_about_the_tax_on_a_prize_is_not_a_fee_first() -> None:
    assert "upfront_fee" not in detect_signals("彩票要是中了大奖去哪领啊 要交税吗")
    assert "upfront_fee" not in detect_signals("中奖要不要交税")
    assert "upfront_fee" in detect_signals("对方说中奖了要交税才能领")
    assert "upfront_fee" in detect_signals("领奖前需缴税2000元")


def test_a_negated_condition_does_not_negate_the_threat_after_it() -> None:
    """不还就上征信: 不 sets the condition; what follows 就 is said, not denied."""
    assert "threat" in detect_signals("不还就上征信")
    assert "threat" in detect_signals("说我不配合就抓你")
    assert "unknown_app" not in detect_signals("他没让我下载APP")
    assert "threat" not in detect_signals("他没说涉嫌什么")
    # "没有的话" is "if you have none": the demand after it stands
    assert "upfront_fee" in detect_signals("没有担保人的话交两千他们帮我找")
    assert "upfront_fee" not in detect_signals("我没交两千")
