"""feedback accounts erase NAME --yes, compact, drafts delete ID, reports delete ID: erasure from the command line."""
from __future__ import annotations

import click

from ..auth.audit import cli_actor, record
from ..erase import (CompactionFailed, EraseError, account_exists, compact, delete_draft, delete_report, erase_account,
                     fingerprint, no_such_account)
from .common import ROW_ID, emit_json, fail, pass_ctx, refuse_empty


def register(cli: click.Group) -> None:
    from .drafts import drafts
    from .notes import accounts
    from .reports import reports

    accounts.add_command(accounts_erase)
    cli.add_command(compact_command)
    drafts.add_command(drafts_delete)
    reports.add_command(reports_delete)


@click.command("erase")
@click.argument("name", callback=refuse_empty("the account's name (feedback accounts list)"))
@click.option("--yes", is_flag=True, help="Really erase: there is no undo.")
@click.option("--json", "as_json", is_flag=True,
              help="Print what was erased (counts, the account as a hash) as JSON (with --background: the job).")
@click.option("--background", is_flag=True, help="Queue the erasure as a job with progress; prints the job id.")
@pass_ctx
def accounts_erase(ctx, name, yes, as_json, background):
    """Erase an account: its notes, statements, vectors, the drafts quoting it, and its traces in themes and
    reports; then compact the database and rebuild the vector folder so the bytes are gone too."""
    if not yes:
        fail("erasure cannot be undone: add --yes", code=2)
    if background:
        from .notes import _enqueue

        if not account_exists(ctx.services, name):
            fail(no_such_account(ctx.services, name))
        record(ctx.services.db, cli_actor(), "account_erase", fingerprint(name), {"background": True})
        _enqueue(ctx, "erase", {"name": name}, as_json)
        return
    from ..jobs.guard import embedded_store_to_myself

    config = ctx.services.config
    # Swapping the vector folder under a running web server or worker left it failing every write: with one on the
    # folder, the rows are erased (and their vectors deleted) and compacting waits for `feedback compact`.
    with embedded_store_to_myself(config) as holder:
        try:
            result = erase_account(ctx.services, name, compact_files=holder is None)
        except EraseError as exc:
            fail(str(exc))
        except CompactionFailed as exc:  # the rows are gone for good: the log must say so, and so must the error
            record(ctx.services.db, cli_actor(), "account_erase", fingerprint(name),
                   _counts(exc.erased, compacted=False))
            fail(str(exc))
    if holder is not None:
        record(ctx.services.db, cli_actor(), "account_erase", fingerprint(name), _counts(result, compacted=False))
        fail(f"the rows were erased ({result['notes']} note(s), {result['statements']} statement(s)), but the files "
             f"were not compacted: the embedded Chroma store at {config.CHROMA_PATH} is served by {holder}; erased "
             "text may remain in the database and vector files until you stop it and run `feedback compact`")
    record(ctx.services.db, cli_actor(), "account_erase", fingerprint(name), _counts(result))
    if as_json:
        emit_json(result)
    else:
        click.echo(f"erased {result['notes']} note(s), {result['statements']} statement(s); deleted "
                   f"{result['drafts_deleted']} draft(s); redacted {result['theme_snapshots_redacted']} theme "
                   f"snapshot(s) and {result['reports_redacted']} report(s); files compacted")


def _counts(result: dict, **extra) -> dict:
    return {k: v for k, v in result.items() if isinstance(v, int)} | extra


@click.command("compact")
@pass_ctx
def compact_command(ctx):
    """Make erased rows unrecoverable from the files: VACUUM the database and rebuild the embedded vector folder.
    Every erasure does this itself; run it to finish one whose compaction failed (its error says so)."""
    from ..jobs.guard import embedded_store_to_myself

    config = ctx.services.config
    with embedded_store_to_myself(config) as holder:  # swapping the folder under a running server breaks its writes
        if holder is not None:
            fail(f"the embedded Chroma store at {config.CHROMA_PATH} is served by {holder}: stop it, then run "
                 "`feedback compact` again")
        done = compact(ctx.services)
    record(ctx.services.db, cli_actor(), "compact", None, done)
    click.echo("compacted: " + "; ".join(f"{k} {v}" for k, v in done.items()))


def _delete_command(kind: str, delete, help_text: str) -> click.Command:
    """`drafts delete ID` and `reports delete ID`: one shape, one audit action each."""

    @click.command("delete", help=help_text)
    @click.argument("row_id", metavar="ID", type=ROW_ID)
    @pass_ctx
    def command(ctx, row_id):
        try:
            delete(ctx.services, row_id)
        except EraseError as exc:
            fail(str(exc))
        record(ctx.services.db, cli_actor(), f"{kind}_delete", f"{kind}_id={row_id}")
        click.echo(f"deleted {kind} {row_id}")

    return command


drafts_delete = _delete_command("draft", delete_draft, "Delete a stored draft and its ratings.")
reports_delete = _delete_command("report", delete_report,
                                 "Delete a stored report (reports/latest.* then show the newest one left).")
