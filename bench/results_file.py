"""Where benchmarks write their figures: bench/results/<name>.json (not committed)."""

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write(name: str, result: dict) -> Path:
    """Print ``result`` as one JSON line and store it as ``bench/results/<name>.json``."""
    print(json.dumps(result, ensure_ascii=False))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
