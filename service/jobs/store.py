"""Job rows in SQL: create (once per key), claim (once per attempt), progress, finish. Both queues use these."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from ..models import Job, utcnow

log = logging.getLogger(__name__)


class JobNotFound(LookupError):
    pass


MAX_ID_SHOWN = 64


def job_dict(job: Job) -> dict:
    return {
        "id": job.id, "kind": job.kind, "status": job.status,
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "result": job.result, "error": job.error, "attempts": job.attempts, "backend": job.backend,
        "created_at": _iso(job.created_at), "started_at": _iso(job.started_at), "finished_at": _iso(job.finished_at),
    }


def _iso(when):
    return when.isoformat() + "Z" if when else None


def create(services, kind: str, payload: dict, *, key: str | None, backend: str) -> tuple[dict, bool]:
    """Insert a queued job; with a key already taken by a job that has not failed, return that job instead.

    Returns (job, created). A failed job's key is released, so the same work can be asked for again."""
    with services.db.transaction() as session:
        if key:
            old = session.scalars(select(Job).where(Job.key == key)).one_or_none()
            if old is not None and old.status != "failed":
                return job_dict(old), False
            if old is not None:
                old.key = None  # the failed attempt keeps its record; the new job takes the key
                session.flush()
    try:
        with services.db.transaction() as session:
            job = Job(id=uuid.uuid4().hex, kind=kind, key=key, payload=payload, backend=backend, status="queued")
            session.add(job)
            session.flush()
            return job_dict(job), True
    except IntegrityError:  # another process inserted the same key between our check and insert
        with services.db.session() as session:
            return job_dict(session.scalars(select(Job).where(Job.key == key)).one()), False


def _row(session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:  # a job id is 32 characters: a pasted page of text is not repeated back whole
        shown = job_id if len(job_id) <= MAX_ID_SHOWN else job_id[:MAX_ID_SHOWN] + "…"
        raise JobNotFound(f"no job {shown!r}")
    return job


def get(services, job_id: str) -> dict:
    with services.db.session() as session:
        return job_dict(_row(session, job_id))


def payload_of(services, job_id: str) -> tuple[str, dict]:
    with services.db.session() as session:
        job = _row(session, job_id)
        return job.kind, job.payload


def replace_payload(services, job_id: str, payload: dict) -> None:
    """Drop what the job row must not keep once the work is done (an erased account's name)."""
    _set(services, job_id, payload=payload)


def list_recent(services, *, status: str | None = None, limit: int = 50) -> list[dict]:
    with services.db.session() as session:
        query = select(Job).order_by(Job.created_at.desc()).limit(limit)
        if status:
            query = query.where(Job.status == status)
        return [job_dict(j) for j in session.scalars(query)]


def queued_ids(services, limit: int = 100) -> list[str]:
    with services.db.session() as session:
        return list(session.scalars(select(Job.id).where(Job.status == "queued").order_by(Job.created_at).limit(limit)))


def claim(services, job_id: str) -> bool:
    """queued -> running, by exactly one caller (an UPDATE ... WHERE status = 'queued' on any database)."""
    with services.db.transaction() as session:
        result = session.execute(
            update(Job).where(Job.id == job_id, Job.status == "queued")
            .values(status="running", started_at=utcnow(), attempts=Job.attempts + 1, error=None)
        )
        return result.rowcount == 1


def note_attempt(services, job_id: str, error: str) -> None:
    """A transient failure about to be retried in place: count the attempt, keep the error visible."""
    with services.db.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(attempts=Job.attempts + 1, error=error))


def finish(services, job_id: str, result: dict, *, if_running: bool = False) -> bool:
    """Done means every counted unit was handled, embedded or found already stored: progress reads total/total
    (a re-ingest of stored notes embeds nothing, and used to show "done, 0/9").
    `if_running`: only a row still running (a late outcome never overwrites a newer one). True when written."""
    whole = case((Job.progress_total > Job.progress_done, Job.progress_total), else_=Job.progress_done)
    return _set(services, job_id, status="done", result=result, finished_at=utcnow(), progress_done=whole,
                if_running=if_running)


def fail(services, job_id: str, error: str, *, if_running: bool = False) -> bool:
    return _set(services, job_id, status="failed", error=error, finished_at=utcnow(), if_running=if_running)


def requeue(services, job_id: str, error: str) -> bool:
    """running -> queued, by exactly one caller (several sweepers may find the same abandoned job)."""
    return _set(services, job_id, status="queued", error=error, started_at=None, if_running=True)


def running(services, *, limit: int = 500) -> list[dict]:
    """Rows in `running`: {"id", "backend", "attempts", "updated_at"} (updated_at is the heartbeat)."""
    with services.db.session() as session:
        rows = session.execute(select(Job.id, Job.backend, Job.attempts, Job.updated_at)
                               .where(Job.status == "running").order_by(Job.started_at).limit(limit))
        return [dict(r._mapping) for r in rows]


def _set(services, job_id: str, *, if_running: bool = False, **values) -> bool:
    with services.db.transaction() as session:
        query = update(Job).where(Job.id == job_id)
        if if_running:
            query = query.where(Job.status == "running")
        return session.execute(query.values(**values)).rowcount == 1


BEAT_SECONDS = 30.0  # how often a process touches the rows of the jobs it runs
STALE = timedelta(minutes=5)  # a running row untouched this long has lost its process (10 missed beats)


class Heartbeat:
    """A running job's row is touched (updated_at) every BEAT_SECONDS by the process running it, from one daemon
    thread per process: a row that stops being touched has lost its process (killed, crashed, restarted), which
    is how an in-process (local) job is known to be abandoned. A failed touch (the database is down) is skipped."""

    def __init__(self, every: float = BEAT_SECONDS):
        self.every = every
        self._jobs: dict[str, object] = {}  # job id -> its services
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def beating(self, services, job_id: str):
        with self._lock:
            self._jobs[job_id] = services
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="feedback-job-heartbeat", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._jobs.pop(job_id, None)

    def _run(self) -> None:
        while True:
            time.sleep(self.every)
            self.beat()

    def beat(self) -> None:
        with self._lock:
            jobs = list(self._jobs.items())
        for job_id, services in jobs:
            try:
                _set(services, job_id, updated_at=utcnow(), if_running=True)
            except SQLAlchemyError as exc:
                log.warning("job %s: heartbeat not written: %s", job_id, exc)


heartbeat = Heartbeat()


_engines: dict[str, object] = {}


def _progress_engine(db):
    """The app's engine, except on SQLite: there a second engine that gives up on a lock after 0.2 s."""
    if not db.url.startswith("sqlite"):
        return db.engine
    if db.url not in _engines:
        from sqlalchemy import create_engine

        _engines[db.url] = create_engine(db.url, connect_args={"timeout": 0.2}, hide_parameters=True)
    return _engines[db.url]


class Progress:
    """A callback for job functions: progress(n) adds n done; total(n) sets the total; steps(done, total) sets
    both (the callback a theme run or a report build takes). Counts are written at most every `every` seconds
    (a row update per embedded chunk would cost more than the chunk on SQLite); steps at once."""

    def __init__(self, services, job_id: str, every: float = 1.0):
        self.services, self.job_id, self.every = services, job_id, every
        self.done, self.total_n, self._written = 0, 0, 0.0

    def total(self, n: int) -> None:
        self.total_n = int(n)
        self._write(force=True)

    def __call__(self, n: int) -> None:
        self.done += int(n)
        self._write()

    def steps(self, done: int, total: int) -> None:
        """For work counted in steps (a theme run, a report): `done` of `total` steps, written at once."""
        self.done, self.total_n = int(done), int(total)
        self._write(force=True)

    def _write(self, force: bool = False) -> None:
        """Best effort: on SQLite the job's own write transaction (an ingest) holds the lock until it commits,
        so a progress write waits a moment at most and is skipped rather than stalling or failing the job."""
        now = time.monotonic()
        if not (force or now - self._written >= self.every):
            return
        self._written = now
        values = {"progress_done": self.done, "progress_total": max(self.total_n, self.done)}
        try:
            with _progress_engine(self.services.db).begin() as conn:
                conn.execute(update(Job).where(Job.id == self.job_id).values(**values))
        except OperationalError:
            pass  # the next write, or the finish, records it

    def flush(self) -> None:
        self._write(force=True)
