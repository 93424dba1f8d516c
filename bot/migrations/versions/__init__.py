"""The revisions of the project's store, numbered 0001, 0002, … (Alembic loads them by path)."""
