"""init, ingest, stats, reindex, notes and accounts commands."""
from __future__ import annotations

import sys

import click

from ..auth.audit import cli_actor, record
from ..ingest.errors import IngestError
from ..ingest.readers import STDIN_FORMATS
from ..ingest.store import ingest, load_paths, reindex
from ..jobs.functions import notes_payload
from ..models.notes import SOURCE_KINDS
from ..notes import NotFound, delete_note_by_id, find_note, list_accounts, list_notes, note_dict, parse_filter_date, stats
from .common import emit_json, fail, pass_ctx, progress_bar, refuse_empty


def register(cli: click.Group) -> None:
    for command in (init, ingest_cmd, stats_cmd, reindex_cmd, notes, accounts):
        cli.add_command(command)


@click.command()
@pass_ctx
def init(ctx):
    """Create the data folder, apply database migrations and open the vector store."""
    svc = ctx.services
    svc.store.count("statements")
    click.echo(f"ready: database {svc.db.engine.url.render_as_string(hide_password=True)}, "
               f"vectors {svc.config.CHROMA_URL or svc.config.CHROMA_PATH}")


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, callback=refuse_empty("a file, a folder or -"))
@click.option("--skip-invalid", is_flag=True, help="Store the valid rows and list the rejected ones.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--background", is_flag=True, help="Validate now, store as a job; prints the job id.")
@click.option("--format", "stdin_format", type=click.Choice(STDIN_FORMATS),
              help="The format of standard input (-); default: guessed from its first bytes.")
@click.option("--allow-future", is_flag=True, help="Accept notes dated more than a day from now.")
@pass_ctx
def ingest_cmd(ctx, paths, skip_invalid, quiet, as_json, background, stdin_format, allow_future):
    """Ingest notes from files (.txt .md .csv .jsonl .vtt .srt .docx .pdf), folders, or - for standard input."""
    if stdin_format and "-" not in paths:
        fail("--format is for standard input: give - as a path", code=2)
    if paths.count("-") > 1:  # the second read of standard input is empty: it failed as "stdin:1 missing text"
        fail("- (standard input) can be given once", code=2)
    svc = ctx.services
    notes, errors = load_paths(list(paths), svc.config.MAX_NOTE_CHARS, stdin=sys.stdin.buffer if "-" in paths else None,
                               stdin_format=stdin_format, allow_future=allow_future, future_hint="--allow-future")
    if errors and not skip_invalid:
        for err in errors:
            click.echo(f"error: {err}", err=True)
        fail(_refusal(errors, notes))
    if not notes and not errors:  # an empty .jsonl or a CSV header alone answered "created 0" as if it had worked
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        fail(f"{shown}: no notes to ingest (an empty file, or a CSV header without rows); nothing was stored")
    sources = [str(p) for p in paths][:20]
    if background:
        # validated now: the rows --skip-invalid leaves out are named here, not only in the job's result later
        for err in errors:
            click.echo(f"rejected: {err}", err=True)
        job = _enqueue(ctx, "ingest", notes_payload(notes, errors), as_json)
        record(svc.db, cli_actor(), "ingest", None, {"background": True, "job_id": job["id"], "notes": len(notes),
                                                     "sources": sources})
        return
    total_statements = sum(1 for _ in notes)  # rough bar size; refined as statements are embedded
    bar = None
    def progress(n):
        nonlocal bar
        if bar is None:
            bar = progress_bar(max(total_statements, n), "embedding", quiet)
        if bar is not None:
            bar.update(n)
    try:
        report = ingest(svc, notes, errors, skip_invalid=skip_invalid, progress=progress)
    except IngestError as exc:  # pragma: no cover - caught above
        fail(str(exc))
    finally:
        if bar is not None:
            bar.close()
    record(svc.db, cli_actor(), "ingest", None, {"created": report.created, "updated": report.updated,
                                                 "sources": sources})
    if as_json:
        emit_json(report.as_dict())
    else:
        rejected = f"; rejected {len(report.rejected)} invalid row(s), not stored" if report.rejected else ""
        click.echo(f"created {report.created}, updated {report.updated}, unchanged {report.unchanged}, "
                   f"statements embedded {report.statements}{rejected}")
        for written, name in sorted(report.accounts_filed.items()):
            click.echo(f"account {written!r} filed under {name!r} (the same name without legal form, case or "
                       "punctuation)")
        for err in report.rejected:
            click.echo(f"rejected: {err}", err=True)


def _refusal(errors, notes) -> str:
    """Why nothing was stored. A path that is missing, unreadable or holds no file to ingest (an error without a
    line) is not an invalid row: --skip-invalid is suggested only when it would store some valid rows."""
    rows = sum(1 for e in errors if e.line is not None)
    paths = len(errors) - rows
    problems = [f"{rows} invalid row(s)"] if rows else []
    problems += [f"{paths} path(s) with nothing to ingest"] if paths else []
    hint = " (use --skip-invalid to store the valid rows)" if rows and notes else ""
    return f"{' and '.join(problems)}; nothing was stored{hint}"


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON (with counts by source and the "
                                                        "vector store and embedder in use).")
@pass_ctx
def stats_cmd(ctx, as_json):
    """Counts of notes, statements, vectors and accounts."""
    data = stats(ctx.services)
    if as_json:
        emit_json(data)
    else:
        for key in ("notes", "statements", "vectors", "accounts"):
            click.echo(f"{key:>11}: {data[key]}")
        click.echo("  by source: " + ", ".join(f"{k} {v}" for k, v in sorted(data["by_source"].items())))


def _enqueue(ctx, kind: str, payload: dict, as_json: bool) -> dict:
    """Queue a job; without Redis it waits in the database for `feedback worker` (this process exits now)."""
    from ..jobs import enqueue

    app = ctx.app
    with app.app_context():
        job = enqueue(ctx.services, kind, payload, app=app, submit=False)
    if as_json:
        emit_json({"job_id": job["id"], "status": job["status"]})
    else:
        click.echo(f"queued job {job['id']} ({kind}); run `feedback worker --burst` (or a running worker picks it "
                   f"up), then `feedback jobs show {job['id']}`")
    return job


@click.command("reindex")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--background", is_flag=True, help="Queue the rebuild as a job; prints the job id.")
@click.option("--json", "as_json", is_flag=True,
              help='Print the result as JSON: {"reindexed": N}, or the queued job with --background.')
@pass_ctx
def reindex_cmd(ctx, quiet, background, as_json):
    """Rebuild the vector index from SQL (after losing the Chroma folder or switching FEEDBACK_EMBEDDER)."""
    if background:
        _enqueue(ctx, "reindex", {}, as_json)
        return
    svc = ctx.services
    bar = progress_bar(stats(svc, with_vectors=False)["statements"], "reindex", quiet)
    total = reindex(svc, progress=bar.update if bar else None)
    if bar:
        bar.close()
    if as_json:  # the same field as the reindex job's result (`feedback jobs show`)
        emit_json({"reindexed": total})
    else:
        click.echo(f"reindexed {total} statements")


@click.group()
def notes():
    """List, show and delete notes."""


@notes.command("list")
@click.option("--account", callback=refuse_empty("the account's name"),
              help="Only this account's notes (its name as `feedback accounts list` shows it; case, punctuation and a "
                   "legal form such as Inc do not matter).")
@click.option("--source", type=click.Choice(SOURCE_KINDS), help="Only notes of this kind (a typo was an empty list).")
@click.option("--since", metavar="DATE", callback=refuse_empty("a day such as 2026-11-01"),
              help="Only notes dated on or after this day (ISO 8601, e.g. 2026-11-01).")
@click.option("--until", metavar="DATE", callback=refuse_empty("a day such as 2026-11-30"),
              help="Only notes dated on or before this day (the whole day).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000), help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help='Print {"items": [...], "total": N} as JSON.')
@pass_ctx
def notes_list(ctx, account, source, since, until, limit, as_json):
    """Notes, newest first, with their id, date, account and source (a note without a date: when it was stored)."""
    try:
        since_dt, until_dt = parse_filter_date(since, "--since"), parse_filter_date(until, "--until", end_of_day=True)
    except ValueError as exc:
        fail(str(exc), code=2)
    if since_dt and until_dt and since_dt > until_dt:  # answered "0 of 0 notes" as if none were in the window
        fail(f"--since {since} is after --until {until}; swap them", code=2)
    with ctx.services.db.session() as session:
        rows, total = list_notes(session, account=account, source=source, since=since_dt, until=until_dt, per_page=limit)
        items = [note_dict(n) for n in rows]
    if as_json:
        emit_json({"items": items, "total": total})
        return
    for n in items:  # one row per note: a carriage return or tab in the text or account moved the row's columns
        text, account = " ".join(n["text"].split()), " ".join((n["account"] or "-").split())
        click.echo(f"{n['id']:<14} {(n['date'] or '')[:10]:<10} {account[:24]:<24} {n['source']:<9} {text[:60]}")
    click.echo(f"{len(items)} of {total} notes")


@notes.command("show")
@click.argument("note_id", callback=refuse_empty("a note id (feedback notes list)"))
@click.option("--json", "as_json", is_flag=True, help="Print the note and its statements as JSON.")
@pass_ctx
def notes_show(ctx, note_id, as_json):
    """One note by its id (as `feedback notes list` shows it): its text and how many statements it was split into."""
    with ctx.services.db.session() as session:
        try:
            data = note_dict(find_note(session, note_id), statements=True)
        except NotFound as exc:
            fail(str(exc))
    if as_json:
        emit_json(data)
        return
    click.echo(f"{data['id']}  {data['account'] or '-'}  {data['source']}  {data['date'] or ''}")
    click.echo(data["text"])
    click.echo(f"-- {len(data['statements'])} statements")


@notes.command("delete")
@click.argument("note_id", callback=refuse_empty("a note id (feedback notes list)"))
@pass_ctx
def notes_delete(ctx, note_id):
    """Delete a note, its statements and its vectors."""
    try:
        delete_note_by_id(ctx.services, note_id)
    except NotFound as exc:
        fail(str(exc))
    record(ctx.services.db, cli_actor(), "note_delete", f"note_id={note_id}")
    click.echo(f"deleted {note_id}")


@click.group()
def accounts():
    """Accounts seen in notes: list, merge, erase."""


@accounts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the accounts as a JSON list.")
@pass_ctx
def accounts_list(ctx, as_json):
    """Every account named in a note, with its number of notes and the date of its last one."""
    with ctx.services.db.session() as session:
        rows = list_accounts(session)
    if as_json:
        emit_json(rows)
        return
    if not rows:  # an empty answer read like a command that did nothing
        click.echo("no accounts yet: notes name them (`feedback ingest FILE`)")
    for r in rows:
        click.echo(f"{r['name']:<32} {r['notes']:>5} notes  last {(r['last_note_at'] or '')[:10]}")


@accounts.command("merge")
@click.argument("source", metavar="FROM", callback=refuse_empty("the name of the account to merge"))
@click.argument("into", metavar="INTO", callback=refuse_empty("the name of the account to keep"))
@click.option("--json", "as_json", is_flag=True, help="Print what moved as JSON.")
@pass_ctx
def accounts_merge(ctx, source, into, as_json):
    """File every note of account FROM under INTO and forget FROM: one customer written two ways the names do not
    join ("AWS" and "Amazon Web Services"). Case, punctuation and a legal form such as Inc already join by
    themselves. Drafts and "told" marks naming FROM move to INTO, and FROM stays a name of INTO: later notes written
    for it file there. Follow-ups and briefs count one account at once; themes from their next run. There is no
    undo: a note cannot be told apart again."""
    from ..accounts import AccountError, merge
    from ..erase import fingerprint

    try:
        result = merge(ctx.services, source, into)
    except NotFound as exc:
        fail(str(exc))
    except AccountError as exc:
        fail(str(exc), code=2)
    # The audit log keeps hashes, as for an erasure: an account erased later leaves no name behind in it.
    record(ctx.services.db, cli_actor(), "account_merge", fingerprint(result["merged"]),
           {"into": fingerprint(result["into"]), "notes": result["notes"]})
    if as_json:
        emit_json(result)
        return
    click.echo(f"merged {result['merged']!r} into {result['into']!r}: {result['notes']} note(s), {result['drafts']} "
               f"draft(s), {result['told_marks']} told mark(s) moved")
