"""The production profile's outages as an operator meets them (docs/deployment.md): a database that does not answer
stops every `feedback` command with one line naming FEEDBACK_DATABASE_URL, and a Chroma server that stops while a
process runs is named (URL and setting) in the errors of the API, the CLI and background jobs. The Chroma tests
start a real `chroma run` (skipped without the chroma CLI); the missing-database test needs PostgreSQL on
127.0.0.1:5432 (skipped with a reason without it)."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest

from ..conftest import ROOT, free_port, port_open

BIN = Path(sys.executable).parent
SECRET = "S3cretPW"


# ---- a database that does not answer ---------------------------------------------------------------------------
@pytest.mark.parametrize("args", [("stats",), ("init",), ("worker", "--burst"), ("schedule", "--once")],
                         ids=["stats", "init", "worker", "schedule"])
def test_a_database_that_does_not_answer_stops_a_command_with_one_line_naming_the_setting(run_cli, monkeypatch,
                                                                                         closed_port, args):
    """It was SQLAlchemy's text over two or three lines ("OperationalError: (psycopg.OperationalError) connection
    failed ... (Background on this error at: https://sqlalche.me/...)"), naming no setting, while the docs promise
    one line naming the variable."""
    monkeypatch.setenv("FEEDBACK_DATABASE_URL", f"postgresql://feedback:{SECRET}@127.0.0.1:{closed_port}/feedback")
    result = run_cli(*args)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: the database at postgresql://feedback:***@127.0.0.1:{closed_port}/"
                                    "feedback did not answer ("), result.stderr
    assert result.stderr.rstrip().endswith("start it or fix FEEDBACK_DATABASE_URL"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "sqlalche.me" not in result.output and "Traceback" not in result.output and SECRET not in result.output


def test_a_database_that_does_not_exist_is_named_with_the_servers_reason(run_cli, monkeypatch):
    if not port_open("127.0.0.1", 5432):
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    name = f"feedback_missing_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("FEEDBACK_DATABASE_URL", f"postgresql://postgres@127.0.0.1:5432/{name}")
    result = run_cli("init")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: the database at postgresql://postgres@127.0.0.1:5432/{name} did not "
                                    "answer ("), result.stderr
    assert f'database "{name}" does not exist' in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_web_server_still_names_a_database_that_does_not_answer(tmp_path, closed_port):
    """wsgi.py's own probe is gone: the same error now comes from the app factory, for gunicorn too."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACK_", "OPENAI_"))}
    env.update(FEEDBACK_HOME=str(tmp_path / "home"), FEEDBACK_EMBEDDING_MODEL="hashing",
               FEEDBACK_DATABASE_URL=f"postgresql://feedback:{SECRET}@127.0.0.1:{closed_port}/feedback")
    run = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, capture_output=True, text=True,
                         timeout=90, env=env)
    assert run.returncode == 1 and "Traceback" not in run.stderr and SECRET not in run.stderr, run.stderr
    assert run.stderr.startswith(f"error: the database at postgresql://feedback:***@127.0.0.1:{closed_port}/feedback "
                                 "did not answer ("), run.stderr


# ---- a Chroma server that stops while a process runs ---------------------------------------------------------------
@pytest.fixture
def chroma_server(tmp_path):
    """A `chroma run` on a free loopback port; the test stops it (`proc.terminate()`) when it needs it gone."""
    if not (BIN / "chroma").exists():
        pytest.skip("the chroma CLI is not installed in this environment")
    from eval.load_stack import wait_http

    port = free_port()
    log = open(tmp_path / "chroma.log", "w")
    proc = subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(tmp_path / "chroma"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", 60)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_a_chroma_server_that_stops_is_named_by_the_store_the_api_and_a_job(make_app, chroma_server, monkeypatch):
    """A job whose Chroma server went away failed with "ConnectError: [Errno 111] Connection refused" (and the
    worker's log said no more), naming neither the server nor the setting."""
    from service.jobs import JOBS, enqueue, execute
    from service.vectorstore import STATEMENTS, ServerUnreachable, VectorStoreError

    url, proc = chroma_server
    app = make_app(CHROMA_URL=url, CHROMA_COLLECTION_PREFIX=f"t{uuid.uuid4().hex[:8]}")
    svc = app.extensions["feedback"]
    client = app.test_client()
    assert client.post("/api/v1/notes", json=[{"id": "n1", "text": "Exports time out."}]).status_code == 201
    assert svc.store.count(STATEMENTS) == 1
    proc.terminate()
    proc.wait(10)

    for call in (lambda: svc.store.count(STATEMENTS), lambda: svc.store.query(STATEMENTS, np.ones((1, 8)), 3),
                 lambda: svc.store.add(STATEMENTS, ["s9"], np.ones((1, 8)), [{"note_id": "n9"}])):
        with pytest.raises(ServerUnreachable) as caught:
            call()
        assert isinstance(caught.value, httpx.ConnectError) and isinstance(caught.value, VectorStoreError)
        assert str(caught.value).startswith(f"no Chroma server answers at {url} (")
        assert "FEEDBACK_CHROMA_URL" in str(caught.value)

    stats = client.get("/api/v1/stats")  # unchanged: the API's 503 names the vector store and its URL
    assert stats.status_code == 503 and stats.headers.get("Retry-After")
    assert stats.get_json()["error"]["message"] == f"vector store unreachable at {url}"

    monkeypatch.setenv("FEEDBACK_JOB_BACKOFF", "0.001")
    monkeypatch.setitem(JOBS, "count_vectors", lambda services, payload, progress: services.store.count(STATEMENTS))
    with app.app_context():
        job = execute(svc, enqueue(svc, "count_vectors", {}, submit=False)["id"])
    assert job["status"] == "failed" and job["attempts"] == 3  # retried as a transient error, as before
    assert job["error"].startswith(f"ServerUnreachable: no Chroma server answers at {url} ("), job["error"]


# ---- another embedding model than the one that built the index ----------------------------------------------------
def test_an_index_built_by_another_model_names_both_settings(tmp_path):
    """A process started with another FEEDBACK_EMBEDDING_MODEL was told to "set FEEDBACK_EMBEDDER to the embedder that
    built it", a setting that cannot bring another model back."""
    from service import create_app
    from service.config import TestConfig
    from service.embedding import HashingEmbedder
    from service.vectorstore import STATEMENTS, IndexMismatchError

    class OtherModel(HashingEmbedder):
        def __init__(self):
            super().__init__(384)
            self.name = "other-model-384"

    home = tmp_path / "home"
    first = create_app(TestConfig(home))
    svc = first.extensions["feedback"]
    svc.store.add(STATEMENTS, ["s1"], np.ones((1, 384)), [{"note_id": "n1"}])
    svc.close()
    other = create_app(TestConfig(home), embedder=OtherModel()).extensions["feedback"]
    try:
        with pytest.raises(IndexMismatchError) as caught:
            other.store.count(STATEMENTS)
        assert "feedback reindex" in str(caught.value) and "FEEDBACK_EMBEDDING_MODEL" in str(caught.value)
    finally:
        other.close()
