"""Named write locks held until the transaction ends, so racing writers (threads, gunicorn workers, CLI runs)
take turns: the second ingest of the same text sees the first one's note instead of adding a copy.

One row per name in `write_locks`; updating it takes SQLite's write lock (waiting up to the busy timeout) and
PostgreSQL's row lock. It must be the first statement of the transaction: in SQLite's WAL mode a transaction
that read before it writes cannot wait for another writer.
"""
from __future__ import annotations

from sqlalchemy import Integer, String, column, select, table, text

NAMES = ("ingest", "roadmap", "themes")  # each a row of write_locks (migrations 0015, 0021)
_WRITE_LOCKS = table("write_locks", column("name", String), column("turns", Integer))


def hold(session, name: str) -> None:
    if name not in NAMES:
        raise ValueError(f"unknown write lock {name!r}")
    session.execute(text("UPDATE write_locks SET turns = turns + 1 WHERE name = :name"), {"name": name})


def turns(name: str):
    """A scalar subquery: how many times the lock was taken. Every write under it moves this, which counts and
    highest ids miss (a row deleted and another added under SQLite's reused id)."""
    return select(_WRITE_LOCKS.c.turns).where(_WRITE_LOCKS.c.name == name).scalar_subquery()
