"""A deleted draft's or report's number, its address (/ask/12, /reports/7), is never handed out again: SQLite
AUTOINCREMENT (migrations 0022, 0023, as 0019 did for notes). Before, an old link to an erased account's draft opened
the next account's draft."""
from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from service.erase import delete_draft, delete_report
from service.models import Draft, DraftFeedback, RoadmapLink
from service.roadmap import service as roadmap

from ..integration.test_postgres import pg_url  # noqa: F401 - the PostgreSQL fixture (skips with no server)
from .test_deleted_notes import _counts, _rows, _schema
from .test_reports import AS_OF, seed

DRAFTS_BEFORE = "0018_feedback_author"  # the revision 0022 builds on
REPORTS_BEFORE = "0005_reports"  # the revision 0023 builds on


def _draft(svc, question: str, account: str) -> int:
    with svc.db.transaction() as session:
        draft = Draft(question=question, account=account, verdict="available", text="Draft.", mode="grounded-template")
        session.add(draft)
        session.flush()
        return draft.id


def _sql(engine, table: str) -> str:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table})


def test_a_deleted_drafts_number_is_not_handed_out_again(svc, client):
    _draft(svc, "Exports?", "Acme")
    newest = _draft(svc, "SSO?", "Erased Co")
    delete_draft(svc, newest)
    later = _draft(svc, "SCIM?", "Beta")
    assert later > newest
    assert client.get(f"/api/v1/drafts/{newest}").status_code == 404  # the old link names nothing, not Beta's draft


def test_a_deleted_reports_number_is_not_handed_out_again(app, svc, client):
    from service.reports.store import create_report

    seed(app)
    first = create_report(svc, "7d", AS_OF)
    delete_report(svc, first.id)
    second = create_report(svc, "30d", AS_OF)
    assert second.id > first.id
    assert client.get(f"/api/v1/reports/{first.id}").status_code == 404


def test_the_drafts_migration_keeps_every_row_rating_and_link_and_stops_reuse(svc, make_app):
    roadmap.import_items(svc, [{"id": "EXP", "title": "Background exports", "status": "planned"}])
    ids = [_draft(svc, "Exports?", "Acme"), _draft(svc, "Big exports?", "Beta"), _draft(svc, "SSO?", "Gamma")]
    with svc.db.transaction() as session:
        session.add(DraftFeedback(draft_id=ids[0], rating="up"))
    roadmap.link(svc, "EXP", draft_id=ids[1])
    engine, cfg = svc.db.engine, svc.db.alembic_config()
    fresh_schema = _schema(make_app().extensions["feedback"].db.engine)
    assert _schema(engine) == fresh_schema and "AUTOINCREMENT" in _sql(engine, "drafts")

    command.downgrade(cfg, DRAFTS_BEFORE)  # the table as every database made before 0022 has it
    assert "AUTOINCREMENT" not in _sql(engine, "drafts")
    delete_draft(svc, ids[-1])
    assert _draft(svc, "Charts?", "Delta") == ids[-1]  # the defect: the number came back
    before = (_counts(engine), _rows(engine, "drafts"), _rows(engine, "draft_feedback"), _rows(engine, "roadmap_links"))

    svc.db.upgrade()
    assert "0022_drafts_autoincrement" in svc.db.current_revisions()
    after = (_counts(engine), _rows(engine, "drafts"), _rows(engine, "draft_feedback"), _rows(engine, "roadmap_links"))
    assert after == before and before[0]["draft_feedback"] == 1 and before[0]["roadmap_links"] == 1
    assert _schema(engine) == fresh_schema
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    delete_draft(svc, ids[0])  # cascades still work: its rating goes with it
    assert _counts(engine)["draft_feedback"] == 0
    delete_draft(svc, ids[-1])
    assert _draft(svc, "Later?", "Epsilon") == ids[-1] + 1
    with svc.db.session() as session:
        assert session.query(RoadmapLink).count() == 1


def test_the_reports_migration_keeps_every_row_and_stops_reuse(app, svc, make_app):
    from service.reports.store import create_report

    seed(app)
    engine, cfg = svc.db.engine, svc.db.alembic_config()
    fresh_schema = _schema(make_app().extensions["feedback"].db.engine)
    command.downgrade(cfg, REPORTS_BEFORE)
    assert "AUTOINCREMENT" not in _sql(engine, "reports")
    kept, newest = create_report(svc, "7d", AS_OF), create_report(svc, "30d", AS_OF)
    delete_report(svc, newest.id)
    assert create_report(svc, "30d", AS_OF).id == newest.id  # the defect
    before = (_counts(engine), _rows(engine, "reports"))
    svc.db.upgrade()
    assert (_counts(engine), _rows(engine, "reports")) == before and _schema(engine) == fresh_schema
    delete_report(svc, newest.id)
    assert create_report(svc, "30d", AS_OF).id == newest.id + 1
    assert kept.id in [r[0] for r in _rows(engine, "reports")]


def test_on_postgresql_the_migrations_change_nothing_and_numbers_are_not_reused(make_app, pg_url):  # noqa: F811
    app = make_app(DATABASE_URL=pg_url)
    svc = app.extensions["feedback"]
    assert {"0022_drafts_autoincrement", "0023_reports_autoincrement"} <= set(svc.db.current_revisions())
    newest = _draft(svc, "SSO?", "Acme")
    delete_draft(svc, newest)
    assert _draft(svc, "SCIM?", "Beta") > newest
    command.downgrade(svc.db.alembic_config(), DRAFTS_BEFORE)  # a no-op there too, and the way back up works
    svc.db.upgrade()
    assert "0022_drafts_autoincrement" in svc.db.current_revisions()


@pytest.mark.parametrize("table", ["drafts", "reports"])
def test_a_new_database_has_the_tables_with_autoincrement(svc, table):
    assert "AUTOINCREMENT" in _sql(svc.db.engine, table)
