"""Several processes: a real `chroma run` server on loopback and `gunicorn -w 2` workers sharing it."""
from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from eval.load_stack import wait_http

from ..conftest import ROOT, free_port, port_open

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.chroma_server


def _wait(url: str, seconds: float = 60) -> None:
    try:
        wait_http(url, seconds)
    except RuntimeError as exc:
        raise AssertionError(str(exc)) from None


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    if not (BIN / "chroma").exists():
        pytest.skip("the chroma CLI is not installed in this environment")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = open(path / "server.log", "w")
    proc = subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(path / "data"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait(f"http://127.0.0.1:{port}/api/v2/heartbeat")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_store_in_server_mode(make_app, chroma_server):
    app = make_app(CHROMA_URL=chroma_server, CHROMA_COLLECTION_PREFIX=f"t{os.getpid()}a")
    client = app.test_client()
    resp = client.post("/api/v1/notes", json=[{"id": "n1", "text": "Exports time out. Need SCIM."}])
    assert resp.status_code == 201
    stats = client.get("/api/v1/stats").get_json()
    assert stats["vector_store"] == "server" and stats["vectors"] == 2


def test_gunicorn_two_workers_share_the_server(tmp_path, chroma_server):
    if shutil.which("gunicorn", path=str(BIN)) is None:
        pytest.skip("gunicorn is not installed in this environment")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACK_", "OPENAI_"))}
    env.update(FEEDBACK_HOME=str(tmp_path), FEEDBACK_CHROMA_URL=chroma_server, FEEDBACK_EMBEDDING_MODEL="hashing",
               FEEDBACK_CHROMA_PREFIX=f"t{os.getpid()}b")
    subprocess.run([str(BIN / "feedback"), "init"], env=env, check=True, capture_output=True, cwd=ROOT)
    made = subprocess.run([str(BIN / "feedback"), "tokens", "create", "--name", "t", "--role", "pm", "--json"],
                          env=env, check=True, capture_output=True, cwd=ROOT, text=True)
    headers = {"Authorization": f"Bearer {json.loads(made.stdout)['token']}"}
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(f"http://127.0.0.1:{port}/healthz")
        base = f"http://127.0.0.1:{port}/api/v1"

        def post(i):
            return requests.post(f"{base}/notes", json={"id": f"g{i}", "text": f"Note {i}. Exports time out for team {i}."},
                                 headers=headers, timeout=30)

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(post, range(12)))
        assert [r.status_code for r in results] == [201] * 12
        for _ in range(10):
            stats = requests.get(f"{base}/stats", headers=headers, timeout=10).json()
            assert stats["notes"] == 12 and stats["vectors"] == 24
    finally:
        proc.terminate()
        proc.wait(10)
    assert not port_open("127.0.0.1", port)


def test_a_reindex_in_another_process_does_not_break_this_one(make_app, chroma_server):
    """`feedback reindex` builds a new collection and renames it in, which deletes the one every other process
    holds a handle to: their calls failed with NotFoundError (500s, /healthz 503) until restarted."""
    from service.ingest.store import reindex

    prefix = f"t{os.getpid()}c"
    web = make_app(CHROMA_URL=chroma_server, CHROMA_COLLECTION_PREFIX=prefix)
    client = web.test_client()
    assert client.post("/api/v1/notes", json=[{"id": "n1", "text": "Exports time out. Need SCIM."}]).status_code == 201
    assert client.get("/api/v1/stats").get_json()["vectors"] == 2
    cli = make_app(CHROMA_URL=chroma_server, CHROMA_COLLECTION_PREFIX=prefix,
                   DATABASE_URL=web.config["FEEDBACK_CONFIG"].DATABASE_URL)
    assert reindex(cli.extensions["feedback"]) == 2
    assert client.get("/api/v1/stats").get_json()["vectors"] == 2
    assert client.get("/healthz").status_code == 200
    assert client.post("/api/v1/notes", json=[{"id": "n2", "text": "SSO with Okta, please."}]).status_code == 201
    assert cli.extensions["feedback"].store.count("statements") == 3


def test_a_stopped_server_is_a_503_naming_it_and_a_job_retries(make_app, tmp_path):
    from service.jobs.queue import is_transient

    if not (BIN / "chroma").exists():
        pytest.skip("the chroma CLI is not installed in this environment")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(tmp_path / "data"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(f"{url}/api/v2/heartbeat")
        app = make_app(CHROMA_URL=url)
        client = app.test_client()
        assert client.post("/api/v1/notes", json=[{"id": "n1", "text": "Exports time out."}]).status_code == 201
    finally:
        proc.terminate()
        proc.wait(10)
    stats = client.get("/api/v1/stats")
    assert stats.status_code == 503 and stats.get_json()["error"]["message"] == f"vector store unreachable at {url}"
    posted = client.post("/api/v1/notes", json=[{"id": "n2", "text": "SSO with Okta, please."}])
    assert posted.status_code == 503
    assert client.get("/healthz").get_json()["error"]["details"]["vector_store"] == f"unreachable at {url}"
    try:
        app.extensions["feedback"].store.count("statements")
    except Exception as exc:  # what a job sees: retried with backoff, not failed at once
        assert is_transient(exc), repr(exc)
    else:
        raise AssertionError("the stopped server answered")
