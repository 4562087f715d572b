"""QA of notes and jobs: API errors that name their field, a NUL in an id, deleting a quoted note, CLI exit codes."""
from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy import event

from service.ingest.store import ingest_notes
from service.jobs import JOBS, JobFailed, enqueue, execute
from service.themes.run import RunOptions, run_themes

from ..conftest import DATA
from .test_theme_determinism import TOPICS, _notes

NOTES = [json.loads(line) for line in (DATA / "notes.jsonl").read_text().splitlines()]


def _error(resp, status):
    assert resp.status_code == status, resp.get_data(as_text=True)
    return resp.get_json()["error"]


def test_a_post_without_notes_says_so_in_words(client):
    """No body at all was "expected an object with a 'text' field, got _Missing" (marshmallow's marker)."""
    null = client.post("/api/v1/notes", data="null", content_type="application/json")
    for resp in (client.post("/api/v1/notes"), null):
        err = _error(resp, 422)
        assert err["message"].startswith("no notes given") and "_Missing" not in json.dumps(err)
        assert "NoneType" not in json.dumps(err)


def test_a_bad_switch_is_400_even_when_the_ingest_would_be_queued(make_app):
    client = make_app(ASYNC_INGEST_NOTES=1).test_client()
    err = _error(client.post("/api/v1/notes?skip_invalid=maybe", json=NOTES), 400)  # was 202 and a queued job
    assert err["details"]["field"] == "skip_invalid"
    assert client.get("/api/v1/jobs").get_json()["items"] == []


@pytest.mark.parametrize("query, field", [("since=2026-13-01", "since"), ("until=whenever", "until"),
                                          ("source=pigeon", "source")])
def test_note_list_filter_errors_name_the_field(client, query, field):
    assert _error(client.get(f"/api/v1/notes?{query}"), 400)["details"]["field"] == field


@pytest.mark.parametrize("query, field", [("limit=1_0", "limit"), ("limit=abc", "limit"), ("limit=0", "limit"),
                                          ("limit=201", "limit"), ("status=weird", "status")])
def test_job_list_parameters_are_checked_like_every_list(client, query, field):
    assert _error(client.get(f"/api/v1/jobs?{query}"), 400)["details"]["field"] == field
    assert client.get("/api/v1/jobs?limit=200").status_code == 200


def _refuse_nul_like_postgresql(engine):
    """PostgreSQL refuses a NUL in a text parameter (psycopg.DataError), which reached the client as a 500."""
    @event.listens_for(engine, "before_cursor_execute")
    def _refuse(conn, cursor, statement, parameters, context, executemany):
        for row in parameters if executemany else [parameters]:
            values = row.values() if isinstance(row, dict) else row or ()
            if any(isinstance(v, str) and "\x00" in v for v in values):
                raise sqlite3.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")


def test_a_nul_in_an_id_or_a_filter_is_no_such_thing_not_a_500(app, client):
    assert client.post("/api/v1/notes", json=NOTES).status_code == 201
    _refuse_nul_like_postgresql(app.extensions["feedback"].db.engine)
    for method, url in [("get", "/api/v1/notes/a%00b"), ("delete", "/api/v1/notes/a%00b"),
                        ("get", "/api/v1/jobs/a%00b"), ("get", "/notes/a%00b"), ("get", "/jobs/a%00b"),
                        ("get", "/api/v1/roadmap/items/a%00b"), ("get", "/api/v1/accounts/a%00b/brief"),
                        ("get", "/roadmap/items/a%00b/followups")]:
        assert getattr(client, method)(url).status_code == 404, url
    for url, field in [("/api/v1/notes?account=Acme%00Logistics", "account"),
                       ("/api/v1/drafts?account=a%00b", "account"), ("/api/v1/notes?since=2026-01-01&x%00=1", "x\x00")]:
        resp = client.get(url)
        assert resp.status_code == 400 and resp.get_json()["error"]["details"]["field"] == field, url
    assert client.get("/notes?account=a%00b").status_code == 400  # a page: the error page, not a 500
    assert client.get("/api/v1/notes/t-1").status_code == 200  # the emulation lets other requests through


def test_deleting_a_note_takes_its_quotes_out_of_the_themes(app, client, svc):
    """The snapshots kept the deleted note's quote and id: the theme page quoted the deleted text and linked to a
    404, and a new note given the same id was shown as in those themes."""
    ingest_notes(svc, _notes(TOPICS))
    run_themes(svc, RunOptions(include_all=True, use_llm=False))
    themes = client.get("/api/v1/themes").get_json()["themes"]
    victim = themes[0]["quotes"][0]["note_id"]
    deleted_text = client.get(f"/api/v1/notes/{victim}").get_json()["text"]
    assert client.delete(f"/api/v1/notes/{victim}").status_code == 200
    for theme in client.get("/api/v1/themes").get_json()["themes"]:
        assert victim not in theme["note_ids"] and victim not in [q["note_id"] for q in theme["quotes"]]
        page = client.get(f"/themes/{theme['id']}").get_data(as_text=True)
        assert f"/notes/{victim}\"" not in page and deleted_text not in page
    others = [n for t in client.get("/api/v1/themes").get_json()["themes"] for n in t["note_ids"]]
    assert others, "the other notes keep their place in the themes"
    assert client.post("/api/v1/notes", json={"id": victim, "text": "Billing emails arrive twice."}).status_code == 201
    assert "in no theme of the latest run" in client.get(f"/notes/{victim}").get_data(as_text=True)


def test_cli_note_list_refuses_an_unknown_source(run_cli):
    result = run_cli("notes", "list", "--source", "pigeon", "--json")  # was exit 0 with an empty list
    assert result.exit_code == 2 and "pigeon" in result.output
    assert run_cli("notes", "list", "--source", "call", "--json").exit_code == 0


def test_cli_jobs_show_exits_1_for_a_failed_job_with_json_too(run_cli, cli_env, monkeypatch):
    from service import create_app

    def broken(services, payload, progress):
        raise JobFailed("<b>the file was gone</b>")

    monkeypatch.setitem(JOBS, "reindex", broken)
    app = create_app()
    try:
        with app.app_context():
            job = enqueue(app.extensions["feedback"], "reindex", {}, submit=False)
            execute(app.extensions["feedback"], job["id"])
    finally:
        app.extensions["feedback"].close()
    text = run_cli("jobs", "show", job["id"])
    shown = run_cli("jobs", "show", job["id"], "--json")
    assert text.exit_code == 1 and shown.exit_code == 1  # --json exited 0: a script saw success
    assert json.loads(shown.stdout)["error"] == "<b>the file was gone</b>"


def test_a_database_error_shows_on_the_job_as_its_first_line_not_its_sql(app, svc, client, monkeypatch):
    """The job row (its page, the API, `jobs show`) held SQLAlchemy's whole text: the SQL, its bound parameters
    (here a note's words) and a link."""
    from sqlalchemy import text

    def broken(services, payload, progress):
        with services.db.session() as session:
            session.execute(text("SELECT * FROM no_such_table WHERE x = :x"), {"x": "Acme's private words"})

    monkeypatch.setitem(JOBS, "reindex", broken)
    with app.app_context():
        job = execute(svc, enqueue(svc, "reindex", {}, submit=False)["id"])
    assert job["status"] == "failed" and job["error"] == "OperationalError: no such table: no_such_table"
    page = client.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert "no such table" in page and "private words" not in page and "[SQL:" not in page


def test_a_queued_jobs_page_does_not_say_it_started(app, svc, client):
    with app.app_context():
        job = enqueue(svc, "reindex", {}, submit=False)  # no worker runs it
    page = client.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert "Waiting for a worker" in page and f"queued {job['created_at'][:10]}" in page and "started" not in page


def test_cli_note_list_keeps_one_line_per_note(run_cli, tmp_path):
    notes = tmp_path / "odd.jsonl"
    notes.write_text(json.dumps({"id": "cr-1", "account": "Tab\tCo", "text": "Exports fail.\rOverwritten?"}) + "\n")
    assert run_cli("ingest", str(notes), "-q").exit_code == 0
    [row, total] = run_cli("notes", "list").stdout.splitlines()
    assert "\r" not in row and "\t" not in row and "Exports fail. Overwritten?" in row and total == "1 of 1 notes"
