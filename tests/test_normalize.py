"""The text every NLU model reads (nlu/normalize.py) and the pipeline component that applies it."""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

import pytest
import yaml

from nlu.normalize import LINK_TOKEN, MASK_TOKEN, compile_rules, normalise_for_nlu

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("raw, expected", [
    ("您的帳戶已被凍結，請點擊連結驗證", "您的账户已被冻结，请点击链接验证"),
    ("有人說可以免費送我王者的皮膚，但要我掃碼，安全嗎", "有人说可以免费送我王者的皮肤，但要我扫码，安全吗"),
    ("已經匯了公證費一萬塊，對方一直找理由拖延", "已经汇了公证费一万块，对方一直找理由拖延"),
    ("貸款APP說我的銀行卡號錯誤，要交解凍費", "贷款APP说我的银行卡号错误，要交解冻费"),
    ("老闆叫我幫他轉帳給客戶", "老板叫我帮他转账给客户"),  # 帳 → 帐 (OpenCC) → 账 (homophones)
])
def test_traditional_becomes_simplified(raw: str, expected: str) -> None:
    assert normalise_for_nlu(raw) == expected


def test_full_width_letters_and_digits_become_half_width_and_chinese_punctuation_stays() -> None:
    assert normalise_for_nlu("加ＱＱ１２３４５６７８，客服说ＶＩＰ费") == "加QQ12345678，客服说VIP费"


@pytest.mark.parametrize("raw, expected", [
    ("被骗了😭 怎么办🙏", "被骗了 怎么办"),
    ("💰无抵押贷款💰当天到账💰", "无抵押贷款当天到账"),
    ("恭喜中奖🎉🎉🎉！", "恭喜中奖！"),
    ("我家👨\u200d👩\u200d👧\u200d👦都被骗了", "我家都被骗了"),  # a ZWJ family
    ("中国🇨🇳的号码", "中国的号码"),  # a flag
    ("点赞👍🏻就行", "点赞就行"),  # a skin tone
    ("选1️⃣还是2️⃣", "选1还是2"),  # a keycap keeps its digit
    ("☎️客服❤️✅★", "客服"),  # symbols with and without variation selectors
    ("验\u200b证\u200c码", "验证码"),  # zero-width characters, by the channel door
    ("转\u2800账\u3164", "转账"),  # Braille blank and Hangul filler used as "nothing"
])
def test_emoji_and_invisible_characters_are_removed(raw: str, expected: str) -> None:
    assert normalise_for_nlu(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("工安局打电话说我涉嫌洗钱", "公安局打电话说我涉嫌洗钱"),
    ("自称工安的人叫我配合调查", "自称公安的人叫我配合调查"),
    ("有人说他是公按局的", "有人说他是公安局的"),
    ("北京公按部的警官", "北京公安部的警官"),
    ("有人打电话说是检查院的", "有人打电话说是检察院的"),
    ("人民检查院发了传票", "人民检察院发了传票"),
    ("钱转到安全帐户", "钱转到安全账户"),
    ("把帐号密码给他", "把账号密码给他"),
    ("叫我先转帐", "叫我先转账"),
    ("钱还没到帐", "钱还没到账"),
    ("要我手机的验正码", "要我手机的验证码"),
    ("加我威信号abc123", "加我微信号abc123"),
    ("加他威信转账", "加他微信转账"),
    ("请加薇信：ab12345", "请加微信：ab12345"),
    ("添加徽信好友", "添加微信好友"),
    ("加V信领取", "加微信领取"),
    ("用支付包转给他", "用支付宝转给他"),
    ("打开支付宝账户", "打开支付宝账户"),
    ("把钱转到支付保账户", "把钱转到支付宝账户"),
    ("要先把钱打到他那个银航卡上", "要先把钱打到他那个银行卡上"),
    ("工商银杭卡", "工商银行卡"),
    ("工伤银行的客服", "工商银行的客服"),
    ("是不是骗纸啊", "是不是骗子啊"),
    ("国家反炸中心app", "国家反诈中心app"),
    ("把身分证拍给他", "把身份证拍给他"),
    ("填了卡号密马", "填了卡号密码"),
    ("改登陆密码", "改登录密码"),
    ("借贝额度和花贝", "借呗额度和花呗"),
    ("在拼夕夕买的", "在拼多多买的"),
    ("开了屏幕共想", "开了屏幕共享"),
    ("帐户被冻洁了", "账户被冻结了"),
    ("客服让我报yzm给他", "客服让我报验证码给他"),
    ("YZM发我一下", "验证码发我一下"),
    ("表哥让我办几张yhk给他用", "表哥让我办几张银行卡给他用"),
    ("加我VX:abc123", "加我微信:abc123"),
    ("有事加wx", "有事加微信"),
    ("网上dk秒到账", "网上贷款秒到账"),
    ("sd返利是真的吗", "刷单返利是真的吗"),
    ("zx花了能修复吗", "征信花了能修复吗"),
    ("老公沉迷网上堵博", "老公沉迷网上赌博"),
    ("菠菜平台能提现吗", "博彩平台能提现吗"),
])
def test_voice_input_slips_are_corrected(raw: str, expected: str) -> None:
    assert normalise_for_nlu(raw) == expected


def test_slips_in_traditional_text_are_corrected_after_conversion() -> None:
    assert normalise_for_nlu("要我的驗正碼，還叫我轉帳到安全帳戶") == "要我的验证码，还叫我转账到安全账户"


@pytest.mark.parametrize("raw, expected", [
    ("请点击[链接]激活", f"请点击{LINK_TOKEN}激活"),
    ("详情【链接】", f"详情{LINK_TOKEN}"),
    ("请登录<url>完成认证", f"请登录{LINK_TOKEN}完成认证"),
    ("请登录 <URL> 完成认证", f"请登录 {LINK_TOKEN} 完成认证"),
    ("点击{url}领取", f"点击{LINK_TOKEN}领取"),
    ("点击{{ link }}领取", f"点击{LINK_TOKEN}领取"),
    ("打开［网址］", f"打开{LINK_TOKEN}"),
    ("打开[網址]", f"打开{LINK_TOKEN}"),  # Traditional inside the brackets too
    ("【XX银行】尊敬的客户", f"【{MASK_TOKEN}银行】尊敬的客户"),
    ("联系办案民警刘XX", f"联系办案民警刘{MASK_TOKEN}"),
    ("尊敬的***用户，您尾号xxxx的卡", f"尊敬的{MASK_TOKEN}用户，您尾号{MASK_TOKEN}的卡"),
    ("尾号●●●●的卡", f"尾号{MASK_TOKEN}的卡"),
    ("案号(2024)沪01刑初xxx号", f"案号(2024)沪01刑初{MASK_TOKEN}号"),
    ("请拨打[电话]联系<name>", f"请拨打{MASK_TOKEN}联系{MASK_TOKEN}"),
])
def test_placeholders_in_pasted_sms_become_one_token(raw: str, expected: str) -> None:
    assert normalise_for_nlu(raw) == expected


@pytest.mark.parametrize("text", [
    "详询客户经理 137xxxx5521",  # a masked number keeps its shape
    "专线0871-65XXXXXX",
    "客服400-xxx-8866",
    "加助理微信 zq88xx 领取",  # a masked account keeps its shape
    "点击 dk.xxjr-vip.com 立即领取",  # letters inside a domain are no mask
    "点击 http://t.cn/xxxxx 下载",
    "车牌鲁A****，祝您出行愉快",
    "【姓名】这是短信签名，不是占位符",  # masks are never taken from a 【】 signature
])
def test_masks_inside_numbers_ids_and_links_keep_their_shape(text: str) -> None:
    assert normalise_for_nlu(text) == text


def test_chat_stickers_are_removed_but_money_markers_stay() -> None:
    assert normalise_for_nlu("[微笑][捂脸]好的[强]") == "好的"
    assert normalise_for_nlu("[红包]恭喜发财 [转账]已收款") == "[红包]恭喜发财 [转账]已收款"
    assert normalise_for_nlu("【微笑】") == "【微笑】"  # only WeChat's own [] form


@pytest.mark.parametrize("raw, expected", [
    ("请 加 微 信 转 账", "请加微信转账"),
    ("加 威 信 号 abc123", "加微信号 abc123"),  # joined first, then corrected
])
def test_spaced_out_words_are_joined(raw: str, expected: str) -> None:
    assert normalise_for_nlu(raw) == expected


# Everyday sentences, many with words next to the rules above: they must come out unchanged.
EVERYDAY = [
    "你好 我是小王",
    "你好 我是 小王",
    "我 已经 转了 他说 是 快递 的 赔我钱",
    "群里发的：今日计划 第032期 大 单 5倍",
    "老支书在村里很有威信，大家都听他的",
    "这样做会降低你的威信",
    "小薇信了他的话，把钱借出去了",
    "我在安徽信用社存了一笔定期",
    "安徽信号塔旁边新开了一家超市",
    "周末带孩子去公园搭帐篷",
    "夏天要挂蚊帐",
    "收帐篷的时候下雨了",
    "网购后支付包裹的运费",
    "这笔钱支付包括手续费在内的所有费用",
    "支付包月套餐是在营业厅办的",
    "先支付保证金再签合同是正常流程吗",
    "单位给我们支付保险",
    "台风明天在福建登陆",
    "点击连接按钮就能连上家里的WiFi",
    "工安意外要及时上报",
    "帮我检查院子里的水管",
    "办公按钮在屏幕右下角",
    "考试包过的培训班靠谱吗",
    "请问这是你的手机号吗",
    "那部影片很好看",
    "著名演员来我们镇上拍戏",
    "皇后镇的风景很美",
    "理发店今天打折",
    "早上吃了一碗面条",
    "这件衣服有XXL码吗",
    "3×4等于12",
    "**注意** 明天停水",
    "工作时间(周一至周五)请拨打(电话)咨询",
    "我在银行柜台自己办的业务，柜员很耐心",
    "女儿当面问我借钱交房租，我直接微信转给她了",
    "在游戏官方商城买的皮肤",
    "医院收费窗口交的住院押金",
    "新闻说警方打掉了一个诈骗团伙",
    "怎么给奶奶的手机设置来电拦截",
    "征信报告在哪里查",
    "请拨打96110咨询",
    "我用微信支付了20元",
    "我的SD卡坏了，照片还能恢复吗",
    "sd卡和U盘哪个好",
    "晚饭炒个菠菜",
    "登录wx.qq.com就能用电脑版",
    "我的微信号是wx123",
    "邮箱是yzm@163.com",
    "加微 dk****1234 咨询",
    "网址是https://a.cn/vx",
    "用Windows系统的电脑",
    "带孩子去3D博物馆",
]


@pytest.mark.parametrize("text", EVERYDAY)
def test_everyday_sentences_come_out_unchanged(text: str) -> None:
    assert normalise_for_nlu(text) == text


def test_everyday_sentences_in_traditional_or_full_width_differ_only_by_that() -> None:
    assert normalise_for_nlu("老支書在村裡很有威信，大家都聽他的") == "老支书在村里很有威信，大家都听他的"
    assert normalise_for_nlu("週末帶孩子去公園搭帳篷") == "周末带孩子去公园搭帐篷"
    assert normalise_for_nlu("這件衣服有ＸＸＬ碼嗎") == "这件衣服有XXL码吗"
    assert normalise_for_nlu("請撥打９６１１０諮詢") == "请拨打96110咨询"


def _training_texts() -> list[str]:
    texts = []
    for path in sorted((ROOT / "nlu" / "data").rglob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            texts += [line.strip()[2:] for line in (item.get("examples") or "").splitlines()
                      if line.strip().startswith("- ")]
    return texts


def test_idempotent_and_never_longer_on_the_training_data_and_the_examples() -> None:
    texts = _training_texts() + EVERYDAY + ["工安局打電話😀說[鏈接] 加 薇 信 号 XX", "【XX銀行】***"]
    assert len(texts) > 1000
    for text in texts:
        once = normalise_for_nlu(text)
        assert normalise_for_nlu(once) == once, text
        assert len(once) <= len(text), text


def test_empty_and_blank_text() -> None:
    assert normalise_for_nlu("") == ""
    assert normalise_for_nlu(" \u200b😀 ") == ""


def _hostile() -> dict[str, str]:
    rng = random.Random(10)
    alphabet = ("加微信威薇帐转账户工安公验正码支付包银航骗纸链接[]【】<>{}xX*＊●•× \n"
                "😀🇨🇳\u200b\ufe0f\u20e3帳戶轉驗證碼1a")
    return {
        "x": "x" * 20_000,
        "stars": "*" * 20_000,
        "brackets": "[[" * 10_000,
        "open placeholders": "[链接" * 5_000,
        "spaced": "加 " * 10_000,
        "slips": "威信" * 10_000,
        "emoji": "😀" * 20_000,
        "traditional": "轉帳到安全帳戶" * 2_900,
        "ascii": "a" * 20_000,
        "random": "".join(rng.choice(alphabet) for _ in range(20_000)),
    }


@pytest.mark.parametrize("name", list(_hostile()))
def test_hostile_input_returns_quickly_and_bounded(name: str) -> None:
    text = _hostile()[name]
    assert len(text) >= 10_000
    normalise_for_nlu(text)
    started = time.perf_counter()
    out = normalise_for_nlu(text)
    elapsed = time.perf_counter() - started
    assert len(out) <= len(text)
    assert normalise_for_nlu(out) == out
    assert elapsed < 0.5, f"{name}: {elapsed:.3f} s"  # measured 1–45 ms on a loaded 2-core machine


def test_a_2000_character_message_takes_about_a_millisecond() -> None:
    message = ("【XX银行】尊敬的客户，您的帳戶已被凍結，請點擊[链接]驗證，加威信号abc123，"
               "转帐到安全帐户。😀 我今天去银行办理业务，工作人员很热情。" * 40)[:2000]
    normalise_for_nlu(message)
    runs = []
    for _ in range(50):
        started = time.perf_counter()
        normalise_for_nlu(message)
        runs.append(time.perf_counter() - started)
    # ≈0.8 ms measured; the bound leaves room for a machine shared with other jobs.
    assert statistics.median(runs) < 0.02


def test_the_data_file_is_sound() -> None:
    data = yaml.safe_load((ROOT / "nlu" / "homophones.yml").read_text(encoding="utf-8"))
    rules = compile_rules(data)
    assert len(rules.right) >= 30
    for entry in data["homophones"]:
        assert normalise_for_nlu(entry["right"]) == entry["right"], entry  # a fix is never undone


@pytest.mark.parametrize("entry", [
    {"wrong": "银航", "right": "银行卡"},  # lengths differ: spans would move
    {"wrong": "银行", "right": "银行"},
    {"wrong": "", "right": "银行"},
])
def test_unsound_homophones_are_refused(entry: dict) -> None:
    with pytest.raises(ValueError):
        compile_rules({"homophones": [entry]})


def test_a_homophone_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError):
        compile_rules({"homophones": [{"wrong": "银航", "right": "银行"}, {"wrong": "银航", "right": "银行"}]})


def test_the_pipeline_component_replaces_the_text_for_training_and_parsing() -> None:
    from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from nlu.text_normalizer import TextNormalizer

    component = TextNormalizer()
    example = Message(data={TEXT: "工安局😀叫我转帐到 张三 的帳戶", INTENT: "describe_case",
                            ENTITIES: [{"entity": "name", "start": 10, "end": 12, "value": "张三"}]})
    intent_only = Message(data={INTENT: "greet"})
    component.process_training_data(TrainingData([example, intent_only]))
    assert example.get(TEXT) == "公安局叫我转账到 张三 的账户"
    assert example.get(ENTITIES)[0]["start"] == 9 and example.get(ENTITIES)[0]["end"] == 11
    assert intent_only.get(TEXT) is None

    message = Message(data={TEXT: "請點擊[鏈接]輸入驗正碼"})
    button = Message(data={TEXT: '/inform{"bank": "工商银行"}'})
    emoji_only = Message(data={TEXT: "😀😀"})
    component.process([message, button, emoji_only])
    assert message.get(TEXT) == "请点击链接输入验证码"
    assert button.get(TEXT) == '/inform{"bank": "工商银行"}'  # a button payload is left alone
    assert emoji_only.get(TEXT) == "😀😀"  # never emptied: the classifiers fail on empty text
    assert message.as_dict(only_output_properties=True)[TEXT] == "请点击链接输入验证码"


def test_a_slip_whose_context_is_a_slip_is_still_fixed_and_stays_fixed() -> None:
    """加俺威信: the dialect 俺 → 我 makes the context that says 威信 is the app; one pass read the old text."""
    once = normalise_for_nlu("今天有个人加俺威信 说俺涉嫌洗钱")
    assert once == "今天有个人加我微信 说我涉嫌洗钱" and normalise_for_nlu(once) == once
