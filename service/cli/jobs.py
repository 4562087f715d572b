"""worker and jobs commands: run queued jobs, list them, show one."""
from __future__ import annotations

import time

import click

from .common import emit_json, fail, pass_ctx


def register(cli: click.Group) -> None:
    cli.add_command(worker)
    cli.add_command(jobs)


@click.command()
@click.option("--burst", is_flag=True, help="Run what is queued now, then exit.")
@pass_ctx
def worker(ctx, burst):
    """Run background jobs: from Redis (FEEDBACK_REDIS_URL) or, without it, those queued in the database."""
    from ..jobs import run_worker
    from ..jobs.guard import SharedStoreError, hold_embedded_store
    from ..jobs.queue import QueueUnavailable

    app = ctx.app
    try:
        hold_embedded_store(app.config["FEEDBACK_CONFIG"], "`feedback worker`")
    except SharedStoreError as exc:
        fail(str(exc))
    try:
        count = run_worker(app, burst=burst, echo=click.echo)
    except KeyboardInterrupt:
        count = None
    except QueueUnavailable as exc:
        fail(str(exc))
    if burst:
        click.echo(f"worker: {count} job(s) run; nothing left queued")


@click.group()
def jobs():
    """List and show background jobs."""


@jobs.command("list")
@click.option("--status", type=click.Choice(["queued", "running", "done", "failed"]), help="Only jobs in this state.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help='Print {"items": [...]} as JSON.')
@pass_ctx
def jobs_list(ctx, status, limit, as_json):
    """Recent jobs, newest first: id, kind, status, progress (done/total) and when it was queued (UTC)."""
    from ..jobs import JOBS, list_jobs

    rows = list_jobs(ctx.services, status=status, limit=limit)
    if as_json:
        emit_json({"items": rows})
        return
    if not rows:
        click.echo("no jobs")
    width = max(len(kind) for kind in JOBS)  # "build_report" pushed its row's columns out of line
    for job in rows:
        click.echo(f"{job['id']}  {job['kind']:<{width}} {job['status']:<8} {_progress(job):>13}  "
                   f"{job['created_at'][:19]}")


class Seconds(click.FloatRange):
    """A number of seconds above 0; NaN is refused (it compares false with the bound, so FloatRange lets it through,
    and a wait that compares its elapsed time with NaN never ends)."""

    name = "number of seconds"

    def __init__(self):
        super().__init__(min=0, min_open=True)

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if number != number:
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return number


@jobs.command("show")
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="Wait until the job is done or failed.")
@click.option("--timeout", type=Seconds(), metavar="SECONDS", help="With --wait: give up after this long (exit 1).")
@click.option("--json", "as_json", is_flag=True, help="Print the job (status, progress, result or error) as JSON.")
@pass_ctx
def jobs_show(ctx, job_id, wait, timeout, as_json):
    """One job by its id: status, progress, attempts, and its result or error; exit 1 when the job failed."""
    from ..jobs import JobNotFound, get_job

    if timeout is not None and not wait:
        raise click.UsageError("--timeout goes with --wait (how long to wait for the job)")
    try:
        job = get_job(ctx.services, job_id)
        if wait:
            job = _wait(ctx, job, timeout)
    except JobNotFound as exc:
        fail(str(exc))
    if as_json:
        emit_json(job)
    else:
        click.echo(f"job {job['id']}: {job['kind']}, {job['status']}, progress {_progress(job)}, "
                   f"attempts {job['attempts']}")
        if job["error"]:
            click.echo(f"error: {job['error']}")
        if job["result"] is not None:
            emit_json(job["result"])
    if job["status"] == "failed":  # with --json too: a script reads the exit code, whatever the output format
        raise SystemExit(1)


def _wait(ctx, job: dict, timeout: float | None) -> dict:
    """Poll until done or failed. Every sweep interval this process also runs the workers' sweep, so a job whose
    worker was killed is queued again or failed even when no other worker is left to notice."""
    from ..jobs import get_job, sweep
    from ..jobs.queue import sweep_seconds

    every = sweep_seconds()
    start = time.monotonic()
    swept = start - every  # at once: the job may have been left behind long ago
    while job["status"] in ("queued", "running"):
        now = time.monotonic()
        if timeout is not None and now - start >= timeout:
            fail(f"job {job['id']} is still {job['status']} after {timeout:g} s "
                 f"(progress {_progress(job)}); is a `feedback worker` running?")
        if now - swept >= every:
            sweep(ctx.app, log=lambda line: click.echo(line, err=True))
            swept = now
        time.sleep(0.5)
        job = get_job(ctx.services, job["id"])
    return job


def _progress(job: dict) -> str:
    done, total = job["progress"]["done"], job["progress"]["total"]
    return f"{done}/{total}" if total else "-"
