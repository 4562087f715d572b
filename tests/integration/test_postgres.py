"""The same ingest path on PostgreSQL 15 (skipped with a reason where no server is reachable)."""
from __future__ import annotations

import uuid

import pytest

from ..conftest import DATA, port_open

pytestmark = pytest.mark.postgres
PG_HOST, PG_PORT = "127.0.0.1", 5432


@pytest.fixture
def pg_url():
    if not port_open(PG_HOST, PG_PORT):
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    psycopg = pytest.importorskip("psycopg")
    name = f"feedback_test_{uuid.uuid4().hex[:10]}"
    admin = f"host={PG_HOST} port={PG_PORT} dbname=test user=postgres"
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"cannot create a PostgreSQL test database: {exc}")
    yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_ingest_and_query_on_postgres(make_app, pg_url):
    from service.ingest.store import ingest, load_paths
    from service.notes import stats

    app = make_app(DATABASE_URL=pg_url)
    svc = app.extensions["feedback"]
    notes, errors = load_paths([str(DATA / "notes.jsonl"), str(DATA / "notes.csv")], 100_000)
    assert ingest(svc, notes, errors, skip_invalid=False).created == 5
    assert ingest(svc, notes, errors, skip_invalid=False).unchanged == 5
    s = stats(svc)
    assert s["notes"] == 5 and s["vectors"] == s["statements"]
    client = app.test_client()
    assert client.get("/api/v1/notes?account=Acme Logistics").get_json()["total"] == 2
    assert client.get("/api/v1/notes/t-1").get_json()["metadata"] == {"arr": 120000}
    from sqlalchemy import inspect

    assert {"notes", "statements", "accounts", "alembic_version"} <= set(inspect(svc.db.engine).get_table_names())


def _outage(engine):
    """PostgreSQL unreachable for this engine, with psycopg's own error (a closed port instead of the server's),
    until the returned function is called. The port is held bound without listening meanwhile, so nothing else
    can start listening there (a port merely found free a moment ago can be taken)."""
    import socket

    from sqlalchemy import event

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    closed = holder.getsockname()[1]

    def refuse(_dialect, _record, _cargs, cparams):
        cparams["port"] = closed

    event.listen(engine, "do_connect", refuse)
    engine.dispose()

    def back():
        event.remove(engine, "do_connect", refuse)
        engine.dispose()
        holder.close()

    return back


def test_postgres_down_is_a_503_naming_the_database_not_a_500(make_app, pg_url, caplog):
    import logging

    app = make_app(DATABASE_URL=pg_url)
    client = app.test_client()
    assert client.get("/api/v1/stats").status_code == 200
    back = _outage(app.extensions["feedback"].db.engine)
    with caplog.at_level(logging.ERROR):
        stats = client.get("/api/v1/stats")
        health = app.test_client(anonymous=True).get("/healthz")
    back()
    assert stats.status_code == 503 and stats.get_json()["error"]["message"].startswith("database unavailable")
    assert health.status_code == 503 and health.get_json()["error"]["details"]["database"].startswith("unavailable")
    assert not any(r.exc_info for r in caplog.records) and "Connection refused" in caplog.text
    assert client.get("/api/v1/stats").status_code == 200  # back by itself: no restart


def test_a_job_that_ended_while_postgres_was_down_is_recorded_when_it_is_back(make_app, pg_url, monkeypatch):
    """The QA case: retries spent during an outage, then the failure could not be written either; RQ had the job
    failed while its row said `running 3/6` for good."""
    from service.jobs import JOBS, JobFailed, enqueue, get_job, run_worker, sweep

    from ..conftest import port_open

    if not port_open("127.0.0.1", 6379):
        pytest.skip("needs Redis on 127.0.0.1:6379")
    monkeypatch.setenv("FEEDBACK_JOB_BACKOFF", "0.001")
    app = make_app(DATABASE_URL=pg_url, REDIS_URL="redis://127.0.0.1:6379/15",
                   REDIS_QUEUE=f"feedback-test-{uuid.uuid4().hex[:8]}")
    svc = app.extensions["feedback"]
    outage = {}

    def loses_the_database(services, payload, progress):
        outage["back"] = _outage(services.db.engine)
        raise JobFailed("the theme run needs statements; ingest notes first")

    monkeypatch.setitem(JOBS, "loses_the_database", loses_the_database)
    try:
        with app.app_context():
            job_id = enqueue(svc, "loses_the_database", {})["id"]
        run_worker(app, burst=True, echo=lambda *_: None)
        outage["back"]()
        assert get_job(svc, job_id)["status"] == "running"
        assert sweep(app)["recorded"] == 1
        job = get_job(svc, job_id)
        assert job["status"] == "failed" and job["error"].startswith("the theme run needs statements")
    finally:
        from ..unit.test_prod_profile_fixes import forget_queue

        forget_queue(app.extensions["feedback_queue"].connection, app.config["REDIS_QUEUE"])


def test_an_abandoned_local_job_is_queued_again_on_postgres(make_app, pg_url):
    from datetime import timedelta

    from sqlalchemy import update

    from service.jobs import enqueue, get_job, store, sweep
    from service.models import Job, utcnow

    app = make_app(DATABASE_URL=pg_url)
    svc = app.extensions["feedback"]
    with app.app_context():
        job_id = enqueue(svc, "reindex", {}, submit=False)["id"]
    store.claim(svc, job_id)
    assert sweep(app)["requeued"] == 0
    long_ago = utcnow() - store.STALE - timedelta(seconds=1)
    with svc.db.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(updated_at=long_ago))
    assert sweep(app)["requeued"] == 1 and get_job(svc, job_id)["status"] == "queued"
