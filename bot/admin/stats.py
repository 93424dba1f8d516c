"""Consultations per scenario and per day, counted from the tracker store's events.

Only counts leave this module: no sender id, no text. A consultation is a resident's
message that the NLU read as describing a case (``consult``, ``money_already_sent``,
``inform``); its scenario is the one the scenario classifier gave it. Days whose events the
retention job rolled up (:mod:`bot.retention`) are read from the project's store instead, so the
chart does not drop when old conversations are deleted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import create_engine

from bot.retention import CHINA, consultations_since, day_start, rolled_counts, scenario_of


@dataclass(frozen=True)
class Overview:
    days: list[date]
    per_day: dict[date, Counter]  # day -> scenario -> count
    per_scenario: Counter
    total: int


def overview(url: str | None, days: int = 14, today: date | None = None, store_url: str | None = None) -> Overview:
    """Counts of the last ``days`` days: rolled-up days from the store at ``store_url`` (when given), the
    others from the tracker store at ``url``."""
    today = today or datetime.now(CHINA).date()
    window = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    per_day: dict[date, Counter] = {day: Counter() for day in window}
    rolled = rolled_counts(window, store_url) if store_url else {}
    per_day.update(rolled)
    since = day_start(window[0])
    if url:
        engine = create_engine(url, future=True)
        try:
            with engine.connect() as db:
                for timestamp, _intent, data, _sender in db.execute(consultations_since(since)):
                    day = datetime.fromtimestamp(timestamp, CHINA).date()
                    if day in per_day and day not in rolled:
                        per_day[day][scenario_of(data)] += 1
        except Exception:  # no events table yet: nobody has talked to the bot
            pass
        finally:
            engine.dispose()
    per_scenario: Counter = Counter()
    for counts in per_day.values():
        per_scenario.update(counts)
    return Overview(window, per_day, per_scenario, sum(per_scenario.values()))


PALETTE = ("#c0392b", "#e67e22", "#f1c40f", "#27ae60", "#16a085", "#2980b9", "#8e44ad", "#2c3e50", "#d35400",
           "#7f8c8d", "#e84393", "#00b894", "#6c5ce7", "#fd79a8", "#0984e3", "#b2bec3")


def chart_svg(stats: Overview, names: dict[str, str]) -> str:
    """Stacked bars: consultations per day, coloured by scenario, with a legend (plain SVG, no script)."""
    order = [sid for sid, _ in stats.per_scenario.most_common()]
    colours = {sid: PALETTE[i % len(PALETTE)] for i, sid in enumerate(order)}
    width, height, left, bottom, top = 720, 260, 40, 30, 10
    peak = max([sum(c.values()) for c in stats.per_day.values()] + [1])
    slot = (width - left) / max(len(stats.days), 1)
    scale = (height - bottom - top) / peak
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 24 * ((len(order) + 3) // 4)}" '
             f'role="img" aria-label="每天的咨询量，按诈骗类型分色" class="chart">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#999"/>',
             f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="11">{peak}</text>',
             f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end" font-size="11">0</text>']
    for index, day in enumerate(stats.days):
        x, y = left + index * slot + slot * 0.15, height - bottom
        for sid in order:
            count = stats.per_day[day][sid]
            if count:
                bar = count * scale
                y -= bar
                label = f"{day:%m-%d} {_escape(names.get(sid, sid))}：{count}"
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{bar:.1f}" '
                             f'fill="{colours[sid]}"><title>{label}</title></rect>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                     f'font-size="11">{day:%m-%d}</text>')
    for index, sid in enumerate(order):
        x, y = left + (index % 4) * 170, height + 18 + 24 * (index // 4)
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colours[sid]}"/>'
                     f'<text x="{x + 18}" y="{y}" font-size="12">{_escape(names.get(sid, sid))} '
                     f'{stats.per_scenario[sid]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
