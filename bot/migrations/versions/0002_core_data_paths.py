"""The domain data moved from ``actions/data/`` to ``core/data/``: rename it in the admin's history.

Each row of ``content_versions`` keeps the whole set of files of a published version
(zlib-compressed JSON ``{path: text}``) and the paths it changed (one per line). Restoring a
version writes those paths back, so a version published before the move would restore its
domain data to ``actions/data/``, where nothing reads it any more. The recorded diff is left as it
was: it is the record of what was done then. Downgrade renames back.
"""

from __future__ import annotations

import json
import zlib

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OLD, NEW = "actions/data/", "core/data/"

# The table as this revision knows it, independent of what bot/admin/history.py says later.
versions = sa.table(
    "content_versions",
    sa.column("id", sa.Integer),
    sa.column("changed", sa.Text),
    sa.column("files", sa.LargeBinary),
)


def _moved(path: str, old: str, new: str) -> str:
    return new + path[len(old):] if path.startswith(old) else path


def rename_paths(old: str, new: str) -> None:
    """Rewrite every version's file paths and changed list from ``old`` to ``new``, one row at a time
    (the full set of files is a few hundred kB per version once unpacked)."""
    db = op.get_bind()
    for (version_id,) in db.execute(sa.select(versions.c.id).order_by(versions.c.id)).all():
        row = db.execute(sa.select(versions.c.changed, versions.c.files).where(versions.c.id == version_id)).one()
        files = json.loads(zlib.decompress(row.files))
        renamed = {_moved(path, old, new): text for path, text in files.items()}
        changed = "\n".join(_moved(path, old, new) for path in row.changed.split("\n")) if row.changed else ""
        if renamed == files and changed == row.changed:
            continue
        packed = zlib.compress(json.dumps(renamed, ensure_ascii=False).encode(), 9)  # as History.record packs
        db.execute(versions.update().where(versions.c.id == version_id).values(changed=changed, files=packed))


def upgrade() -> None:
    rename_paths(OLD, NEW)


def downgrade() -> None:
    rename_paths(NEW, OLD)
