"""Where jobs run: RQ on Redis when FEEDBACK_REDIS_URL is set, else a small in-process thread pool.

Either way the SQL row is the job's record, `execute` claims it once (UPDATE ... WHERE status='queued') and retries
transient errors with exponential backoff, and `feedback worker` also picks up rows still queued in SQL (queued
while Redis was down, or by a process without a pool), so no job is lost to a missing server.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from . import store
from .functions import JOBS, JobFailed

log = logging.getLogger(__name__)

QUEUE_NAME = "feedback"
ATTEMPTS = 3
JOB_TIMEOUT = 3 * 3600  # seconds RQ lets one job run: 100,000 statements take minutes, not hours


def backoff_base() -> float:
    """FEEDBACK_JOB_BACKOFF: seconds before the first retry, doubling each time (tests use a few ms)."""
    try:
        return float(os.environ.get("FEEDBACK_JOB_BACKOFF", "2"))
    except ValueError:
        return 2.0


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: a busy or unreachable database, vector server or network. Not bad input, not a bug."""
    import requests
    from sqlalchemy.exc import OperationalError

    from ..vectorstore import IndexDamagedError, IndexMismatchError, VectorStoreError

    if isinstance(exc, (IndexMismatchError, IndexDamagedError)):  # waiting repairs neither: a reindex does
        return False
    return isinstance(exc, (OperationalError, VectorStoreError, ConnectionError, TimeoutError,
                            requests.ConnectionError, requests.Timeout))


def execute(services, job_id: str, function=None) -> dict | None:
    """Run one queued job to done or failed. Returns the job, or None when another worker has it already.

    `function` replaces the registered one for a job run where it was made (the scheduler's nightly report,
    whose webhook URL is a credential the job row must not store)."""
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

    if not store.claim(services, job_id):
        return None
    kind, payload = store.payload_of(services, job_id)
    function = function or JOBS.get(kind)
    if function is None:
        store.fail(services, job_id, f"unknown job kind {kind!r}; known: {', '.join(sorted(JOBS))}")
        return store.get(services, job_id)
    progress = store.Progress(services, job_id)

    def note_retry(state) -> None:
        exc = state.outcome.exception()
        log.warning("job %s (%s) attempt %d failed, retrying: %s", job_id, kind, state.attempt_number, exc)
        store.note_attempt(services, job_id, f"attempt {state.attempt_number}: {type(exc).__name__}: {exc}")

    retrying = Retrying(retry=retry_if_exception(is_transient), stop=stop_after_attempt(ATTEMPTS),
                        wait=wait_exponential(multiplier=backoff_base(), max=60), before_sleep=note_retry,
                        reraise=True)
    try:
        result = retrying(function, services, payload, progress)
    except JobFailed as exc:
        store.fail(services, job_id, str(exc))
    except Exception as exc:  # recorded on the job for `jobs show`; the traceback goes to the worker's log
        log.exception("job %s (%s) failed", job_id, kind)
        store.fail(services, job_id, f"{type(exc).__name__}: {exc}")
    else:
        progress.flush()
        store.finish(services, job_id, result)
    return store.get(services, job_id)


class LocalQueue:
    """A small thread pool in this process: no server needed (`make demo`). Jobs survive in SQL as queued
    if the process stops first; `feedback worker --burst` runs them."""

    backend = "local"

    def __init__(self, app, threads: int = 2):
        self.app = app
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="feedback-job")

    def submit(self, job_id: str) -> None:
        self._pool.submit(self._run, job_id)

    def _run(self, job_id: str) -> None:
        with self.app.app_context():
            try:
                execute(self.app.extensions["feedback"], job_id)
            except Exception:  # the pool would swallow it silently
                log.exception("job %s could not be run", job_id)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)


class RQQueue:
    """RQ on Redis: any number of `feedback worker` processes on any machine that reaches Redis and the database."""

    backend = "rq"

    def __init__(self, url: str, name: str = QUEUE_NAME):
        from redis import Redis
        from rq import Queue

        self.connection = Redis.from_url(url, socket_connect_timeout=5)
        self.queue = Queue(name, connection=self.connection)

    def submit(self, job_id: str) -> None:
        try:
            self.queue.enqueue("service.jobs.queue.run_in_rq", job_id, job_id=job_id, job_timeout=JOB_TIMEOUT,
                               result_ttl=86400, failure_ttl=7 * 86400)
        except Exception as exc:  # Redis down: the row stays queued in SQL and the next worker sweep runs it
            log.warning("job %s stays queued in SQL only; Redis refused it: %s", job_id, exc)


_rq_runs = [0]  # jobs run by RQ in this process, for the worker's count
_worker_app = None  # the app of the `feedback worker` running RQ jobs in this process


def run_in_rq(job_id: str):
    """RQ's entry point: runs inside `feedback worker` (SimpleWorker: no fork, the model stays loaded)."""
    global _worker_app
    if _worker_app is None:  # a plain `rq worker`: build the app from the environment once
        from .. import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        job = execute(_worker_app.extensions["feedback"], job_id)
    _rq_runs[0] += job is not None
    return {"status": job["status"]} if job else {"status": "skipped: claimed elsewhere"}


def make_queue(app):
    url = app.config.get("REDIS_URL")
    return RQQueue(url, app.config.get("REDIS_QUEUE") or QUEUE_NAME) if url else LocalQueue(app, threads=int(app.config.get("JOB_THREADS") or 2))


def run_worker(app, *, burst: bool = False, poll: float = 2.0, echo=print, stop: threading.Event | None = None) -> int:
    """Process jobs until stopped (or, with burst, until nothing is queued). Returns the number of jobs run here."""
    global _worker_app
    services = app.extensions["feedback"]
    url = app.config.get("REDIS_URL")
    stop = stop or threading.Event()
    if not url:
        echo(f"worker: jobs queued in the database{' (burst)' if burst else ''}; set FEEDBACK_REDIS_URL for RQ")
        return _sweep(app, burst=burst, poll=poll, echo=echo, stop=stop)
    from rq import SimpleWorker

    _worker_app = app
    queue = RQQueue(url, app.config.get("REDIS_QUEUE") or QUEUE_NAME)
    echo(f"worker: RQ queue {queue.queue.name!r} on {_redacted(url)}{' (burst)' if burst else ''}")
    count = _sweep(app, burst=True, poll=poll, echo=echo, stop=stop)  # queued while Redis was unreachable
    before = _rq_runs[0]
    SimpleWorker([queue.queue], connection=queue.connection).work(burst=burst, with_scheduler=False,
                                                                   logging_level="WARNING")
    return count + _rq_runs[0] - before


def _sweep(app, *, burst: bool, poll: float, echo, stop: threading.Event) -> int:
    """Run every job still queued in SQL, oldest first; without burst, keep polling."""
    services = app.extensions["feedback"]
    count = 0
    while not stop.is_set():
        ids = store.queued_ids(services)
        for job_id in ids:
            with app.app_context():
                job = execute(services, job_id)
            if job:
                count += 1
                echo(f"job {job['id']} {job['kind']}: {job['status']}" + (f" ({job['error']})" if job["error"] else ""))
        if burst and not ids:
            break
        if not ids:
            stop.wait(poll)
    return count


def _redacted(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}"
