"""The nightly job (refresh themes incrementally -> build and store the report -> deliver) and its scheduler.

`feedback schedule` runs a long-lived APScheduler scheduler with a cron trigger (UTC, like the report
periods); `--once` runs the job now and exits, for system cron, CI and tests.
"""
from __future__ import annotations

import logging
import re
import signal
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from ..models.reports import NIGHTLY_PERIOD
from .deliver import deliver_report
from .store import REPORT_STEPS, create_report, summary_dict, write_files

log = logging.getLogger(__name__)
JOB_ID = "nightly-report"


class ScheduleError(ValueError):
    pass


CRON_HINT = "Use five fields, minute hour day month weekday, e.g. '0 6 * * *' for 06:00 UTC every day"
CRON_FIELDS = ("minute", "hour", "day of month", "month", "weekday")
# crontab(5): each field a list of `*` or a number or name (jan, mon), or a range of them, each with an optional
# step. croniter also reads Quartz's ? L W # and Jenkins' H, which crontab does not have: refused, as documented.
_CRON_VALUE = r"(?:\d+|[a-z]{3})"
_CRON_ITEM = rf"(?:\*|{_CRON_VALUE}(?:-{_CRON_VALUE})?)(?:/\d+)?"
CRONTAB_FIELD = re.compile(rf"{_CRON_ITEM}(?:,{_CRON_ITEM})*", re.IGNORECASE)


class CrontabTrigger:
    """A five-field crontab expression read as cron reads it (croniter), in UTC: weekday 0 and 7 are Sunday, and a
    day of month and a weekday both given mean either of them. APScheduler 3's CronTrigger.from_crontab counts
    weekday 0 as Monday (fixed only in APScheduler 4), so "0 6 * * 1-5" fired from Tuesday to Saturday.
    An APScheduler trigger (registered as a BaseTrigger by run_forever: importing APScheduler costs every command
    a third of a second)."""

    __slots__ = ("expr",)

    def __init__(self, expr: str):
        self.expr = expr

    def get_next_fire_time(self, previous_fire_time, now):
        """The first fire time after the previous one, or, without one, at or after now (APScheduler's own
        triggers count a fire time equal to now)."""
        from croniter import croniter

        if previous_fire_time is not None:
            return croniter(self.expr, _utc(previous_fire_time)).get_next(datetime)
        return croniter(self.expr, _utc(now) - timedelta(microseconds=1)).get_next(datetime)

    def __str__(self) -> str:
        return f"crontab[{self.expr}]"

    def __repr__(self) -> str:
        return f"<CrontabTrigger ({self.expr!r}, timezone='UTC')>"


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def parse_cron(expr: str) -> CrontabTrigger:
    """A five-field crontab expression ("0 6 * * *") as a trigger, evaluated in UTC. Refused: another number of
    fields (croniter's seconds and years, @daily), a field out of range, and a date that never comes (30 February)."""
    from croniter import CroniterBadDateError, CroniterError

    text = " ".join((expr or "").split())
    fields = len(text.split(" ")) if text else 0
    if fields != 5:
        raise ScheduleError(f"invalid cron expression {expr!r}: {fields} field(s), not 5. {CRON_HINT}")
    for name, field in zip(CRON_FIELDS, text.split(" ")):
        if not CRONTAB_FIELD.fullmatch(field):
            raise ScheduleError(f"invalid cron expression {expr!r}: {field!r} in the {name} field is not crontab "
                                f"syntax (numbers or names, *, ranges a-b, lists a,b and steps /n). {CRON_HINT}")
    trigger = CrontabTrigger(text)
    try:
        trigger.get_next_fire_time(None, datetime.now(timezone.utc))
    except CroniterBadDateError:
        raise ScheduleError(f"invalid cron expression {expr!r}: it never fires (no such date: check the day and "
                            f"month fields). {CRON_HINT}") from None
    except (CroniterError, ValueError, TypeError, KeyError) as exc:
        raise ScheduleError(f"invalid cron expression {expr!r}: {exc}. {CRON_HINT}") from None
    return trigger


def refresh_themes(services, progress=None) -> tuple[dict | None, str | None]:
    """Run themes incrementally with the latest run's selection (all statements or pains only, account and
    source filters, thresholds), so the nightly run continues what people already look at.
    Returns (run summary, None) or (None, why the themes were not refreshed)."""
    try:
        from ..themes.queries import latest_run
        from ..themes.run import RunOptions, ThemeRunError, run_themes
    except ImportError:
        return None, "themes are not available in this installation"
    with services.db.session() as session:
        prev = latest_run(session)
        filters, params = (prev.filters or {}, prev.params or {}) if prev else ({}, {})
        prev_id = prev.id if prev else None
    opts = RunOptions(incremental=True, account=filters.get("account"), source=filters.get("source"),
                      include_all=bool(filters.get("all")), min_mentions=int(params.get("min_mentions", 3)),
                      min_accounts=int(params.get("min_accounts", 2)))
    try:
        result = run_themes(services, opts, progress=progress)
    except ThemeRunError as exc:
        return None, f"themes were not refreshed: {exc}"
    except Exception as exc:  # a stale theme run is better than no report at all
        # One line where the command runs (the CLI ends errors with one line); the traceback at debug level.
        # The report (and its webhook) names the error's type only: its text may quote stored data. The log line
        # too takes a database error's first line only: SQLAlchemy's text goes on with the bound parameters.
        from ..jobs.queue import describe

        log.warning("theme run failed in the nightly job: %s", describe(exc)[:500])
        log.debug("the theme run's traceback", exc_info=True)
        uses = (f"this report uses the previous theme run ({prev_id})" if prev_id is not None
                else "there is no earlier theme run, so this report has no themes")
        return None, f"themes were not refreshed ({type(exc).__name__}); {uses}"
    return {"run_id": result["run_id"], "mode": result["mode"], "themes": len(result["themes"])}, None


def nightly_job(services, period: str = NIGHTLY_PERIOD, webhook: str | None = None, as_of: date | None = None,
                progress=None) -> dict:
    """Retention, themes, the report, its files, the webhook. `progress(done, total)`, if given, counts the theme
    run's and the report's own steps plus one each for retention, files and delivery."""
    try:
        from ..themes.run import RUN_STEPS
    except ImportError:  # an installation without themes (refresh_themes says so in the report)
        RUN_STEPS = 0
    total = 1 + RUN_STEPS + REPORT_STEPS + 2

    def from_step(start: int):
        return (lambda done, _total: progress(start + done, total)) if progress else None

    retention = _apply_retention(services)
    if progress:
        progress(1, total)
    themes, problem = refresh_themes(services, progress=from_step(1))
    report = create_report(services, period, as_of, messages=[problem] if problem else None,
                           progress=from_step(1 + RUN_STEPS))
    path, files_error = _write_files(services, report)
    if progress:
        progress(total - 1, total)
    delivery = None
    if webhook:
        result = deliver_report(services, report.id, webhook,
                                allow_private=getattr(services.config, "WEBHOOK_ALLOW_PRIVATE", False))
        delivery = {"ok": result.ok, "attempts": result.attempts, "error": result.error}
    if progress:
        progress(total, total)
    log.info("nightly report %s stored (%s), themes: %s", report.id, path or files_error, themes or problem)
    return {"themes": themes, "themes_problem": problem, "report": summary_dict(report),
            "path": str(path) if path else None, "files_error": files_error, "delivery": delivery,
            "retention": retention}


def _write_files(services, report) -> tuple[Path | None, str | None]:
    """reports/latest.html and .md, or why not: a folder that cannot be written must not keep the stored report
    from its webhook (the files are a copy; the report is in SQL)."""
    try:
        return write_files(services, report), None
    except OSError as exc:
        where = exc.filename or Path(services.config.FEEDBACK_HOME) / "reports"
        error = f"{where} not written: {exc.strerror or type(exc).__name__}"
        log.warning("nightly report %s: %s", report.id, error)
        return None, error


def _apply_retention(services) -> dict | None:
    """FEEDBACK_RETENTION_DAYS: erase older notes (and their derived copies) before the night's themes and report."""
    days = getattr(services.config, "RETENTION_DAYS", None)
    if not days:
        return None
    from ..auth.audit import record
    from ..erase import erase_older_than
    from ..jobs.guard import embedded_store_to_myself

    with embedded_store_to_myself(services.config) as holder:  # a server on the folder: erase, do not swap it
        result = erase_older_than(services, int(days), compact_files=holder is None)
    if holder is not None and result["notes"]:
        result["compacted"] = (f"not compacted: the embedded Chroma store is served by {holder}, and compacting "
                               "swaps its folder; the notes are erased from SQL and the index, but Chroma's files "
                               "may keep their deleted vectors until an erasure runs with that process stopped")
        log.warning("retention: %s", result["compacted"])
    if result["notes"]:
        record(services.db, "schedule", "retention_erase", None, {"notes": result["notes"], "days": int(days)})
    return result


def latest_fire(trigger, now: datetime) -> datetime:
    """The last fire time at or before now (within a day; a run later than that uses now's minute)."""
    fire, probe = None, trigger.get_next_fire_time(None, now - timedelta(days=1))
    for _ in range(2000):
        if probe is None or probe > now:
            break
        fire, probe = probe, trigger.get_next_fire_time(probe, probe + timedelta(seconds=1))
    return fire or now.replace(second=0, microsecond=0)


def nightly_function(period: str = NIGHTLY_PERIOD, webhook: str | None = None):
    """The job function a scheduler runs for its fire time (`execute(..., function)`): the nightly job for the
    payload's day, counting its steps on the job row like the registered `report` job, with the webhook this
    scheduler was given (a credential the row must not store)."""
    def run(services, payload: dict, progress) -> dict:
        as_of = date.fromisoformat(payload["as_of"]) if payload.get("as_of") else None
        return nightly_job(services, payload.get("period", period), webhook, as_of,
                           progress=getattr(progress, "steps", None))

    return run


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def run_once_per_fire(services, trigger, function, period: str = NIGHTLY_PERIOD, now: datetime | None = None, *,
                      webhook: str | None = None):
    """Run the nightly job for the current fire time unless another scheduler (another web process or machine on
    the same database) has it already: the job row's unique key is the lock. Returns the job, or None.
    Without a trigger (`feedback schedule --once`, from system cron perhaps on several hosts) the slot is now's
    minute: the runs of one minute are one run, and a `--once` in the minute the scheduler fires joins it.

    The row says what a worker needs to run it again if this process dies part way (a worker's sweep queues it
    again, and the registered `report` job runs it): the fire time's day, and whether to deliver, which it can
    only do to FEEDBACK_REPORT_WEBHOOK_URL (a `--webhook` URL is not stored, so a run recovered without it is
    stored and not delivered)."""
    from ..jobs import create, execute

    now = now or _utc_now()
    fire = latest_fire(trigger, now) if trigger else now.replace(second=0, microsecond=0)  # even when started late
    key = f"{JOB_ID}:{period}:{fire:%Y-%m-%dT%H:%M}"
    configured = getattr(services.config, "REPORT_WEBHOOK_URL", None)
    payload = {"period": period, "scheduled_for": fire.isoformat(), "as_of": fire.date().isoformat(),
               "deliver": bool(webhook) and webhook == configured}
    job, created = create(services, "report", payload, key=key, backend="local")
    if not created:
        return None
    return execute(services, job["id"], function)


def _done_line(result: dict) -> str:
    """What a scheduled run printed: the report, where its file is, and what did not work."""
    line = f"report {result['report']['id']} stored: {result['path'] or result.get('files_error')}"
    delivery = result.get("delivery")
    if delivery:
        line += (f"; delivered in {delivery['attempts']} attempt(s)" if delivery["ok"]
                 else f"; not delivered: {delivery['error']}")
    return line


def run_forever(app, cron: str, period: str = NIGHTLY_PERIOD, webhook: str | None = None, echo=print) -> None:
    """Block, running the job on the cron schedule until SIGINT/SIGTERM. Overlapping runs are skipped and
    missed runs (machine asleep) are run once, up to an hour late.

    A stop while a run is going waits for the run to end. Stopping at once let the process exit under the running
    job, whose theme run then failed ("cannot schedule new futures after interpreter shutdown") and whose report,
    without its themes and gaps, replaced the window's good one and was delivered. The signal handler only sets a
    flag: the scheduler runs in its own thread (BackgroundScheduler) and this thread shuts it down, waiting for the
    job, outside the handler (shutting down from a handler could wait on a lock the interrupted code held).
    `kill -9` stops at once; a `feedback worker`'s sweep then runs the job again."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.base import BaseTrigger

    BaseTrigger.register(CrontabTrigger)  # add_job takes a BaseTrigger
    trigger = parse_cron(cron)
    services = app.extensions["feedback"]
    scheduler = BackgroundScheduler(timezone="UTC")
    function = nightly_function(period, webhook)
    running = threading.Event()

    def job():
        running.set()
        try:
            with app.app_context():
                _fire(services, trigger, function, period, webhook, echo)
        finally:
            running.clear()

    scheduler.add_job(job, trigger, id=JOB_ID, max_instances=1, coalesce=True, misfire_grace_time=3600)
    stop = _StopRequest()
    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        first = trigger.get_next_fire_time(None, datetime.now(timezone.utc))
        echo(f"scheduler started: cron '{cron}' (UTC), next run {first:%Y-%m-%d %H:%M} UTC; Ctrl+C stops")
        scheduler.start()
        _wait_for_stop(stop)
        if running.is_set():
            echo("stopping: waiting for the running report job to end first (kill -9 stops now; a "
                 "`feedback worker` then runs the job again)")
        if scheduler.running:
            scheduler.shutdown(wait=True)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    echo("scheduler stopped")


class _StopRequest:
    """The SIGTERM/SIGINT handler: it only notes the request (no lock, no output: the code it interrupts may hold
    either)."""

    def __init__(self):
        self.requested = False

    def __call__(self, _signum, _frame) -> None:
        self.requested = True


def _wait_for_stop(stop: _StopRequest, every: float = 0.25) -> None:
    while not stop.requested:
        time.sleep(every)  # a signal interrupts the sleep; the handler runs in this thread


def _fire(services, trigger, function, period: str, webhook: str | None, echo) -> None:
    try:
        outcome = run_once_per_fire(services, trigger, function, period, webhook=webhook)
        if outcome is None:
            echo("nightly report: another scheduler has this run already")
        elif outcome["status"] == "done":
            echo(_done_line(outcome["result"]))
        else:
            echo(f"the nightly report job failed: {outcome['error']}")
    except Exception:
        log.exception("the nightly report job failed")
