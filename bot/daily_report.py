"""每日研判: what residents consulted about yesterday, per scenario and area, and what is rising.

Officers read it every morning to see which scam is spreading where before the cases come in. A
row is a (scenario, region) pair: the day's consultations against the mean of the 7 and of the 28
days before. Counts per area and day are small (0, 1, 4), so "rising" is a Poisson test, not a
percentage: the chance of seeing at least the day's count if the 28-day rate still held
(:func:`rising_p`). A row rises when that chance is below :data:`ALPHA` and at least
:data:`MIN_COUNT` residents asked, so one extra message in a quiet county is not an alarm.

Only counts leave this module, and the day's reported indicators masked like any number in a log
(``139******78``; officers read and decide them whole in the review queue): no text, no sender, no number.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from scipy.stats import poisson
from sqlalchemy import func, select

from bot import new_scripts
from bot.reports import reports
from bot.retention import CHINA, daily_counts
from bot.store import engine, utc
from nlu.entities import redact

ALPHA = 0.01
MIN_COUNT = 3
BASELINE_DAYS = 28
RECENT_DAYS = 7
RATE_FLOOR = 1 / BASELINE_DAYS
"""A scenario never seen in an area still has a small rate: one case a month, not zero (which would make any
single message infinitely surprising)."""



def rising_p(count: int, baseline_mean: float) -> float:
    """P(X ≥ count) for X ~ Poisson(baseline rate): how surprising the day's count is."""
    return float(poisson.sf(count - 1, max(baseline_mean, RATE_FLOOR)))


@dataclass(frozen=True)
class Row:
    scenario: str
    region: str
    count: int
    mean_7: float
    mean_28: float
    p_value: float

    @property
    def rising(self) -> bool:
        return self.count >= MIN_COUNT and self.p_value < ALPHA


@dataclass(frozen=True)
class DailyReport:
    day: date
    rows: list[Row]  # every (scenario, region) seen in the 29 days, the day's biggest first
    total: int
    money_sent: int  # consultations of residents whose money had already gone
    reported: list[tuple[str, str, int]]  # (kind, masked value, reports that day), most reported first
    scripts: list[new_scripts.Script] = field(default_factory=list)  # new scripts of the week up to the day

    @property
    def rising(self) -> list[Row]:
        return [row for row in self.rows if row.rising]


def build(day: date, tracker_url: str | None, store_url: str | None = None, scripts: bool = True) -> DailyReport:
    """The report of ``day`` (a China-time date); ``scripts=False`` leaves out the new scripts (they need the
    tracker store's texts of the week, the known-scam library and the training examples)."""
    first = day - timedelta(days=BASELINE_DAYS)
    counts = daily_counts(first, day, tracker_url, store_url)
    per_day: dict[date, Counter[tuple[str, str]]] = {}
    for moment, keyed in counts.items():
        folded: Counter[tuple[str, str]] = Counter()
        for (scenario, region, _intent), n in keyed.items():
            folded[(scenario, region)] += n
        per_day[moment] = folded
    before = [first + timedelta(days=n) for n in range(BASELINE_DAYS)]
    recent = before[-RECENT_DAYS:]
    rows = []
    for key in set().union(*per_day.values()):
        count = per_day[day][key]
        mean_28 = sum(per_day[d][key] for d in before) / BASELINE_DAYS
        mean_7 = sum(per_day[d][key] for d in recent) / RECENT_DAYS
        rows.append(Row(key[0], key[1], count, mean_7, mean_28, rising_p(count, mean_28) if count else 1.0))
    rows.sort(key=lambda r: (-r.count, r.p_value, r.scenario, r.region))
    money_sent = sum(n for (_s, _r, intent), n in counts[day].items() if intent == "money_already_sent")
    start = utc(datetime.combine(day, datetime.min.time(), CHINA))  # as stored: China's 00:00 would miss 00:00-08:00
    with engine(store_url).connect() as db:
        reported = [(row.kind, redact(row.value), int(row.n)) for row in db.execute(
            select(reports.c.kind, reports.c.value, func.count(reports.c.id).label("n"))
            .where(reports.c.kind.is_not(None), reports.c.created_at >= start,
                   reports.c.created_at < start + timedelta(days=1))
            .group_by(reports.c.kind, reports.c.value).order_by(func.count(reports.c.id).desc(), reports.c.value))]
    found = new_scripts.find(tracker_url, day, store_url) if scripts and tracker_url else []
    return DailyReport(day, rows, sum(per_day[day].values()), money_sent, reported, found)


def to_markdown(report: DailyReport, names: dict[str, str]) -> str:
    """The report as officers read it in a chat or a file."""
    lines = [f"# 每日研判 {report.day:%Y-%m-%d}", "",
             f"咨询 {report.total} 次，其中已转账 {report.money_sent} 次。", ""]
    if report.rising:
        lines += ["## 明显上升（需预警）", ""]
        lines += [f"- {names.get(r.scenario, r.scenario)} · {r.region}：{r.count} 次"
                  f"（近7天日均 {r.mean_7:.1f}，近28天日均 {r.mean_28:.1f}，p={r.p_value:.3g}）" for r in report.rising]
        lines.append("")
    lines += ["## 各类型 × 地区", "", "| 类型 | 地区 | 当天 | 近7天日均 | 近28天日均 | p |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {names.get(r.scenario, r.scenario)} | {r.region} | {r.count} | {r.mean_7:.1f} | {r.mean_28:.1f} | "
              f"{r.p_value:.3g} |" for r in report.rows if r.count or r.mean_7]
    if report.reported:
        lines += ["", "## 居民举报", ""] + [f"- {kind} {value}：{n} 次" for kind, value, n in report.reported]
    if report.scripts:
        lines += ["", "## 新话术（诈骗库和训练样例里都没有，多位居民发来）", ""]
        lines += [f"- {s.residents} 位居民，{s.messages} 条，像「{names.get(s.scenario, s.scenario)}」：{s.sample}"
                  for s in report.scripts]
    return "\n".join(lines) + "\n"


CHAT_ROWS = 5


def to_chat(report: DailyReport, names: dict[str, str]) -> str:
    """The short version officers get in their chat each morning: what rises, the biggest rows, reports."""
    lines = [f"【每日研判】{report.day:%m月%d日}", f"咨询 {report.total} 次，已转账 {report.money_sent} 次。"]
    if report.rising:
        lines.append("明显上升，建议预警（在管理后台起草警情通报）：")
        lines += [f"· {names.get(r.scenario, r.scenario)}（{r.region}）{r.count} 次，近28天日均 {r.mean_28:.1f}"
                  for r in report.rising]
    else:
        lines.append("没有明显上升的类型。")
    busiest = [r for r in report.rows if r.count][:CHAT_ROWS]
    if busiest:
        lines.append("咨询最多：")
        lines += [f"· {names.get(r.scenario, r.scenario)}（{r.region}）{r.count} 次" for r in busiest]
    if report.scripts:
        lines.append(f"发现 {len(report.scripts)} 种新话术（多位居民发来、诈骗库里没有），请到管理后台查看。")
    if report.reported:
        times = sum(n for _kind, _value, n in report.reported)
        lines.append(f"居民举报 {times} 次，涉及 {len(report.reported)} 个号码或链接，请到管理后台审核。")
    return "\n".join(lines)


def to_csv(report: DailyReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day", "scenario", "region", "count", "mean_7", "mean_28", "p_value", "rising"])
    for r in report.rows:
        writer.writerow([report.day.isoformat(), r.scenario, r.region, r.count, f"{r.mean_7:.3f}",
                         f"{r.mean_28:.3f}", f"{r.p_value:.4g}", int(r.rising)])
    return out.getvalue()
