"""The verdict and the reply text (core/verdict.py)."""

from core.replies import compose
from core.verdict import MONEY_SENT_CONFIDENCE, Case, risk, says_money_sent


def test_money_sent_reply_starts_with_110_and_the_bank() -> None:
    reply = compose(Case(text="转了3万", scenario="impersonate_police", confidence=0.9,
                         money_sent=True, bank="工商银行"))
    first = reply.messages[0]
    assert reply.risk == "high"
    assert "110" in first and "95588" in first and "工商银行" in first
    assert "证据" in reply.messages[1]
    assert not reply.ask_bank


def test_money_sent_with_unknown_bank_asks_which_one() -> None:
    reply = compose(Case(text="钱已经转了", money_sent=True))
    assert "110" in reply.messages[0]
    assert reply.ask_bank
    assert any(b["title"] == "工商银行" for b in reply.buttons)
    assert "哪家银行" in reply.messages[-1]


def test_fake_police_with_safe_account_is_high_and_explained() -> None:
    reply = compose(Case(text="自称公安局说我涉嫌洗钱让我转到安全账户", scenario="impersonate_police",
                         confidence=0.8, signals=["safe_account", "threat"]))
    assert reply.risk == "high"
    text = "\n".join(reply.messages)
    assert "冒充公检法" in text and "安全账户" in text and "96110" in text


def test_card_trafficking_names_the_crime() -> None:
    reply = compose(Case(text="有人500块收购银行卡", scenario="card_trafficking", confidence=0.9,
                         signals=["account_lending"]))
    assert "帮信罪" in "\n".join(reply.messages)
    assert reply.risk == "high"


def test_phishing_sms_names_12321() -> None:
    case = Case(text="【ETC】您的认证已失效，点击 http://etc-x.top 重新认证", scenario="phishing_link",
                confidence=0.9, signals=["suspicious_link"],
                entities=[{"entity": "url", "value": "http://etc-x.top"}])
    assert "12321" in "\n".join(compose(case).messages)


def test_knowledge_question_is_low_risk_but_explains() -> None:
    case = Case(text="什么是杀猪盘", scenario="romance", confidence=0.9)
    reply = compose(case)
    assert risk(case) == "low"
    assert "杀猪盘" in reply.messages[0]


def test_nothing_found_is_never_called_safe() -> None:
    reply = compose(Case(text="快递到了", scenario="none", confidence=0.95))
    assert reply.risk == "low"
    text = "\n".join(reply.messages)
    assert "不代表一定安全" in text and "96110" in text
    assert "安全的" not in text


def test_high_flag_alone_with_a_second_flag_is_high() -> None:
    assert risk(Case(signals=["verification_code", "screen_share"])) == "high"
    assert risk(Case(signals=["unknown_app"])) != "high"  # a weaker demand alone, nothing else known


def test_official_number_is_the_only_thing_verified() -> None:
    case = Case(text="95588打电话给我", entities=[{"entity": "phone", "value": "95588"}])
    text = "\n".join(compose(case).messages)
    assert "95588 是工商银行官方客服的官方号码" in text
    assert "伪造" in text


def test_form_answers_raise_and_lower_the_risk() -> None:
    assert risk(Case(scenario="impersonate_police", confidence=1.0, asked_money=True)) == "high"
    # the form's own case (actions.ActionCallVerdict): two "no" answers are evidence that nothing
    # was asked, and an operator's questions must be able to lower the verdict as well as raise it
    assert risk(Case(scenario="impersonate_police", confidence=1.0, asked_money=False,
                     asked_code=False)) == "low"


def test_a_phishing_link_with_the_official_name_in_its_query_is_not_vouched_for() -> None:
    for url in ("https://icbc-safe.top?.icbc.com.cn", "https://icbc-safe.top#.icbc.com.cn"):
        case = Case(text=f"【工商银行】您的账户异常，请登录 {url} 验证", scenario="phishing_link", confidence=0.9,
                    entities=[{"entity": "url", "value": url}])
        text = "\n".join(compose(case).messages)
        assert "不是官方网站" in text and "属于官方网站域名" not in text and "✅" not in text
    official = Case(text="登录 https://www.icbc.com.cn 查询", entities=[{"entity": "url", "value": "https://www.icbc.com.cn"}])
    assert "属于官方网站域名" in "\n".join(compose(official).messages)


def test_unreadable_message_gets_no_verdict_but_96110_and_110() -> None:
    reply = compose(Case(text="1' OR '1'='1", scenario="fake_prize", confidence=0.9, signals=["verification_code"],
                         money_sent=True, unreadable=True))
    assert reply.risk == "low" and risk(Case(money_sent=True, unreadable=True)) == "low"
    assert len(reply.messages) == 1
    text = reply.messages[0]
    assert "96110" in text and "110" in text.replace("96110", "")
    assert "钱已经转出去了" not in text and "高风险" not in text and "未发现" not in text


def test_money_sent_needs_intent_confidence_and_words() -> None:
    words = "刚用支付宝转了1.5w给对方"
    assert says_money_sent({"name": "money_already_sent", "confidence": MONEY_SENT_CONFIDENCE}, words)
    assert not says_money_sent({"name": "money_already_sent", "confidence": MONEY_SENT_CONFIDENCE - 0.01}, words)
    assert not says_money_sent({"name": "money_already_sent", "confidence": 1.0}, "1' OR '1'='1")
    assert not says_money_sent({"name": "money_already_sent", "confidence": 1.0}, "今晚的球赛谁看了")
