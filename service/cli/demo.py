"""`feedback demo`: load the bundled sample (notes and roadmap, idempotently), run themes, draft a few answers,
build the report, say where to look, then serve the pages on 127.0.0.1:5000."""
from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import click
from sqlalchemy import func, select

from ..auth.audit import cli_actor, record
from ..ingest.store import ingest, load_paths
from ..models import Draft, Note, utcnow
from ..notes import stats
from .common import emit_json, fail, pass_ctx

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data"
STEPS = 6
# One answer per verdict a rep meets most: available, in progress, not on the roadmap (and an audit question).
QUESTIONS = (
    ("demo-1", "Can we export a few million rows to CSV without the export timing out?", "Velo Commerce"),
    ("demo-2", "Do you support SCIM provisioning for our Okta users?", "Driftwood Travel"),
    ("demo-3", "Is there a native iPad app our field team can use offline?", None),
    ("demo-4", "Can admins see an audit log of who changed which dashboard?", "Atlas Property Management"),
)


DEMO_ADMIN = "admin@localhost"
# A later snapshot of the sample roadmap: SCIM provisioning (RM-104) moves from in progress to shipped, so the
# history, the follow-ups page and the report's "moved" section have something to show.
UPDATE_FILE = "roadmap_update.json"
MOVED_ITEM = "RM-104"


def register(cli: click.Group) -> None:
    cli.add_command(demo)


class Progress:
    def __init__(self, quiet: bool):
        self.quiet, self.n, self.started = quiet, 0, time.monotonic()

    def step(self, text: str) -> float:
        self.n += 1
        if not self.quiet:
            click.echo(f"[{self.n}/{STEPS}] {text}…")
        return time.monotonic()

    def done(self, since: float, text: str) -> None:
        if not self.quiet:
            click.echo(f"      {text} ({time.monotonic() - since:.1f} s)")


@click.command()
@click.option("--no-serve", is_flag=True, help="Stop before serving the pages.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve the pages on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535),
              help="Port to serve the pages on.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of progress lines.")
@pass_ctx
def demo(ctx, no_serve, host, port, as_json):
    """Load the bundled sample notes and roadmap, run themes, draft example answers and build the report."""
    notes_file, roadmap_file = SAMPLE_DIR / "notes.jsonl", SAMPLE_DIR / "roadmap.json"
    for path in (notes_file, roadmap_file):
        if not path.exists():
            fail(f"the bundled sample is missing: {path}")
    if not no_serve:  # first: the link and the "where to look" lines name a server that must then answer
        _check_port(host, port)
    progress = Progress(as_json)
    t = progress.step("Loading the sample notes (the first run loads the embedding model)")
    svc = ctx.services
    notes, errors = load_paths([str(notes_file)], svc.config.MAX_NOTE_CHARS)
    ingested = ingest(svc, notes, errors, skip_invalid=False)
    if ingested.created or ingested.updated:  # logged as `feedback ingest` logs it (docs/security.md, "Audit")
        record(svc.db, cli_actor(), "ingest", None, {"created": ingested.created, "updated": ingested.updated,
                                                     "sources": [str(notes_file)], "demo": True})
    now = stats(svc)
    progress.done(t, f"created {ingested.created}, already stored {ingested.unchanged}; the store holds "
                     f"{now['notes']} notes, {now['statements']} statements, {now['vectors']} vectors, "
                     f"{now['accounts']} accounts")
    # as `feedback ingest --json` without its list of ids (the roadmap's summary leaves out item_ids): "note_ids" was
    # a count here and a list there
    summary = {"ingest": {k: v for k, v in ingested.as_dict().items() if k != "note_ids"},
               "roadmap": _load_roadmap(svc, roadmap_file, progress),
               "themes": _run_themes(svc, progress, fresh_notes=ingested.created > 0),
               "drafts": _drafts(svc, progress)}
    summary["moved"] = _roadmap_update(svc, SAMPLE_DIR / UPDATE_FILE, progress)
    summary["report"] = _report(svc, progress)
    summary["stats"] = stats(svc)
    sign_in = _sign_in(svc, host, port) if not no_serve else {"url": None, "role": None, "note": None}
    summary["sign_in_url"], summary["sign_in_role"], summary["sign_in_note"] = sign_in.values()
    if as_json:
        emit_json(summary)
    else:
        _where_to_look(summary, host, port)
    if not no_serve:
        _serve(ctx.app, host, port)


def _load_roadmap(svc, path: Path, progress: Progress) -> dict:
    t = progress.step("Importing the sample roadmap")
    try:
        from ..roadmap import importer
        from ..roadmap.service import import_items
    except ImportError:
        progress.done(t, "skipped: the roadmap is not available in this installation")
        return {"skipped": "roadmap not available"}
    if _update_applied(svc):  # a re-run: the later snapshot is the current roadmap; going back would record a move
        path = path.with_name(UPDATE_FILE)
    rows, source = importer.read_file(path)
    report = import_items(svc, rows, source=source)  # upsert by item id: importing again changes nothing
    _audit_import(svc, path, report)
    progress.done(t, f"{len(report['item_ids'])} items: created {report['created']}, updated {report['updated']}, "
                     f"unchanged {report['unchanged']}")
    return {k: v for k, v in report.items() if k != "item_ids"}


def _run_themes(svc, progress: Progress, fresh_notes: bool) -> dict:
    t = progress.step("Finding recurring themes")
    try:
        from ..themes.queries import latest_run
        from ..themes.run import RunOptions, ThemeRunError, run_themes
    except ImportError:
        progress.done(t, "skipped: themes are not available in this installation")
        return {"skipped": "themes not available"}
    with svc.db.session() as session:
        previous = latest_run(session)
    if previous is not None and not fresh_notes:  # same notes as last time: the themes are up to date
        progress.done(t, f"up to date (run {previous.id})")
        return {"run_id": previous.id, "reused": True}
    try:
        result = run_themes(svc, RunOptions())
    except ThemeRunError:
        # A weak embedder (e.g. the hashing one used in tests) may classify no statement as a pain: cluster all.
        result = run_themes(svc, RunOptions(include_all=True))
    record(svc.db, cli_actor(), "themes_run", f"run_id={result['run_id']}",
           {"mode": result["mode"], "themes": len(result["themes"]), "demo": True})
    recurring = sum(1 for th in result["themes"] if th["status"] == "recurring")
    progress.done(t, f"run {result['run_id']}: {recurring} recurring themes, "
                     f"{len(result['themes']) - recurring} emerging")
    return {"run_id": result["run_id"], "themes": len(result["themes"]), "recurring": recurring}


def _drafts(svc, progress: Progress) -> list[dict]:
    t = progress.step("Drafting answers to example customer questions")
    try:
        from ..drafts.pipeline import create_draft
    except ImportError:
        progress.done(t, "skipped: drafts are not available in this installation")
        return []
    with svc.db.session() as session:
        done = dict(session.execute(select(Draft.request_id, Draft.id).where(
            Draft.request_id.in_([q[0] for q in QUESTIONS]))).all())
    out = []
    for request_id, question, account in QUESTIONS:
        if request_id in done:  # idempotent: the demo drafts each example once
            out.append({"id": done[request_id], "question": question, "reused": True})
            continue
        draft = create_draft(svc, question, account=account, request_id=request_id)
        out.append({"id": draft["id"], "question": question, "verdict": draft["verdict"],
                    "items": draft["cited_item_ids"]})
    made = [f"{d['verdict']}" for d in out if "verdict" in d]
    progress.done(t, f"{len(out)} drafts" + (f": {', '.join(made)}" if made else " (already made)"))
    return out


def _audit_import(svc, path: Path, report: dict) -> None:
    """A sample import that changed items is logged as `feedback roadmap import` logs one; a re-run changes none."""
    counts = {k: report[k] for k in ("created", "updated", "archived", "deleted")}
    if any(counts.values()):
        record(svc.db, cli_actor(), "roadmap_import", str(path), counts | {"sync": False, "demo": True})


def _update_applied(svc) -> bool:
    try:
        from ..models import RoadmapStatusChange
    except ImportError:  # pragma: no cover - the roadmap is optional
        return False
    with svc.db.session() as session:
        return session.scalar(select(func.count(RoadmapStatusChange.id)).where(
            RoadmapStatusChange.source == UPDATE_FILE)) > 0


def _roadmap_update(svc, path: Path, progress: Progress) -> dict:
    t = progress.step("Importing a later roadmap snapshot (an item ships) and finding who asked for it")
    try:
        from ..followups.service import asking_accounts
        from ..roadmap import importer
        from ..roadmap.history import item_history
        from ..roadmap.service import import_items
    except ImportError:
        progress.done(t, "skipped: the roadmap is not available in this installation")
        return {"skipped": "roadmap not available"}
    rows, source = importer.read_file(path)
    _audit_import(svc, path, import_items(svc, rows, source=source))
    moved = [c for c in item_history(svc, MOVED_ITEM) if c["kind"] == "changed"]
    asked = asking_accounts(svc, MOVED_ITEM)
    last = moved[-1] if moved else None
    what = (f"{MOVED_ITEM} moved {last['old_status']} -> {last['new_status']} on {last['changed_at'][:10]}"
            if last else f"{MOVED_ITEM} has no recorded move")
    progress.done(t, f"{what}; {len(asked)} accounts asked for it")
    return {"item_id": MOVED_ITEM, "change": last, "accounts": len(asked)}


def _report(svc, progress: Progress) -> dict:
    from ..reports.store import create_report, write_files

    t = progress.step("Building the 30-day report")
    row = create_report(svc, "30d", _report_day(svc))
    record(svc.db, cli_actor(), "report_build", f"report_id={row.id}", {"period": "30d", "webhook": False,
                                                                         "demo": True})
    path = write_files(svc, row)
    progress.done(t, f"report {row.id}: {len(row.data['top_themes'])} top themes, {len(row.data['gaps'])} gaps")
    return {"id": row.id, "path": str(path), "period_start": row.data["period_start"], "last_day": row.data["last_day"]}


def _report_day(svc) -> date:
    """Include today (the demo's drafts) when the sample is recent; else end the day after the newest note, so an
    old sample still fills the report."""
    tomorrow = utcnow().date() + timedelta(days=1)
    with svc.db.session() as session:
        newest = session.scalar(select(func.max(func.coalesce(Note.occurred_at, Note.ingested_at))))
    if newest is None or newest.date() >= tomorrow - timedelta(days=30):
        return tomorrow
    return newest.date() + timedelta(days=1)


def _base_url(host: str, port: int) -> str:
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"


def _sign_in(svc, host: str, port: int) -> dict:
    """The demo's admin (made once) and a one-time sign-in link for it, as Jupyter prints one, with the role it has
    now: {"url", "role", "note"}. An operator who disabled it (or gave it another role) meant it: the demo neither
    enables it again nor crashes after all its steps (it did, with an AuthError); the note says why there is no link."""
    from ..auth.store import AuthError, create_sign_in_code, ensure_user

    user = ensure_user(svc.db, DEMO_ADMIN, "admin")
    try:
        if user.disabled:
            raise AuthError(f"{DEMO_ADMIN} is disabled (`feedback users enable {DEMO_ADMIN}`, then "
                            f"`feedback users link {DEMO_ADMIN}`)")
        url = f"{_base_url(host, port)}/sign-in/{create_sign_in_code(svc.db, DEMO_ADMIN)}"
        return {"url": url, "role": user.role, "note": None}
    except AuthError as exc:  # also when disabled between the two reads
        return {"url": None, "role": user.role, "note": f"no sign-in link was made: {exc}"}


def _where_to_look(summary: dict, host: str, port: int) -> None:
    base = _base_url(host, port)
    report = summary["report"]
    first_draft = (summary["drafts"] or [{}])[0].get("id")
    click.echo("\nWhere to look:")
    click.echo(f"  {base}/themes      recurring themes, trends and sparklines")
    click.echo(f"  {base}/roadmap     items with the demand behind them, scores and gaps")
    click.echo(f"  {base}/ask         draft an answer for a customer" +
               (f" (example: {base}/ask/{first_draft})" if first_draft else ""))
    if summary.get("moved", {}).get("item_id"):
        click.echo(f"  {base}/roadmap/items/{summary['moved']['item_id']}/followups   who asked for the item that "
                   f"just shipped, with a draft for each")
    click.echo(f"  {base}/reports/{report['id']}   the report for {report['period_start']} to {report['last_day']}")
    click.echo(f"  {base}/search?q=SCIM   every statement about a topic, verbatim, with its account and note")
    click.echo(f"  {base}/            paste more notes or upload note files")
    click.echo(f"\nReport file: {report['path']}")
    if summary.get("sign_in_url"):
        click.echo(f"\nSign in as {DEMO_ADMIN} ({summary['sign_in_role']}) with this one-time link (15 minutes; "
                   f"`feedback users link {DEMO_ADMIN}` makes another):\n  {summary['sign_in_url']}")
    elif summary.get("sign_in_note"):
        click.echo(f"\nSign-in: {summary['sign_in_note']}.")
    click.echo("\nTry on the command line:")
    exe = _feedback_command()
    for cmd in ("feedback themes list", 'feedback match "Do you support SCIM provisioning?"',
                f"feedback roadmap history {MOVED_ITEM}", f"feedback followups {MOVED_ITEM}",
                'feedback brief "Velo Commerce"', 'feedback search "salesforce duplicates"',
                "feedback report --since 7d --format md", "feedback schedule --once", "feedback reports list"):
        click.echo(f"  {exe}{cmd[len('feedback'):]}")


def _feedback_command() -> str:
    """`feedback` when that is on PATH, else the path of this one (e.g. .venv/bin/feedback), so the printed
    commands run as printed."""
    import os
    import shutil
    import sys
    from pathlib import Path

    ours = Path(sys.executable).with_name("feedback")
    found = shutil.which("feedback")
    if found and Path(found).resolve() == ours.resolve():
        return "feedback"
    try:
        return os.path.relpath(ours)
    except ValueError:
        return str(ours)


def _check_port(host: str, port: int) -> None:
    """Fail now, naming the port, when it cannot be served on: werkzeug's run_simple exits by itself on a busy port
    (its own message, after the demo had printed a sign-in link for a server that never started)."""
    import socket

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug binds
            probe.bind((host, port))
    except OSError as exc:
        fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}; try --port {port + 1}")


def _serve(app, host: str, port: int) -> None:
    from werkzeug.serving import run_simple

    click.echo(f"\nServing the pages on http://{host}:{port} (Ctrl+C stops)")
    try:
        run_simple(host, port, app, use_reloader=False, use_debugger=False, threaded=True)
    except OSError as exc:
        fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}; try --port {port + 1}")
