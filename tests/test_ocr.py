"""Screenshots (issue 12): the real OCR on phone screenshots drawn in the test, the layout reader,
every kind of bad image, and the REST channel end to end."""

from __future__ import annotations

import asyncio
import base64
import difflib
import io
import json
import re
import sqlite3
import struct
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from bot.ocr import MAX_IMAGE_BYTES, Box, Reader, messages_from
from tests.screenshots import Screenshot, chat_screenshot, sample_messages, screenshot_png_of_size, sms_screenshot

SCAM_SMS = "【ETC服务】您的ETC认证已过期，请点击 http://etc-rz.top 重新认证，否则将停用"
MIN_MEAN_ACCURACY, MIN_ACCURACY = 0.95, 0.85


def accuracy(truth: str, read: str) -> float:
    """Character accuracy: 1 - edit operations / characters of the truth (whitespace ignored)."""
    a, b = re.sub(r"\s+", "", truth), re.sub(r"\s+", "", read)
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return 1 - sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal") / max(1, len(a))


def screenshots() -> list[Screenshot]:
    """Five SMS and five chat screenshots of the sample messages, each with its own chrome (seed)."""
    texts = sample_messages()
    sms = [sms_screenshot(texts[i * 2:i * 2 + 2], seed=i) for i in range(5)]
    chats = [chat_screenshot([(texts[20 + i * 3 + k], k == 1) for k in range(3)], seed=10 + i) for i in range(5)]
    return sms + chats


@pytest.fixture(scope="module")
def reader() -> Iterator[Reader]:
    reading = Reader(workers=2, time_limit=60, queue=32)
    yield reading
    reading.close()


def read_all(reader: Reader, images: list[bytes]) -> list:
    async def run() -> list:
        return list(await asyncio.gather(*(reader.read(image) for image in images)))
    return asyncio.run(run())


# -- the layout, without OCR --------------------------------------------------------------------

def test_chrome_is_dropped_and_wrapped_lines_join_into_messages() -> None:
    h = 2400.0
    boxes = [Box(40, 20, 140, 64, "14:22"), Box(800, 20, 1040, 64, "中国移动 5G 87%"),
             Box(40, 130, 80, 175, "<"), Box(300, 125, 600, 170, "106902512345"),
             Box(400, 190, 560, 220, "广东深圳"), Box(380, 300, 700, 340, "昨天 21:05"),
             Box(60, 400, 900, 450, "【ETC服务】您的ETC认证已过期，请"), Box(60, 460, 880, 510, "点击 http://etc-rz.top"),
             Box(60, 640, 700, 690, "【中国银行】您尾号1234的卡消费"), Box(60, 2250, 200, 2300, "短信"),
             Box(900, 2250, 1040, 2300, "发送"), Box(60, 800, 300, 850, "看不清", score=0.2)]
    reading = messages_from(boxes, 1080, h)
    assert reading.sender == "106902512345"
    assert reading.messages == ["【ETC服务】您的ETC认证已过期，请点击 http://etc-rz.top",
                                "【中国银行】您尾号1234的卡消费"]
    assert reading.text.startswith("106902512345：【ETC服务】")
    assert reading.preview.startswith("我从图片里看到：【ETC服务】") and len(reading.preview) <= 8 + 40 + 2


def test_a_picture_without_text_asks_again_and_names_the_lines() -> None:
    reading = messages_from([Box(40, 20, 140, 64, "14:22")], 1080, 2400)
    assert reading.problem == "no_text" and "96110" in reading.answer and "110" in reading.answer


# -- the real OCR -------------------------------------------------------------------------------

def test_ocr_reads_sms_and_chat_screenshots(reader: Reader) -> None:
    shots = screenshots()
    readings = read_all(reader, [shot.png for shot in shots])
    scores = [accuracy("\n".join(shot.messages), "\n".join(reading.messages))
              for shot, reading in zip(shots, readings, strict=True)]
    assert min(scores) >= MIN_ACCURACY, scores
    assert sum(scores) / len(scores) >= MIN_MEAN_ACCURACY, scores
    for shot, reading in zip(shots[:5], readings[:5], strict=True):  # the SMS sender comes from the title bar
        assert reading.sender == shot.sender
    for shot, reading in zip(shots, readings, strict=True):  # no status bar or input bar read as message
        assert not any(chrome in reading.messages for chrome in shot.chrome if len(chrome) > 1)


@pytest.mark.model
def test_a_screenshot_gets_the_same_verdict_as_its_text(reader: Reader, trained_model: Path) -> None:
    from bot.nlu_client import Classifier

    shots = screenshots()
    readings = read_all(reader, [shot.png for shot in shots])

    async def verdicts() -> list[tuple[str, str]]:
        classifier = await Classifier.load(trained_model)
        pairs = []
        for shot, reading in zip(shots, readings, strict=True):
            typed = await classifier.classify("\n".join(shot.messages))
            seen = await classifier.classify(reading.text)
            pairs.append((typed["risk"], seen["risk"]))
        return pairs

    pairs = asyncio.run(verdicts())
    same = sum(typed == seen for typed, seen in pairs)
    assert same >= len(pairs) - 1, pairs


# -- bad images ---------------------------------------------------------------------------------

def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels in its header (a decompression bomb's disguise)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = b"IDAT" + zlib.compress(b"\0" * 64)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat)))


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (200, 200), colour) for colour in ("white", "black")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    return out.getvalue()


BAD_IMAGES = {
    "not_image": b"%PDF-1.4 this is not a picture",
    "broken": sms_screenshot([SCAM_SMS]).png[:3000],
    "too_many_pixels": png_header(60_000, 60_000),
    "too_big": b"\x89PNG" + b"\0" * (MAX_IMAGE_BYTES + 1),
    "animated": animated_gif(),
    "too_small": screenshot_png_of_size(1, 1),
    "odd_shape": screenshot_png_of_size(40, 4000),
}


def test_every_bad_image_gets_its_answer_and_the_pool_keeps_working(reader: Reader) -> None:
    readings = read_all(reader, list(BAD_IMAGES.values()) + [b""])
    assert [r.problem for r in readings] == [*BAD_IMAGES, "not_image"]
    for reading in readings:
        assert "96110" in reading.answer and "110" in reading.answer.replace("96110", "")
    assert read_all(reader, [sms_screenshot([SCAM_SMS]).png])[0].messages  # still reads


def test_an_image_past_its_time_is_stopped_and_the_next_one_is_read() -> None:
    slow = Reader(workers=1, time_limit=0.05)
    try:
        assert read_all(slow, [sms_screenshot([SCAM_SMS]).png])[0].problem == "timeout"
        slow.time_limit = 60
        assert read_all(slow, [sms_screenshot([SCAM_SMS]).png])[0].messages
    finally:
        slow.close()


def test_a_full_queue_answers_busy_at_once() -> None:
    small = Reader(workers=1, time_limit=60, queue=1)
    try:
        problems = [r.problem for r in read_all(small, [sms_screenshot([SCAM_SMS], seed=s).png for s in (1, 2)])]
        assert problems.count("busy") == 1 and problems.count(None) == 1
    finally:
        small.close()


# -- through the REST channel -------------------------------------------------------------------

def post(server: str, body: dict) -> list[dict]:
    request = urllib.request.Request(f"{server}/webhooks/rest/webhook", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def test_rest_reads_a_screenshot_and_consults_on_its_text(rasa_server: str) -> None:
    png = sms_screenshot([SCAM_SMS]).png
    replies = post(rasa_server, {"sender": uuid.uuid4().hex, "image": base64.b64encode(png).decode()})
    assert replies[0]["text"].startswith("我从图片里看到：【ETC服务】")
    assert "高风险" in replies[1]["text"] and "etc-rz.top" in "\n".join(r["text"] for r in replies)
    as_url = "data:image/png;base64," + base64.b64encode(png).decode()
    replies = post(rasa_server, {"sender": uuid.uuid4().hex, "message": as_url})
    assert replies[0]["text"].startswith("我从图片里看到") and "高风险" in replies[1]["text"]


@pytest.mark.parametrize(("image", "words"), [
    (base64.b64encode(b"just some text").decode(), "不是图片"),
    ("@@ not base64 @@", "不是图片"),
    ("A" * (MAX_IMAGE_BYTES * 4 // 3 + 100), "太大"),
    (12345, "不是图片"),
    (base64.b64encode(BAD_IMAGES["too_many_pixels"]).decode(), "太大"),
])
def test_rest_bad_images_get_a_clear_answer(rasa_server: str, image: object, words: str) -> None:
    replies = post(rasa_server, {"sender": uuid.uuid4().hex, "image": image})
    text = "\n".join(r["text"] for r in replies)
    assert words in text and "96110" in text
    assert "反诈助手" in post(rasa_server, {"sender": uuid.uuid4().hex, "message": "你好"})[0]["text"]  # still up


def test_images_are_not_kept_only_what_was_read(rasa_server: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    sender = uuid.uuid4().hex
    png = sms_screenshot([SCAM_SMS]).png
    post(rasa_server, {"sender": sender, "image": base64.b64encode(png).decode()})
    stores = list(tmp_path_factory.getbasetemp().glob("rasa*/rasa-*.db"))
    assert stores
    for store in stores:
        with sqlite3.connect(store) as db:
            rows = [row[0] for row in db.execute("select data from events")]
        assert not any("iVBOR" in row for row in rows)  # no PNG in base64 anywhere
