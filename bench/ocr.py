"""Reading screenshots: seconds per 1080x2400 screenshot, the OCR pool's memory, character accuracy.

    .venv/bin/python -m bench.ocr [COUNT]

Draws COUNT (default 60) phone screenshots with tests/screenshots.py, half SMS and half chat,
each with its own status bar, title and layout (seed), and reads them one at a time through the
bot's own reader (bot.ocr.Reader, one worker process, the models from the rapidocr-onnxruntime
wheel). Prints p50/p95 seconds per image against the target (p50 ≤ 1.5 s), the worker's
resident memory, and the character accuracy of the messages read (target ≥ 0.95), and writes
bench/results/ocr.json. The first image, which loads the models, is timed apart.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results_file import write  # noqa: E402
from bot.ocr import Reader  # noqa: E402
from tests.screenshots import Screenshot, chat_screenshot, sample_messages, sms_screenshot  # noqa: E402
from tests.test_ocr import accuracy  # noqa: E402

TARGET_P50, TARGET_ACCURACY = 1.5, 0.95


def screenshots(count: int) -> list[Screenshot]:
    texts = sample_messages()
    shots = []
    for i in range(count):
        start = (i * 3) % len(texts)
        if i % 2:
            shots.append(chat_screenshot([(texts[(start + k) % len(texts)], k == 1) for k in range(3)], seed=i))
        else:
            shots.append(sms_screenshot([texts[(start + k) % len(texts)] for k in range(2)], seed=i))
    return shots


def worker_rss_mb(reader: Reader) -> float:
    """Resident memory of the pool's processes (VmRSS), in MB."""
    total = 0
    for process in getattr(reader._pool, "_processes", {}).values():
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


async def run(count: int) -> dict:
    reader = Reader(workers=1, time_limit=120)
    shots = screenshots(count)
    started = time.perf_counter()
    await reader.read(shots[0].png)
    first = time.perf_counter() - started
    seconds, scores = [], []
    for shot in shots:
        started = time.perf_counter()
        reading = await reader.read(shot.png)
        seconds.append(time.perf_counter() - started)
        scores.append(accuracy("\n".join(shot.messages), "\n".join(reading.messages)))
    rss = worker_rss_mb(reader)
    reader.close()
    seconds.sort()
    return {
        "screenshots": count, "size": "1080x2400",
        "first_image_s": round(first, 2),
        "p50_s": round(statistics.median(seconds), 3),
        "p95_s": round(seconds[int(0.95 * (len(seconds) - 1))], 3),
        "worker_rss_mb": round(rss),
        "char_accuracy_mean": round(statistics.mean(scores), 4),
        "char_accuracy_min": round(min(scores), 4),
        "target_p50_s": TARGET_P50, "target_accuracy": TARGET_ACCURACY,
    }


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    result = asyncio.run(run(count))
    write("ocr", result)
    print(f"p50 {result['p50_s']} s (target ≤ {TARGET_P50}), p95 {result['p95_s']} s, "
          f"worker {result['worker_rss_mb']} MB, accuracy {result['char_accuracy_mean']} (target ≥ {TARGET_ACCURACY})")


if __name__ == "__main__":
    main()
