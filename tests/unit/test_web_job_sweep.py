"""Without Redis the web server's own thread pool runs jobs, and no `feedback worker` may start beside it on the
embedded store: so the server sweeps. Jobs it left queued or running when it last stopped, and jobs a CLI command
queued meanwhile, run in the server without anyone starting a worker."""
from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import update

from service.jobs import enqueue, get_job, queue_of
from service.jobs import store
from service.models import Job, utcnow


def _wait_done(svc, job_ids, seconds: float = 120) -> list[str]:
    """Statuses once every job has ended (an upper bound for a hang, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        statuses = [get_job(svc, j)["status"] for j in job_ids]
        if all(s in ("done", "failed") for s in statuses):
            return statuses
        time.sleep(0.05)
    return [get_job(svc, j)["status"] for j in job_ids]


def test_the_server_runs_what_was_left_queued_and_what_a_dead_process_was_running(app, svc):
    with app.app_context():
        left_queued = enqueue(svc, "reindex", {}, submit=False)["id"]  # queued by a CLI, or before a restart
        abandoned = enqueue(svc, "reindex", {}, submit=False)["id"]
    assert store.claim(svc, abandoned)  # ... and the process running it was killed: its row stops beating
    with svc.db.transaction() as session:
        session.execute(update(Job).where(Job.id == abandoned).values(updated_at=utcnow() - store.STALE
                                                                      - timedelta(seconds=1)))
    queue = queue_of(app)
    try:
        queue.sweep_once()
        assert _wait_done(svc, [left_queued, abandoned]) == ["done", "done"]
        assert get_job(svc, abandoned)["attempts"] == 2
    finally:
        queue.shutdown()


def test_a_job_waiting_in_the_pool_is_not_submitted_twice(app, svc, monkeypatch):
    queue = queue_of(app)
    submitted = []
    monkeypatch.setattr(queue._pool, "submit", lambda fn, job_id: submitted.append(job_id))  # the pool is busy
    with app.app_context():
        job_id = enqueue(svc, "reindex", {})["id"]
    queue.sweep_once()
    queue.sweep_once()
    assert submitted == [job_id]


def test_the_sweeping_thread_stops_with_the_queue(app):
    queue = queue_of(app)
    thread = queue.start_sweeping(every=3600)
    queue.shutdown()
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_two_reindexes_at_once_take_turns(app, svc):
    """Both build into the same collection, which each empties first: at once, one failed on the swap."""
    import threading

    from service.ingest.index_sync import reindex
    from service.ingest.store import ingest_notes
    from service.ingest.validate import NoteInput
    from service.vectorstore import STATEMENTS

    ingest_notes(svc, [NoteInput(text=f"Exports time out for team {i}.", account="Acme") for i in range(30)])
    outcomes, start = [], threading.Barrier(2)

    def run():
        start.wait()
        try:
            outcomes.append(reindex(svc, batch=5))
        except Exception as exc:  # what racing rebuilds raised
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert outcomes == [30, 30] and svc.store.count(STATEMENTS) == 30
