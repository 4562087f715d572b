"""The upgrade path a self-hosting team walks after `git pull`: a database made at an older revision, filled with
rows, is upgraded to the heads by the next start and keeps every row, id, reference and index; a database that a
newer version migrated stops the start with one line; a migration that fails part way on SQLite leaves nothing
half done. The PostgreSQL walk is tests/integration/test_qa_migrations_pg.py."""
from __future__ import annotations

import datetime as dt

import pytest
from alembic import command, op
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from service.config import ConfigError
from service.db import Database

NOW = dt.datetime(2026, 11, 28, 10, 0)
# Databases as earlier versions left them (the app upgrades to "heads", so a version's schema is a set of revisions).
OLD_STATES = {
    "themes-roadmap-drafts-reports": ["0014_theme_edits", "0013_draft_links", "0004_drafts", "0005_reports",
                                      "0006_notes_updated_at", "0016_jobs"],
    "at-0018": ["0014_theme_edits", "0013_draft_links", "0017_status_history", "0018_feedback_author", "0005_reports",
                "0006_notes_updated_at", "0015_auth", "0015b_llm_usage", "0016_jobs"],
    "at-0021": ["0014_theme_edits", "0013_draft_links", "0017_status_history", "0018_feedback_author", "0005_reports",
                "0019_notes_autoincrement", "0020_session_generation", "0021_theme_edit_lock", "0015b_llm_usage",
                "0016_jobs"],
}


def make_old(url: str, revisions: list[str]) -> Database:
    db = Database(url)
    cfg = db.alembic_config()
    for revision in revisions:
        command.upgrade(cfg, revision)
    return db


def seed(db: Database) -> None:
    """Rows an install of that time had, written as its code wrote them (explicit ids: deleted rows leave gaps)."""
    tables = set(inspect(db.engine).get_table_names())
    with db.engine.begin() as conn:
        def x(sql, **kw):
            conn.execute(text(sql), {"n": NOW, "f": False, **kw})

        x("INSERT INTO accounts (id, name, created_at) VALUES (1, 'Acme', :n), (4, 'Beta', :n)")
        for i, account in ((1, 1), (2, 1), (5, 4)):
            x("INSERT INTO notes (id, external_id, text, account_id, source, author, occurred_at, meta, content_hash, "
              "norm_hash, ingested_at, updated_at) VALUES (:i, :e, :t, :a, 'call', 'rep', :n, '{}', :h, :h, :n, :n)",
              i=i, e=None if i == 2 else f"ext-{i}", t=f"Note {i}: exports time out.", a=account, h=f"{i:064d}")
            x('INSERT INTO statements (id, note_id, ordinal, start, "end", text, kind) '
              "VALUES (:s, :i, 0, 0, 20, :t, 'pain')", s=10 + i, i=i, t=f"Exports time out ({i}).")
        x("INSERT INTO theme_runs (id, created_at, mode, filters, params, n_statements, n_assigned, labeller, seconds) "
          "VALUES (1, :n, 'full', '{}', '{}', 3, 3, 'offline', 1.5)")
        x("INSERT INTO themes (id, created_run_id, last_run_id, label, centroid) "
          "VALUES (5, 1, 1, 'exports', '[0.1]'), (7, 1, 1, 'sso', '[0.2]')")
        x("INSERT INTO theme_memberships (run_id, statement_id, theme_id, similarity) VALUES (1, 11, 5, 0.9)")
        x("INSERT INTO theme_edits (created_at, author, kind, theme_id, statement_ids, label) "
          "VALUES (:n, 'pm', 'rename', 5, '[]', 'Exports')")
        x("INSERT INTO roadmap_items (id, title, description, status, tags, extra, archived, created_at, updated_at) "
          "VALUES ('EXP', 'Background exports', '', 'planned', '[]', '{}', :f, :n, :n)")
        x("INSERT INTO roadmap_links (id, item_id, kind, note_id, created_at) VALUES (1, 'EXP', 'note', 1, :n)")
        x("INSERT INTO roadmap_links (id, item_id, kind, theme_id, created_at) VALUES (2, 'EXP', 'theme', 5, :n)")
        for i in (1, 3):
            x("INSERT INTO drafts (id, created_at, question, account, audience, verdict, item_ids, evidence, text, mode,"
              " warnings, checks, extra) VALUES (:i, :n, 'Exports?', 'Acme', 'sales', 'planned', '[\"EXP\"]', '[]',"
              " 'Exports are planned.', 'grounded-template', '[]', '{}', '{}')", i=i)
        x("INSERT INTO roadmap_links (id, item_id, kind, draft_id, created_at) VALUES (3, 'EXP', 'draft', 3, :n)")
        x("INSERT INTO draft_feedback (id, draft_id, rating, created_at) VALUES (1, 1, 'up', :n)")
        x("INSERT INTO reports (id, period, period_start, period_end, created_at, updated_at, data, html, markdown, "
          "delivery_status, delivery_attempts) VALUES (3, '7d', '2026-11-20', '2026-11-27', :n, :n, '{}', '<p>r</p>', "
          "'r', 'pending', 0)")
        x("INSERT INTO jobs (id, kind, status, payload, progress_done, progress_total, attempts, backend, created_at, "
          "updated_at) VALUES ('j1', 'themes', 'done', '{}', 1, 1, 1, 'thread', :n, :n)")
        if "users" in tables:
            x("INSERT INTO users (id, email, role, disabled, created_at) VALUES (2, 'pm@example.com', 'pm', :f, :n)")
            x("INSERT INTO api_tokens (id, name, role, token_hash, prefix, created_at) "
              "VALUES (1, 'ci', 'admin', :h, 'fb_abc', :n)", h="a" * 64)
            x("INSERT INTO sign_in_codes (id, user_id, code_hash, expires_at) VALUES (1, 2, :h, :n)", h="b" * 64)
            x("INSERT INTO audit_log (id, at, actor, action, details) VALUES (1, :n, 'cli', 'ingest', '{}')")
        if "followup_told" in tables:
            x("INSERT INTO followup_told (id, item_id, account, status, told_at, draft_id) "
              "VALUES (1, 'EXP', 'Acme', 'planned', :n, 1)")
        if db.engine.dialect.name == "postgresql":  # explicit ids leave the sequences behind; the old code's did not
            for table in tables - {"alembic_version", "write_locks", "jobs", "llm_usage", "roadmap_items"}:
                x(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))")


def snapshot(db: Database) -> dict[str, list[tuple]]:
    with db.engine.connect() as conn:
        return {t: sorted((tuple(r) for r in conn.execute(text(f'SELECT * FROM "{t}"'))), key=repr)
                for t in inspect(db.engine).get_table_names() if t != "alembic_version"}


def assert_rows_kept(before: dict, after: dict) -> None:
    """Every row of every table, ids and values, with new columns appended after the old ones."""
    for table, rows in before.items():
        kept = [row[:len(rows[0])] for row in after[table]] if rows else []
        expected = rows + ([("themes", 0)] if table == "write_locks" and ("themes", 0) not in rows else [])
        assert sorted(kept, key=repr) == sorted(expected, key=repr), table


def heads(db: Database) -> set[str]:
    return set(ScriptDirectory.from_config(db.alembic_config()).get_heads())


def walk(url: str, revisions: list[str]) -> tuple[Database, dict, dict]:
    """An old database, filled, then upgraded as the next start upgrades it."""
    db = make_old(url, revisions)
    seed(db)
    before = snapshot(db)
    db.upgrade()
    assert db.current_revisions() == heads(db)
    return db, before, snapshot(db)


def check_new_columns(after: dict, db: Database) -> None:
    """New NOT NULL columns got their defaults, new nullable ones stay empty on old rows."""
    seeded = bool(after["users"])  # users and tokens exist from 0015 on
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT session_generation FROM users WHERE id = 2")) == (0 if seeded else None)
        assert conn.scalars(text("SELECT expires_at FROM api_tokens")).all() == ([None] if seeded else [])
        assert conn.scalars(text("SELECT author FROM draft_feedback")).all() == [None]


def _schema(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
        return {(kind, name): frozenset(c.strip(" ,\t") for c in (sql or "").splitlines()) for kind, name, sql in rows}


@pytest.mark.parametrize("state", sorted(OLD_STATES))
def test_an_old_sqlite_database_upgrades_with_every_row_reference_and_index_kept(tmp_path, state):
    db, before, after = walk(f"sqlite:///{tmp_path / 'old.db'}", OLD_STATES[state])
    assert before["notes"] and before["drafts"] and before["reports"]
    assert_rows_kept(before, after)
    check_new_columns(after, db)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        for table in ("notes", "drafts", "reports", "statements"):  # the rebuilds of 0019, 0022, 0023 (and 0001's)
            sql = conn.scalar(text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table})
            assert "AUTOINCREMENT" in sql.upper(), table
    fresh = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    fresh.upgrade()
    assert _schema(db.engine) == _schema(fresh.engine)  # indexes, unique and foreign keys as a new database has them
    with db.engine.begin() as conn:  # cascades still work through the rebuilt tables
        conn.execute(text("DELETE FROM notes WHERE id = 1"))
        assert conn.scalar(text("SELECT count(*) FROM statements WHERE note_id = 1")) == 0
        assert conn.scalar(text("SELECT count(*) FROM roadmap_links WHERE note_id = 1")) == 0
    for d in (db, fresh):
        d.dispose()


def test_the_app_and_the_cli_work_on_an_upgraded_database(tmp_path, make_app, run_cli, monkeypatch):
    """Nobody runs a separate upgrade command: the first start (a command, the server) applies the migrations."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = make_old(url, OLD_STATES["at-0018"])
    seed(old)
    old.dispose()
    monkeypatch.setenv("FEEDBACK_DATABASE_URL", url)
    listed = run_cli("notes", "list")
    assert listed.exit_code == 0, listed.output
    assert "3 of 3 notes" in listed.output and "ext-5" in listed.output
    drafts = run_cli("drafts", "list")
    assert drafts.exit_code == 0 and "2 of 2 drafts" in drafts.output
    shown = run_cli("roadmap", "show", "EXP")
    assert shown.exit_code == 0 and "linked note ext-1" in shown.output and "linked theme 5" in shown.output
    client = make_app(DATABASE_URL=url).test_client()
    assert client.get("/api/v1/notes/2").get_json()["text"] == "Note 2: exports time out."
    assert client.get("/api/v1/drafts/3").status_code == 200
    page = client.get("/roadmap")
    assert page.status_code == 200 and b"Background exports" in page.data


def _stamp_future(url: str) -> None:
    db = Database(url)
    db.upgrade()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0026_from_a_newer_version' "
                          "WHERE version_num = '0025_token_expiry'"))
    db.dispose()


def test_a_database_a_newer_version_migrated_stops_the_start_with_one_clear_line(tmp_path, run_cli, monkeypatch):
    """After a `git pull` the next version migrated the database; going back to this version, Alembic said only
    "error: CommandError: Can't locate revision identified by '0026_...'" (gunicorn: a traceback)."""
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    _stamp_future(url)
    monkeypatch.setenv("FEEDBACK_DATABASE_URL", url)
    result = run_cli("notes", "list")
    assert result.exit_code == 1
    assert "CommandError" not in result.output and "Traceback" not in result.output
    assert ("was migrated by a newer or different version of the service: this version does not know its revision "
            "0026_from_a_newer_version; run that version (or a later one)") in result.output
    with pytest.raises(ConfigError, match="0026_from_a_newer_version"):  # what wsgi.py turns into its `error:` line
        Database(url).upgrade()


def test_a_migration_that_fails_part_way_on_sqlite_leaves_nothing_half_done(tmp_path, monkeypatch):
    """Python's sqlite3 committed each CREATE TABLE at once: 0024 failing after its table (a full disk, a kill)
    left the table unstamped, and every later start failed on "table roadmap_rejections already exists"."""
    url = f"sqlite:///{tmp_path / 'half.db'}"
    db = make_old(url, OLD_STATES["at-0021"])
    seed(db)
    before = snapshot(db)
    real = op.create_index

    def fails_on_0024s_first_unique_index(name, *args, **kwargs):
        if name == "uq_roadmap_rejections_item_draft":
            raise OSError("disk full")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(op, "create_index", fails_on_0024s_first_unique_index)
    with pytest.raises(OSError, match="disk full"):
        db.upgrade()
    monkeypatch.undo()
    assert "0024_roadmap_rejections" not in db.current_revisions()
    assert "roadmap_rejections" not in inspect(db.engine).get_table_names()
    db.upgrade()  # the next start finishes the job
    assert db.current_revisions() == heads(db)
    assert_rows_kept(before, snapshot(db))
    db.dispose()


REVERSIBLE_HEADS = ["0019_notes_autoincrement", "0021_theme_edit_lock", "0022_drafts_autoincrement",
                    "0023_reports_autoincrement", "0025_token_expiry"]  # the others drop a table or column going down


def test_down_one_step_and_up_again_keeps_every_row(tmp_path):
    db, _before, upgraded = walk(f"sqlite:///{tmp_path / 'old.db'}", OLD_STATES["at-0018"])
    cfg = db.alembic_config()
    for head in REVERSIBLE_HEADS:
        command.downgrade(cfg, f"{head}@-1")
        assert head not in db.current_revisions()
        db.upgrade()
        assert snapshot(db) == upgraded, head
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    db.dispose()
