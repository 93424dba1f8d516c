"""Known scams at scale: import time, and matching time per message with 100,000 known texts and 1,000,000
indicators in a SQLite store (p50/p99 of the known-text match plus the indicator lookup, RSS).

    .venv/bin/python bench/known_match.py [TEXTS] [INDICATORS] [MESSAGES]
"""

from __future__ import annotations

import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import known  # noqa: E402
from bot.store import engine  # noqa: E402
from core.indicators import from_entities  # noqa: E402
from nlu.entities import find_entities  # noqa: E402

WORDS = ("您的 账户 异常 请 点击 链接 认证 客服 退款 冻结 安全 转账 验证码 贷款 额度 保证金 "
         "刷单 佣金 兼职 快递 理赔 积分 兑换 医保 社保 征信 修复 投资 收益 老师 带单 平台 "
         "充值 提现 公安局 洗钱 案件 配合 调查 包裹 丢失").split()


def synthetic(rng: random.Random) -> str:
    words = "".join(rng.choice(WORDS) for _ in range(rng.randint(12, 30)))
    return f"【通知】{words}，电话{rng.randint(10**10, 2 * 10**10)}"


def main(texts: int = 100_000, indicators: int = 1_000_000, messages: int = 2000) -> None:
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='fraudbot-')) / 'bench.db'}"
    db = engine(url)
    rng = random.Random(11)
    started = time.perf_counter()
    for start in range(0, texts, 10_000):
        known.add_known(({"text": synthetic(rng), "source": "import"} for _ in range(min(10_000, texts - start))),
                        db_engine=db)
    text_import = time.perf_counter() - started
    started = time.perf_counter()
    known.import_indicators(({"kind": "phone", "value": f"1{rng.randint(3, 9)}{i:09d}"} for i in range(indicators)),
                            db_engine=db, batch=20_000)
    indicator_import = time.perf_counter() - started
    started = time.perf_counter()
    index = known.KnownIndex(url)
    index.refresh(force=True)
    load = time.perf_counter() - started
    samples = [synthetic(rng) for _ in range(messages)]
    timings = []
    for text in samples:
        begin = time.perf_counter()
        index.match(text)
        known.lookup(from_entities([{"entity": f.label, "value": f.value} for f in find_entities(text)]), url)
        timings.append((time.perf_counter() - begin) * 1000)
    timings.sort()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"import: {texts:,} texts {text_import:.1f} s, {indicators:,} indicators {indicator_import:.1f} s; "
          f"index load {load:.1f} s")
    print(f"per message (match + indicator lookup, {messages} messages): p50 {statistics.median(timings):.2f} ms, "
          f"p99 {timings[int(len(timings) * 0.99) - 1]:.2f} ms; peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
