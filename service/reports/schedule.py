"""The nightly job (refresh themes incrementally -> build and store the report -> deliver) and its scheduler.

`feedback schedule` runs a long-lived APScheduler BlockingScheduler with a cron trigger (UTC, like the report
periods); `--once` runs the job now and exits, for system cron, CI and tests.
"""
from __future__ import annotations

import logging
import signal
from datetime import date, datetime, timezone

from .deliver import deliver_report
from .store import REPORT_STEPS, create_report, summary_dict, write_files

log = logging.getLogger(__name__)
JOB_ID = "nightly-report"


class ScheduleError(ValueError):
    pass


def parse_cron(expr: str):
    """A five-field crontab expression ("0 6 * * *") as an APScheduler trigger, evaluated in UTC."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        return CronTrigger.from_crontab((expr or "").strip(), timezone="UTC")
    except (ValueError, TypeError) as exc:
        raise ScheduleError(
            f"invalid cron expression {expr!r}: {exc}. Use five fields, minute hour day month weekday, "
            "e.g. '0 6 * * *' for 06:00 UTC every day"
        ) from None


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
    opts = RunOptions(incremental=True, account=filters.get("account"), source=filters.get("source"),
                      include_all=bool(filters.get("all")), min_mentions=int(params.get("min_mentions", 3)),
                      min_accounts=int(params.get("min_accounts", 2)))
    try:
        result = run_themes(services, opts, progress=progress)
    except ThemeRunError as exc:
        return None, f"themes were not refreshed: {exc}"
    except Exception as exc:  # a stale theme run is better than no report at all
        log.exception("theme run failed in the nightly job")
        return None, f"themes were not refreshed ({type(exc).__name__}); this report uses the previous theme run"
    return {"run_id": result["run_id"], "mode": result["mode"], "themes": len(result["themes"])}, None


def nightly_job(services, period: str = "1d", webhook: str | None = None, as_of: date | None = None,
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
    path = write_files(services, report)
    if progress:
        progress(total - 1, total)
    delivery = None
    if webhook:
        result = deliver_report(services, report.id, webhook,
                                allow_private=getattr(services.config, "WEBHOOK_ALLOW_PRIVATE", False))
        delivery = {"ok": result.ok, "attempts": result.attempts, "error": result.error}
    if progress:
        progress(total, total)
    log.info("nightly report %s stored (%s), themes: %s", report.id, path, themes or problem)
    return {"themes": themes, "themes_problem": problem, "report": summary_dict(report), "path": str(path),
            "delivery": delivery, "retention": retention}


def _apply_retention(services) -> dict | None:
    """FEEDBACK_RETENTION_DAYS: erase older notes (and their derived copies) before the night's themes and report."""
    days = getattr(services.config, "RETENTION_DAYS", None)
    if not days:
        return None
    from ..auth.audit import record
    from ..erase import erase_older_than

    result = erase_older_than(services, int(days))
    if result["notes"]:
        record(services.db, "schedule", "retention_erase", None, {"notes": result["notes"], "days": int(days)})
    return result


def latest_fire(trigger, now: datetime) -> datetime:
    """The last fire time at or before now (within a day; a run later than that uses now's minute)."""
    from datetime import timedelta

    fire, probe = None, trigger.get_next_fire_time(None, now - timedelta(days=1))
    for _ in range(2000):
        if probe is None or probe > now:
            break
        fire, probe = probe, trigger.get_next_fire_time(probe, probe + timedelta(seconds=1))
    return fire or now.replace(second=0, microsecond=0)


def run_once_per_fire(services, trigger, function, period: str = "1d", now: datetime | None = None):
    """Run the nightly job for the current fire time unless another scheduler (another web process or machine on
    the same database) has it already: the job row's unique key is the lock. Returns the job, or None."""
    from ..jobs import create, execute

    now = now or datetime.now(timezone.utc)
    fire = latest_fire(trigger, now)  # this run's slot, even when it started late
    key = f"{JOB_ID}:{period}:{fire:%Y-%m-%dT%H:%M}"
    job, created = create(services, "report", {"period": period, "scheduled_for": fire.isoformat()}, key=key,
                          backend="local")
    if not created:
        return None
    return execute(services, job["id"], function)


def run_forever(app, cron: str, period: str = "1d", webhook: str | None = None, echo=print) -> None:
    """Block, running the job on the cron schedule until SIGINT/SIGTERM. Overlapping runs are skipped and
    missed runs (machine asleep) are run once, up to an hour late."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    trigger = parse_cron(cron)
    services = app.extensions["feedback"]
    scheduler = BlockingScheduler(timezone="UTC")

    def job():
        with app.app_context():
            try:
                outcome = run_once_per_fire(services, trigger, lambda s, *_: nightly_job(s, period, webhook), period)
                if outcome is None:
                    echo("nightly report: another scheduler has this run already")
                elif outcome["status"] == "done":
                    echo(f"report {outcome['result']['report']['id']} stored: {outcome['result']['path']}")
                else:
                    echo(f"the nightly report job failed: {outcome['error']}")
            except Exception:
                log.exception("the nightly report job failed")

    scheduler.add_job(job, trigger, id=JOB_ID, max_instances=1, coalesce=True, misfire_grace_time=3600)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    first = trigger.get_next_fire_time(None, datetime.now(timezone.utc))
    echo(f"scheduler started: cron '{cron}' (UTC), next run {first:%Y-%m-%d %H:%M} UTC; Ctrl+C stops")
    scheduler.start()  # blocks until shutdown
    echo("scheduler stopped")
