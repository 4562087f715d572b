"""notes never reuse a deleted note's number

Revision ID: 0019_notes_autoincrement
Revises: 0006_notes_updated_at
Create Date: 2026-12-01 10:00:00

Without AUTOINCREMENT, SQLite hands the newest note's number out again once that note is deleted; its public id
(the number, when it had no external id) in drafts, reports, audit entries and older theme snapshots then names an
unrelated note. SQLite cannot add AUTOINCREMENT in place, so the table is rebuilt with every row and its indexes.
PostgreSQL's SERIAL never reuses a number: nothing to do there.

Rebuilding a parent table means dropping it, and with foreign keys on SQLite's DROP TABLE first deletes every row,
cascading to statements and roadmap links. So foreign keys are switched off around the rebuild (the pragma is
ignored inside a transaction, hence the autocommit blocks), the references into notes are checked before the rebuild
is committed, and the connection gets its setting back. A failure rolls everything back.
"""
import sqlalchemy as sa
from alembic import op

revision = "0019_notes_autoincrement"
down_revision = "0006_notes_updated_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _rebuild_notes(autoincrement=True)


def downgrade() -> None:
    _rebuild_notes(autoincrement=False)


def _rebuild_notes(*, autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    foreign_keys = bool(bind.exec_driver_sql("PRAGMA foreign_keys").scalar())
    _set_foreign_keys(bind, False)
    try:
        # One write transaction from the check to the rename (Python's sqlite3 would run the CREATE TABLE on its
        # own), so a second process migrating at the same time waits here and then finds the table rebuilt.
        bind.exec_driver_sql("BEGIN IMMEDIATE")
        if _has_autoincrement(bind) != autoincrement:
            orphans = _references_to_missing_notes(bind)  # (none, unless made with foreign keys off)
            with op.batch_alter_table("notes", recreate="always",
                                      table_kwargs={"sqlite_autoincrement": autoincrement}):
                pass
            broken = sorted(map(str, _references_to_missing_notes(bind) - orphans))
            if broken:
                raise RuntimeError(f"rebuilding notes broke {len(broken)} references to it, e.g. {broken[0]}")
    except BaseException:
        # Closing the connection rolls the rebuild back, and the pool never hands out one with foreign keys off.
        bind.invalidate()
        raise
    if foreign_keys:
        _set_foreign_keys(bind, True)  # commits the rebuild first: the pragma only works between transactions


def _has_autoincrement(bind) -> bool:
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'notes'")).scalar()
    return "AUTOINCREMENT" in (sql or "").upper()


def _references_to_missing_notes(bind) -> set[tuple]:
    return {tuple(row) for row in bind.exec_driver_sql("PRAGMA foreign_key_check") if row[2] == "notes"}


def _set_foreign_keys(bind, on: bool) -> None:
    with op.get_context().autocommit_block():
        op.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    if bool(bind.exec_driver_sql("PRAGMA foreign_keys").scalar()) != on:
        raise RuntimeError(f"could not switch SQLite foreign keys {'on' if on else 'off'} to rebuild notes")
