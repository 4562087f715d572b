"""Alembic's environment. Database.upgrade passes the connection to migrate on (config.attributes["connection"]:
on PostgreSQL it holds the migration lock, in its transaction) or its engine (config.attributes["engine"]); a
bare `alembic` run uses FEEDBACK_DATABASE_URL. Offline (`--sql`), the SQL is written out instead of run."""
from contextlib import contextmanager

from alembic import context
from sqlalchemy import event

from service.models import Base

config = context.config
target_metadata = Base.metadata


def _configured_url() -> str:
    from service.config import Config

    return Config().DATABASE_URL


def run_migrations_offline() -> None:
    from service.db import driver_url

    engine = config.attributes.get("engine")
    url = engine.url if engine is not None else driver_url(_configured_url())
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _migrate(connection) -> None:
    # A connection already in a transaction (Database.upgrade on PostgreSQL) keeps it: Alembic begins none of its
    # own, and the caller's commit ends the lock and the migrations together.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with _sqlite_ddl_in_transactions(connection), context.begin_transaction():
        context.run_migrations()


@contextmanager
def _sqlite_ddl_in_transactions(connection):
    """Each migration on SQLite all or nothing, its DDL included. Python's sqlite3 opens a transaction only before
    INSERT, UPDATE or DELETE, so CREATE TABLE and CREATE INDEX committed at once: a migration that failed part way
    (0024 after its table, before its indexes) left the table behind, unstamped, and every later start failed on
    "table roadmap_rejections already exists". Here every transaction Alembic begins is an explicit BEGIN IMMEDIATE
    (which also takes the write lock before the migration reads the schema); an autocommit block (PRAGMA
    foreign_keys in sqlite_rebuild) begins none."""
    if connection.dialect.name != "sqlite":
        yield
        return

    def begin_immediate(conn) -> None:
        if conn.connection.dbapi_connection.isolation_level is not None:  # None: Alembic's autocommit block
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(connection, "begin", begin_immediate)
    try:
        yield
    finally:
        event.remove(connection, "begin", begin_immediate)


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = config.attributes.get("engine")
    if engine is None:
        from service.db import make_engine

        engine = make_engine(_configured_url())
    with engine.connect() as connection:
        _migrate(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
