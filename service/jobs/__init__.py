"""Background jobs: long work (large ingests, theme runs, reports, webhook delivery, reindex) off the request.

    job = enqueue(services, "ingest", payload, key=...)   # -> {"id", "status": "queued", ...}
    get_job(services, job["id"])

The queue is RQ on Redis when FEEDBACK_REDIS_URL is set, else a thread pool in this process (see queue.py);
the SQL `jobs` table holds every job's status, progress and result either way.
"""
from __future__ import annotations

from flask import current_app

from .functions import JOBS, JobFailed, notes_payload, themes_payload  # noqa: F401
from .queue import execute, make_queue, run_worker  # noqa: F401
from .recover import sweep  # noqa: F401
from .store import JobNotFound, create, get as get_job, list_recent as list_jobs  # noqa: F401


def queue_of(app):
    """The app's queue, made on first use (a CLI command that never enqueues opens no pool and no Redis)."""
    queue = app.extensions.get("feedback_queue")
    if queue is None:
        queue = app.extensions["feedback_queue"] = make_queue(app)
    return queue


def queue_health(app) -> str | None:
    """For /healthz: None without Redis (jobs run in the process), else "ok" or why the queue is unreachable."""
    if not app.config.get("REDIS_URL"):
        return None
    return queue_of(app).health()


def is_large_ingest(config, notes) -> bool:
    """An ingest above FEEDBACK_ASYNC_INGEST_NOTES notes or _CHARS characters runs as a job (API and paste page):
    embedding it would hold a web worker for seconds to minutes. At the defaults a synchronous ingest took at most
    2.8 s here (eval/bench_request_text.py), a tenth of the worker timeout."""
    return len(notes) > config["ASYNC_INGEST_NOTES"] or sum(len(n.text) for n in notes) > config["ASYNC_INGEST_CHARS"]


def enqueue(services, kind: str, payload: dict, *, key: str | None = None, app=None, submit: bool = True) -> dict:
    """Record a job and hand it to the queue; with a key already queued, running or done, return that job.

    submit=False only records it (a CLI without Redis: the process would exit before a thread ran it;
    `feedback worker` picks it up)."""
    if kind not in JOBS:
        raise ValueError(f"unknown job kind {kind!r}; known: {', '.join(sorted(JOBS))}")
    app = app or current_app._get_current_object()
    backend = "rq" if app.config.get("REDIS_URL") else "local"
    job, created = create(services, kind, payload, key=key, backend=backend)
    if created and (submit or backend == "rq"):
        queue_of(app).submit(job["id"])
    return job
