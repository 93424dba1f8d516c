"""Synthetic phone screenshots of Chinese SMS and chat apps, for the OCR reader's tests and benchmark.

Residents forward *screenshots* of suspicious SMS and chats, not text. A reader that turns such
an image back into the message text must cope with what surrounds the bubbles: a status bar
(clock, signal, "5G", battery %), a title bar (back arrow, sender number or contact name), date
lines, avatars and an input bar. Those are the distractors a real screenshot carries, so the
images here draw them too, and every :class:`Screenshot` says exactly which strings were drawn
as messages (the ground truth) and which as chrome (text the reader should *not* report as a
message).

Everything is deterministic: the same arguments and ``seed`` give the same PNG bytes, so a
failing test or a benchmark number replays. ``seed`` changes only small things (clock, battery,
status-bar layout, colours, font size, line spacing, date style), never the message texts, though
font size and spacing can change how many messages fit.

Only Pillow and the Debian font ``fonts-wqy-microhei`` are needed; no project module is imported,
so the generator can be used by tests and by ``bench/`` alike. The font has no colour emoji:
an emoji in a message is drawn as a missing-glyph box, as on a phone without the font.
"""

from __future__ import annotations

import functools
import io
import os
import random
import re
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "FONT_PATH",
    "MIN_WIDTH",
    "MIN_HEIGHT",
    "Screenshot",
    "sms_screenshot",
    "chat_screenshot",
    "screenshot_png_of_size",
    "sample_messages",
]

FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
"""The Chinese font every text is drawn with (Debian package ``fonts-wqy-microhei``).

Tests that need images can skip when ``os.path.exists(FONT_PATH)`` is false; calling a
generator without it raises :class:`FileNotFoundError` saying what to install.
"""

BASE_WIDTH = 1080
"""Every size below is given for a 1080 px wide phone and scaled to the requested width."""

Color = tuple[int, int, int]


@dataclass(frozen=True)
class Screenshot:
    """A generated screenshot and the truth about what was drawn on it."""

    png: bytes
    """The image, PNG encoded, exactly ``width`` x ``height`` pixels, RGB."""
    messages: list[str]
    """The texts drawn in bubbles, top to bottom, exactly as passed in (the ground truth a reader
    should recover). Messages that did not fit above the input bar were not drawn and are not
    listed. Wrapping drops spaces at line ends, so compare ignoring whitespace."""
    chrome: list[str]
    """Every other text drawn, in reading order (top to bottom, left to right): status-bar clock,
    carrier, network type, battery %, back arrow, title, subtitle, date lines, input hint, button
    labels. A reader that reports one of these as a message has been fooled by the frame."""
    sender: str | None
    """The SMS sender number or chat contact name as shown in the title bar (shortened with "…"
    if it was too wide); None when no title was drawn."""


# --------------------------------------------------------------------------------------------
# Fonts and measuring


def _require_font() -> None:
    if not os.path.exists(FONT_PATH):
        raise FileNotFoundError(
            f"Chinese font {FONT_PATH} is missing; tests/screenshots.py needs it to draw Chinese "
            "text. Install it with: apt-get install fonts-wqy-microhei"
        )


@functools.lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont:
    """The font at ``size`` px. BASIC layout: CJK needs no shaping, and it is faster and the
    same with or without libraqm, so the bytes do not depend on the machine."""
    _require_font()
    return ImageFont.truetype(FONT_PATH, max(6, size), index=0, layout_engine=ImageFont.Layout.BASIC)


@functools.lru_cache(maxsize=20000)
def _width(size: int, text: str) -> float:
    return _font(size).getlength(text)


# Line-breaking rules (kinsoku): these never start a line ...
_CLOSERS = set("，。、；：！？）》」』”’】〕〉…—～·%,.;:!?)]}")
# ... and these never end one.
_OPENERS = set("（《「『“‘【〔〈([{")
# ASCII runs (URLs, numbers, codes, Latin words) stay whole when they fit on a line, so
# "http://etc-rz.top" or "6222 0212 3456" is not cut in the middle of a token.
_TOKEN = re.compile(r"[\x21-\x7e]+|[ \t\u3000]+|.", re.S)


def _units(paragraph: str) -> list[str]:
    """Split a paragraph into unbreakable units: ASCII runs, spaces, single CJK characters,
    with closing punctuation glued to what precedes it and opening punctuation to what follows."""
    units: list[str] = []
    glue_next = False
    for tok in _TOKEN.findall(paragraph):
        if tok.isspace():
            units.append(" ")
            glue_next = False
            continue
        if units and not units[-1].isspace() and (glue_next or tok in _CLOSERS):
            units[-1] += tok
        else:
            units.append(tok)
        glue_next = len(tok) == 1 and tok in _OPENERS
    return units


def _wrap(text: str, size: int, max_width: float) -> list[str]:
    """Break ``text`` into lines no wider than ``max_width`` px at font ``size``, as a phone does.

    CJK text breaks between any two characters (subject to the punctuation rules above); an
    ASCII run moves whole to the next line if it fits there, and only a run wider than a whole
    line (a long URL) is cut, character by character. Explicit newlines are kept; an empty
    paragraph gives an empty line.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        cur, cur_w = "", 0.0
        for unit in _units(paragraph):
            if unit == " ":
                if cur:
                    cur += " "
                    cur_w += _width(size, " ")
                continue
            unit_w = _width(size, unit)
            if cur_w + unit_w <= max_width:
                cur += unit
                cur_w += unit_w
            elif unit_w <= max_width:
                lines.append(cur.rstrip())
                cur, cur_w = unit, unit_w
            else:
                for ch in unit:
                    ch_w = _width(size, ch)
                    if cur and cur_w + ch_w > max_width:
                        lines.append(cur.rstrip())
                        cur, cur_w = "", 0.0
                    cur += ch
                    cur_w += ch_w
        lines.append(cur.rstrip())
    return lines


# --------------------------------------------------------------------------------------------
# Drawing helpers


class _Canvas:
    """An image plus the list of chrome strings drawn on it, so the truth cannot drift from
    the pixels: every text goes through :meth:`text`, which records it."""

    def __init__(self, width: int, height: int, background: Color, scale: float) -> None:
        self.width, self.height, self.s = width, height, scale
        self.image = Image.new("RGB", (width, height), background)
        self.draw = ImageDraw.Draw(self.image)
        self.chrome: list[str] = []

    def px(self, value: float) -> int:
        return max(1, round(value * self.s))

    def text(self, xy: tuple[float, float], text: str, size: int, fill: Color, anchor: str = "lm",
             chrome: bool = True) -> None:
        if not text:
            return
        self.draw.text(xy, text, font=_font(size), fill=fill, anchor=anchor)
        if chrome:
            self.chrome.append(text)

    def png(self) -> bytes:
        buf = io.BytesIO()
        self.image.save(buf, "PNG", compress_level=6)
        return buf.getvalue()


def _jitter(rng: random.Random, color: Color, amount: int = 5) -> Color:
    """The colour moved by a few units per channel: phones and themes differ slightly."""
    return tuple(min(255, max(0, c + rng.randint(-amount, amount))) for c in color)  # type: ignore[return-value]


def _fit(text: str, size: int, max_width: float) -> str:
    """``text`` shortened with "…" to fit ``max_width``, as a title bar does with a long name."""
    if _width(size, text) <= max_width:
        return text
    while text and _width(size, text + "…") > max_width:
        text = text[:-1]
    return text + "…" if text else ""


@dataclass(frozen=True)
class _Style:
    """The small seeded variations of one screenshot."""

    now: datetime
    battery: int
    signal: int
    network: str
    carrier: str | None
    huawei_status: bool
    twelve_hour: bool
    body_size: int
    line_spacing: float
    home_indicator: bool


def _style(rng: random.Random, scale: float) -> _Style:
    now = datetime(2024, 1, 1) + timedelta(days=rng.randint(0, 365), minutes=rng.randint(0, 24 * 60 - 1))
    huawei = rng.random() < 0.35
    return _Style(
        now=now,
        battery=rng.randint(5, 100),
        signal=rng.randint(1, 4),
        network=rng.choice(["5G", "5G", "5G", "4G"]),
        carrier=rng.choice(["中国移动", "中国联通", "中国电信"]) if huawei or rng.random() < 0.2 else None,
        huawei_status=huawei,
        twelve_hour=rng.random() < 0.5,
        body_size=max(6, round(rng.randint(44, 48) * scale)),
        line_spacing=rng.uniform(1.3, 1.5),
        home_indicator=rng.random() < 0.6,
    )


def _clock(t: datetime, twelve_hour: bool) -> str:
    """A time as Chinese phones print it: "14:21" or "下午2:21"."""
    if not twelve_hour:
        return f"{t.hour:02d}:{t.minute:02d}"
    h = t.hour
    period = "凌晨" if h < 6 else "上午" if h < 12 else "中午" if h == 12 else "下午" if h < 18 else "晚上"
    return f"{period}{h % 12 or 12}:{t.minute:02d}"


def _date_line(t: datetime, now: datetime, twelve_hour: bool) -> str:
    """The date line above a group of bubbles, relative to the status-bar clock ("昨天 21:05")."""
    clock = _clock(t, twelve_hour)
    days = (now.date() - t.date()).days
    if days == 0:
        return clock
    if days == 1:
        return f"昨天 {clock}"
    if days < 7:
        return f"星期{'一二三四五六日'[t.weekday()]} {clock}"
    if t.year == now.year:
        return f"{t.month}月{t.day}日 {clock}"
    return f"{t.year}年{t.month}月{t.day}日 {clock}"


def _message_times(rng: random.Random, now: datetime, n: int) -> list[datetime]:
    """Send times for ``n`` messages, ascending, all before the clock."""
    first = now - timedelta(minutes=rng.choice([rng.randint(1, 50), rng.randint(60, 600), rng.randint(1440, 20000)]))
    times = [first]
    for _ in range(n - 1):
        gap = rng.choice([0, 0, 0, 1, 2, rng.randint(5, 30), rng.randint(60, 300)])
        times.append(min(now, times[-1] + timedelta(minutes=gap)))
    return times


# --------------------------------------------------------------------------------------------
# Status bar, title bar, input bar


def _signal_bars(c: _Canvas, x: float, mid: float, filled: int, ink: Color, faint: Color) -> float:
    """Four rising bars starting at ``x``; returns the x after them."""
    bar_w, gap, tallest = c.px(8), c.px(4), c.px(30)
    for i in range(4):
        h = tallest * (i + 1) / 4
        c.draw.rectangle([x, mid + tallest / 2 - h, x + bar_w, mid + tallest / 2], fill=ink if i < filled else faint)
        x += bar_w + gap
    return x


def _wifi(c: _Canvas, x: float, mid: float, ink: Color) -> float:
    """A Wi-Fi fan starting at ``x``; returns the x after it."""
    r = c.px(22)
    cx, cy = x + r, mid + r * 0.55
    for k, width in ((1.0, c.px(5)), (0.62, c.px(5))):
        rr = r * k
        c.draw.arc([cx - rr, cy - rr, cx + rr, cy + rr], 225, 315, fill=ink, width=width)
    dot = c.px(5)
    c.draw.ellipse([cx - dot, cy - dot * 2.2, cx + dot, cy], fill=ink)
    return x + 2 * r


def _battery(c: _Canvas, x: float, mid: float, pct: int, ink: Color) -> float:
    """A battery outline filled to ``pct``; returns the x after it."""
    w, h = c.px(54), c.px(26)
    top, bottom = mid - h / 2, mid + h / 2
    c.draw.rounded_rectangle([x, top, x + w, bottom], radius=c.px(6), outline=ink, width=c.px(3))
    inset = c.px(6)
    fill_w = (w - 2 * inset) * pct / 100
    color = (230, 60, 50) if pct <= 20 else ink
    if fill_w >= 1:
        c.draw.rectangle([x + inset, top + inset, x + inset + fill_w, bottom - inset], fill=color)
    c.draw.rectangle([x + w + c.px(2), mid - h / 5, x + w + c.px(6), mid + h / 5], fill=ink)
    return x + w + c.px(6)


def _status_bar(c: _Canvas, st: _Style, rng: random.Random) -> int:
    """Draw the status bar; returns its height. Two layouts: iOS/MIUI (clock left, icons right)
    and EMUI (carrier and signal left, battery and clock right)."""
    height = c.px(100)
    size = max(6, round(rng.randint(34, 38) * c.s))
    ink, faint = (20, 20, 20), (190, 190, 190)
    mid = height / 2 + c.px(4)
    margin, gap = c.px(48), c.px(14)
    clock = _clock(st.now, False)
    pct = f"{st.battery}%"
    wifi = rng.random() < 0.5

    # Lay the right-hand cluster out from right to left, then draw everything left to right so
    # that the chrome list reads in order.
    def right_cluster(items: list[str]) -> list[tuple[str, float]]:
        widths = {"battery": c.px(60), "wifi": c.px(44), "signal": c.px(48),
                  "pct": _width(size, pct), "network": _width(size, st.network), "clock": _width(size, clock)}
        x = c.width - margin
        placed: list[tuple[str, float]] = []
        for item in reversed(items):
            x -= widths[item]
            placed.append((item, x))
            x -= gap
        return list(reversed(placed))

    if st.huawei_status:
        x = float(margin)
        assert st.carrier is not None
        c.text((x, mid), st.carrier, size, ink)
        x += _width(size, st.carrier) + gap
        x = _signal_bars(c, x, mid, st.signal, ink, faint) + gap
        c.text((x, mid), st.network, round(size * 0.8), ink)
        right = ["wifi"] if wifi else []
        right += ["pct", "battery", "clock"]
    else:
        x = float(margin)
        c.text((x, mid), clock, size, ink)
        if st.carrier:
            c.text((x + _width(size, clock) + gap * 2, mid), st.carrier, round(size * 0.85), ink)
        right = ["signal", "network"] + (["wifi"] if wifi else []) + ["pct", "battery"]
    for item, x in right_cluster(right):
        if item == "signal":
            _signal_bars(c, x, mid, st.signal, ink, faint)
        elif item == "network":
            c.text((x, mid), st.network, size, ink)
        elif item == "wifi":
            _wifi(c, x, mid, ink)
        elif item == "pct":
            c.text((x, mid), pct, size, ink)
        elif item == "battery":
            _battery(c, x, mid, st.battery, ink)
        elif item == "clock":
            c.text((x, mid), clock, size, ink)
    return height


def _title_bar(c: _Canvas, top: int, title: str, subtitle: str | None, centered: bool, menu: bool,
               background: Color, rng: random.Random) -> tuple[int, str | None]:
    """Draw the back arrow, the title (and a grey subtitle), and the "..." menu; returns the
    bar's bottom and the title as drawn."""
    height = c.px(150)
    c.draw.rectangle([0, top, c.width, top + height], fill=background)
    mid = top + height / 2
    ink = _jitter(rng, (25, 25, 25), 6)
    c.text((c.px(40), mid), "<", max(6, round(58 * c.s)), ink)
    title_size = max(6, round(rng.randint(48, 52) * c.s))
    sub_size = max(6, round(32 * c.s))
    title_mid = mid - (c.px(20) if subtitle else 0)
    drawn: str | None = None
    if title.strip():
        if centered:
            drawn = _fit(title, title_size, c.width - c.px(360))
            c.text((c.width / 2, title_mid), drawn, title_size, ink, anchor="mm")
            if subtitle:
                c.text((c.width / 2, mid + c.px(30)), subtitle, sub_size, (140, 140, 140), anchor="mm")
        else:
            drawn = _fit(title, title_size, c.width - c.px(300))
            c.text((c.px(130), title_mid), drawn, title_size, ink)
            if subtitle:
                c.text((c.px(130), mid + c.px(30)), subtitle, sub_size, (140, 140, 140))
    if menu:
        c.text((c.width - c.px(50), mid - c.px(10)), "...", max(6, round(56 * c.s)), ink, anchor="rm")
    c.draw.line([0, top + height - 1, c.width, top + height - 1], fill=_jitter(rng, (222, 222, 222), 4), width=1)
    return top + height, drawn


def _home_indicator(c: _Canvas, st: _Style) -> int:
    """The gesture bar under the input bar; returns the height it takes."""
    height = c.px(50)
    if st.home_indicator:
        w, h = c.px(280), c.px(10)
        y = c.height - c.px(22)
        c.draw.rounded_rectangle([(c.width - w) / 2, y - h, (c.width + w) / 2, y], radius=h // 2, fill=(30, 30, 30))
    return height


def _sms_input_bar(c: _Canvas, st: _Style, rng: random.Random) -> int:
    """The SMS composer: a rounded box with the hint "短信" and a "发送" button; returns its top."""
    bottom = c.height - _home_indicator(c, st)
    top = bottom - c.px(150)
    c.draw.rectangle([0, top, c.width, bottom], fill=_jitter(rng, (247, 247, 247), 3))
    c.draw.line([0, top, c.width, top], fill=(225, 225, 225), width=1)
    mid = (top + bottom) / 2
    size = max(6, round(40 * c.s))
    plus = rng.random() < 0.5
    left = c.px(40)
    if plus:  # an attachment "+" drawn as lines, not text
        r, arm = c.px(30), c.px(16)
        cx = left + r
        c.draw.ellipse([cx - r, mid - r, cx + r, mid + r], outline=(120, 120, 120), width=c.px(3))
        c.draw.line([cx - arm, mid, cx + arm, mid], fill=(120, 120, 120), width=c.px(3))
        c.draw.line([cx, mid - arm, cx, mid + arm], fill=(120, 120, 120), width=c.px(3))
        left += 2 * r + c.px(24)
    box_right = c.width - c.px(190)
    c.draw.rounded_rectangle([left, mid - c.px(50), box_right, mid + c.px(50)], radius=c.px(50),
                             fill=(255, 255, 255), outline=(220, 220, 220), width=1)
    c.text((left + c.px(36), mid), rng.choice(["短信", "短信", "短信/彩信"]), size, (165, 165, 165))
    c.text((c.width - c.px(100), mid), "发送", size, rng.choice([(170, 170, 170), (60, 120, 230)]), anchor="mm")
    return top


def _chat_input_bar(c: _Canvas, st: _Style, rng: random.Random) -> int:
    """The WeChat composer, either in voice mode ("按住 说话") or keyboard mode (empty box and a
    green "发送"); returns its top."""
    bottom = c.height - _home_indicator(c, st)
    top = bottom - c.px(150)
    c.draw.rectangle([0, top, c.width, bottom], fill=_jitter(rng, (246, 246, 246), 3))
    c.draw.line([0, top, c.width, top], fill=(220, 220, 220), width=1)
    mid = (top + bottom) / 2
    grey = (40, 40, 40)
    r, stroke = c.px(32), c.px(3)

    def circle(cx: float) -> None:
        c.draw.ellipse([cx - r, mid - r, cx + r, mid + r], outline=grey, width=stroke)

    # voice / keyboard toggle at the left
    cx = c.px(40) + r
    circle(cx)
    for k in (0.35, 0.65):
        rr = r * k
        c.draw.arc([cx - rr - r * 0.25, mid - rr, cx + rr - r * 0.25, mid + rr], 300, 60, fill=grey, width=stroke)
    voice = rng.random() < 0.5
    gap, right_edge = c.px(24), c.width - c.px(40)
    send_w = c.px(120)
    # Right to left: "+" circle (voice mode) or green "发送" button (keyboard mode), then the
    # emoji face, then the box fills what is left.
    last_left = right_edge - (2 * r if voice else send_w)
    ex = last_left - gap - r
    box_left, box_right = cx + r + gap, ex - r - gap
    c.draw.rounded_rectangle([box_left, mid - c.px(48), box_right, mid + c.px(48)], radius=c.px(10),
                             fill=(255, 255, 255))
    if voice:
        c.text(((box_left + box_right) / 2, mid), "按住 说话", max(6, round(42 * c.s)), (30, 30, 30), anchor="mm")
    circle(ex)
    eye = c.px(4)
    for dx in (-r * 0.35, r * 0.35):
        c.draw.ellipse([ex + dx - eye, mid - r * 0.3 - eye, ex + dx + eye, mid - r * 0.3 + eye], fill=grey)
    c.draw.arc([ex - r * 0.5, mid - r * 0.45, ex + r * 0.5, mid + r * 0.5], 20, 160, fill=grey, width=stroke)
    if voice:  # "+" drawn as lines, not text
        px = right_edge - r
        circle(px)
        arm = r * 0.5
        c.draw.line([px - arm, mid, px + arm, mid], fill=grey, width=stroke)
        c.draw.line([px, mid - arm, px, mid + arm], fill=grey, width=stroke)
    else:
        c.draw.rounded_rectangle([last_left, mid - c.px(38), right_edge, mid + c.px(38)], radius=c.px(8),
                                 fill=(7, 193, 96))
        c.text(((last_left + right_edge) / 2, mid), "发送", max(6, round(36 * c.s)), (255, 255, 255), anchor="mm")
    return top


# --------------------------------------------------------------------------------------------
# Bubbles


@dataclass(frozen=True)
class _Bubble:
    text: str
    from_me: bool
    lines: list[str]
    width: float
    height: float


def _layout_bubble(text: str, from_me: bool, st: _Style, max_text_w: float, pad_x: float, pad_y: float) -> _Bubble:
    lines = _wrap(text, st.body_size, max_text_w)
    text_w = max((_width(st.body_size, line) for line in lines), default=0.0)
    line_h = st.body_size * st.line_spacing
    return _Bubble(text, from_me, lines, text_w + 2 * pad_x, len(lines) * line_h + 2 * pad_y)


def _draw_lines(c: _Canvas, bubble: _Bubble, x: float, y: float, st: _Style, ink: Color) -> None:
    """Draw the lines of ``bubble`` with their first line's box starting at (x, y), each line's
    baseline centred in its line box."""
    font = _font(st.body_size)
    ascent, descent = font.getmetrics()
    line_h = st.body_size * st.line_spacing
    for i, line in enumerate(bubble.lines):
        baseline = y + i * line_h + (line_h - ascent - descent) / 2 + ascent
        c.text((x, baseline), line, st.body_size, ink, anchor="ls", chrome=False)


def _date_row(c: _Canvas, y: float, text: str, rng: random.Random, pill: bool) -> None:
    size = max(6, round(34 * c.s))
    mid = y + c.px(45)
    if pill:  # some apps put the date on a faint rounded label
        w = _width(size, text) + c.px(36)
        c.draw.rounded_rectangle([(c.width - w) / 2, mid - c.px(28), (c.width + w) / 2, mid + c.px(28)],
                                 radius=c.px(12), fill=(218, 218, 218))
        c.text((c.width / 2, mid), text, size, (255, 255, 255), anchor="mm")
    else:
        c.text((c.width / 2, mid), text, size, _jitter(rng, (160, 160, 160), 8), anchor="mm")


def _stack(c: _Canvas, st: _Style, rng: random.Random, items: list[tuple[str, bool]], top: float, bottom: float,
           draw_bubble: Callable[[_Bubble, float], None], max_text_w: float, pad_x: float, pad_y: float,
           gap: float, min_row_h: float = 0, pill_dates: bool = False) -> list[str]:
    """Stack date rows and bubbles from ``top`` down and return the texts drawn.

    A row is as tall as its bubble, or ``min_row_h`` (a chat avatar) if taller. A message that
    is the first or comes five minutes or more after the previous one gets a date row above it.
    Drawing stops at the first row (with its date row) that would cross ``bottom``, so no
    message is ever cut in half and ``messages`` lists exactly what is visible.
    """
    times = _message_times(rng, st.now, len(items))
    date_h = c.px(90)
    y = top + c.px(10)
    drawn: list[str] = []
    for i, (text, from_me) in enumerate(items):
        new_group = i == 0 or (times[i] - times[i - 1]) >= timedelta(minutes=5)
        bubble = _layout_bubble(text, from_me, st, max_text_w, pad_x, pad_y)
        row_h = max(bubble.height, min_row_h)
        if y + (date_h if new_group else 0) + row_h > bottom:
            break
        if new_group:
            _date_row(c, y, _date_line(times[i], st.now, st.twelve_hour), rng, pill_dates)
            y += date_h
        draw_bubble(bubble, y)
        drawn.append(text)
        y += row_h + gap
    return drawn


MIN_WIDTH, MIN_HEIGHT = 240, 320
"""The smallest phone the generators draw: below it the bars no longer fit side by side.
For tiny or odd sizes use :func:`screenshot_png_of_size`."""


def _check_size(width: int, height: int, min_width: int = 1, min_height: int = 1) -> None:
    if not (isinstance(width, int) and isinstance(height, int)) or width < min_width or height < min_height:
        raise ValueError(f"width and height must be integers of at least {min_width} x {min_height}, "
                         f"got {width!r} x {height!r}")


# --------------------------------------------------------------------------------------------
# Public generators


def sms_screenshot(messages: list[str], sender: str = "106902512345", width: int = 1080, height: int = 2400,
                   seed: int = 0) -> Screenshot:
    """A screenshot of a phone's SMS app showing ``messages`` received from ``sender``.

    Sizes scale from a 1080 px wide phone; ``width`` and ``height`` must be at least
    ``MIN_WIDTH`` x ``MIN_HEIGHT`` (:class:`ValueError` otherwise). An empty ``sender`` draws no
    title and gives ``sender=None``.

    All bubbles are incoming (on the left, light grey), as in a forwarded scam SMS. Messages are
    stacked under a date line; a later message more than five minutes after the previous one
    gets its own date line (chrome). Messages that would run into the input bar are not drawn
    and not listed in ``Screenshot.messages``.
    """
    _check_size(width, height, MIN_WIDTH, MIN_HEIGHT)
    rng = random.Random(f"sms:{seed}")
    scale = width / BASE_WIDTH
    st = _style(rng, scale)
    page = _jitter(rng, (255, 255, 255), 3)
    c = _Canvas(width, height, page, scale)
    bar_h = _status_bar(c, st, rng)
    subtitle = rng.choice([None, None, "短信", "北京 移动", "广东 深圳"])
    title_bottom, shown = _title_bar(c, bar_h, sender, subtitle, centered=rng.random() < 0.6,
                                     menu=rng.random() < 0.7, background=page, rng=rng)
    n_before = len(c.chrome)
    input_top = _sms_input_bar(c, st, rng)
    input_chrome = c.chrome[n_before:]  # drawn first, listed last: chrome is in reading order
    del c.chrome[n_before:]

    bubble_fill = _jitter(rng, rng.choice([(240, 240, 243), (236, 238, 242), (244, 244, 244)]), 3)
    ink = _jitter(rng, (22, 22, 22), 6)
    radius = c.px(rng.choice([28, 36, 44]))
    left = c.px(40)
    pad_x, pad_y = c.px(38), c.px(28)
    max_text_w = width * 0.78 - 2 * pad_x

    def draw_bubble(b: _Bubble, y: float) -> None:
        c.draw.rounded_rectangle([left, y, left + b.width, y + b.height], radius=radius, fill=bubble_fill)
        _draw_lines(c, b, left + pad_x, y + pad_y, st, ink)

    drawn = _stack(c, st, rng, [(m, False) for m in messages], title_bottom + c.px(20), input_top - c.px(20),
                   draw_bubble, max_text_w, pad_x, pad_y, gap=c.px(rng.randint(28, 40)), pill_dates=False)
    c.chrome.extend(input_chrome)
    return Screenshot(png=c.png(), messages=drawn, chrome=list(c.chrome), sender=shown)


def chat_screenshot(messages: list[tuple[str, bool]], contact: str = "客服小李", width: int = 1080, height: int = 2400,
                    seed: int = 0) -> Screenshot:
    """A screenshot of a WeChat-like chat with ``contact``: each item is ``(text, from_me)``.

    ``from_me`` bubbles are green on the right, the contact's are white on the left, each next to
    a square avatar (a plain coloured square, so it adds no text). Sizes, an empty ``contact``
    and overflow are handled as in :func:`sms_screenshot`.
    """
    _check_size(width, height, MIN_WIDTH, MIN_HEIGHT)
    rng = random.Random(f"chat:{seed}")
    scale = width / BASE_WIDTH
    st = _style(rng, scale)
    page = _jitter(rng, (237, 237, 237), 3)
    c = _Canvas(width, height, page, scale)
    bar_h = _status_bar(c, st, rng)
    title_bottom, shown = _title_bar(c, bar_h, contact, None, centered=True, menu=True, background=page, rng=rng)
    n_before = len(c.chrome)
    input_top = _chat_input_bar(c, st, rng)
    input_chrome = c.chrome[n_before:]  # drawn first, listed last: chrome is in reading order
    del c.chrome[n_before:]

    ink = _jitter(rng, (25, 25, 25), 5)
    mine_fill = _jitter(rng, (149, 236, 105), 5)
    theirs_fill = _jitter(rng, (255, 255, 255), 2)
    their_avatar = _jitter(rng, rng.choice([(88, 140, 210), (230, 150, 70), (120, 170, 120), (170, 120, 190)]), 10)
    my_avatar = _jitter(rng, rng.choice([(200, 120, 110), (90, 160, 170), (150, 150, 150)]), 10)
    margin, avatar, avatar_gap = c.px(30), c.px(120), c.px(22)
    pad_x, pad_y = c.px(34), c.px(26)
    radius = c.px(rng.choice([10, 12, 16]))
    tail = c.px(16)
    max_text_w = width - 2 * (margin + avatar + avatar_gap) - c.px(40) - 2 * pad_x

    def draw_bubble(b: _Bubble, y: float) -> None:
        if b.from_me:
            ax = width - margin - avatar
            right = ax - avatar_gap
            box = [right - b.width, y, right, y + b.height]
            tip = [(right, y + c.px(40)), (right + tail, y + c.px(54)), (right, y + c.px(68))]
            fill, face = mine_fill, my_avatar
        else:
            ax = margin
            left = ax + avatar + avatar_gap
            box = [left, y, left + b.width, y + b.height]
            tip = [(left, y + c.px(40)), (left - tail, y + c.px(54)), (left, y + c.px(68))]
            fill, face = theirs_fill, their_avatar
        c.draw.rounded_rectangle([ax, y, ax + avatar, y + avatar], radius=c.px(12), fill=face)
        c.draw.rounded_rectangle(box, radius=radius, fill=fill)
        c.draw.polygon(tip, fill=fill)
        _draw_lines(c, b, box[0] + pad_x, y + pad_y, st, ink)

    items = [(text, bool(mine)) for text, mine in messages]
    drawn = _stack(c, st, rng, items, title_bottom + c.px(20), input_top - c.px(20), draw_bubble,
                   max_text_w, pad_x, pad_y, gap=c.px(rng.randint(34, 46)), min_row_h=avatar)
    c.chrome.extend(input_chrome)
    return Screenshot(png=c.png(), messages=drawn, chrome=list(c.chrome), sender=shown)


def screenshot_png_of_size(width: int, height: int) -> bytes:
    """A plain light-grey RGB PNG of exactly ``width`` x ``height``, for size and aspect tests.

    Written directly with zlib, one identical row at a time, so a huge size (a decompression
    bomb test) costs little memory and no Pillow pixel-limit warning on our side.
    """
    _check_size(width, height)
    row = b"\x00" + bytes((242, 242, 242)) * width
    comp = zlib.compressobj(9)
    chunks = [comp.compress(row) for _ in range(height)]
    chunks.append(comp.flush())
    data = b"".join(chunks)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def sample_messages() -> list[str]:
    """Sixty realistic Chinese SMS and chat texts, written for these tests (no real people).

    A mix that exercises a reader: scam SMS with 【】 headers, look-alike links
    (``http://etc-rz.top``), phone numbers, card numbers, codes and amounts; ordinary bank,
    delivery and utility notices with the same shapes but no scam; and short and long chat
    lines. No emoji, which the font cannot draw.
    """
    return [
        # scam SMS
        "【ETC服务】尊敬的车主，您的ETC卡已失效，为避免影响高速通行，请于今日内登录 http://etc-rz.top 重新认证。",
        "【中国工商银行】您的账户因异常登录已被临时冻结，请点击 https://icbc-safe.top/v 完成身份核验，逾期将永久停用。",
        "【交管12123】您有一条未处理的交通违法记录，罚款200元，请于3日内访问 http://122-cx.cc 处理，逾期将扣分。",
        "【医保局】您的医保卡余额即将清零，请登录 www.ybj-gov.top 办理电子医保迁移。退订回T",
        "【京东金融】您的白条额度已提升至50000元，回复Y确认或点击 jd-vip.cn/e8Kz 立即领取，退订回T",
        "【个税退税】国家税务总局提示：您有一笔2023年度个税退税款1,286.50元待领取，"
        "请于11月30日前登录 http://gs-tui.top 申领。",
        "【顺丰速运】您的快递因地址不详无法派送，请在24小时内点击 sf-kd.cc/x9 更新地址并支付补运费3.5元。",
        "【建设银行】您的信用卡积分12680即将过期，可兑换现金158元，请登录 ccb-jf.top 兑换，回复TD退订",
        "【社保中心】您的社保卡需要年审，未年审将停止发放养老金，请联系专员 0755-83920147 办理。",
        "【抖音】恭喜您被选为幸运用户，获得iPhone 15一部，请添加客服微信 dy888520 领取，仅限今天。",
        "【淘宝】您购买的商品存在质量问题，我们将为您办理双倍赔付，请联系客服 400-826-7391 转1。",
        "【公安局】您涉嫌一起洗钱案件，案件编号SZ20241129087，请立即拨打 010-58392716 配合调查，"
        "此案属于机密，不要告诉任何人，包括您的家人，否则将追究您的法律责任。",
        "【平安普惠】您已获得贷款资格，最高可借20万，年化利率3.6%，当天到账，详询 wx.pahf-loan.top",
        "兼职刷单，日结300-800元，动动手指在家就能赚，有意者加QQ 2938471056，备注\"兼职\"",
        "家长您好，我是孩子的班主任王老师，请将本学期资料费680元转到这个账户：6222 0212 3456 7890 123，户名张丽。",
        "【中国移动】尊敬的客户，您的话费积分3260分将于本月底清零，可兑换价值128元的礼品，请点击 10086-jf.cn 兑换。",
        "【支付宝】您的花呗账户涉嫌违规套现，将影响个人征信，请于今日18:00前访问 95188-kf.top 注销。",
        "【投资理财】跟着导师炒股，一个月收益30%以上，免费进群领取牛股：https://t.cn/A6xYz12",
        "【东方航空】尊敬的旅客，您预订的11月30日MU5137航班因机械故障取消，"
        "请致电 400-619-3508 办理改签退款，每人补偿300元。",
        "【游戏交易】您出售的账号已被买家拍下，请登录 www.yxjy-pay.cc 缴纳500元保证金后提现。",
        "【会员服务】您订阅的会员将自动续费，每月扣费599元，如需取消请致电 0571-86904137",
        "【快递理赔】您的包裹在运输中丢失，我司将按三倍运费赔偿，请扫码或访问 kd-lp.top/c?n=88213 填写银行卡信息。",
        # ordinary notices
        "【招商银行】您账户6879于11月29日14:21支出(快捷支付)人民币128.00元，余额5,230.47元。",
        "【工商银行】您尾号0427卡11月28日09:15工资收入人民币8,650.00元，余额12,904.33元。",
        "【美团】您的验证码是583027，5分钟内有效，请勿泄露给他人。",
        "【菜鸟驿站】您的包裹已到达幸福小区东门驿站，取件码8-2-3015，请于18:00前取件。",
        "【国家电网】您户号0102938475本月电费156.80元，请于12月5日前缴纳，可通过网上国网App缴费。",
        "【12306】订单E123456789，张先生您已购12月1日G102次9车12F号，上海虹桥08:00开。",
        "【中国电信】您本月已使用流量18.6GB，剩余1.4GB，超出部分按5元/GB计费。",
        "【社区通知】本周六上午9点在社区活动中心开展免费体检，请携带身份证，联系电话021-64823917。",
        "【滴滴出行】您的司机已到达上车点，车牌沪A·D3K91，白色比亚迪秦，请尽快上车。",
        "【中国邮政】您的EMS邮件1187654321098正在派送中，投递员李师傅13812345678。",
        "【反诈中心】提醒：公检法机关不会通过电话办案，不存在“安全账户”，请勿向陌生人转账。",
        "【物业】明天上午8:00-12:00小区停水检修，请提前储水，给您带来不便敬请谅解。",
        "【拼多多】您的订单已发货，韵达快递432100987654321，预计明天送达。",
        "【中国银行】您的信用卡11月账单金额3,482.60元，最后还款日12月18日。",
        "【学校通知】各位家长好，本周五下午3点召开家长会，请准时参加。",
        "【微信支付】您的验证码为482913，用于身份验证，请勿泄露给他人，包括客服。",
        # chat lines
        "妈，我手机掉水里了，这是我新号，先别打电话，加我微信",
        "在吗？帮我个忙，急用钱，先转我5000，明天就还你",
        "好的，我晚上7点到",
        "你好，我是快递理赔客服，你的包裹丢失了，我们这边给你赔偿三倍运费",
        "需要你下载一个会议软件，屏幕共享一下，我指导你操作",
        "这个链接打不开，你再发一遍",
        "收到，谢谢！",
        "老同学好久不见，最近在做一个投资项目，稳赚不赔，要不要一起？",
        "你把银行卡号和验证码发给我，我这边帮你把钱退回去",
        "明天去爸妈那儿吃饭吗？",
        "刚转了200给你，记得查收",
        "宝宝，平台那边说要再交10%的保证金才能提现，你再帮我凑凑，提出来马上还你",
        "我是你领导，明天上午来我办公室一趟，先加我这个QQ：1784520936",
        "系统显示您的账户存在风险，需要把资金转到国家安全账户进行保护，核查完毕后会原路退回，请您配合。",
        "下午三点开会，地点在三楼会议室，别迟到",
        "你好，你在我们平台申请的贷款已经审批通过了，需要先交2000元解冻费才能放款",
        "哈哈哈，笑死我了",
        "孩子在学校受伤了，正在医院抢救，急需手术费3万，快打到这个卡上",
        "麻烦你帮我投个票，链接 http://vote-hd.top/p?id=8821 谢谢啦",
        "晚饭吃什么？要不去楼下那家火锅",
        "您好，您的账号在异地登录，请把收到的6位验证码告诉我以便冻结",
        "我已经到小区门口了，你下来拿一下",
    ]
