"""Migrations on PostgreSQL run under a database advisory lock: servers, workers and CLI commands on several hosts
starting together against one database take turns, and the later ones find the schema at the heads. Each test has
its own throwaway database (pg_url), which is also the advisory lock's scope, so tests never wait on each other;
they skip with a reason where no PostgreSQL server is reachable."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import text

from service.db import MIGRATION_LOCK_KEY, Database

from ..integration.test_postgres import pg_url  # noqa: F401 - the PostgreSQL fixture (skips with no server)

DEADLINE = 60  # seconds: only a broken lock gets near it, the tests wait for events on the server, not for time


def _heads(db: Database) -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(db.alembic_config()).get_heads())


def _version_rows(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return sorted(conn.scalars(text("SELECT version_num FROM alembic_version")))


def _has_table(db: Database, name: str) -> bool:
    with db.engine.connect() as conn:
        return conn.scalar(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name})


def _waiting_for_the_lock(db: Database) -> int:
    """Sessions of this database blocked on the migration lock (pg_locks splits a bigint key in two halves)."""
    unsigned = MIGRATION_LOCK_KEY & 0xFFFF_FFFF_FFFF_FFFF
    with db.engine.connect() as conn:
        return conn.scalar(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1 "
            "AND classid::bigint = :high AND objid::bigint = :low "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
            {"high": unsigned >> 32, "low": unsigned & 0xFFFF_FFFF})


def _wait_until(condition, what: str) -> None:
    """Until the server shows the state (a session registering its wait takes a round trip); fails naming it."""
    end = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"after {DEADLINE} s: {what}")
        time.sleep(0.02)


def _upgrade_in_threads(dbs: list[Database]) -> tuple[list[threading.Thread], list[BaseException]]:
    """An upgrade per database object at once, each with its own engine (as separate processes or hosts have)."""
    errors: list[BaseException] = []

    def upgrade(db: Database) -> None:
        try:
            db.upgrade()
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=upgrade, args=(db,), name=f"upgrade-{i}") for i, db in enumerate(dbs)]
    for thread in threads:
        thread.start()
    return threads, errors


@pytest.fixture
def databases(pg_url):  # noqa: F811
    """Database objects on the test's database, made by `make()`, disposed of at the end."""
    made: list[Database] = []

    def make(count: int = 1) -> list[Database]:
        made.extend(Database(pg_url) for _ in range(count))
        return made[-count:]

    yield make
    for db in made:
        db.dispose()


@pytest.mark.postgres
def test_an_upgrade_waits_while_another_session_holds_the_migration_lock(databases):
    holder, probe, upgrading = databases(3)
    with holder.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        conn.commit()  # a session-level lock, held until unlocked whatever the transaction does
        threads, errors = _upgrade_in_threads([upgrading])
        _wait_until(lambda: _waiting_for_the_lock(probe) == 1, "the upgrade never waited for the lock")
        assert not _has_table(probe, "alembic_version") and not _has_table(probe, "notes")  # nothing done yet
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        conn.commit()
    threads[0].join()
    assert errors == []
    assert _version_rows(probe) == sorted(_heads(probe)) and _has_table(probe, "notes")


@pytest.mark.postgres
def test_two_processes_upgrading_a_fresh_database_at_once_both_succeed_once(databases, pg_url):  # noqa: F811
    """Two processes, as two hosts would be, are made to meet: both queue on the lock while the test holds it, then
    the test lets go. Without the lock one of them failed on a duplicate table or alembic_version row, or left the
    schema half done."""
    holder, probe = databases(2)
    upgrade = f"from service.db import Database; Database({pg_url!r}).upgrade()"
    with holder.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        conn.commit()
        processes = [subprocess.Popen([sys.executable, "-c", upgrade], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for _ in range(2)]
        try:
            _wait_until(lambda: _waiting_for_the_lock(probe) == 2 or any(p.poll() is not None for p in processes),
                        "the two upgrades never both waited for the lock")
        finally:  # whatever happened, the processes can finish
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            conn.commit()
    for process in processes:
        _out, err = process.communicate(timeout=DEADLINE)
        assert process.returncode == 0, err
        # Said to the operator, with no logging set up, while it waits: which database, which lock.
        assert err.strip().splitlines() == [f"waiting for another process to finish migrating the database at "
                                            f"{pg_url} (PostgreSQL advisory lock {MIGRATION_LOCK_KEY})"]
    assert _version_rows(probe) == sorted(_heads(probe))  # exactly one row per head, written once
    assert probe.current_revisions() == _heads(probe)


@pytest.mark.postgres
def test_a_failed_upgrade_releases_the_lock_and_leaves_nothing_half_done(databases, monkeypatch):
    """The lock is the migration transaction's: a migration that fails part way rolls back all of it, the lock
    with it, and the next upgrade starts from the empty schema and finishes."""
    from alembic import op

    db, other = databases(2)
    real = op.create_table
    made = []

    def fails_on_the_third_table(*args, **kwargs):
        if len(made) == 2:
            raise OSError("disk full")
        made.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(op, "create_table", fails_on_the_third_table)
    with pytest.raises(OSError, match="disk full"):
        db.upgrade()
    monkeypatch.undo()
    assert len(made) == 2 and not any(_has_table(other, name) for name in [*made, "alembic_version"])
    with other.engine.connect() as conn:  # another session gets the lock at once: nobody holds it any more
        assert conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        conn.commit()
    db.upgrade()
    assert _version_rows(other) == sorted(_heads(other))


def test_the_lock_key_is_the_same_in_every_process():
    """A key from Python's hash() would differ per process (string hashing is salted), and so lock nothing."""
    code = "from service.db import MIGRATION_LOCK_KEY; print(MIGRATION_LOCK_KEY)"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(other.stdout) == MIGRATION_LOCK_KEY and -2**63 <= MIGRATION_LOCK_KEY < 2**63


def test_offline_mode_writes_the_sql_without_connecting(tmp_path):
    """`--sql` (offline) takes no lock and opens no connection: it prints the SQL for an operator to run. One step
    here: 0013's batch rebuild and 0019 read the live schema, which offline mode cannot (as before the lock)."""
    import io

    from alembic import command

    db = Database(f"sqlite:///{tmp_path / 'never-opened.db'}")
    cfg = db.alembic_config()
    cfg.output_buffer = io.StringIO()
    try:
        command.upgrade(cfg, "0004_drafts:0018_feedback_author", sql=True)
    finally:
        db.dispose()
    sql = cfg.output_buffer.getvalue()
    assert "ALTER TABLE draft_feedback ADD COLUMN author VARCHAR(200);" in sql
    assert "UPDATE alembic_version SET version_num='0018_feedback_author' WHERE" in sql
    assert not (tmp_path / "never-opened.db").exists()
