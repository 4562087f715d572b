"""feedback roadmap import|list|show|link|coverage|scores, and feedback match."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..auth.audit import cli_actor, record
from ..ingest.errors import IngestError
from ..models.roadmap import ROADMAP_STATUSES
from ..notes import NotFound
from ..roadmap import importer, service
from ..ingest.readers import LINE_BREAK
from .common import ROW_ID, UNIT_INTERVAL, emit_json, fail, pass_ctx, read_text_file, refuse_empty


def register(cli: click.Group) -> None:
    cli.add_command(roadmap)
    cli.add_command(match)


@click.group()
def roadmap():
    """Roadmap items: import an export, list, show, history, link evidence, reject a wrong match, coverage of themes,
    scores."""


@roadmap.command("import")
@click.argument("file", type=click.Path(), callback=refuse_empty("a .csv, .tsv or .json file"))  # a folder: exit 1
@click.option("--map", "column_map", metavar="FIELD=COLUMN,...",
              help="Our field = their column, e.g. title=Name,status=Stage,id=Key (Aha!, Jira, Productboard).")
@click.option("--sync", is_flag=True, help="FILE is the whole roadmap: archive items missing from it.")
@click.option("--prune", is_flag=True, help="With --sync: delete missing items (and their links) instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def roadmap_import(ctx, file, column_map, sync, prune, as_json):
    """Import a roadmap from CSV (.csv, .tsv; ',' ';' '|' or tab separated) or JSON (a list of objects, or
    {"items": [...]}). Needs id, title and status. Re-importing updates items by id; all or nothing.

    Without --sync nothing is archived: items missing from FILE are listed as "would archive"."""
    if prune and not sync:
        fail("--prune deletes items missing from FILE; it needs --sync as well", code=2)
    try:
        mapping = importer.parse_column_map(column_map)
    except ValueError as exc:
        fail(str(exc), code=2)
    kind = "csv"
    try:
        rows, source, kind = importer.load_file(file)
        report = service.import_items(ctx.services, rows, prune=prune, source=source, column_map=mapping, sync=sync)
    except IngestError as exc:
        for err in exc.errors:
            click.echo(f"error: {_where(err, kind)}", err=True)
        fail(f"{len(exc.errors)} error(s); nothing was stored")
    record(ctx.services.db, cli_actor(), "roadmap_import", file,
           {k: report[k] for k in ("created", "updated", "archived", "deleted")} | {"sync": sync})
    if as_json:
        emit_json(report)
        return
    click.echo(f"created {report['created']}, updated {report['updated']}, unchanged {report['unchanged']}, "
               f"archived {report['archived']}, deleted {report['deleted']}")
    if report["would_archive"]:
        shown = ", ".join(report["would_archive"][:10]) + (" …" if len(report["would_archive"]) > 10 else "")
        click.echo(f"{len(report['would_archive'])} item(s) are not in {file} and were kept: {shown} "
                   f"(--sync archives them)")


def _where(err, kind: str) -> str:
    """An import error as `file:LINE [field]: reason`; a JSON file's rows are counted in items, not lines."""
    if kind != "json" or err.line is None:
        return str(err)
    return f"{err.source}, item {err.line}" + (f" [{err.field}]" if err.field else "") + f": {err.reason}"


@roadmap.command("list")
@click.option("--status", type=click.Choice(ROADMAP_STATUSES), help="Only items with this status.")
@click.option("--all", "include_archived", is_flag=True, help="Include archived items.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def roadmap_list(ctx, status, include_archived, as_json):
    """Current items (--all: with archived ones), by id."""
    with ctx.services.db.session() as session:
        items = [service.item_dict(i) for i in service.load_items(session, include_archived, status)]
    if as_json:
        emit_json({"items": items, "total": len(items)})
        return
    for i in items:
        flag = " (archived)" if i["archived"] else ""
        click.echo(f"{i['id']:<12} {i['status']:<12} {(i['release'] or '-')[:10]:<10} {i['title'][:70]}{flag}")
    click.echo(f"{len(items)} items")


@roadmap.command("show")
@click.argument("item_id", callback=refuse_empty("an item id (feedback roadmap list)"))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def roadmap_show(ctx, item_id, as_json):
    """One item with its score, the reason for it, its links and its rejections ("not the right item")."""
    try:
        data = service.item_detail(ctx.services, item_id)
    except NotFound as exc:
        fail(str(exc))
    if as_json:
        emit_json(data)
        return
    archived = "  (archived: no longer on the roadmap)" if data.get("archived") else ""
    click.echo(f"{data['id']}  {data['status']}  {data['release'] or ''}  {data['title']}{archived}")
    if data["description"]:
        click.echo(data["description"])
    click.echo(f"score: {data['scoring']['reason']}")
    for ln in data["links"]:
        click.echo(f"  linked {ln['kind']} {ln['note_id'] or ln['theme_id'] or ln['draft_id']}")
    for r in data["rejections"]:  # `feedback roadmap reject ITEM --draft ID --undo` takes a draft's back
        what = f"draft {r['draft_id']}" if r["draft_id"] is not None else f"statement {r['statement_id']}"
        click.echo(f"  rejected {what} (not about this item; by {r['created_by'] or 'unknown'})")


@roadmap.command("link")
@click.argument("item_id", callback=refuse_empty("an item id (feedback roadmap list)"))
@click.option("--note", "note_id", callback=refuse_empty("a note id"),
              help="A note id (as shown by `feedback notes list`).")
@click.option("--theme", "theme_id", type=ROW_ID, help="A theme id (as shown by `feedback themes list`).")
@click.option("--draft", "draft_id", type=ROW_ID,
              help="A draft id whose question is about the item (a confirmed answer).")
@click.option("--by", "created_by", help="Who made the link (default: cli:YOUR_LOGIN_NAME).")
@click.option("--undo", is_flag=True, help="Take the link back (made by mistake): it stops counting as evidence.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def roadmap_link(ctx, item_id, note_id, theme_id, draft_id, created_by, undo, as_json):
    """Link a note, a theme or a draft to an item: its wording then counts as evidence for that item."""
    if sum(x is not None for x in (note_id, theme_id, draft_id)) != 1:
        fail("give exactly one of --note ID, --theme ID or --draft ID", code=2)
    if undo:
        _unlink(ctx, item_id, note_id, theme_id, draft_id, as_json)
        return
    try:
        result = service.link(ctx.services, item_id, note_id=note_id, theme_id=theme_id, draft_id=draft_id,
                              created_by=created_by or cli_actor())
    except (NotFound, service.LinkError) as exc:
        fail(str(exc))
    if result["created"] or result["unrejected"]:  # a link over a rejection takes the rejection back: logged too
        target = {k: v for k, v in (("note_id", note_id), ("theme_id", theme_id), ("draft_id", draft_id)) if v}
        record(ctx.services.db, cli_actor(), "roadmap_link", f"item_id={item_id}",
               {**target, "created_by": result["created_by"], **({"unrejected": True} if result["unrejected"] else {})})
    if as_json:
        emit_json(result)
    else:
        what = f"{result['kind']} {result['note_id'] or result['theme_id'] or result['draft_id']}"
        click.echo(f"{'linked' if result['created'] else 'already linked'} {what} to {item_id}")


def _unlink(ctx, item_id, note_id, theme_id, draft_id, as_json) -> None:
    target = {k: v for k, v in (("note_id", note_id), ("theme_id", theme_id), ("draft_id", draft_id)) if v}
    try:
        gone = service.unlink(ctx.services, item_id, note_id=note_id, theme_id=theme_id, draft_id=draft_id)
    except (NotFound, service.LinkError) as exc:
        fail(str(exc))
    if not gone:
        fail(f"{item_id} has no such link ({', '.join(f'{k} {v}' for k, v in target.items())})")
    record(ctx.services.db, cli_actor(), "roadmap_unlink", f"item_id={item_id}", target)
    if as_json:
        emit_json({"item_id": item_id, **target, "deleted": True})
    else:
        click.echo(f"unlinked {', '.join(f'{k} {v}' for k, v in target.items())} from {item_id}")


@roadmap.command("reject")
@click.argument("item_id", callback=refuse_empty("an item id (feedback roadmap list)"))
@click.option("--draft", "draft_id", type=ROW_ID, required=True,
              help="A draft id that cited the item for a question not about it.")
@click.option("--undo", is_flag=True, help="Take the rejection back.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def roadmap_reject(ctx, item_id, draft_id, undo, as_json):
    """Say a draft's question is not about the item (the ask page's "No"): its link to the item goes, and the item is
    declined for questions that read as it (docs/match.md)."""
    from ..roadmap.rejections import reject, unreject

    if undo:
        if not unreject(ctx.services, item_id, draft_id=draft_id):
            fail(f"draft {draft_id} is not rejected for {item_id}")
        record(ctx.services.db, cli_actor(), "roadmap_unreject", f"item_id={item_id}", {"draft_id": draft_id})
        result = {"item_id": item_id, "draft_id": draft_id, "deleted": True}
    else:
        try:
            done = reject(ctx.services, item_id, draft_id=draft_id, created_by=cli_actor())
        except (NotFound, service.LinkError) as exc:
            fail(str(exc))
        if done["created"]:
            record(ctx.services.db, cli_actor(), "roadmap_reject", f"item_id={item_id}",
                   {"draft_id": draft_id, "unlinked": done["unlinked"]})
        result = {**done["rejections"][0], "created": bool(done["created"]), "unlinked": done["unlinked"]}
    if as_json:
        emit_json(result)
    elif undo:
        click.echo(f"draft {draft_id} is no longer rejected for {item_id}")
    else:
        click.echo(f"{'rejected' if result['created'] else 'already rejected'}: draft {draft_id} is not about "
                   f"{item_id}{' (its link was removed)' if result['unlinked'] else ''}")


@roadmap.command("coverage")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def roadmap_coverage(ctx, as_json):
    """Which items address the recurring themes, the demand behind each item, and the gaps."""
    data = service.coverage(ctx.services)
    if as_json:
        emit_json(data)
        return
    if data["note"]:
        click.echo(f"note: {data['note']}")
    for t in data["themes"]:
        items = ", ".join(f"{i['item_id']} ({i['via']}{', not planned' if i['status'] == service.DECLINED else ''})"
                          for i in t["items"]) or "-"
        click.echo(f"theme {t['theme_id']:>4} {t['label'][:48]:<48} {t['accounts'] or 0:>3} accounts  -> {items}")
    if not data["themes"]:  # "no gaps" would claim every pain is covered before a single theme was compared
        click.echo("gaps: not known until a theme run gives themes to compare with the roadmap")
    else:
        click.echo("gaps (recurring themes no item covers):" if data["gaps"] else "no gaps")
    for g in data["gaps"]:
        click.echo(f"  {g['theme_id']:>4} {g['label'][:60]:<60} {g['accounts'] or 0:>3} accounts  {g['trend'] or ''}")
        for why in service.gap_reasons(g):  # a declined item, or items each best for a few of its texts
            click.echo(f"       {why}")
    # The demand behind each item, which the help promises, was only in --json.
    wanted = [i for i in data["items"] if i["demand"]["accounts"]]
    if wanted:
        click.echo("demand per item (the accounts and mentions behind its themes and links):")
    for i in wanted:
        d = i["demand"]
        arr = f"  ARR ${d['arr']:,.0f}" if d.get("arr") else ""
        click.echo(f"  {i['item_id']:<12} {i['status']:<12} {d['accounts']:>3} accounts {d['mentions']:>4} mentions"
                   f"{arr}  {i['title'][:50]}")


@roadmap.command("scores")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def roadmap_scores(ctx, as_json):
    """Prioritisation scores with their inputs and a reason (FEEDBACK_SCORING=rice|given)."""
    try:
        data = service.scores(ctx.services)
    except ValueError as exc:  # a bad FEEDBACK_SCORING setting
        fail(str(exc), code=2)
    if as_json:
        emit_json(data)
        return
    if not data["items"]:  # an empty answer read like a command that did nothing
        click.echo("no roadmap items to score: import them with `feedback roadmap import FILE`")
    for r in data["items"]:
        click.echo(f"{r['item_id']:<12} {r['status']:<12} {r['reason']}")


@click.command()
@click.argument("text", required=False)
@click.option("--file", "file", type=click.Path(), callback=refuse_empty("a file or -"),
              # read_text_file names a missing file, exit 1 as ingest does
              help=".jsonl with id and text per line, or one request per line.")
@click.option("--min-score", default=0.5, show_default=True, type=UNIT_INTERVAL,
              help="Leave out matches scoring below this (0.5 is where the matcher accepts a match).")
@click.option("--json", "as_json", is_flag=True, help="One JSON list of results.")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="One JSON object per line.")
@pass_ctx
def match(ctx, text, file, min_score, as_json, as_jsonl):
    """Which roadmap items address a customer request, and their status (or not_on_roadmap)."""
    if (text is None) == (file is None):
        fail("give a request text or --file FILE (not both)", code=2)
    if as_json and as_jsonl:  # --jsonl silently won
        fail("give --json or --jsonl, not both", code=2)
    if text is not None and not text.strip():
        fail("the request text is empty", code=2)
    requests = _read_requests(file) if file else [{"id": "1", "text": text}]
    with ctx.services.db.session() as session:
        if not service.load_items(session):
            click.echo("warning: the roadmap is empty; import one with `feedback roadmap import FILE`", err=True)
    results = service.match_requests(ctx.services, requests, min_score=min_score)
    if as_jsonl:
        for r in results:
            click.echo(json.dumps(r, ensure_ascii=False))
    elif as_json:
        emit_json(results)
    else:
        for r in results:
            best = r["matches"][0] if r["matches"] else None
            shown = f"{best['item_id']} {best['title']} ({best['score']:.2f})" if best else ""
            click.echo(f"{r['id']:<8} {r['verdict']:<20} {shown}")


def _read_requests(file: str) -> list[dict]:
    """A .jsonl file of {"id", "text"} objects, else one request per non-blank line (id = line number). Every
    problem is named with the file as given (as ingest and draft name it, so a file in another folder is found) and
    its line, all at once; exit code 1."""
    problems, out = [], []
    jsonl = Path(file).suffix.lower() == ".jsonl"
    for n, line in enumerate(LINE_BREAK.split(read_text_file(file)), start=1):
        if not line.strip():
            continue
        if not jsonl:
            out.append({"id": str(n), "text": line.strip()})
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{file}:{n}: invalid JSON: {exc.msg}")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{file}:{n}: each line must be a JSON object with a \"text\" string")
        elif not isinstance(obj.get("text"), str):
            problems.append(f"{file}:{n} [text]: each line needs a \"text\" string")
        elif not obj["text"].strip():
            problems.append(f"{file}:{n} [text]: the request text is empty")
        else:
            out.append({"id": str(obj.get("id") or n), "text": obj["text"]})
    for problem in problems[:-1]:
        click.echo(f"error: {problem}", err=True)
    if problems:
        fail(problems[-1] + (f" ({len(problems)} problems; nothing was matched)" if len(problems) > 1 else ""))
    if not out:
        fail(f"{file}: no requests")
    return out
