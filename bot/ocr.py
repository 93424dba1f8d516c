"""Reading a screenshot the way a person does: offline Chinese OCR, then the phone's chrome dropped.

Residents forward suspicious SMS and chats as screenshots. RapidOCR runs the PP-OCRv4 Chinese
models that ship inside the ``rapidocr-onnxruntime`` wheel (nothing is fetched at run time), in a
small process pool so that the event loop never waits on it, with a time limit per image and a
bounded queue. Every image is checked before it is decoded (size, format, pixels, frames, shape),
is held only in memory, and is never written anywhere; only the text read from it goes on, through
the same NLU and verdict as typed text.
"""

from __future__ import annotations

import asyncio
import io
import logging
import multiprocessing
import os
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 1440 x 27,000 long screenshot; Pillow refuses twice this as a bomb
MIN_SIDE = 32
MAX_ASPECT = 30.0
LONG_SIDE = 2400  # larger images are scaled down first: OCR time grows with pixels, not with sense
MIN_SCORE = 0.5
PREVIEW_CHARS = 40

# What a resident is told when a picture cannot be read (every answer names 96110).
PROBLEMS = {
    "not_image": "这个文件不是图片，我看不了。",
    "too_big": "这张图片太大了（超过10MB），我看不了。",
    "too_many_pixels": "这张图片太大了，我看不了。",
    "animated": "动图我看不了，请发一张截图。",
    "odd_shape": "这张图片的形状太奇怪了，我看不了。",
    "too_small": "这张图片太小了，看不清。",
    "broken": "这张图片好像坏了，打不开。",
    "no_text": "这张图片里我没找到文字。",
    "busy": "现在看图片的人太多了，请过一会儿再发。",
    "timeout": "这张图片我没能及时看完。",
    "not_received": "这张图片我没能收到。",
}
NOT_RECEIVED = "not_received"  # a channel could not get the picture from its platform (download failed)
ASK_AGAIN = ("请发一张更清楚的截图，或者把短信、聊天的文字直接打出来发给我。"
             "拿不准的，打96110问问；已经转了钱，马上打110。")

_CLOCK = re.compile(r"^\d{1,2}[:：]\d{2}$")
_STATUS_PART = re.compile(r"\d{1,2}[:：]\d{2}|\d{1,3}\s?%|[2345]G\+?|LTE|VoLTE|HD|Wi-?Fi|中国移动|中国联通|中国电信|"
                          r"移动|联通|电信|[\s|.·\-_il!]", re.I)
HEADER, FOOTER = 0.11, 0.9  # the top and bottom bands of a phone screenshot: status, title, input bar
SHORT_HEADER, SHORT_FOOTER = 10, 8  # lines at most this long there are chrome, longer ones message text
_TIMESTAMP = re.compile(r"^(昨天|今天|前天|星期.|周.|\d{4}[年/-]\d{1,2}[月/-]\d{1,2}日?|\d{1,2}月\d{1,2}日|"
                        r"\d{1,2}/\d{1,2})?\s*(上午|下午|中午|晚上|凌晨|早上)?\s*\d{1,2}[:：]\d{2}$")
_INPUT_BAR = re.compile(r"^(发送|按住\s?说话|短信|发消息|输入.{0,6}|文本消息|iMessage|[+＋⊕]|<|＜|〈)$")
_SENDER = re.compile(r"^\+?\d[\d\s-]{4,}$")


@dataclass(frozen=True)
class Box:
    """One line of text the OCR found: where it is, what it says, how sure it is."""

    left: float
    top: float
    right: float
    bottom: float
    text: str
    score: float = 1.0

    @property
    def height(self) -> float:
        return max(1.0, self.bottom - self.top)


@dataclass
class Reading:
    """What a picture says: its message bubbles, the sender shown in the title bar, or a problem."""

    messages: list[str] = field(default_factory=list)
    sender: str | None = None
    problem: str | None = None

    @property
    def text(self) -> str:
        """The text that goes to the NLU: the sender number (a 106 bulk number helps) and the messages."""
        body = "\n".join(self.messages)
        return f"{self.sender}：{body}" if self.sender and _SENDER.match(self.sender) and body else body

    @property
    def preview(self) -> str:
        """The one line the reply starts with, so the resident sees what was read."""
        body = " ".join(self.messages)
        shown = body if len(body) <= PREVIEW_CHARS else body[:PREVIEW_CHARS] + "……"
        return f"我从图片里看到：{shown}"

    @property
    def answer(self) -> str:
        """The answer when nothing could be read (names 96110 and 110)."""
        return f"{PROBLEMS.get(self.problem or '', PROBLEMS['no_text'])}{ASK_AGAIN}"


# -- reading the layout (pure: boxes in, messages out) -----------------------------------------

def _statusish(text: str) -> bool:
    """Status-bar text: clock, battery, signal, network and carrier, with at most two characters left over."""
    return len(_STATUS_PART.sub("", text)) <= 2


def _chrome(box: Box, width: float, height: float) -> bool:
    """The phone's, not the message's: the status bar and short header lines (a subtitle such as
    "广东深圳"), the input bar, timestamps between bubbles, lone symbols."""
    text = box.text.strip()
    if box.top < HEADER * height and (_statusish(text) or len(text) <= SHORT_HEADER):
        return True
    if box.top > FOOTER * height and (_INPUT_BAR.match(text) or len(text) <= SHORT_FOOTER):
        return True
    return bool(_TIMESTAMP.match(text) or _CLOCK.match(text)) or len(text) == 0


def _title(boxes: Sequence[Box], height: float) -> Box | None:
    """The title bar's main text (the SMS sender or the chat contact): the largest non-status line at the top."""
    band = [b for b in boxes if b.top < HEADER * height and not _statusish(b.text.strip())
            and not _INPUT_BAR.match(b.text.strip()) and b.text.strip() not in ("...", "…", "⋯")]
    return max(band, key=lambda b: b.height * (b.right - b.left), default=None)


def _rows(boxes: list[Box]) -> list[list[Box]]:
    """Boxes on the same line (their middles inside each other's height), left to right."""
    rows: list[list[Box]] = []
    for box in sorted(boxes, key=lambda b: (b.top, b.left)):
        middle = (box.top + box.bottom) / 2
        if rows and any(other.top <= middle <= other.bottom for other in rows[-1]):
            rows[-1].append(box)
        else:
            rows.append([box])
    return [sorted(row, key=lambda b: b.left) for row in rows]


def messages_from(boxes: Sequence[Box], width: float, height: float) -> Reading:
    """Put OCR lines back into messages: chrome dropped, lines top to bottom, a wrapped message's lines
    joined (a gap larger than a line's height, or a jump of the left edge, starts a new bubble)."""
    sure = [b for b in boxes if b.score >= MIN_SCORE and b.text.strip()]
    title = _title(sure, height)
    body = [b for b in sure if b is not title and not _chrome(b, width, height)]
    messages: list[str] = []
    last: Box | None = None
    for row in _rows(body):
        text = "".join(b.text.strip() for b in row)
        first = row[0]
        new_bubble = (last is None or first.top - last.bottom > 0.9 * last.height
                      or abs(first.left - last.left) > 0.08 * width)
        if new_bubble:
            messages.append(text)
        else:
            messages[-1] += text
        last = Box(first.left, min(b.top for b in row), max(b.right for b in row), max(b.bottom for b in row), text)
    return Reading(messages=messages, sender=title.text.strip() if title else None,
                   problem=None if messages else "no_text")


# -- the worker side (runs in the pool's processes) --------------------------------------------

class Refused(Exception):
    """An image the bot will not read; ``args[0]`` is a key of ``PROBLEMS``."""


def checked_image(data: bytes) -> Any:
    """The decoded RGB image, or :class:`Refused`: checked before any pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    if len(data) > MAX_IMAGE_BYTES:
        raise Refused("too_big")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise Refused("too_many_pixels") from error
    except UnidentifiedImageError as error:
        raise Refused("not_image") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise Refused("broken") from error
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise Refused("too_many_pixels")
    if getattr(image, "n_frames", 1) > 1:
        raise Refused("animated")
    if min(width, height) < MIN_SIDE:
        raise Refused("too_small")
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise Refused("odd_shape")
    try:
        image = image.convert("RGB")
    except (OSError, ValueError) as error:
        raise Refused("broken") from error
    scale = LONG_SIDE / max(width, height)
    if scale < 1:
        image = image.resize((round(width * scale), round(height * scale)))
    return image


_engine: Any = None


def _engine_here() -> Any:
    """One RapidOCR engine per worker process, loaded on its first image."""
    global _engine
    if _engine is None:
        from rapidocr_onnxruntime import RapidOCR

        _engine = RapidOCR()
    return _engine


def read_in_worker(data: bytes) -> tuple[list[tuple[float, float, float, float, str, float]], int, int, str | None]:
    """OCR of one image (in a pool process): boxes as plain tuples, the image size, or a refusal."""
    try:
        image = checked_image(data)
    except Refused as refused:
        return [], 0, 0, str(refused.args[0])
    import numpy

    found, _ = _engine_here()(numpy.asarray(image))
    boxes = []
    for points, text, score in found or ():
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        boxes.append((min(xs), min(ys), max(xs), max(ys), str(text), float(score)))
    return boxes, image.size[0], image.size[1], None


# -- the pool (runs in the bot's process) -------------------------------------------------------

def _workers() -> int:
    return max(1, int(os.environ.get("FRAUDBOT_OCR_WORKERS") or 1))


def _time_limit() -> float:
    return float(os.environ.get("FRAUDBOT_OCR_TIMEOUT") or 20)


class Reader:
    """A bounded pool of OCR processes: ``await reader.read(data)`` never blocks the event loop,
    never waits longer than the time limit, and refuses at once when the queue is full."""

    def __init__(self, workers: int | None = None, time_limit: float | None = None, queue: int | None = None) -> None:
        self.workers = workers or _workers()
        self.time_limit = time_limit or _time_limit()
        self._slots = asyncio.Semaphore(queue or self.workers * 4)
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawned, not forked: the bot's process runs threads (Sanic, TensorFlow) that a fork would copy mid-lock
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def _restart(self) -> None:
        """Stop the workers (one is stuck on an image past its time, or died) so the next image gets a fresh one."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        # The pool's feeder thread may be blocked writing an image into the pipe of a worker that is
        # now gone; without this, the interpreter waits for that thread forever when it exits.
        call_queue = getattr(pool, "_call_queue", None)
        if call_queue is not None:
            call_queue.cancel_join_thread()
        pool.shutdown(wait=False, cancel_futures=True)

    async def read(self, data: bytes) -> Reading:
        if len(data) > MAX_IMAGE_BYTES:
            return Reading(problem="too_big")
        if self._slots.locked():
            return Reading(problem="busy")
        async with self._slots:
            loop = asyncio.get_running_loop()
            try:
                boxes, width, height, problem = await asyncio.wait_for(
                    loop.run_in_executor(self._executor(), read_in_worker, data), self.time_limit)
            except asyncio.TimeoutError:
                logger.warning("OCR of a %d-byte image took over %.0f s; workers restarted", len(data), self.time_limit)
                self._restart()
                return Reading(problem="timeout")
            except BrokenProcessPool:
                logger.error("an OCR worker died on a %d-byte image; workers restarted", len(data))
                self._restart()
                return Reading(problem="broken")
        if problem:
            return Reading(problem=problem)
        return messages_from([Box(*box) for box in boxes], width, height)

    def close(self) -> None:
        self._restart()


_reader: Reader | None = None


def reader() -> Reader:
    """This process's reader (created on first use: most messages are text)."""
    global _reader
    if _reader is None:
        _reader = Reader()
    return _reader
