"""The production profile's failure modes (gunicorn + `feedback worker` + PostgreSQL + Redis + a Chroma server):
a collection replaced by another process's reindex, a worker killed mid-job, an outcome the database could not take,
jobs queued while Redis was down, and a database or vector server that is down. Fakes where no server is needed;
the RQ tests use Redis on 127.0.0.1:6379 (db 15) and skip without it."""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from datetime import timedelta

import httpx
import numpy as np
import pytest
from sqlalchemy import event, update
from sqlalchemy.exc import OperationalError

from service.jobs import JOBS, JobFailed, enqueue, execute, get_job, run_worker, store, sweep
from service.jobs import queue as queue_mod
from service.jobs.queue import ATTEMPTS, OutcomeNotRecorded, is_transient, redacted
from service.models import Job, utcnow

from ..conftest import port_open

REDIS = "redis://127.0.0.1:6379/15"
needs_redis = pytest.mark.skipif(not port_open("127.0.0.1", 6379), reason="needs Redis on 127.0.0.1:6379")


# ---- 1. a collection another process replaced ------------------------------------------------------------------
def test_a_collection_replaced_by_another_process_is_reopened_by_name():
    """Two stores on one Chroma (two processes on one server): B reindexes (builds aside, renames in, which deletes
    the collection A holds a handle to). A's next calls get the new collection instead of NotFoundError forever."""
    import chromadb
    from chromadb.config import Settings

    from service.vectorstore import ChromaStore

    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
    prefix = f"t{uuid.uuid4().hex[:8]}"
    web, cli = ChromaStore(client, prefix), ChromaStore(client, prefix)
    vectors = np.eye(4, dtype=np.float32)
    web.add("statements", ["s1"], vectors[:1], [{"n": 1}])
    assert web.count("statements") == 1  # web now holds a handle to this collection
    cli.add("statements_rebuild", ["s1", "s2"], vectors[:2], [{"n": 1}, {"n": 2}])
    cli.rename("statements_rebuild", "statements")

    assert web.count("statements") == 2
    assert [hit[0] for hit in web.query("statements", vectors[1:2], 1)[0]] == ["s2"]
    web.add("statements", ["s3"], vectors[2:3], [{"n": 3}])
    assert sorted(web.ids("statements")) == ["s1", "s2", "s3"] and cli.count("statements") == 3


def test_a_missing_collection_without_a_cached_handle_is_not_retried():
    from chromadb.errors import NotFoundError

    from service.vectorstore import _reopen_if_replaced

    calls = []

    class Store:
        _collections: dict = {}

        @_reopen_if_replaced
        def count(self, collection):
            calls.append(collection)
            raise NotFoundError("Collection [x] does not exist.")

    with pytest.raises(NotFoundError):
        Store().count("statements")
    assert calls == ["statements"]


# ---- 6. a Chroma server that is down is worth a retry -----------------------------------------------------------
def test_chroma_connection_errors_are_transient_and_retried(app, svc, monkeypatch, caplog):
    request = httpx.Request("POST", "http://127.0.0.1:8000/api/v2/collections/x/add")
    assert is_transient(httpx.ConnectError("[Errno 111] Connection refused", request=request))
    assert is_transient(httpx.ReadTimeout("timed out", request=request))
    assert not is_transient(ValueError("bad input"))
    monkeypatch.setenv("FEEDBACK_JOB_BACKOFF", "0.001")
    calls = []

    def chroma_down(services, payload, progress):
        calls.append(1)
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    monkeypatch.setitem(JOBS, "chroma_down", chroma_down)
    with app.app_context(), caplog.at_level("INFO", logger="service.jobs.queue"):
        job = execute(svc, enqueue(svc, "chroma_down", {}, submit=False)["id"])
    assert len(calls) == ATTEMPTS and job["status"] == "failed" and job["attempts"] == ATTEMPTS
    assert job["error"] == "ConnectError: [Errno 111] Connection refused"
    # the worker's log: one line naming the error once the retries are spent, no traceback (the server was down)
    (final,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert final.getMessage().endswith(f"failed after {ATTEMPTS} attempts: ConnectError: [Errno 111] Connection refused")
    assert final.exc_info is None


# ---- 3. an outcome the database could not take -------------------------------------------------------------------
def _database_down_for_writes(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("UPDATE jobs", {}, Exception("connection refused"))

    monkeypatch.setattr(store, "finish", refuse)
    monkeypatch.setattr(store, "fail", refuse)


def test_an_outcome_the_database_refused_is_raised_with_the_outcome(app, svc, monkeypatch):
    monkeypatch.setenv("FEEDBACK_JOB_BACKOFF", "0.001")
    monkeypatch.setitem(JOBS, "broken", lambda *_: (_ for _ in ()).throw(JobFailed("no statements; ingest first")))
    with app.app_context():
        job_id = enqueue(svc, "broken", {}, submit=False)["id"]
    _database_down_for_writes(monkeypatch)
    with app.app_context(), pytest.raises(OutcomeNotRecorded) as caught:
        execute(svc, job_id)
    assert caught.value.outcome == {"status": "failed", "error": "no statements; ingest first"}
    assert get_job(svc, job_id)["status"] == "running"


@needs_redis
def test_rq_a_failure_the_database_refused_is_recorded_by_the_next_sweep(make_app, monkeypatch, rq_queue):
    """The QA case: Postgres down while a job ends; RQ marks it failed, the SQL row stayed `running` for good."""
    monkeypatch.setenv("FEEDBACK_JOB_BACKOFF", "0.001")
    monkeypatch.setitem(JOBS, "broken", lambda *_: (_ for _ in ()).throw(JobFailed("no statements; ingest first")))
    app = make_app(REDIS_URL=REDIS, REDIS_QUEUE=rq_queue)
    svc = app.extensions["feedback"]
    with app.app_context():
        job_id = enqueue(svc, "broken", {})["id"]
    with monkeypatch.context() as down:
        _database_down_for_writes(down)
        run_worker(app, burst=True, echo=lambda *_: None)
    assert get_job(svc, job_id)["status"] == "running"  # RQ has it failed, with the outcome in its meta
    assert sweep(app)["recorded"] == 1  # the database is back
    job = get_job(svc, job_id)
    assert job["status"] == "failed" and job["error"] == "no statements; ingest first"
    assert sweep(app) == {"submitted": 0, "requeued": 0, "failed": 0, "recorded": 0}  # settled once


# ---- 2. a worker killed mid-job ------------------------------------------------------------------------------------
@pytest.fixture
def rq_queue():
    from redis import Redis

    name = f"feedback-test-{uuid.uuid4().hex[:8]}"
    yield name
    forget_queue(Redis.from_url(REDIS), name)


def forget_queue(redis, name: str) -> None:
    """Delete this test's keys only (others may share db 15): its queue's and its jobs'."""
    ids = [key.decode().split(":", 2)[2] for key in redis.scan_iter("rq:job:*")
           if key.count(b":") == 2 and redis.type(key) == b"hash" and redis.hget(key, "origin") == name.encode()]
    for pattern in (f"*{name}*", *(f"*{i}*" for i in ids)):
        for key in redis.scan_iter(pattern):
            redis.delete(key)


def _worker(app, rq_queue, **kwargs):
    queue = queue_mod.RQQueue(REDIS, rq_queue)
    worker = queue_mod.feedback_worker_class()([queue.queue], connection=queue.connection, **kwargs)
    worker.app = app
    return queue, worker


@needs_redis
def test_rq_jobs_get_a_heartbeat_ttl_of_seconds_not_the_job_timeout(make_app, monkeypatch, rq_queue):
    """SimpleWorker gave a running job the whole job timeout (3 h) as its heartbeat TTL, so a killed worker's job
    stayed "started" that long. The worker now heartbeats while the job runs, with RQ's own short TTL."""
    from rq.registry import StartedJobRegistry

    app = make_app(REDIS_URL=REDIS, REDIS_QUEUE=rq_queue)
    svc = app.extensions["feedback"]
    queue, worker = _worker(app, rq_queue, job_monitoring_interval=1)
    registry = StartedJobRegistry(queue=queue.queue)
    seen = []
    beaten = threading.Event()
    maintain_heartbeats = worker.maintain_heartbeats

    def beat(job, execution):  # the worker's heartbeat thread, which the job waits for instead of sleeping
        maintain_heartbeats(job, execution)
        beaten.set()

    worker.maintain_heartbeats = beat

    def observe():
        deadlines = registry.connection.zrange(registry.key, 0, -1, withscores=True)
        seen.append((registry.get_job_ids(cleanup=False), deadlines, time.time()))

    def sleepy(services, payload, progress):
        observe()
        beaten.clear()
        assert beaten.wait(60), "no heartbeat while the job ran"  # one comes every job_monitoring_interval (1 s)
        observe()
        return {"ok": True}

    monkeypatch.setitem(JOBS, "sleepy", sleepy)
    monkeypatch.setattr(queue_mod, "_worker_app", app)
    with app.app_context():
        job_id = enqueue(svc, "sleepy", {})["id"]
    worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
    assert get_job(svc, job_id)["status"] == "done"
    (first_ids, first, first_seen), (_, second, _) = seen
    assert first_ids == [job_id]
    # The deadline was set before the job looked at it: job_monitoring_interval + 60 s on from then at most (plus
    # RQ's whole-second rounding), not JOB_TIMEOUT + 60. However slow the machine, it is not further off.
    assert first[0][1] - first_seen < 1 + 60 + 1
    assert second[0][1] > first[0][1]  # extended by the heartbeat while the job ran


def _left_by_a_killed_worker(app, rq_queue, job_id):
    """The state a worker killed -9 mid-job leaves: the SQL row claimed, RQ's job started and its heartbeat
    expired (RQ's StartedJobRegistry score is the heartbeat's deadline)."""
    from rq import Queue
    from rq.registry import StartedJobRegistry

    queue, worker = _worker(app, rq_queue)
    worker.register_birth()
    job, _ = Queue.dequeue_any([queue.queue], None, connection=queue.connection)
    assert job.id == job_id
    worker.prepare_execution(job)
    worker.prepare_job_execution(job)  # what SimpleWorker does before it calls the job
    assert store.claim(app.extensions["feedback"], job_id)
    registry = StartedJobRegistry(queue=queue.queue)
    for member in registry.connection.zrange(registry.key, 0, -1):
        registry.connection.zadd(registry.key, {member: time.time() - 1})
    worker.register_death()


@needs_redis
def test_rq_a_job_whose_worker_died_is_queued_again_then_run(make_app, rq_queue):
    app = make_app(REDIS_URL=REDIS, REDIS_QUEUE=rq_queue)
    svc = app.extensions["feedback"]
    with app.app_context():
        job_id = enqueue(svc, "reindex", {})["id"]
    _left_by_a_killed_worker(app, rq_queue, job_id)
    assert sweep(app)["requeued"] == 1
    job = get_job(svc, job_id)
    assert job["status"] == "queued" and "the worker running it stopped" in job["error"]
    assert sweep(app)["requeued"] == 0  # once
    assert run_worker(app, burst=True, echo=lambda *_: None) == 1
    job = get_job(svc, job_id)
    assert job["status"] == "done" and job["attempts"] == 2


@needs_redis
def test_rq_a_job_whose_worker_died_on_its_last_attempt_fails_and_wait_ends(make_app, rq_queue, monkeypatch):
    from click.testing import CliRunner

    from service.cli import cli

    app = make_app(REDIS_URL=REDIS, REDIS_QUEUE=rq_queue)
    svc = app.extensions["feedback"]
    with app.app_context():
        job_id = enqueue(svc, "reindex", {})["id"]
    _left_by_a_killed_worker(app, rq_queue, job_id)
    with svc.db.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(attempts=ATTEMPTS))
    config = app.config["FEEDBACK_CONFIG"]
    for name, value in {"FEEDBACK_HOME": config.FEEDBACK_HOME, "FEEDBACK_DATABASE_URL": config.DATABASE_URL,
                        "FEEDBACK_CHROMA_PATH": config.CHROMA_PATH, "FEEDBACK_REDIS_URL": REDIS,
                        "FEEDBACK_REDIS_QUEUE": rq_queue, "FEEDBACK_EMBEDDING_MODEL": "hashing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FEEDBACK_CHROMA_URL", raising=False)
    result = CliRunner().invoke(cli, ["jobs", "show", job_id, "--wait", "--timeout", "60"])
    assert result.exit_code == 1, result.output
    assert "failed" in result.output and "the worker running it stopped" in result.output
    assert "not retried again" in get_job(svc, job_id)["error"]


# ---- 2. the in-process (local) backend ---------------------------------------------------------------------------
def _age(svc, job_id, by: timedelta):
    with svc.db.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(updated_at=utcnow() - by))


def test_local_a_running_job_whose_process_is_gone_is_queued_again(app, svc):
    with app.app_context():
        job_id = enqueue(svc, "reindex", {}, submit=False)["id"]
    assert store.claim(svc, job_id)  # and then the process died: nothing touches the row any more
    assert sweep(app)["requeued"] == 0  # a live job beats every BEAT_SECONDS; this one is not stale yet
    _age(svc, job_id, store.STALE + timedelta(seconds=1))
    assert sweep(app)["requeued"] == 1
    job = get_job(svc, job_id)
    assert job["status"] == "queued" and "the process running it stopped" in job["error"]
    assert run_worker(app, burst=True, echo=lambda *_: None) == 1
    assert get_job(svc, job_id)["status"] == "done"


def test_local_wait_ends_when_the_job_is_abandoned_on_its_last_attempt(app, svc, monkeypatch):
    config = app.config["FEEDBACK_CONFIG"]
    for name, value in {"FEEDBACK_HOME": config.FEEDBACK_HOME, "FEEDBACK_DATABASE_URL": config.DATABASE_URL,
                        "FEEDBACK_CHROMA_PATH": config.CHROMA_PATH}.items():
        monkeypatch.setenv(name, value)
    with app.app_context():
        job_id = enqueue(svc, "reindex", {}, submit=False)["id"]
    store.claim(svc, job_id)
    with svc.db.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(attempts=ATTEMPTS))
    _age(svc, job_id, store.STALE + timedelta(seconds=1))
    from click.testing import CliRunner

    from service.cli import cli

    result = CliRunner().invoke(cli, ["jobs", "show", job_id, "--wait"])
    assert result.exit_code == 1 and f"job {job_id}: reindex, failed" in result.output
    assert "the process running it stopped" in result.output and "not retried again" in result.output


def test_wait_gives_up_after_its_timeout(run_cli):
    job_id = json.loads(run_cli("reindex", "--background", "--json").output)["job_id"]
    from click.testing import CliRunner

    from service.cli import cli

    result = CliRunner().invoke(cli, ["jobs", "show", job_id, "--wait", "--timeout", "0.5"])
    assert result.exit_code == 1 and "still queued after 0.5 s" in result.output
    assert "feedback worker" in result.output


def test_a_running_job_is_touched_by_its_process(monkeypatch):
    """Counted in the heartbeat thread's own rounds, not in wall-clock time: a busy machine wakes it late."""
    calls, rounds = [], []
    touched_twice, rounds_ran = threading.Event(), threading.Condition()

    def touch(services, job_id, **values):
        calls.append((job_id, sorted(values)))
        if len(calls) >= 2:
            touched_twice.set()

    monkeypatch.setattr(store, "_set", touch)
    beat = store.Heartbeat(every=0.05)
    real_beat = beat.beat

    def counted_round():
        real_beat()
        with rounds_ran:
            rounds.append(1)
            rounds_ran.notify_all()

    beat.beat = counted_round
    try:
        with beat.beating(object(), "abc"):
            assert touched_twice.wait(60), "the heartbeat thread never touched the running job twice"
        count = len(calls)
        with rounds_ran:  # three more rounds: the first may have been under way as the job ended, the others not
            after = len(rounds)
            assert rounds_ran.wait_for(lambda: len(rounds) >= after + 3, timeout=60)
        assert count >= 2 and calls[0] == ("abc", ["if_running", "updated_at"])
        assert len(calls) <= count + 1  # the job ended: no more beats for it (one may have been under way)
    finally:
        beat.every = 10**6  # Heartbeat has no stop: its daemon thread now sleeps instead of waking 20 times a second


# ---- 5. jobs queued while Redis was down -----------------------------------------------------------------------
@needs_redis
def test_rq_a_job_queued_while_redis_was_down_is_submitted_by_the_sweep(make_app, rq_queue, closed_port):
    closed = f"redis://127.0.0.1:{closed_port}/15"
    web = make_app(REDIS_URL=closed, REDIS_QUEUE=rq_queue, ASYNC_INGEST_NOTES=1)
    response = web.test_client().post("/api/v1/themes/run?background=true")
    assert response.status_code == 202
    job_id = response.get_json()["job"]["id"]
    worker_app = make_app(REDIS_URL=REDIS, REDIS_QUEUE=rq_queue,
                          DATABASE_URL=web.config["FEEDBACK_CONFIG"].DATABASE_URL)
    svc = worker_app.extensions["feedback"]
    assert sweep(worker_app)["submitted"] == 1
    assert sweep(worker_app)["submitted"] == 0  # Redis holds it now
    assert run_worker(worker_app, burst=True, echo=lambda *_: None) == 1
    assert get_job(svc, job_id)["status"] in ("done", "failed")  # run (no statements: the run says so)


@needs_redis
def test_the_worker_sweeps_in_rqs_maintenance_every_interval(make_app, rq_queue, monkeypatch):
    """Not only at start: RQ runs maintenance between waits for a job, every maintenance_interval seconds."""
    app = make_app(REDIS_URL=REDIS, REDIS_QUEUE=rq_queue)
    swept = []
    monkeypatch.setattr("service.jobs.recover.sweep", lambda app, log=None: swept.append(time.monotonic()))
    _, worker = _worker(app, rq_queue, maintenance_interval=1, worker_ttl=16)
    worker.work(burst=False, max_idle_time=3, with_scheduler=False, logging_level="WARNING")
    assert len(swept) >= 2 and worker.dequeue_timeout == 1


def test_the_worker_names_the_redis_database_and_never_the_password():
    assert redacted("redis://:pw@10.0.0.2:6380/5") == "redis://10.0.0.2:6380/5"
    assert redacted("redis://127.0.0.1") == "redis://127.0.0.1:6379/0"


# ---- 4. a dependency that is down: 503 naming it, one log line ----------------------------------------------------
def _database_down(svc):
    @event.listens_for(svc.db.engine, "do_connect")
    def _refuse(*_args):
        raise sqlite3.OperationalError("unable to open database file")

    svc.db.engine.dispose()


def test_database_down_is_a_503_naming_it_for_the_api_and_a_page_for_a_signed_in_user(app, svc, caplog):
    from service.auth.store import add_user, create_sign_in_code

    api = app.test_client()  # makes its token while the database is up
    add_user(svc.db, "pat@example.com", "admin")
    browser = app.test_client(anonymous=True)
    browser.post(f"/sign-in/{create_sign_in_code(svc.db, 'pat@example.com')}")  # the link's button
    _database_down(svc)
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        for path in ("/api/v1/stats", "/api/v1/notes"):
            resp = api.get(path)
            assert resp.status_code == 503 and "Retry-After" in resp.headers
            assert resp.get_json()["error"] == {"code": "dependency_unavailable", "details": {},
                                                "message": "database unavailable; try again shortly (the reason is "
                                                           "in the server log)"}
        page = browser.get("/themes")
        assert page.status_code == 503 and page.mimetype == "text/html"
        assert "database unavailable" in page.get_data(as_text=True) and "<html" in page.get_data(as_text=True)
        health = app.test_client(anonymous=True).get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["error"]["details"]["database"].startswith("unavailable: check that the database")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 4 and not any(r.exc_info for r in errors)
    assert "unable to open database file" in errors[0].getMessage()


def test_vector_server_down_is_a_503_naming_its_url(app, svc, monkeypatch, caplog):
    url = "http://127.0.0.1:8123"
    app.config["CHROMA_URL"] = url

    def refused(*_args, **_kwargs):
        raise httpx.ConnectError("[Errno 111] Connection refused", request=httpx.Request("GET", f"{url}/api/v2/x"))

    for method in ("count", "add", "query", "upsert"):
        monkeypatch.setattr(svc.store, method, refused)
    monkeypatch.setattr(svc.store, "location", url)
    monkeypatch.setattr(svc.store, "heartbeat", lambda: False)
    client = app.test_client()
    with caplog.at_level(logging.ERROR):
        caplog.clear()
        stats = client.get("/api/v1/stats")
        notes = client.post("/api/v1/notes", json=[{"id": "n1", "text": "Exports time out."}])
    for resp in (stats, notes):
        assert resp.status_code == 503
        assert resp.get_json()["error"]["message"] == f"vector store unreachable at {url}"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2 and not any(r.exc_info for r in errors)
    health = client.get("/healthz").get_json()["error"]["details"]
    assert health["vector_store"] == f"unreachable at {url}"


def test_an_httpx_error_from_another_host_is_still_a_500(app, svc, monkeypatch):
    app.config["CHROMA_URL"] = "http://127.0.0.1:8123"

    def elsewhere(*_args, **_kwargs):
        raise httpx.ConnectError("refused", request=httpx.Request("GET", "http://10.0.0.9:9/x"))

    monkeypatch.setattr(svc.store, "count", elsewhere)
    assert app.test_client().get("/api/v1/stats").status_code == 500


# ---- minor: /healthz checks the job queue ---------------------------------------------------------------------
def test_healthz_reports_the_job_queue_as_degraded_not_down(make_app, closed_port):
    app = make_app(REDIS_URL=f"redis://:secret@127.0.0.1:{closed_port}/7")
    resp = app.test_client(anonymous=True).get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "degraded" and body["checks"]["database"] == "ok"
    assert body["checks"]["job_queue"].startswith("unreachable at redis://127.0.0.1:")
    assert "/7: jobs wait in the database" in body["checks"]["job_queue"] and "secret" not in json.dumps(body)


@needs_redis
def test_healthz_job_queue_ok(make_app):
    body = make_app(REDIS_URL=REDIS).test_client(anonymous=True).get("/healthz").get_json()
    assert body == {"status": "ok", "checks": {"database": "ok", "vector_store": "ok", "job_queue": "ok"}}

