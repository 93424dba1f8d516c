"""Known scams at scale: import time, and matching time per message with 100,000 known texts and 1,000,000
indicators in a SQLite store (p50/p99 of the known-text match plus the indicator lookup, RSS), and whether the
fast path still answers right: the share of altered copies of library texts that are found, and of genuine
messages that match nothing.

    .venv/bin/python bench/known_match.py [TEXTS] [INDICATORS] [MESSAGES]

The library is generated like a real one: many scripts (ETC, 公检法, refunds, brushing, loans, …), each text a
run of the script's sentences with words swapped for synonyms and slots filled (organisations, cities, names,
amounts, links, numbers), so that a wave of one script gives many near-duplicates and different scripts share
only the common words. The messages are a third altered copies of library texts (the resident's own wording:
digits, link, punctuation, ~10 % of the characters), a third new texts of the same scripts, and a third genuine
messages (bank notices, family chat, questions on the same topics). Figures go to bench/results/known_match.json.
"""

from __future__ import annotations

import random
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results_file import write  # noqa: E402
from bot import fingerprints, known, scam_library  # noqa: E402
from bot.store import engine  # noqa: E402
from core.indicators import from_entities  # noqa: E402
from nlu.entities import find_entities  # noqa: E402

# Each script: an optional header and its sentences in their usual order; a text keeps 3–7 of them.
SCRIPTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "etc": (("【ETC服务】", "【高速ETC】", "【ETC中心】", ""), (
        "您的ETC认证已过期", "您的ETC卡已失效", "车辆将无法正常通行", "请点击{link}重新认证", "逾期将影响使用",
        "请于{hours}小时内完成认证", "否则将被列入高速黑名单", "通行费将按{times}倍收取", "如有疑问请致电{phone}",
        "退订回T")),
    "police": (("",), (
        "您好，这里是{city}市公安局", "我是{city}刑侦支队的{name}警官", "您的身份证涉嫌一起洗钱案件",
        "您名下的银行卡被用于非法集资", "需要将资金转入安全账户配合调查", "不得告诉任何人包括家人",
        "我们会发给您通缉令核实", "请下载{app}进行视频笔录", "案件编号{code}", "如不配合将冻结您名下所有账户")),
    "refund": (("",), (
        "您好，我是{platform}客服", "您购买的{goods}存在质量问题", "我们将为您办理{times}倍理赔",
        "请添加理赔专员微信{wx}", "需要您开通备用金进行退款", "请打开屏幕共享按提示操作",
        "退款将在{hours}小时内到账", "请提供您收到的验证码")),
    "brushing": (("【招聘】", ""), (
        "兼职刷单，日结工资", "在家用手机就能做", "每单佣金{amount}元", "先垫付后返还本金加佣金", "加QQ{qq}咨询",
        "完成三单连单任务才能提现", "学生宝妈均可", "下载{app}领取任务", "做满{n}单返利百分之十")),
    "loan": (("【{platform}金融】", ""), (
        "无抵押无担保，最高可贷{n}万", "征信不好也能办", "当天放款", "您的银行卡号填写错误，账户已冻结",
        "请先缴纳{amount}元解冻金", "需要缴纳保证金证明还款能力", "下载{app}填写资料", "客服电话{phone}")),
    "investment": (("",), (
        "内部消息", "{platform}数字货币稳赚不赔", "老师带单", "一个月收益翻倍", "名额有限", "进群{link}了解",
        "跟着导师操作", "首单{amount}元起投", "已有{n}位会员盈利")),
    "insurance_card": (("【医保局】", "【社保中心】"), (
        "您的医保卡因异常消费已被冻结", "您的社保卡即将停用", "请于{hours}小时内联系医保中心{phone}办理解冻",
        "过期将影响报销", "需要核实您的身份信息和银行卡号", "请登录{link}更新信息")),
    "credit": (("【征信中心】", ""), (
        "您的征信存在逾期记录", "将影响房贷车贷", "请拨打{phone}申请修复", "仅限今日办理",
        "需要把网贷额度全部取出来再还回去", "否则将影响子女上学")),
    "family": (("",), (
        "妈，我手机掉水里了", "爸，我是{name}", "这是我新号码", "我在{city}出了点事", "同学急用钱",
        "你先帮我转{amount}到这个卡上{card}", "我明天还", "别给我打电话我在上课")),
    "lottery": (("【{platform}】", ""), (
        "恭喜您被抽中为幸运用户", "获得价值{amount}元的{goods}一台", "请先缴纳{amount}元手续费", "详情访问{link}",
        "领奖码{code}", "逾期视为自动放弃")),
    "parent": (("",), (
        "老师您好，我是{name}的家长", "孩子的学费我已经转到您账户了", "麻烦您把多转的{amount}元退到我这个卡上",
        "我这边急着用", "转好了截图发我")),
    "membership": (("",), (
        "您好，我是{platform}客服", "您开通了直播会员", "每月自动扣费{amount}元", "如需取消请按提示操作退款",
        "不处理将长期扣费", "请下载{app}与客服视频")),
    "game": (("",), (
        "低价出售游戏账号", "{goods}装备{amount}元转让", "请到{link}交易平台付款", "您的账户因违规被冻结",
        "需缴纳{amount}元解冻费", "联系客服QQ{qq}")),
    "romance": (("",), (
        "在{platform}上认识你很开心", "我舅舅是{platform}的内部人员", "这个平台有漏洞可以稳赚", "带你一起投资赚钱",
        "先充值{amount}试试", "赚了钱我们一起去{city}旅游")),
    "leader": (("",), (
        "我是{name}局长", "明天上午到我办公室来一趟", "有个领导需要打点一下", "你先帮我转{amount}元",
        "我现在开会不方便接电话", "转到这个账户{card}")),
}
GENUINE = (
    "我的ETC最近老是扣费失败，是不是要去营业厅重新办理一下", "【{platform}】您尾号{n4}卡消费{amount}元，余额{amount}元",
    "妈，我到学校了，今天食堂的饭挺好吃的，你们早点休息", "医保卡报销比例今年有变化吗，门诊能报多少",
    "超市抽奖抽中了一桶油，是当场领的，不用交钱", "快递显示已签收但我没收到，我去驿站问问",
    "社区民警今天来小区宣传反诈，说公安局不会让人转安全账户", "{name}，周六{city}聚餐你来吗，订好了位置",
    "请问学校附近有没有正规的兼职，周末想去奶茶店打工", "京东白条的账单日是哪天，我想提前还款怎么操作",
    "你好，我是{name}，明天的会改到下午三点，地点不变", "孩子这学期的学费在学校缴费系统里交就行吗",
    "{platform}会员自动续费了，在设置里怎么关掉", "买的{goods}有质量问题，我自己在订单里申请退货了",
    "爸，我换了新号码{phone}，旧号不用了，有事打这个", "征信报告在哪里能查，听说人民银行官网可以",
)
SYNONYMS = {"您": ("您", "你"), "请": ("请", "麻烦", "请您"), "立即": ("立即", "马上", "尽快"), "将": ("将", "会"),
            "需要": ("需要", "要", "须"), "已": ("已", "已经"), "办理": ("办理", "处理"), "联系": ("联系", "咨询")}
SLOTS = {
    "city": "北京 上海 广州 深圳 杭州 成都 武汉 西安 南京 重庆 天津 苏州 长沙 郑州 沈阳 青岛".split(),
    "name": "张伟 王芳 李娜 刘洋 陈静 杨磊 赵敏 黄强 周杰 吴霞 徐鹏 孙丽 马超 朱婷 胡军 郭燕".split(),
    "platform": "淘宝 京东 拼多多 抖音 快手 美团 支付宝 微信 闲鱼 唯品会 小红书 苏宁".split(),
    "app": "腾讯会议 钉钉 ZOOM 飞书 安全防护 云视讯 蓝信 屏幕助手".split(),
    "goods": "笔记本电脑 手机 电视 冰箱 洗衣机 空调 平板 相机 手表 耳机".split(),
    "times": "二 三 五 十".split(),
    "hours": "2 12 24 48".split(),
}
_FILLER = "的了是我你他在有这个们来到说和要就也都不很会能去对把还没吗呢吧啊"


def _fill(template: str, rng: random.Random) -> str:
    values = {key: rng.choice(choices) for key, choices in SLOTS.items()}
    values.update(link=f"http://{rng.choice(['etc', 'pay', 'kf', 'vip', 'gov'])}-{rng.randint(1, 999)}."
                       f"{rng.choice(['top', 'cn', 'cc', 'vip', 'xyz'])}/{rng.randint(10, 99)}",
                  phone=f"1{rng.randint(3, 9)}{rng.randint(0, 10**9 - 1):09d}",
                  qq=str(rng.randint(10**7, 10**10)),
                  wx=f"kf_{rng.choice(['lipei', 'tk', 'vip'])}{rng.randint(1, 9999)}",
                  code=str(rng.randint(10**5, 10**7)),
                  amount=str(rng.choice([50, 200, 388, 800, 1500, 3000, 5000, 20000, 58888])),
                  n=str(rng.randint(3, 99)), n4=str(rng.randint(1000, 9999)), card=f"62{rng.randint(10**15, 10**16):d}")
    text = template.format(**values)
    for word, choices in SYNONYMS.items():
        if word in text and rng.random() < 0.5:
            text = text.replace(word, rng.choice(choices))
    return text


def scam_text(rng: random.Random) -> str:
    """A text of one script, as a wave of it would be written."""
    headers, sentences = SCRIPTS[rng.choice(list(SCRIPTS))]
    kept = sorted(rng.sample(range(len(sentences)), rng.randint(3, min(7, len(sentences)))))
    return _fill(rng.choice(headers), rng) + "，".join(_fill(sentences[i], rng) for i in kept) + "。"


def genuine_text(rng: random.Random) -> str:
    return _fill(rng.choice(GENUINE), rng)


def altered_copy(text: str, rng: random.Random) -> str:
    """A resident's paste of a library text: other digits, link and punctuation, ~10 % of the characters changed."""
    text = re.sub(r"\d", lambda _m: str(rng.randint(0, 9)), text)
    text = re.sub(r"http://\S+?\.(top|cn|cc|vip|xyz)/\d+", "https://x-new9.shop/q", text)
    text = re.sub(r"[，。]", lambda _m: rng.choice([" ", ",", "!", "", "  "]), text)
    chars = list(text)
    han = [i for i, ch in enumerate(chars) if "\u4e00" <= ch <= "\u9fff"]
    for i in rng.sample(han, min(len(han), max(1, len(chars) // 10))):
        chars[i] = rng.choice(_FILLER)
    return "".join(chars)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(int(len(ordered) * share) - 1, 0)]


def resident_mb() -> float:
    """This process's resident memory now (Linux), where ru_maxrss is only the peak, the imports' included."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


def main(texts: int = 100_000, indicators: int = 1_000_000, messages: int = 3000) -> None:
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='fraudbot-')) / 'bench.db'}"
    db = engine(url)
    rng = random.Random(11)
    library = [scam_text(rng) for _ in range(texts)]
    started = time.perf_counter()
    for start in range(0, texts, 10_000):
        scam_library.add_known(({"text": text, "source": "import"} for text in library[start:start + 10_000]),
                               db_engine=db)
    text_import = time.perf_counter() - started
    started = time.perf_counter()
    known.import_indicators(({"kind": "phone", "value": f"1{rng.randint(3, 9)}{i:09d}"} for i in range(indicators)),
                            db_engine=db, batch=20_000)
    indicator_import = time.perf_counter() - started
    before_load = resident_mb()
    started = time.perf_counter()
    index = scam_library.KnownIndex(url)
    index.refresh(force=True)
    load = time.perf_counter() - started
    index_mb = resident_mb() - before_load

    kinds = ("copy", "new", "genuine")
    samples = [(kind, altered_copy(rng.choice(library), rng) if kind == "copy" else
                scam_text(rng) if kind == "new" else genuine_text(rng)) for kind in (kinds * messages)[:messages]]
    timings, cpu, matching, lookups, found = [], [], [], [], {kind: 0 for kind in kinds}
    for kind, text in samples:
        cpu_begin = time.process_time()  # CPU time as well: the machine may be shared, and waiting is not cost
        begin = time.perf_counter()
        match = index.match(text)
        middle = time.perf_counter()
        known.lookup(from_entities([{"entity": f.label, "value": f.value} for f in find_entities(text)]), url)
        end = time.perf_counter()
        cpu.append((time.process_time() - cpu_begin) * 1000)
        timings.append((end - begin) * 1000)
        matching.append((middle - begin) * 1000)
        lookups.append((end - middle) * 1000)
        found[kind] += match is not None
    counts = {kind: sum(1 for k, _ in samples if k == kind) for kind in kinds}
    candidates = [len(index.candidates(fingerprints.fingerprint(text))) for _, text in samples]
    result = {
        "texts": texts, "library_texts": len(index), "indicators": indicators, "messages": messages,
        "import_texts_s": round(text_import, 1), "import_indicators_s": round(indicator_import, 1),
        "index_load_s": round(load, 2),
        "p50_ms": round(statistics.median(timings), 2), "p99_ms": round(percentile(timings, 0.99), 2),
        "cpu_p50_ms": round(statistics.median(cpu), 2), "cpu_p99_ms": round(percentile(cpu, 0.99), 2),
        "match_p50_ms": round(statistics.median(matching), 2), "match_p99_ms": round(percentile(matching, 0.99), 2),
        "lookup_p50_ms": round(statistics.median(lookups), 2), "lookup_p99_ms": round(percentile(lookups, 0.99), 2),
        "candidates_p50": statistics.median(candidates), "candidates_p99": percentile(candidates, 0.99),
        "copies_found": round(found["copy"] / counts["copy"], 4),
        "new_texts_matched": round(found["new"] / counts["new"], 4),
        "genuine_matched": round(found["genuine"] / counts["genuine"], 4),
        "index_rss_mb": round(index_mb),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(f"import: {texts:,} texts ({len(index):,} long enough to keep) {text_import:.1f} s, {indicators:,} "
          f"indicators {indicator_import:.1f} s; index load {load:.1f} s")
    print(f"per message (match + indicator lookup, {messages} messages): p50 {result['p50_ms']:.2f} ms, "
          f"p99 {result['p99_ms']:.2f} ms (match p99 {result['match_p99_ms']:.2f}, lookup p99 "
          f"{result['lookup_p99_ms']:.2f}; CPU time p50 {result['cpu_p50_ms']:.2f}, p99 {result['cpu_p99_ms']:.2f}); "
          f"LSH candidates p50 {result['candidates_p50']}, p99 "
          f"{result['candidates_p99']}; the loaded index adds {index_mb:.0f} MB of RSS, peak RSS "
          f"{result['peak_rss_mb']} MB (imports included)")
    print(f"found: altered copies {found['copy']}/{counts['copy']}, new texts of known scripts {found['new']}/"
          f"{counts['new']}, genuine messages {found['genuine']}/{counts['genuine']} (should be 0)")
    write("known_match", result)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
