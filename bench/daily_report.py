"""每日研判 generation time with 1,000,000 consultations in the tracker store, on SQLite and on PostgreSQL.

    .venv/bin/python bench/daily_report.py [--consultations N] [--no-postgres]

Fills a tracker store's ``events`` table (Rasa 3.6's columns) with N consultations spread over the 29 days
the report reads (16 scenarios, 20 areas, one in ten "money already sent"), then times, for the last day:

1. ``from events``: the report read from the events alone (nothing rolled up yet: the first report after a
   fresh install, or a deployment without the daily job);
2. ``roll-up``: the daily job's roll-up of the 28 finished days into ``consultation_counts``;
3. ``rolled up``: the report again, the 28 days from the counts and only the last day from the events:
   what the daily job and the admin page do every day.

The new-scripts part is left out here (``scripts=False``): its cost depends on the week's texts, not on the
number of rows. SQLite and PostgreSQL (bot.fleet.Postgres, a throw-away cluster) are filled with the same
rows. Writes bench/results/daily_report.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
from sqlalchemy import create_engine, text  # noqa: E402

from bench.results_file import write  # noqa: E402
from bot import daily_report, migrations, retention  # noqa: E402
from bot.fleet import EngineMissing, Postgres  # noqa: E402
from nlu.scenario_ids import SCENARIO_IDS  # noqa: E402

DAY = date(2026, 11, 29)
REGIONS = [f"区{n:02d}" for n in range(20)]
SCENARIOS = [s for s in SCENARIO_IDS if s != "none"][:16]
CHUNK = 50_000


def rows(count: int, seed: int = 7) -> list[tuple[str, str, float, str, str]]:
    """(sender, type, timestamp, intent, data) of ``count`` consultations over the 29 days up to DAY."""
    rng = random.Random(seed)
    start = datetime.combine(DAY - timedelta(days=28), clock(0), retention.CHINA).timestamp()
    made = []
    for n in range(count):
        data = json.dumps({"text": "…", "parse_data": {"scenario": {"name": rng.choice(SCENARIOS)}},
                           "metadata": {"region": rng.choice(REGIONS)}}, ensure_ascii=False)
        intent = "money_already_sent" if rng.random() < 0.1 else "consult"
        made.append((f"s{n % 50_000}", "user", start + rng.random() * 29 * 86400, intent, data))
    return made


def fill_sqlite(url: str, made: list[tuple[str, str, float, str, str]]) -> None:
    engine = create_engine(url, future=True)
    with engine.begin() as db:
        db.execute(text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, "
                        "timestamp REAL, intent_name TEXT, action_name TEXT, data TEXT)"))
        db.execute(text("CREATE INDEX ix_events_sender_id ON events (sender_id)"))  # as Rasa creates it
        for first in range(0, len(made), CHUNK):
            db.execute(text("INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) "
                            "VALUES (:s, :t, :m, :i, :d)"),
                       [dict(zip("stmid", row, strict=True)) for row in made[first:first + CHUNK]])
    engine.dispose()


def fill_postgres(url: str, made: list[tuple[str, str, float, str, str]]) -> None:
    engine = create_engine(url, future=True)
    with engine.begin() as db:
        db.execute(text("CREATE TABLE events (id SERIAL PRIMARY KEY, sender_id VARCHAR(255), type_name VARCHAR(255), "
                        "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"))
        db.execute(text("CREATE INDEX ix_events_sender_id ON events (sender_id)"))
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for first in range(0, len(made), CHUNK):
            buffer = io.StringIO()
            for sender, kind, moment, intent, data in made[first:first + CHUNK]:
                escaped = data.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                buffer.write(f"{sender}\t{kind}\t{moment!r}\t{intent}\t{escaped}\n")
            buffer.seek(0)
            cursor.copy_expert("COPY events (sender_id, type_name, timestamp, intent_name, data) FROM STDIN", buffer)
        raw.commit()
    finally:
        raw.close()
    engine.dispose()


def measure(tracker: str, store: str) -> dict[str, float]:
    migrations.upgrade(store)
    started = time.perf_counter()
    cold = daily_report.build(DAY, tracker, store, scripts=False)
    from_events = time.perf_counter() - started
    started = time.perf_counter()
    rolled = retention.run(tracker, store, days=3650, today=DAY).rolled
    roll_up = time.perf_counter() - started
    started = time.perf_counter()
    warm = daily_report.build(DAY, tracker, store, scripts=False)
    rolled_up = time.perf_counter() - started
    assert warm == cold, "the rolled-up report must equal the one read from the events"
    return {"from_events_s": round(from_events, 2), "roll_up_s": round(roll_up, 2), "rolled_days": len(rolled),
            "rolled_up_s": round(rolled_up, 2), "rows": len(cold.rows), "total_on_the_day": cold.total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--consultations", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="fraudbot-bench-"))
    directory.chmod(0o755)
    results: dict[str, object] = {"consultations": args.consultations}
    try:
        made = rows(args.consultations)
        started = time.perf_counter()
        fill_sqlite(f"sqlite:///{directory / 'rasa.db'}", made)
        print(f"SQLite filled with {len(made):,} consultations in {time.perf_counter() - started:.1f} s")
        results["sqlite"] = measure(f"sqlite:///{directory / 'rasa.db'}", f"sqlite:///{directory / 'store.db'}")
        print("SQLite:", results["sqlite"])
        if not args.no_postgres:
            server = Postgres(directory / "postgres", durable=False)
            try:
                server.start()
            except EngineMissing as missing:
                print(f"PostgreSQL skipped: {missing}")
            else:
                try:
                    tracker, store = server.create_database("rasa"), server.create_database("fraudbot")
                    started = time.perf_counter()
                    fill_postgres(tracker, made)
                    print(f"PostgreSQL filled in {time.perf_counter() - started:.1f} s")
                    results["postgresql"] = measure(tracker, store)
                    print("PostgreSQL:", results["postgresql"])
                finally:
                    server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    write("daily_report", results)


if __name__ == "__main__":
    main()
