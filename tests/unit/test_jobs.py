"""Background jobs: CLI and API paths, retries, idempotent keys, RQ on a real Redis (skipped without one)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from service.jobs import JOBS, JobFailed, enqueue, execute, get_job, run_worker
from service.notes import stats

from ..conftest import DATA, port_open

NOTES = [json.loads(line) for line in (DATA / "notes.jsonl").read_text().splitlines()]


def _wait(client, job_id, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").get_json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s")


def test_cli_background_ingest_then_burst_worker(run_cli):
    out = run_cli("ingest", str(DATA / "notes.jsonl"), "--background", "--json")
    job_id = json.loads(out.output)["job_id"]
    assert json.loads(run_cli("jobs", "show", job_id, "--json").output)["status"] == "queued"
    assert "1 job(s) run" in run_cli("worker", "--burst").output
    job = json.loads(run_cli("jobs", "show", job_id, "--json").output)
    assert job["status"] == "done" and job["result"]["created"] == 3
    assert job["progress"]["done"] == job["progress"]["total"] == job["result"]["statements_embedded"]
    assert json.loads(run_cli("stats", "--json").output)["notes"] == 3
    assert job_id in run_cli("jobs", "list").output
    # The same file again: nothing to embed, and the finished job still reads total/total, not 0 of N.
    again = json.loads(run_cli("ingest", str(DATA / "notes.jsonl"), "--background", "--json").output)["job_id"]
    run_cli("worker", "--burst")
    job = json.loads(run_cli("jobs", "show", again, "--json").output)
    assert job["result"]["unchanged"] == 3 and job["result"]["statements_embedded"] == 0
    assert job["status"] == "done" and job["progress"]["done"] == job["progress"]["total"] > 0


def test_cli_background_rejects_bad_input_before_queueing(run_cli, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "fine"}\n{"id": "b"}\n')
    from click.testing import CliRunner

    from service.cli import cli

    result = CliRunner().invoke(cli, ["ingest", str(bad), "--background"])
    assert result.exit_code == 1 and "bad.jsonl" in result.output and "nothing was stored" in result.output
    assert "no jobs" in run_cli("jobs", "list").output


def test_large_api_ingest_answers_202_and_the_job_stores_the_notes(make_app):
    app = make_app(ASYNC_INGEST_NOTES=2)
    client = app.test_client()
    response = client.post("/api/v1/notes", json=NOTES)
    assert response.status_code == 202
    job_id = response.get_json()["job"]["id"]
    assert response.headers["Location"] == f"/api/v1/jobs/{job_id}"
    job = _wait(client, job_id)
    assert job["status"] == "done" and job["result"]["created"] == 3
    assert stats(app.extensions["feedback"])["notes"] == 3
    assert client.post("/api/v1/notes", json=NOTES[:1]).status_code == 201  # small: answered in the request
    assert client.get("/api/v1/jobs/nope").status_code == 404
    assert client.get("/api/v1/jobs?status=weird").status_code == 400
    assert [j["id"] for j in client.get("/api/v1/jobs").get_json()["items"]] == [job_id]


def test_an_invalid_large_ingest_is_still_422_and_queues_nothing(make_app):
    app = make_app(ASYNC_INGEST_NOTES=1)
    client = app.test_client()
    response = client.post("/api/v1/notes", json=NOTES + [{"id": "x"}])
    assert response.status_code == 422
    assert client.get("/api/v1/jobs").get_json()["items"] == []


def test_a_key_is_enqueued_once_even_from_two_apps_on_one_database(make_app, tmp_path):
    """Two web processes' schedulers firing the same nightly report: the unique key lets one job through."""
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = make_app(DATABASE_URL=db), make_app(DATABASE_URL=db)
    jobs = []
    for app in (first, second):
        with app.app_context():
            jobs.append(enqueue(app.extensions["feedback"], "reindex", {}, key="nightly-report:2026-11-29T06:00",
                                submit=False))
    assert jobs[0]["id"] == jobs[1]["id"]


def test_transient_errors_are_retried_and_final_ones_recorded(app, svc, monkeypatch):
    monkeypatch.setenv("FEEDBACK_JOB_BACKOFF", "0.001")
    calls = []

    def flaky(services, payload, progress):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE", {}, Exception("database is locked"))
        return {"ok": True}

    def broken(services, payload, progress):
        raise JobFailed("the theme run needs statements; ingest notes first")

    monkeypatch.setitem(JOBS, "flaky", flaky)
    monkeypatch.setitem(JOBS, "broken", broken)
    with app.app_context():
        ok = enqueue(svc, "flaky", {}, submit=False)
        bad = enqueue(svc, "broken", {}, submit=False)
        assert execute(svc, ok["id"])["status"] == "done"
        assert execute(svc, ok["id"]) is None  # already done: a second delivery of the same job does nothing
        failed = execute(svc, bad["id"])
    done = get_job(svc, ok["id"])
    assert done["attempts"] == 2 and done["result"] == {"ok": True} and "database is locked" in done["error"]
    assert failed["status"] == "failed" and failed["error"].startswith("the theme run needs statements")


def test_a_worker_refuses_an_embedded_store_another_process_serves(app, tmp_path):
    from service.jobs.guard import hold_embedded_store

    config = app.config["FEEDBACK_CONFIG"]
    hold_embedded_store(config, "the web server")
    env = {"FEEDBACK_HOME": config.FEEDBACK_HOME, "FEEDBACK_DATABASE_URL": config.DATABASE_URL,
           "FEEDBACK_CHROMA_PATH": config.CHROMA_PATH, "FEEDBACK_EMBEDDING_MODEL": "hashing", "PATH": "/usr/bin:/bin"}
    feedback = str(Path(sys.executable).with_name("feedback"))
    out = subprocess.run([feedback, "worker", "--burst"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1
    assert "already served by the web server" in out.stderr and "FEEDBACK_CHROMA_URL" in out.stderr


@pytest.mark.skipif(not port_open("127.0.0.1", 6379), reason="needs Redis on 127.0.0.1:6379 (.ci/run starts it)")
def test_rq_queue_runs_jobs_in_a_burst_worker(make_app):
    queue = f"feedback-test-{uuid.uuid4().hex[:8]}"
    app = make_app(REDIS_URL="redis://127.0.0.1:6379/15", REDIS_QUEUE=queue, ASYNC_INGEST_NOTES=1)
    client = app.test_client()
    response = client.post("/api/v1/notes", json=NOTES)
    assert response.status_code == 202 and response.get_json()["job"]["backend"] == "rq"
    job_id = response.get_json()["job"]["id"]
    assert client.get(f"/api/v1/jobs/{job_id}").get_json()["status"] == "queued"  # nobody works it yet
    assert run_worker(app, burst=True, echo=lambda *_: None) == 1
    job = client.get(f"/api/v1/jobs/{job_id}").get_json()
    assert job["status"] == "done" and job["result"]["created"] == 3


def test_the_nightly_report_runs_once_per_fire_time_across_schedulers(make_app, tmp_path):
    from datetime import datetime, timezone

    from service.reports.schedule import latest_fire, parse_cron, run_once_per_fire

    trigger = parse_cron("0 6 * * *")
    late = datetime(2026, 11, 29, 6, 40, tzinfo=timezone.utc)
    assert latest_fire(trigger, late) == datetime(2026, 11, 29, 6, 0, tzinfo=timezone.utc)
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    runs = []
    results = []
    for app in (make_app(DATABASE_URL=db), make_app(DATABASE_URL=db)):
        with app.app_context():
            results.append(run_once_per_fire(app.extensions["feedback"], trigger,
                                             lambda s, *_: runs.append(1) or {"report": "stored"}, now=late))
    assert runs == [1] and results[0]["status"] == "done" and results[1] is None


def test_a_background_theme_run_ends_like_the_request_would(make_app):
    app = make_app()
    client = app.test_client()
    assert client.post("/api/v1/notes", json=NOTES).status_code == 201
    body = {"all": True, "min_mentions": 1, "min_accounts": 1, "since": "2020-01-01"}
    response = client.post("/api/v1/themes/run?background=true", json=body)
    assert response.status_code == 202
    job = _wait(client, response.get_json()["job"]["id"])
    direct = client.post("/api/v1/themes/run", json=body)
    if direct.status_code == 201:
        assert job["status"] == "done" and job["result"]["themes"] == len(direct.get_json()["themes"])
    else:  # the same refusal, recorded on the job instead of answered
        assert job["status"] == "failed" and job["error"] == direct.get_json()["error"]["message"]


# --- erasure as a job ------------------------------------------------------------------------------------------

def _job_row(app, job_id):
    from service.models import Job

    with app.extensions["feedback"].db.session() as session:
        return dict(session.get(Job, job_id).payload)


def test_api_erasure_in_the_background_reports_progress_and_forgets_the_name(make_app):
    app = make_app()
    client = app.test_client()
    notes = [{"id": "a1", "account": "Quillfeather Ltd", "text": "Exports time out."},
             {"id": "b1", "account": "Beta", "text": "SSO is slow."}]
    assert client.post("/api/v1/notes", json=notes).status_code == 201
    assert client.delete("/api/v1/accounts/Nobody?background=true").status_code == 404  # checked before queueing
    assert client.get("/api/v1/jobs").get_json()["items"] == []
    response = client.delete("/api/v1/accounts/Quillfeather Ltd?background=true")
    assert response.status_code == 202 and response.headers["Location"].startswith("/api/v1/jobs/")
    job = _wait(client, response.get_json()["job"]["id"])
    assert job["status"] == "done" and job["result"]["notes"] == 1 and "compacted" in job["result"]
    assert job["progress"] == {"done": 2, "total": 2}
    assert client.get("/api/v1/notes/a1").status_code == 404 and client.get("/api/v1/notes/b1").status_code == 200
    assert "Quillfeather" not in json.dumps(_job_row(app, job["id"])) + json.dumps(job)
    log = client.get("/api/v1/audit?action=account_erase").get_json()["entries"]
    assert len(log) == 1 and "Quillfeather" not in json.dumps(log)
    page = client.get(f"/jobs/{job['id']}")  # the job page shows what it erased
    assert page.status_code == 200 and "notes erased" in page.get_data(as_text=True)


def test_cli_erasure_can_be_queued(run_cli):
    """`accounts erase` stays synchronous by default (test_erase.py); --background queues it for a worker."""
    assert run_cli("ingest", str(DATA / "notes.jsonl"), "-q").exit_code == 0
    accounts = sorted({n["account"] for n in NOTES if n.get("account")})
    assert len(accounts) >= 2
    missing = run_cli("accounts", "erase", "Nobody at all", "--yes", "--background")
    assert missing.exit_code == 1 and "no account named" in missing.output
    queued = json.loads(run_cli("accounts", "erase", accounts[1], "--yes", "--background", "--json").output)
    assert queued["status"] == "queued"
    assert "1 job(s) run" in run_cli("worker", "--burst").output
    job = json.loads(run_cli("jobs", "show", queued["job_id"], "--json").output)
    assert job["status"] == "done" and job["kind"] == "erase" and job["result"]["notes"] >= 1
    listed = run_cli("accounts", "list").output
    assert accounts[1] not in listed and accounts[0] in listed


def test_a_retried_erasure_compacts_again_without_erasing_twice(app, svc, monkeypatch):
    from service import erase

    client = app.test_client()
    assert client.post("/api/v1/notes", json=[{"id": "r1", "account": "Retry Co", "text": "Exports fail."}]).status_code == 201
    calls = []

    def flaky_compact(services):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("vector server went away")
        return {"vectors": "rebuilt"}

    monkeypatch.setattr(erase, "compact", flaky_compact)
    monkeypatch.setenv("FEEDBACK_JOB_BACKOFF", "0.01")
    with app.app_context():
        job = enqueue(svc, "erase", {"name": "Retry Co"}, app=app, submit=False)
        done = execute(svc, job["id"])
    assert done["status"] == "done" and done["attempts"] == 2 and len(calls) == 2
    assert done["result"]["notes"] == 1 and done["result"]["compacted"] == {"vectors": "rebuilt"}


def test_a_second_erasure_of_the_same_account_fails_without_keeping_the_name(app, svc):
    """Two quick erase requests both queue; the second finds nothing, and its failed job row must not keep the name
    it was asked to forget (in the payload or the error)."""
    client = app.test_client()
    assert client.post("/api/v1/notes", json=[{"id": "e1", "account": "Erase Co", "text": "Exports fail."}]).status_code == 201
    with app.app_context():
        first = enqueue(svc, "erase", {"name": "Erase Co"}, app=app, submit=False)
        second = enqueue(svc, "erase", {"name": "Erase Co"}, app=app, submit=False)
        assert execute(svc, first["id"])["status"] == "done"
        failed = execute(svc, second["id"])
    assert failed["status"] == "failed" and "sha256:" in failed["error"]
    assert "Erase Co" not in json.dumps(_job_row(app, second["id"])) + json.dumps(failed)


def test_a_large_paste_becomes_a_job_with_a_progress_page(make_app):
    app = make_app(ASYNC_INGEST_NOTES=2)
    client = app.test_client()
    text = "\n---\n".join(n["text"] for n in NOTES)
    response = client.post("/", data={"text": text, "account": "Paste Co", "source": "call"})
    assert response.status_code == 303 and "/jobs/" in response.headers["Location"]
    job = _wait(client, response.headers["Location"].rsplit("/", 1)[1])
    assert job["status"] == "done" and job["result"]["created"] == len(NOTES)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "notes stored" in page and '<meta http-equiv="refresh"' not in page
    small = client.post("/", data={"text": "One more note about exports.", "account": "Paste Co", "source": "call"})
    assert small.status_code == 200  # a small paste still answers with its summary at once


def test_a_damaged_or_mismatched_index_fails_a_job_at_once_with_the_remedy(app, svc, monkeypatch):
    """Retrying repairs neither; an unreachable server is still retried."""
    from service.jobs.queue import is_transient
    from service.vectorstore import IndexDamagedError, IndexMismatchError, VectorStoreError

    monkeypatch.setenv("FEEDBACK_JOB_BACKOFF", "0.001")
    assert is_transient(VectorStoreError("cannot reach the Chroma server"))
    assert not is_transient(IndexMismatchError("built with another embedder"))
    calls = []

    def damaged(services, payload, progress):
        calls.append(1)
        raise IndexDamagedError("the vector index at /x is damaged; rebuild it with `feedback reindex`")

    monkeypatch.setitem(JOBS, "damaged", damaged)
    with app.app_context():
        job = enqueue(svc, "damaged", {}, submit=False)
        failed = execute(svc, job["id"])
    assert len(calls) == 1 and failed["status"] == "failed" and "feedback reindex" in failed["error"]
