"""Rebuild a SQLite table with or without AUTOINCREMENT, every row, index and reference kept (migrations 0019,
0022, 0023).

Without AUTOINCREMENT, SQLite hands the newest row's number out again once that row is deleted; a number shown in a
page address, a link or an audit entry then names an unrelated row. SQLite cannot add AUTOINCREMENT in place, so the
table is rebuilt. PostgreSQL's SERIAL never reuses a number: nothing to do there.

Rebuilding a parent table means dropping it, and with foreign keys on SQLite's DROP TABLE first deletes every row,
cascading to its children. So foreign keys are switched off around the rebuild (the pragma is ignored inside a
transaction, hence the autocommit blocks), the references into the table are checked before the rebuild is
committed, and the connection gets its setting back. A failure rolls everything back.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def rebuild(table: str, *, autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    foreign_keys = bool(bind.exec_driver_sql("PRAGMA foreign_keys").scalar())
    _set_foreign_keys(bind, False, table)
    try:
        # One write transaction from the check to the rename (Python's sqlite3 would run the CREATE TABLE on its
        # own), so a second process migrating at the same time waits here and then finds the table rebuilt. env.py
        # has begun it already (BEGIN IMMEDIATE after the autocommit block); a caller without env.py has not.
        if not bind.connection.dbapi_connection.in_transaction:
            bind.exec_driver_sql("BEGIN IMMEDIATE")
        if has_autoincrement(bind, table) != autoincrement:
            orphans = _references_to_missing(bind, table)  # (none, unless made with foreign keys off)
            with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
                pass
            broken = sorted(map(str, _references_to_missing(bind, table) - orphans))
            if broken:
                raise RuntimeError(f"rebuilding {table} broke {len(broken)} references to it, e.g. {broken[0]}")
    except BaseException:
        # Closing the connection rolls the rebuild back, and the pool never hands out one with foreign keys off.
        bind.invalidate()
        raise
    if foreign_keys:
        _set_foreign_keys(bind, True, table)  # commits the rebuild first: the pragma only works between transactions


def has_autoincrement(bind, table: str) -> bool:
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
                       {"name": table}).scalar()
    return "AUTOINCREMENT" in (sql or "").upper()


def _references_to_missing(bind, table: str) -> set[tuple]:
    return {tuple(row) for row in bind.exec_driver_sql("PRAGMA foreign_key_check") if row[2] == table}


def _set_foreign_keys(bind, on: bool, table: str) -> None:
    with op.get_context().autocommit_block():
        op.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    if bool(bind.exec_driver_sql("PRAGMA foreign_keys").scalar()) != on:
        raise RuntimeError(f"could not switch SQLite foreign keys {'on' if on else 'off'} to rebuild {table}")
