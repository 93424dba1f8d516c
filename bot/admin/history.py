"""Every version put live: who, when, why, the diff, and the whole set of files to restore it.

Files are kept compressed (the full set is a few hundred kB of YAML, about 60 kB packed),
so any version can be restored exactly, whatever happened between.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, DateTime, Integer, LargeBinary, String, Table, Text, select

from bot.admin.content import Files
from bot.store import engine, metadata, now

versions = Table(
    "content_versions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("author", String(128), nullable=False),
    Column("summary", String(500), nullable=False, default=""),
    Column("how", String(32), nullable=False),  # "initial", "runtime" (no retraining), "retrained"
    Column("changed", Text, nullable=False, default=""),  # changed paths, one per line
    Column("diff", Text, nullable=False, default=""),
    Column("files", LargeBinary, nullable=False),
)


@dataclass(frozen=True)
class Version:
    id: int
    at: datetime
    author: str
    summary: str
    how: str
    changed: list[str]
    diff: str


class History:
    def __init__(self, url: str | None = None) -> None:
        self._engine = engine(url)

    def record(self, author: str, summary: str, how: str, changed: list[str], diff: str, files: Files) -> int:
        packed = zlib.compress(json.dumps(files, ensure_ascii=False).encode(), 9)
        with self._engine.begin() as db:
            return db.execute(versions.insert().values(
                at=now(), author=author, summary=summary[:500], how=how, changed="\n".join(changed), diff=diff,
                files=packed)).inserted_primary_key[0]

    def ensure_initial(self, files: Files) -> None:
        """Record the files as they were when the admin first started, so they can be restored."""
        with self._engine.connect() as db:
            if db.execute(select(versions.c.id).limit(1)).first():
                return
        self.record("system", "启用管理后台时的版本", "initial", [], "", files)

    def list(self, limit: int = 100) -> list[Version]:
        with self._engine.connect() as db:
            rows = db.execute(select(versions.c.id, versions.c.at, versions.c.author, versions.c.summary,
                                     versions.c.how, versions.c.changed, versions.c.diff)
                              .order_by(versions.c.id.desc()).limit(limit)).all()
        return [Version(r.id, r.at, r.author, r.summary, r.how, r.changed.split("\n") if r.changed else [], r.diff)
                for r in rows]

    def get(self, version_id: int) -> tuple[Version, Files] | None:
        with self._engine.connect() as db:
            r = db.execute(select(versions).where(versions.c.id == version_id)).first()
        if r is None:
            return None
        version = Version(r.id, r.at, r.author, r.summary, r.how, r.changed.split("\n") if r.changed else [], r.diff)
        return version, json.loads(zlib.decompress(r.files))
