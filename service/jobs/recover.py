"""Jobs nobody would finish: settle them. `sweep(app)` runs in every `feedback worker` every SWEEP_SECONDS (in RQ's
maintenance step) and in `feedback jobs show --wait` while it waits.

- Queued in SQL only (Redis was down when it was queued, or a process without a pool queued it): handed to RQ
  (or, without Redis, run by the worker's own loop).
- Abandoned: its worker died (kill -9, out of memory, a lost host) while it ran. With RQ, liveness is RQ's own:
  the worker heartbeats the job (service.jobs.queue.feedback_worker_class) and RQ's StartedJobRegistry cleanup
  moves a job whose heartbeat expired to the FailedJobRegistry with AbandonedJobError. Without RQ, the process
  running a job touches its row every BEAT_SECONDS, and a row untouched for STALE has lost its process.
  An abandoned job goes back to the queue while it has attempts left (every job is safe to run again, see
  service.jobs.functions), else it fails with an error that says what happened.
- Ended while the database was down: the worker could not write the outcome and kept it with the failed RQ job
  (OutcomeNotRecorded); it is written now.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from ..models import utcnow
from . import store
from .queue import ATTEMPTS, RQQueue, record

_log = logging.getLogger(__name__)

ALIVE = {"queued", "started", "deferred", "scheduled", "created"}  # RQ statuses of a job that will still run


def sweep(app, *, log=None) -> dict:
    """Settle what this module describes; returns counts {"submitted", "requeued", "failed", "recorded"}.
    Never raises: a sweep that cannot reach the database or Redis says so and tries again next time."""
    say = log or _log.warning
    counts = {"submitted": 0, "requeued": 0, "failed": 0, "recorded": 0}
    services = app.extensions["feedback"]
    url = app.config.get("REDIS_URL")
    try:
        with app.app_context():
            if url:
                _sweep_rq(services, RQQueue(url, app.config.get("REDIS_QUEUE") or "feedback"), counts, say)
            else:
                _sweep_local(services, counts, say)
    except Exception as exc:  # the database or Redis is down: the next sweep tries again
        say(f"worker: job sweep skipped: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    return counts


def _sweep_local(services, counts: dict, say) -> None:
    stale = utcnow() - store.STALE
    for row in store.running(services):
        if row["updated_at"] < stale:
            _abandoned(services, row, f"the process running it stopped (no heartbeat for over "
                                      f"{_minutes(store.STALE)}); killed, crashed or restarted", counts, say)


def _sweep_rq(services, rq: RQQueue, counts: dict, say) -> None:
    from rq.job import Job as RQJob
    from rq.registry import StartedJobRegistry

    # RQ's own check: jobs whose worker stopped heartbeating move to the FailedJobRegistry (AbandonedJobError).
    StartedJobRegistry(queue=rq.queue).cleanup()
    stale = utcnow() - store.STALE
    rows = store.running(services)
    for row, job in zip(rows, RQJob.fetch_many([r["id"] for r in rows], connection=rq.connection)):
        status = _status(job)
        if status in ALIVE:
            continue
        if status == "failed":
            outcome = (job.meta or {}).get("outcome")
            if outcome:  # it ended; the database was down then
                if record(services, row["id"], outcome, if_running=True):
                    counts["recorded"] += 1
                    say(f"job {row['id']}: recorded {outcome['status']} now that the database is back")
                continue
            result = job.latest_result()
            why = _last_line(getattr(result, "exc_string", None)) or "its RQ job failed"
            if "AbandonedJobError" in why:
                why = "the worker running it stopped (killed or crashed: no heartbeat)"
            _abandoned(services, row, why, counts, say, rq_job=job, rq=rq)
        elif row["updated_at"] < stale:  # Redis lost it, or it ended without a word: no heartbeat either
            _abandoned(services, row, f"Redis has no running job for it and no worker touched it for "
                                      f"{_minutes(store.STALE)}", counts, say, rq=rq)
    _submit_queued(services, rq, counts)


def _submit_queued(services, rq: RQQueue, counts: dict) -> None:
    """Rows queued in SQL that Redis does not hold as waiting or running: queued while Redis was down."""
    from rq.exceptions import InvalidJobOperation
    from rq.job import Job as RQJob

    ids = store.queued_ids(services, limit=1000)
    for job_id, job in zip(ids, RQJob.fetch_many(ids, connection=rq.connection)):
        status = _status(job)
        if status in ALIVE:
            continue
        if status == "failed":
            try:
                job.requeue()  # RQ's own: off its FailedJobRegistry, back on the queue
                counts["submitted"] += 1
                continue
            except InvalidJobOperation:  # another sweep did it a moment ago
                continue
        rq.submit(job_id)
        counts["submitted"] += 1


def _abandoned(services, row: dict, why: str, counts: dict, say, *, rq_job=None, rq: RQQueue | None = None) -> None:
    """Back to the queue while attempts remain, else failed. Several sweepers may find the same row: the
    conditional UPDATE lets one through."""
    job_id, attempts = row["id"], row["attempts"]
    if attempts < ATTEMPTS:
        if store.requeue(services, job_id, f"attempt {attempts}: {why}; queued again"):
            counts["requeued"] += 1
            say(f"job {job_id}: {why}; queued again (attempt {attempts + 1} of {ATTEMPTS})")
            if rq is not None:
                _resubmit(rq, job_id, rq_job)
        return
    error = f"{why}, on attempt {attempts} of {ATTEMPTS}; not retried again: run it again once the cause is fixed"
    if store.fail(services, job_id, error, if_running=True):
        counts["failed"] += 1
        say(f"job {job_id}: failed: {error}")


def _resubmit(rq: RQQueue, job_id: str, rq_job) -> None:
    from rq.exceptions import InvalidJobOperation

    if rq_job is not None:
        try:
            rq_job.requeue()
            return
        except InvalidJobOperation:  # not on the FailedJobRegistry: enqueue it afresh
            pass
    rq.submit(job_id)


def _status(job) -> str | None:
    """RQ's status as plain text (its JobStatus is a str Enum that hashes by name), None for a job Redis lacks."""
    if job is None:
        return None
    status = job.get_status(refresh=False)
    return getattr(status, "value", status)


def _last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:g} min"
