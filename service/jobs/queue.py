"""Where jobs run: RQ on Redis when FEEDBACK_REDIS_URL is set, else a small in-process thread pool.

Either way the SQL row is the job's record, `execute` claims it once (UPDATE ... WHERE status='queued') and retries
transient errors with exponential backoff, and every `feedback worker` sweeps every SWEEP_SECONDS (service.jobs.
recover): rows still queued in SQL (queued while Redis was down, or by a process without a pool) are run, and
rows left `running` by a worker that died, or whose outcome the database could not take, are settled.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar

from . import store
from .functions import JOBS, JobFailed

log = logging.getLogger(__name__)

QUEUE_NAME = "feedback"
ATTEMPTS = 3
JOB_TIMEOUT = 3 * 3600  # seconds RQ lets one job run: 100,000 statements take minutes, not hours
SWEEP_SECONDS = 30  # how often a worker looks for queued-in-SQL-only and abandoned jobs (FEEDBACK_JOB_SWEEP_SECONDS)


# Whether the jobs this thread runs have a person waiting for them at a command (`feedback schedule --once` runs
# the nightly job itself): its failure is then that command's one error line, read from the job's row, and the
# traceback is not printed to the terminal before it. A worker's jobs have nobody watching: their tracebacks go to
# its log. A ContextVar, not a flag on the module: a thread starts with the default (the web server's pool, RQ's
# and APScheduler's threads), so only the command's own thread is affected.
_foreground: ContextVar[bool] = ContextVar("feedback_jobs_in_foreground", default=False)


@contextmanager
def jobs_in_foreground(on: bool = True):
    """Run the block with this thread's jobs in the foreground (the CLI, service.cli.SafeGroup) or not (a worker
    started by a command: run_worker)."""
    token = _foreground.set(on)
    try:
        yield
    finally:
        _foreground.reset(token)


BACKOFF = 2.0  # seconds before a job's first retry: an SQLite lock or a busy moment clears in far less
SERVER_BACKOFF = 15.0  # the same for a background job against a database or Chroma server: a restart takes ~30 s


def backoff_base(services=None) -> float:
    """FEEDBACK_JOB_BACKOFF: seconds before the first retry, doubling each time (tests use a few ms). Unset, a
    background job whose database or vector store is a server waits SERVER_BACKOFF, so its three attempts span
    45 s and outlast a server's restart; 2 s then 4 s did not, and a nightly job failed for good. A job someone
    waits for at a command (the foreground) keeps the short default: that person can run it again."""
    value = os.environ.get("FEEDBACK_JOB_BACKOFF")
    if value is not None:
        try:
            return float(value)
        except ValueError:  # Config refuses it at start; a value changed under a running process falls back
            pass
    if services is not None and not _foreground.get() and _uses_servers(services.config):
        return SERVER_BACKOFF
    return BACKOFF


def _uses_servers(config) -> bool:
    """Does this process reach its database or its vector store over the network (a restart to wait out)?"""
    url = str(getattr(config, "DATABASE_URL", "") or "")
    return bool(getattr(config, "CHROMA_URL", None)) or bool(url) and not url.startswith("sqlite")


def sweep_seconds() -> float:
    """FEEDBACK_JOB_SWEEP_SECONDS: how often a worker sweeps (service.jobs.recover); at least 1."""
    try:
        return max(1.0, float(os.environ.get("FEEDBACK_JOB_SWEEP_SECONDS", SWEEP_SECONDS)))
    except ValueError:
        return float(SWEEP_SECONDS)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: a busy or unreachable database, vector server or network. Not bad input, not a bug.
    chromadb's HTTP client raises httpx's errors as they come (a Chroma server down is httpx.ConnectError)."""
    import httpx
    import requests
    from sqlalchemy.exc import OperationalError

    from ..vectorstore import IndexDamagedError, IndexMismatchError, VectorStoreError

    if isinstance(exc, (IndexMismatchError, IndexDamagedError)):  # waiting repairs neither: a reindex does
        return False
    return isinstance(exc, (OperationalError, VectorStoreError, ConnectionError, TimeoutError,
                            requests.ConnectionError, requests.Timeout,
                            httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError))


class OutcomeNotRecorded(RuntimeError):
    """The job ended but its row could not be updated (the database was down): `outcome` says how it ended,
    {"status": "done", "result": ...} or {"status": "failed", "error": ...}, for the sweep to record later."""

    def __init__(self, job_id: str, outcome: dict, cause: BaseException):
        super().__init__(f"job {job_id} ended {outcome['status']} but the database did not take it: "
                         f"{describe(cause)}")  # logged: the SQL error's parameters (the outcome) stay out
        self.outcome = outcome


def execute(services, job_id: str, function=None) -> dict | None:
    """Run one queued job to done or failed. Returns the job, or None when another worker has it already.
    Raises OutcomeNotRecorded when the job ended but the database would not take its outcome.

    `function` replaces the registered one for a job run where it was made (the scheduler's nightly report,
    whose webhook URL is a credential the job row must not store)."""
    if not store.claim(services, job_id):
        return None
    with store.heartbeat.beating(services, job_id):
        try:
            outcome = _run(services, job_id, function)
        except KeyboardInterrupt:  # Ctrl+C on `feedback worker`: the next worker runs it now, not after STALE
            store.requeue(services, job_id, "the worker was stopped (Ctrl+C) while running it; queued again")
            raise
    record(services, job_id, outcome)
    return store.get(services, job_id)


def _run(services, job_id: str, function) -> dict:
    """The job's outcome: {"status": "done", "result"} or {"status": "failed", "error"}."""
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

    kind = None
    try:
        kind, payload = store.payload_of(services, job_id)
        function = function or JOBS.get(kind)
        if function is None:
            return {"status": "failed", "error": f"unknown job kind {kind!r}; known: {', '.join(sorted(JOBS))}"}
        progress = store.Progress(services, job_id)

        def note_retry(state) -> None:
            exc = state.outcome.exception()
            # describe(), not the exception's own text: a database error's text goes on with its bound parameters
            # (a note's text in an ingest job), and this line is in the worker's log at WARNING.
            log.warning("job %s (%s) attempt %d failed, retrying in %g s: %s", job_id, kind, state.attempt_number,
                        state.upcoming_sleep, describe(exc))
            try:
                store.note_attempt(services, job_id, f"attempt {state.attempt_number}: {describe(exc)}")
            except Exception as note_exc:  # the database may be what is down: keep retrying all the same
                log.warning("job %s: attempt not recorded: %s", job_id, note_exc)

        retrying = Retrying(retry=retry_if_exception(is_transient), stop=stop_after_attempt(ATTEMPTS),
                            wait=wait_exponential(multiplier=backoff_base(services), max=60), before_sleep=note_retry,
                            reraise=True)
        result = retrying(function, services, payload, progress)
        progress.flush()
        return {"status": "done", "result": result}
    except JobFailed as exc:
        return {"status": "failed", "error": str(exc)}
    except Exception as exc:  # recorded on the job for `jobs show`; the traceback goes to the worker's log
        if _foreground.get():  # the command prints the error from the row (FEEDBACK_DEBUG=1: not in the foreground)
            log.debug("job %s (%s) failed", job_id, kind, exc_info=True)
        elif is_transient(exc):  # a server that stayed down: its name says it all, a traceback says nothing more
            log.error("job %s (%s) failed after %d attempts: %s", job_id, kind, ATTEMPTS, describe(exc))
            log.debug("job %s (%s) traceback", job_id, kind, exc_info=True)
        else:
            log.exception("job %s (%s) failed", job_id, kind)
        return {"status": "failed", "error": describe(exc)}


def describe(exc: BaseException) -> str:
    """An error as a job's row shows it (the page, the API, `jobs show`). A database error is its driver's first
    line: SQLAlchemy's own text goes on with the SQL, its bound parameters (note text, an account's name) and a
    link, which the worker's log keeps with the traceback."""
    orig = getattr(exc, "orig", None)
    if isinstance(orig, BaseException):
        lines = str(orig).strip().splitlines()
        return f"{type(orig).__name__}: {lines[0] if lines else ''}"
    return f"{type(exc).__name__}: {exc}"


def record(services, job_id: str, outcome: dict, *, if_running: bool = False) -> bool:
    """Write a job's outcome to its row, trying a few times over a few seconds (a database restarting)."""
    from sqlalchemy.exc import SQLAlchemyError
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

    write = store.finish if outcome["status"] == "done" else store.fail
    value = outcome.get("result") if outcome["status"] == "done" else outcome.get("error") or "failed"
    try:
        return Retrying(retry=retry_if_exception_type(SQLAlchemyError), stop=stop_after_attempt(3),
                        wait=wait_exponential(multiplier=backoff_base(services) / 2, max=10), reraise=True)(
            write, services, job_id, value, if_running=if_running)
    except SQLAlchemyError as exc:
        raise OutcomeNotRecorded(job_id, outcome, exc) from exc


class LocalQueue:
    """A small thread pool in this process: no server needed (`make demo`). Jobs survive in SQL as queued
    if the process stops first; `feedback worker --burst` runs them, and so does the web server, whose queue sweeps
    (`start_sweeping`): with the embedded Chroma store no worker may start beside it."""

    backend = "local"

    def __init__(self, app, threads: int = 2):
        self.app = app
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="feedback-job")
        self._waiting: set[str] = set()  # submitted, not yet started: a sweep does not submit them twice
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def submit(self, job_id: str) -> None:
        with self._lock:
            if job_id in self._waiting:
                return
            self._waiting.add(job_id)
        self._pool.submit(self._run, job_id)

    def start_sweeping(self, every: float | None = None) -> threading.Thread:
        """In the web server (wsgi.py): at start and every FEEDBACK_JOB_SWEEP_SECONDS, settle the jobs whose process
        died (service.jobs.recover) and run every job queued in SQL: those the server was running or had queued
        when it last stopped, and those a CLI command queued (`--background`) while the server held the store."""
        every = every or sweep_seconds()

        def loop() -> None:
            while True:
                self.sweep_once()
                if self._stop.wait(every):
                    return

        thread = threading.Thread(target=loop, name="feedback-job-sweep", daemon=True)
        thread.start()
        return thread

    def sweep_once(self) -> None:
        from .recover import sweep

        try:
            sweep(self.app)
            for job_id in store.queued_ids(self.app.extensions["feedback"]):
                self.submit(job_id)
        except Exception as exc:  # the database is down: the next sweep tries again
            log.warning("job sweep skipped: %s", describe(exc))  # not the SQL's parameters: a job's payload

    def _run(self, job_id: str) -> None:
        with self._lock:
            self._waiting.discard(job_id)
        with self.app.app_context():
            try:
                execute(self.app.extensions["feedback"], job_id)
            except OutcomeNotRecorded as exc:  # its row stops beating: a worker's sweep runs it again
                log.error("%s", exc)
            except Exception:  # the pool would swallow it silently
                log.exception("job %s could not be run", job_id)

    def shutdown(self, wait: bool = True) -> None:
        self._stop.set()
        self._pool.shutdown(wait=wait)


class RQQueue:
    """RQ on Redis: any number of `feedback worker` processes on any machine that reaches Redis and the database."""

    backend = "rq"

    def __init__(self, url: str, name: str = QUEUE_NAME):
        from redis import Redis
        from rq import Queue

        self.url = url
        self.connection = Redis.from_url(url, socket_connect_timeout=5)
        self.queue = Queue(name, connection=self.connection)

    def submit(self, job_id: str) -> None:
        try:
            self.queue.enqueue("service.jobs.queue.run_in_rq", job_id, job_id=job_id, job_timeout=JOB_TIMEOUT,
                               result_ttl=86400, failure_ttl=7 * 86400)
        except Exception as exc:  # Redis down: the row stays queued in SQL and the next worker sweep runs it
            log.warning("job %s stays queued in SQL only; Redis refused it: %s", job_id, exc)

    def health(self) -> str:
        """"ok", or what /healthz says about the queue (jobs still queue in SQL while it is down)."""
        try:
            self.connection.ping()
            return "ok"
        except Exception:
            return (f"unreachable at {redacted(self.url)}: jobs wait in the database and run when it is back "
                    "(start or fix Redis, check FEEDBACK_REDIS_URL)")


_rq_runs = [0]  # jobs run by RQ in this process, for the worker's count
_worker_app = None  # the app of the `feedback worker` running RQ jobs in this process


def run_in_rq(job_id: str):
    """RQ's entry point: runs inside `feedback worker` (SimpleWorker: no fork, the model stays loaded)."""
    global _worker_app
    if _worker_app is None:  # a plain `rq worker`: build the app from the environment once
        from .. import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        try:
            job = execute(_worker_app.extensions["feedback"], job_id)
        except OutcomeNotRecorded as exc:  # kept with the RQ job, which fails: the sweep records it later
            from rq import get_current_job

            current = get_current_job()
            if current is not None:
                current.meta["outcome"] = exc.outcome
                current.save_meta()
            raise
    _rq_runs[0] += job is not None
    return {"status": job["status"]} if job else {"status": "skipped: claimed elsewhere"}


def make_queue(app):
    url = app.config.get("REDIS_URL")
    return RQQueue(url, app.config.get("REDIS_QUEUE") or QUEUE_NAME) if url else LocalQueue(app, threads=int(app.config.get("JOB_THREADS") or 2))


def feedback_worker_class():
    """RQ's SimpleWorker (the job runs in the worker process, so the embedding model loads once), with two things
    SimpleWorker lacks:

    - heartbeats while a job runs. SimpleWorker sends none until the job ends, so it gives its job the whole job
      timeout (3 h) as its heartbeat TTL, and a worker killed mid-job left the job "started" for 3 h. Here a
      thread sends RQ's own heartbeats every job_monitoring_interval (30 s) with RQ's TTL (that + 60 s), so
      RQ's StartedJobRegistry cleanup sees a dead worker's job as abandoned (AbandonedJobError) within 90 s;
    - our sweep (service.jobs.recover) in RQ's maintenance step, run every SWEEP_SECONDS.
    """
    from rq import SimpleWorker
    from rq.worker import BaseWorker, WorkerStatus

    class FeedbackWorker(SimpleWorker):
        app = None

        def execute_job(self, job, queue):
            execution = self.prepare_execution(job)
            done = threading.Event()
            beat = threading.Thread(target=self._beat, args=(job, execution, done), daemon=True,
                                    name="rq-job-heartbeat")
            beat.start()
            try:
                self.perform_job(job, queue, execution)
            finally:
                done.set()
                beat.join(timeout=5)
            self.set_state(WorkerStatus.IDLE)

        def _beat(self, job, execution, done: threading.Event) -> None:
            while not done.wait(self.job_monitoring_interval):
                try:
                    self.maintain_heartbeats(job, execution)
                except Exception as exc:  # Redis away for a moment: the next beat tries again
                    log.warning("job %s: RQ heartbeat not sent: %s", job.id, exc)

        def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
            return BaseWorker.get_heartbeat_ttl(self, job, working_time)  # not SimpleWorker's job timeout

        def run_maintenance_tasks(self):
            super().run_maintenance_tasks()
            if self.app is not None:
                from .recover import sweep

                sweep(self.app, log=log.warning)

    return FeedbackWorker


def run_worker(app, *, burst: bool = False, poll: float = 2.0, echo=print, stop: threading.Event | None = None,
               sweep_every: float | None = None) -> int:
    """Process jobs until stopped (or, with burst, until nothing is queued). Returns the number of jobs run here.
    A worker's jobs are nobody's command, even when `feedback worker` runs them: their tracebacks go to its log."""
    with jobs_in_foreground(False):
        return _work(app, burst=burst, poll=poll, echo=echo, stop=stop, sweep_every=sweep_every)


def _work(app, *, burst: bool, poll: float, echo, stop: threading.Event | None, sweep_every: float | None) -> int:
    global _worker_app
    sweep_every = sweep_every or sweep_seconds()
    url = app.config.get("REDIS_URL")
    stop = stop or threading.Event()
    if not url:
        echo(f"worker: jobs queued in the database{' (burst)' if burst else ''}; set FEEDBACK_REDIS_URL for RQ")
        return _sweep(app, burst=burst, poll=poll, echo=echo, stop=stop, sweep_every=sweep_every)
    _worker_app = app
    queue = RQQueue(url, app.config.get("REDIS_QUEUE") or QUEUE_NAME)
    _check_reachable(queue)
    echo(f"worker: RQ queue {queue.queue.name!r} on {redacted(url)}{' (burst)' if burst else ''}")
    worker_class = feedback_worker_class()
    # RQ runs maintenance (and so our sweep) between waits for a job: the wait is worker_ttl - 15 s.
    worker = worker_class([queue.queue], connection=queue.connection, maintenance_interval=int(sweep_every),
                          worker_ttl=int(sweep_every) + 15)
    worker.app = app
    before = _rq_runs[0]
    worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
    return _rq_runs[0] - before


class QueueUnavailable(RuntimeError):
    """`feedback worker` cannot start: Redis does not answer at FEEDBACK_REDIS_URL (the message says where)."""


def _check_reachable(queue: RQQueue) -> None:
    """Before RQ registers the worker: its own error was a bare "ConnectionError: Error 111 connecting to ..."
    naming neither the setting nor what to do. (Once started, RQ rides out a Redis restart by itself.)"""
    from redis.exceptions import RedisError

    try:
        queue.connection.ping()
    except RedisError as exc:
        raise QueueUnavailable(f"Redis at {redacted(queue.url)} (FEEDBACK_REDIS_URL) does not answer: {exc} "
                               "Start Redis or fix FEEDBACK_REDIS_URL; queued jobs wait in the database until a "
                               "worker runs them.") from None


def _sweep(app, *, burst: bool, poll: float, echo, stop: threading.Event, sweep_every: float) -> int:
    """Without Redis: run every job still queued in SQL, oldest first; without burst, keep polling, and every
    `sweep_every` seconds settle the jobs whose process died (service.jobs.recover)."""
    from .recover import sweep

    services = app.extensions["feedback"]
    count = 0
    swept = None
    while not stop.is_set():
        if swept is None or time.monotonic() - swept >= sweep_every:
            sweep(app, log=echo)
            swept = time.monotonic()
        ids = store.queued_ids(services)
        for job_id in ids:
            with app.app_context():
                try:
                    job = execute(services, job_id)
                except OutcomeNotRecorded as exc:  # its row stops beating: a later sweep runs it again
                    echo(f"worker: {exc}")
                    continue
            if job:
                count += 1
                echo(f"job {job['id']} {job['kind']}: {job['status']}" + (f" ({job['error']})" if job["error"] else ""))
        if burst and not ids:
            break
        if not ids:
            stop.wait(poll)
    return count


def redacted(url: str) -> str:
    """A Redis URL without its password: redis://host:port/db."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    db = parts.path.strip("/") or "0"
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}/{db}"
