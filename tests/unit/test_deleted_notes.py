"""After a note is deleted: its number is never handed out again (SQLite AUTOINCREMENT, migration 0019), stored
drafts and reports that quote it say it was deleted instead of linking a 404 (or another note), and deletion takes
the ingest lock as erasure does."""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager

import pytest
from alembic import command
from sqlalchemy import event, text

from service.ingest.store import ingest_notes
from service.ingest.validate import NoteInput
from service.models import Draft
from service.notes import delete_note_by_id, existing_note_ids
from service.roadmap import service as roadmap

from ..integration.test_postgres import pg_url  # noqa: F401 - the PostgreSQL fixture (skips with no server)
from .test_reports import AS_OF, seed

BEFORE = "0006_notes_updated_at"  # the revision 0019 builds on


def _ingest(svc, *texts, account="Acme") -> list[int]:
    report = ingest_notes(svc, [NoteInput(text=t, account=account) for t in texts])
    assert report.created == len(texts)
    with svc.db.session() as session:
        return list(session.scalars(text("SELECT id FROM notes ORDER BY id")))


@contextmanager
def _statements(engine):
    """The SQL this engine runs meanwhile."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many):
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _schema(engine) -> list[tuple]:
    """Every table and index as SQLite stores it; a table's clauses as a set (a rebuilt table may list its
    constraints in another order)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
        return sorted((kind, name, table, frozenset(c.strip(" ,\t") for c in (sql or "").splitlines()))
                      for kind, name, table, sql in rows)


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        tables = conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
        return {t: conn.scalar(text(f'SELECT count(*) FROM "{t}"')) for t in list(tables)}


def _rows(engine, table: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]


# ---- 1. numbers are never reused ------------------------------------------------------------------------------
def test_the_newest_notes_number_is_not_handed_out_again_after_it_is_deleted(svc, client):
    first, newest = _ingest(svc, "Exports time out on big tables.", "SSO setup takes two weeks.")
    assert client.delete(f"/api/v1/notes/{newest}").status_code == 200
    later = _ingest(svc, "The dashboard is blank on Mondays.", account="Beta")[-1]
    assert later > newest
    assert client.get(f"/api/v1/notes/{newest}").status_code == 404  # the old public id names nothing
    assert client.get(f"/api/v1/notes/{first}").status_code == 200


def test_the_migration_rebuilds_notes_with_every_row_and_reference_and_stops_reuse(app, svc, make_app):
    ids = _ingest(svc, "Exports time out. They asked twice.", "SSO breaks on Okta.", "Charts are blank.")
    roadmap.import_items(svc, [{"id": "EXP", "title": "Background exports", "status": "planned"}])
    roadmap.link(svc, "EXP", note_id=str(ids[0]))
    engine, cfg = svc.db.engine, svc.db.alembic_config()
    fresh_schema = _schema(make_app().extensions["feedback"].db.engine)
    assert _schema(engine) == fresh_schema and "AUTOINCREMENT" in _notes_sql(engine)

    command.downgrade(cfg, BEFORE)  # the table as every database made before 0019 has it
    assert "AUTOINCREMENT" not in _notes_sql(engine)
    delete_note_by_id(svc, str(ids[-1]))
    assert _ingest(svc, "A new complaint about billing.")[-1] == ids[-1]  # the defect: the number came back
    before = (_counts(engine), _rows(engine, "notes"), _rows(engine, "statements"), _rows(engine, "roadmap_links"))
    assert before[0]["statements"] == 4 and before[0]["roadmap_links"] == 1

    svc.db.upgrade()
    assert "0019_notes_autoincrement" in svc.db.current_revisions()
    after = (_counts(engine), _rows(engine, "notes"), _rows(engine, "statements"), _rows(engine, "roadmap_links"))
    assert after == before  # every row of every table, with its ids: nothing cascaded away with the old table
    assert _schema(engine) == fresh_schema  # indexes, unique and foreign keys as a new database has them
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # the migration's connection got it back
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert conn.scalar(text("SELECT seq FROM sqlite_sequence WHERE name = 'notes'")) == ids[-1]

    delete_note_by_id(svc, str(ids[0]))  # cascades still work: its statements and roadmap link go with it
    counts = _counts(engine)
    assert counts["statements"] == 2 and counts["roadmap_links"] == 0
    delete_note_by_id(svc, str(ids[-1]))
    assert _ingest(svc, "Yet another note.")[-1] == ids[-1] + 1
    assert _schema(engine) == fresh_schema


def test_a_rebuild_that_fails_half_way_is_rolled_back_and_leaves_foreign_keys_on(svc, monkeypatch):
    from alembic import op

    ids = _ingest(svc, "Exports time out. They asked twice.", "SSO breaks on Okta.")
    engine = svc.db.engine
    command.downgrade(svc.db.alembic_config(), BEFORE)
    before = (_schema(engine), _counts(engine), _rows(engine, "notes"), _rows(engine, "statements"))
    real = op.batch_alter_table

    @contextmanager
    def fails_after_the_rename(*args, **kwargs):
        with real(*args, **kwargs) as batch:
            yield batch
        raise OSError("disk full")  # the new table is in place and the old one dropped: the worst moment

    monkeypatch.setattr(op, "batch_alter_table", fails_after_the_rename)
    with pytest.raises(OSError, match="disk full"):
        svc.db.upgrade()
    monkeypatch.undo()
    assert (_schema(engine), _counts(engine), _rows(engine, "notes"), _rows(engine, "statements")) == before
    for _ in range(3):  # whichever pooled connection comes next
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    svc.db.upgrade()  # and it can be run again
    assert "AUTOINCREMENT" in _notes_sql(engine) and _rows(engine, "notes") == before[2]
    delete_note_by_id(svc, str(ids[0]))
    assert _counts(engine)["statements"] == 1


def _notes_sql(engine) -> str:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'notes'"))


def test_on_postgresql_the_migration_changes_nothing_and_numbers_are_not_reused(make_app, pg_url):  # noqa: F811
    app = make_app(DATABASE_URL=pg_url)
    svc = app.extensions["feedback"]
    assert "0019_notes_autoincrement" in svc.db.current_revisions()
    newest = _ingest(svc, "Exports time out.", "SSO breaks on Okta.")[-1]
    delete_note_by_id(svc, str(newest))
    assert _ingest(svc, "Charts are blank.")[-1] > newest
    command.downgrade(svc.db.alembic_config(), BEFORE)  # a no-op there too, and the way back up works
    svc.db.upgrade()
    assert "0019_notes_autoincrement" in svc.db.current_revisions()


# ---- 2. stored drafts and reports ------------------------------------------------------------------------------
def _note_selects(seen: list[str]) -> list[str]:
    return [s for s in seen if re.search(r"\bFROM notes\b", s)]


def test_a_stored_drafts_page_marks_a_deleted_note_instead_of_linking_it(app, svc, client):
    kept, gone = _ingest(svc, "Exports time out on big tables.", "SSO setup takes two weeks.")
    ingest_notes(svc, [NoteInput(text="Okta login loops.", external_id="crm-7", account="Beta")])
    evidence = [{"note_id": str(kept), "account": "Acme", "quote": "Exports time out on big tables."},
                {"note_id": str(gone), "account": "Acme", "quote": "SSO setup takes two weeks."},
                {"note_id": "crm-7", "account": "Beta", "quote": "Okta login loops."}]
    with svc.db.transaction() as session:
        draft = Draft(question="Exports?", verdict="available", text="Draft.", mode="grounded-template",
                      evidence=evidence)
        session.add(draft)
    assert client.delete(f"/api/v1/notes/{gone}").status_code == 200
    assert client.delete("/api/v1/notes/crm-7").status_code == 200
    with _statements(svc.db.engine) as seen:
        page = client.get(f"/ask/{draft.id}").get_data(as_text=True)
    assert f'href="/notes/{kept}"' in page and f"note {kept}</a>" in page
    for deleted in (str(gone), "crm-7"):
        assert f'href="/notes/{deleted}"' not in page
        assert f"note {deleted} (note deleted)" in page
    assert "SSO setup takes two weeks." in page  # the record of what was sent is shown as it was
    assert len(_note_selects(seen)) == 1  # one query for all the quotes, not one per quote


def test_a_stored_reports_page_marks_a_deleted_note_instead_of_linking_it(app, svc, client):
    from service.reports.store import create_report

    seed(app)
    report = create_report(svc, "7d", AS_OF)
    quoted = [q["note_id"] for t in report.data["top_themes"] for q in t["quotes"]]
    gone, kept = quoted[0], quoted[1:]
    assert client.delete(f"/api/v1/notes/{gone}").status_code == 200
    with _statements(svc.db.engine) as seen:
        page = client.get(f"/reports/{report.id}").get_data(as_text=True)
    assert f'href="/notes/{gone}"' not in page and f"note {gone} (note deleted)" in page
    for note_id in kept:
        assert f'<a href="/notes/{note_id}">note {note_id}</a>' in page
    assert len(_note_selects(seen)) == 1
    assert "(note deleted)" not in report.html  # the file written at build time is left as it was sent


def test_existing_note_ids_reads_ids_as_find_note_does(svc):
    number = _ingest(svc, "Exports time out.")[-1]
    ingest_notes(svc, [NoteInput(text="Okta login loops.", external_id="crm-7", account="Beta")])
    with svc.db.session() as session:
        internal_of_crm = session.scalar(text("SELECT id FROM notes WHERE external_id = 'crm-7'"))
        asked = [str(number), number, "crm-7", str(internal_of_crm), "nope", "9" * 30, None]
        # a note with an external id is not named by its internal number, as on its page
        assert existing_note_ids(session, asked) == {str(number), "crm-7"}
        assert existing_note_ids(session, []) == set()


# ---- 3. the ingest lock ------------------------------------------------------------------------------------------
def test_deleting_a_note_takes_the_ingest_lock_before_anything_else(svc):
    number = _ingest(svc, "Exports time out. They asked twice.")[-1]
    with _statements(svc.db.engine) as seen:
        delete_note_by_id(svc, str(number))
    assert seen[0].startswith("UPDATE write_locks") and "name" in seen[0], seen[:3]


def test_on_postgresql_a_deletion_waits_for_an_ingest_holding_the_lock(make_app, pg_url):  # noqa: F811
    app = make_app(DATABASE_URL=pg_url)
    svc = app.extensions["feedback"]
    number = _ingest(svc, "Exports time out. They asked twice.")[-1]
    done = threading.Event()
    failed: list[BaseException] = []

    def delete():
        try:
            delete_note_by_id(svc, str(number))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failed.append(exc)
        done.set()

    with svc.db.engine.connect() as holder:  # an ingest in its locked section
        holder.execute(text("UPDATE write_locks SET turns = turns + 1 WHERE name = 'ingest'"))
        worker = threading.Thread(target=delete)
        worker.start()
        assert not done.wait(1.5), "the deletion ran while an ingest held the lock"
        with svc.db.session() as session:
            assert session.scalar(text("SELECT count(*) FROM notes")) == 1
        holder.rollback()
    worker.join(30)
    assert done.is_set() and not failed, failed
    with svc.db.session() as session:
        assert session.scalar(text("SELECT count(*) FROM notes")) == 0
