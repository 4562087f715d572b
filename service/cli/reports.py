"""feedback report | reports list|show | schedule: the nightly theme report from the command line."""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ..auth.audit import cli_actor, record
from ..models.reports import DEFAULT_PERIOD, NIGHTLY_PERIOD, PERIODS
from ..reports.build import ReportError, parse_as_of
from ..reports.deliver import PrivateAddressError, WebhookURLError, check_url, deliver_report
from ..reports.schedule import ScheduleError, nightly_function, parse_cron, run_forever, run_once_per_fire
from ..reports.store import (ReportNotFound, count_reports, create_report, get_report, list_reports, report_dict,
                             summary_dict)
from ..reports.webhook_url import resolve_target
from .common import ROW_ID, emit_json, fail, pass_ctx, refuse_empty

FORMATS = ("html", "md", "json")
SUFFIX_FORMATS = {".html": "html", ".htm": "html", ".json": "json", ".md": "md", ".markdown": "md"}


def register(cli: click.Group) -> None:
    cli.add_command(report)
    cli.add_command(reports)
    cli.add_command(schedule)


def _as_of(value: str | None):
    try:
        return parse_as_of(value, "--as-of")
    except ReportError as exc:
        fail(str(exc), code=2)


def _body(row, fmt: str) -> str:
    if fmt == "html":
        return row.html
    if fmt == "json":
        return json.dumps(report_dict(row), indent=2, ensure_ascii=False, default=str) + "\n"
    return row.markdown


def _check_out(out: str | None) -> None:
    """Fail before any work (a report stored, a webhook posted) when --out cannot be written."""
    if not out:
        return
    path = Path(out)
    folder = path.parent
    if path.is_dir():
        fail(f"--out {out}: is a folder; give a file name", code=2)
    if not folder.is_dir():
        fail(f"--out {out}: the folder {folder} does not exist", code=2)
    if not os.access(path if path.exists() else folder, os.W_OK):
        fail(f"--out {out}: no permission to write {'it' if path.exists() else 'in ' + str(folder)}", code=2)


def _check_webhook(config, url: str | None, source: str) -> None:
    """The operator's webhook, checked before any work; an error names where the URL came from (never the URL:
    it is the credential) and exits 2. An empty value is refused: `--webhook "$HOOK"` with HOOK unset built the
    report, said nothing and delivered nothing. A name that resolves to a private address is refused here too
    (without FEEDBACK_WEBHOOK_ALLOW_PRIVATE), not after the report is built; a name that does not resolve now is
    left to the delivery, which says so (DNS may be back by then)."""
    if url is not None and not url.strip():
        fail(f"{source} is empty: give the webhook URL, or leave {source} out", code=2)
    allow_private = bool(getattr(config, "WEBHOOK_ALLOW_PRIVATE", False))
    try:
        check_url(url, allow_private=allow_private)
        if not allow_private:
            _check_resolved(url)
    except PrivateAddressError as exc:
        fail(f"{source}: {exc}; set FEEDBACK_WEBHOOK_ALLOW_PRIVATE=1 if it is your own webhook on your network",
             code=2)
    except WebhookURLError as exc:
        fail(f"{source}: {exc}", code=2)


def _check_resolved(url: str) -> None:
    """PrivateAddressError when the URL's host name resolves to a private, loopback or link-local address."""
    try:
        resolve_target(url)
    except PrivateAddressError:
        raise
    except WebhookURLError:  # not resolvable now: the delivery tries again and records why it failed
        pass


def _format(fmt: str | None, out: str | None) -> str:
    """--format, else the one --out's suffix names, else Markdown: `report` and `reports show` read it alike."""
    if fmt is not None:
        return fmt
    return SUFFIX_FORMATS.get(Path(out).suffix.lower(), "md") if out else "md"


def _output(row, fmt: str, out: str | None) -> None:
    text = _body(row, fmt)
    if out:
        try:
            Path(out).write_text(text, encoding="utf-8")
        except OSError as exc:  # checked before, but a disk can fill up meanwhile
            fail(f"cannot write {out}: {exc.strerror or exc}; report {row.id} is stored "
                 f"(`feedback reports show {row.id} --out FILE` writes it)")
        last_day = summary_dict(row)["last_day"]
        click.echo(f"report {row.id} ({row.period}, {row.period_start} to {last_day}) written to {out}", err=True)
    else:
        click.echo(text, nl=False)


@click.command()
@click.option("--since", "period", type=click.Choice(PERIODS), default=DEFAULT_PERIOD, show_default=True,
              help="The period the report covers (the last 30 days by default, the window the themes pages use), "
                   "compared with the same length before it. The nightly schedule uses 1d.")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="Output format (default: from the --out suffix, else md).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), callback=refuse_empty("a file name"),
              help="Write to FILE instead of stdout.")
@click.option("--webhook", metavar="URL", help="Also post the report to this Slack-compatible webhook.")
@click.option("--as-of", "as_of", metavar="DATE",
              help="The period ends at the start of this day, UTC (default: today).")
@pass_ctx
def report(ctx, period, fmt, out, webhook, as_of):
    """Build the theme report for a period, store it, and print it (or write it to --out).

    A report for the same period and dates replaces the stored one. Themes come from the latest theme run;
    `feedback schedule --once` refreshes them first."""
    fmt = _format(fmt, out)
    _check_out(out)
    if webhook is not None:
        _check_webhook(ctx.services.config, webhook, "--webhook")
    try:
        row = create_report(ctx.services, period, _as_of(as_of))
    except ReportError as exc:
        fail(str(exc), code=2)
    record(ctx.services.db, cli_actor(), "report_build", f"report_id={row.id}",
           {"period": period, "webhook": bool(webhook)})
    if webhook:
        result = deliver_report(ctx.services, row.id, webhook,
                                allow_private=ctx.services.config.WEBHOOK_ALLOW_PRIVATE)
        row = get_report(ctx.services, row.id)
    _output(row, fmt, out)
    if webhook and not result.ok:
        fail(f"the report is stored (id {row.id}) but was not delivered: {result.error}")
    if webhook:
        click.echo(f"delivered to the webhook in {result.attempts} attempt(s)", err=True)


@click.group()
def reports():
    """Stored reports: list, show, delete."""


@reports.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000), help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help='Print {"reports": [...], "total": N, "limit": N} as JSON.')
@pass_ctx
def reports_list(ctx, limit, as_json):
    """Stored reports, latest period first: period, days, notes, top themes, gaps and delivery."""
    rows = [summary_dict(r) for r in list_reports(ctx.services, limit=limit)]
    if as_json:
        emit_json({"reports": rows, "total": count_reports(ctx.services), "limit": limit})
        return
    if not rows:
        click.echo("no reports yet: run `feedback report` or `feedback schedule --once`")
    for r in rows:  # "not sent" as the pages say it ("not_sent" is the JSON's value); "1 note", "1 gap"
        notes = r["notes"] or 0
        click.echo(f"{r['id']:>5}  {r['period']:>3}  {r['period_start']} to {r['last_day']}  "
                   f"{notes:>4} {'note ' if notes == 1 else 'notes'}  "
                   f"{r['top_themes']:>2} {'top theme ' if r['top_themes'] == 1 else 'top themes'}  "
                   f"{r['gaps']:>2} {'gap ' if r['gaps'] == 1 else 'gaps'}  "
                   f"delivery: {r['delivery']['status'].replace('_', ' ')}")


@reports.command("show")
@click.argument("report_id", type=ROW_ID)
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="Output format (default: from the --out suffix, else md).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), callback=refuse_empty("a file name"),
              help="Write to FILE instead of stdout.")
@pass_ctx
def reports_show(ctx, report_id, fmt, out):
    """Print a stored report (or write it to --out) by its id (`feedback reports list`)."""
    # `--out r.json` wrote Markdown into r.json: the suffix names the format here as it does for `feedback report`
    fmt = _format(fmt, out)
    _check_out(out)
    try:
        row = get_report(ctx.services, report_id)
    except ReportNotFound as exc:
        fail(str(exc))
    _output(row, fmt, out)


@click.command()
@click.option("--cron", metavar="EXPR", help="Five-field cron expression in UTC (default: FEEDBACK_REPORT_CRON, "
                                             "else '0 6 * * *').")
@click.option("--once", is_flag=True, help="Run the job now and exit (for system cron and tests).")
@click.option("--since", "period", type=click.Choice(PERIODS), default=NIGHTLY_PERIOD, show_default=True,
              help="The period each report covers, compared with the same length before it.")
@click.option("--webhook", metavar="URL", help="Deliver to this webhook (default: FEEDBACK_REPORT_WEBHOOK_URL).")
@pass_ctx
def schedule(ctx, cron, once, period, webhook):
    """Refresh themes incrementally, then build, store and deliver the report, on a schedule."""
    cron_source = "--cron" if cron is not None else "FEEDBACK_REPORT_CRON"
    try:
        if cron is not None:
            parse_cron(cron)  # a typo fails before anything loads
        cron = cron if cron is not None else ctx.app.config.get("REPORT_CRON") or "0 6 * * *"
        parse_cron(cron)
    except ScheduleError as exc:
        fail(f"{cron_source}: {exc}", code=2)
    if webhook is not None:  # "" too: --webhook "$HOOK" with HOOK unset must not fall back to the setting
        _check_webhook(ctx.services.config, webhook, "--webhook")
    else:
        webhook = ctx.app.config.get("REPORT_WEBHOOK_URL")
        if webhook:
            _check_webhook(ctx.services.config, webhook, "FEEDBACK_REPORT_WEBHOOK_URL")
    if not once:
        run_forever(ctx.app, cron, period, webhook, echo=click.echo)
        return
    with ctx.app.app_context():  # a job row like a scheduled run's: progress, `jobs show`, once per minute
        job = run_once_per_fire(ctx.services, None, nightly_function(period, webhook), period, webhook=webhook)
    if job is None:
        click.echo("nightly report: another `feedback schedule` has this minute's run already (`feedback jobs list`)")
        return
    if job["status"] != "done":
        fail(f"the nightly report job {job['id']} failed: {job['error']}")
    outcome = job["result"]
    themes = outcome["themes"]
    click.echo(f"themes: run {themes['run_id']} ({themes['mode']}), {themes['themes']} themes" if themes
               else f"themes: {outcome['themes_problem']}")
    retention = outcome.get("retention") or {}
    if retention.get("notes"):
        click.echo(f"retention: {retention['notes']} note(s) dated before {retention['cutoff']} erased"
                   + (f"; {retention['compacted']}" if str(retention.get("compacted", "")).startswith("not") else ""))
    report_id = outcome["report"]["id"]
    click.echo(f"report {report_id} stored; HTML at {outcome['path']}" if outcome.get("path")
               else f"report {report_id} stored")
    delivery = outcome["delivery"]
    if delivery and delivery["ok"]:
        click.echo(f"delivered in {delivery['attempts']} attempt(s)")
    problems = []
    if delivery and not delivery["ok"]:
        problems.append(f"the report is stored but was not delivered: {delivery['error']}")
    if outcome.get("files_error"):
        problems.append(f"{outcome['files_error']} (`feedback reports show {report_id} --out FILE` writes it)")
    if problems:
        fail("; ".join(problems))
