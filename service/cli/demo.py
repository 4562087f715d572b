"""`feedback demo`: load the bundled sample (idempotent) and show what the service found."""
from __future__ import annotations

from pathlib import Path

import click

from ..ingest.store import ingest, load_paths
from ..notes import stats
from .common import emit_json, fail, pass_ctx

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data"


def register(cli: click.Group) -> None:
    cli.add_command(demo)


@click.command()
@click.option("--no-serve", is_flag=True, help="Stop before serving the pages.")
@click.option("--json", "as_json", is_flag=True, help="Print the stats as JSON.")
@pass_ctx
def demo(ctx, no_serve, as_json):
    """Ingest the bundled sample notes and print what is stored."""
    svc = ctx.services
    notes_file = SAMPLE_DIR / "notes.jsonl"
    if not notes_file.exists():
        fail(f"the bundled sample is missing: {notes_file}")
    notes, errors = load_paths([str(notes_file)], svc.config.MAX_NOTE_CHARS)
    report = ingest(svc, notes, errors, skip_invalid=False)
    data = stats(svc)
    if as_json:
        emit_json({"ingest": report.as_dict() | {"note_ids": len(report.note_ids)}, "stats": data})
        return
    click.echo(f"sample notes: created {report.created}, unchanged {report.unchanged}")
    click.echo(f"stored: {data['notes']} notes, {data['statements']} statements, {data['vectors']} vectors, "
               f"{data['accounts']} accounts (data in {svc.config.FEEDBACK_HOME})")
