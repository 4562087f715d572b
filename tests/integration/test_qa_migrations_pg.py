"""The upgrade walk of tests/unit/test_qa_migrations_walk.py on PostgreSQL 15: an old database, filled, upgraded
by the next start, keeps every row and has the constraints and indexes a new database has. Each test has its own
throwaway database (pg_url); they skip with a reason where no PostgreSQL server is reachable."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from service.config import ConfigError
from service.db import Database

from ..unit.test_qa_migrations_walk import (OLD_STATES, _stamp_future, assert_rows_kept, check_new_columns, seed,
                                             snapshot, walk)
from ..unit.test_account_spellings import merge_walk
from .test_postgres import pg_url  # noqa: F401 - the PostgreSQL fixture (skips with no server)

pytestmark = pytest.mark.postgres


def _constraints(db: Database) -> dict:
    """Per table: foreign keys, unique constraints and indexes, as the inspector reads them."""
    found = inspect(db.engine)
    return {t: (sorted(repr(sorted(fk.items())) for fk in found.get_foreign_keys(t)),
                sorted(repr(sorted(uq.items())) for uq in found.get_unique_constraints(t)),
                sorted(repr(sorted(ix.items())) for ix in found.get_indexes(t)))
            for t in found.get_table_names()}


@pytest.mark.parametrize("state", ["themes-roadmap-drafts-reports", "at-0021"])
def test_an_old_postgres_database_upgrades_with_every_row_and_constraint(pg_url, state):  # noqa: F811
    db, before, after = walk(pg_url, OLD_STATES[state])
    assert_rows_kept(before, after)
    check_new_columns(after, db)
    constraints = _constraints(db)
    with db.engine.begin() as conn:  # a new database beside it, on the same server, for the comparison
        conn.execute(text("CREATE SCHEMA fresh"))
    fresh = Database(pg_url + "?options=-csearch_path%3Dfresh")
    try:
        fresh.upgrade()
        with fresh.engine.connect() as conn:  # made there from nothing, not the old database read again
            assert conn.scalar(text("SELECT current_schema()")) == "fresh"
            assert conn.scalar(text("SELECT count(*) FROM notes")) == 0
        assert _constraints(fresh) == constraints and len(constraints) == 26
    finally:
        fresh.dispose()
    with db.engine.begin() as conn:  # numbers go on after the old rows; cascades still work
        new_id = conn.scalar(text("INSERT INTO drafts (created_at, question, audience, verdict, item_ids, evidence, "
                                  "text, mode, warnings, checks, extra) VALUES (now(), 'SSO?', 'sales', 'planned', "
                                  "'[]', '[]', 'x', 'grounded-template', '[]', '{}', '{}') RETURNING id"))
        assert new_id > max(row[0] for row in before["drafts"])
        conn.execute(text("DELETE FROM notes WHERE id = 1"))
        assert conn.scalar(text("SELECT count(*) FROM statements WHERE note_id = 1")) == 0
    db.dispose()


def test_the_app_works_on_an_upgraded_postgres_database(pg_url, make_app):  # noqa: F811
    from ..unit.test_qa_migrations_walk import make_old

    old = make_old(pg_url, OLD_STATES["at-0018"])
    seed(old)
    before = snapshot(old)
    old.dispose()
    app = make_app(DATABASE_URL=pg_url)  # the start applies the migrations
    client = app.test_client()
    assert client.get("/api/v1/notes/ext-5").get_json()["account"] == "Beta"
    assert client.get("/api/v1/drafts/3").status_code == 200
    page = client.get("/roadmap")
    assert page.status_code == 200 and b"Background exports" in page.data
    after = snapshot(app.extensions["feedback"].db)
    assert after["notes"] == before["notes"] and after["drafts"] == before["drafts"]


def test_a_postgres_database_a_newer_version_migrated_stops_with_one_clear_line(pg_url):  # noqa: F811
    _stamp_future(pg_url)
    with pytest.raises(ConfigError, match="this version does not know its revision 0026_from_a_newer_version"):
        Database(pg_url).upgrade()


def test_spellings_of_one_account_merge_on_postgres(pg_url):  # noqa: F811
    assert merge_walk(pg_url) == [(2, "Acme Corp"), (7, "Beta")]
