"""Alembic's environment for the project's store: one locked transaction per run, SQLite or PostgreSQL.

Alembic executes this file for ``upgrade`` and ``downgrade`` (see :mod:`bot.migrations`); the
URL comes from the configuration's ``attributes``. Everything happens in one transaction that
first takes the store's write lock, so two processes upgrading at once run one after the other,
and a failed revision leaves the store as it was (both engines have transactional DDL).
"""

from __future__ import annotations

from alembic import context
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Connection

from bot.migrations import BASELINE, migration_engine

# Any constant: PostgreSQL's advisory lock taken by every migration run on the same database.
POSTGRES_LOCK = 961_100_110


def adopt_previous_release(connection: Connection, migration: MigrationContext) -> None:
    """A store made by ``create_all`` before migrations existed: complete it and stamp it as the baseline.

    That release created only the tables whose modules a process had imported, so a store may
    hold some baseline tables and lack others: the missing ones are created as revision 0001
    defines them, then the store is stamped 0001 and the later revisions run as on any store.
    An empty database has nothing to adopt: it gets every revision.
    """
    if migration.get_current_revision() is not None:
        return
    baseline = context.script.get_revision(BASELINE).module
    existing = set(inspect(connection).get_table_names())
    if not existing & set(baseline.TABLES):
        return
    baseline.create_tables(Operations(migration), [name for name in baseline.TABLES if name not in existing])
    migration.stamp(context.script, BASELINE)


def target_metadata() -> MetaData | None:
    """The code's tables, for autogenerate only (:func:`bot.migrations.revision`). An upgrade runs the
    revisions alone, so a process readying its store does not import every module that has a table."""
    if not context.config.attributes.get("autogenerate"):
        return None
    from bot.migrations.target import metadata

    return metadata


def run() -> None:
    if context.is_offline_mode():
        raise SystemExit("the store's migrations run against a database (no --sql mode)")
    engine = migration_engine(context.config.attributes["url"])
    try:
        with engine.connect() as connection, connection.begin():
            sqlite = connection.dialect.name == "sqlite"  # sqlite: BEGIN IMMEDIATE already holds the write lock
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({POSTGRES_LOCK})")
            # render_as_batch: SQLite cannot ALTER most things, so later revisions copy and swap tables
            context.configure(connection=connection, target_metadata=target_metadata(), render_as_batch=sqlite,
                              transactional_ddl=True)  # sqlite too: BEGIN IMMEDIATE makes its DDL transactional
            adopt_previous_release(connection, context.get_context())
            with context.begin_transaction():  # inside ours: alembic sees the external transaction
                context.run_migrations()
    finally:
        engine.dispose()


run()
