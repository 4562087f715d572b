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
