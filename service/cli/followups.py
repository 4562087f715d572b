"""feedback roadmap history, feedback followups and feedback brief: close the loop with the accounts that asked."""
from __future__ import annotations

import click

from ..auth.audit import cli_actor, record
from ..notes import NotFound
from .common import emit_json, fail, pass_ctx, refuse_empty


def register(cli: click.Group) -> None:
    cli.add_command(followups)
    cli.add_command(brief)
    roadmap = cli.commands.get("roadmap")
    if isinstance(roadmap, click.Group):
        roadmap.add_command(history)


def _date(value):
    """--since as the API and the pages read it: a day, in the years any date may name (0001-01-01 is a typo)."""
    from ..followups.service import FollowupInputError, parse_since
    from ..ingest.validate import year_problem

    try:
        since = parse_since(value)
    except FollowupInputError as exc:
        fail(str(exc), code=2)
    if since is not None and (problem := year_problem(since, "since")):
        fail(problem, code=2)
    return since


@click.command("history")
@click.argument("item_id", callback=refuse_empty("an item id (feedback roadmap list)"))
@click.option("--json", "as_json", is_flag=True, help='Print {"item_id": ..., "changes": [...]} as JSON.')
@pass_ctx
def history(ctx, item_id, as_json):
    """Every recorded status and release change of an item, oldest first, with time and source."""
    from ..roadmap.history import item_history

    try:
        rows = item_history(ctx.services, item_id)
    except NotFound as exc:
        fail(str(exc))
    if as_json:
        emit_json({"item_id": item_id, "changes": rows})
        return
    if not rows:
        click.echo(f"{item_id}: no recorded changes (imported before history was kept)")
    for r in rows:
        old = f"{r['old_status'] or '-'} {('(' + r['old_release'] + ')') if r['old_release'] else ''}".strip()
        new = f"{r['new_status'] or '-'} {('(' + r['new_release'] + ')') if r['new_release'] else ''}".strip()
        move = new if r["kind"] == "created" else f"{old} -> {new}"
        click.echo(f"{r['changed_at'][:19].replace('T', ' ')}  {r['kind']:<9} {move}  [{r['source'] or '?'}]")


@click.command()
@click.argument("item_id", callback=refuse_empty("an item id (feedback roadmap list)"))
@click.option("--since", metavar="DAY", callback=refuse_empty("a day such as 2026-06-01"),
              help="Only notes on or after this day (YYYY-MM-DD).")
@click.option("--told", "told", metavar="ACCOUNT", multiple=True,
              help="Mark ACCOUNT as told about the item's current status (stored; left out next time). Repeatable.")
@click.option("--untold", "untold", metavar="ACCOUNT",
              help="Undo a mistaken --told: ACCOUNT is listed again and the draft stored as sent is deleted.")
@click.option("--by", "told_by", help="Who told them (with --told; default: cli:YOUR_LOGIN_NAME).")
@click.option("--no-drafts", is_flag=True, help="List the accounts and quotes only.")
@click.option("--json", "as_json", is_flag=True, help="Print the item, the accounts and the marks as JSON.")
@pass_ctx
def followups(ctx, item_id, since, told, untold, told_by, no_drafts, as_json):
    """Accounts that asked for an item, with their own words and a grounded follow-up draft each.

    Ordered by ARR, then by how many times they asked. --told ACCOUNT marks an account as told."""
    from ..followups.service import FollowupInputError, ItemArchived, followups as build, mark_told_many, unmark_told

    if told and untold:
        fail("use --told or --untold, not both", code=2)
    if told_by is not None and not told:
        fail("--by names who told the accounts given with --told; give --told ACCOUNT too", code=2)
    day = _date(since)
    try:
        if untold is not None:
            undone = unmark_told(ctx.services, item_id, untold)
            _audit(ctx, "followup_untold", item_id, undone)
            if as_json:
                emit_json({"item_id": item_id, "untold": undone})
            else:
                click.echo(f"{undone['account']}: no longer marked as told about {item_id} ({undone['status']})"
                           + (f"; draft {undone['draft_id']} deleted" if undone["draft_deleted"] else ""))
            return
        if told:
            marks = mark_told_many(ctx.services, item_id, list(told), told_by=told_by or cli_actor())
            for mark in marks:
                if mark["created"]:  # marking again changes nothing, so it is no second entry
                    _audit(ctx, "followup_told", item_id, mark)
            if as_json:
                emit_json({"item_id": item_id, "told": marks})
            else:
                for m in marks:
                    click.echo(f"{m['account']}: told about {item_id} ({m['status']}), draft {m['draft_id']} stored"
                               if m["created"] else f"{m['account']}: already marked as told about {item_id} "
                               f"({m['status']}) on {m['told_at'][:10]}; nothing changed")
            return
        data = build(ctx.services, item_id, since=day, drafts=not no_drafts)
    except (NotFound, ItemArchived) as exc:
        fail(str(exc))
    except FollowupInputError as exc:
        fail(str(exc), code=2)
    if as_json:
        emit_json(data)
        return
    when = f" on {data['changed_at'][:10]}" if data["changed_at"] else ""
    moved = (f", archived{when}: no longer on the roadmap, so no drafts and no --told" if data["archived"]
             else f", since {data['changed_at'][:10]}" if data["changed_at"] else "")
    release = f" ({data['release']})" if data["release"] else ""
    click.echo(f"{data['item_id']} {data['title']}: {data['status']}{release}{moved}")
    click.echo(f"{len(data['accounts'])} account(s) to follow up" +
               (f"; already told: {', '.join(t['account'] for t in data['told'])}" if data["told"] else ""))
    for a in data["accounts"]:
        arr = f"ARR {a['arr']:,.0f}" if a["arr"] is not None else "ARR unknown"
        click.echo(f"\n== {a['account']} ({arr}, {a['deal_stage'] or 'stage unknown'}; asked {a['asks']}x, "
                   f"score {a['score']:.2f})")
        for q in a["quotes"]:
            click.echo(f"   \u201c{q['text']}\u201d ({q['note_id']}, {q['date']})")
        if a.get("draft"):
            status = "checks passed" if a["draft"]["checks"].get("passed") else \
                "check before sending: " + "; ".join(a["draft"]["checks"].get("problems") or [])
            click.echo(f"   draft ({a['draft']['verdict']}, {status}):")
            click.echo("   " + a["draft"]["text"].replace("\n", "\n   "))


def _audit(ctx, action: str, item_id: str, mark: dict) -> None:
    """As the API and pages log it: the item as target, the account only as a fingerprint (an erased account is
    never named in the log)."""
    from ..erase import fingerprint

    record(ctx.services.db, cli_actor(), action, f"item_id={item_id}",
           {"status": mark["status"], "account": fingerprint(mark["account"])})


def _times(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


@click.command()
@click.argument("account")
@click.option("--since", metavar="DAY", callback=refuse_empty("a day such as 2026-06-01"),
              help="Items that moved since this day (YYYY-MM-DD); default: the account's last note.")
@click.option("--json", "as_json", is_flag=True, help="Print the brief as JSON.")
@pass_ctx
def brief(ctx, account, since, as_json):
    """One page on an account before a call: its pains by theme with quotes, what the roadmap does about each,
    items that moved, open asks and drafts already made."""
    from ..followups.brief import brief as build

    if not account.strip():  # as the API: no name is bad input, not an account that is missing
        fail("ACCOUNT is required: the account's name as in the notes (feedback accounts list; case and a legal "
             "form such as Inc do not matter)", code=2)
    day = _date(since)
    try:
        data = build(ctx.services, account, since=day)
    except NotFound as exc:
        fail(str(exc))
    if as_json:
        emit_json(data)
        return
    arr = f"ARR {data['arr']:,.0f}" if data["arr"] is not None else "ARR unknown"
    heard = f"{data['first_heard']} to {data['last_heard']}" if data["notes"] else "nothing heard yet"
    click.echo(f"{data['account']} ({arr}, {data['deal_stage'] or 'stage unknown'}): {_times(data['notes'], 'note')}, "
               f"{heard}")
    if not data["pains"]:
        click.echo(f"\nNo asks or pains from {data['account']} in the notes yet.")
    for p in data["pains"]:
        d = p["decision"]
        release = f", release {d['release']}" if d.get("release") else ""
        nearest = ", ".join(f"{n['item_id']} ({n['status']}, match {n['match']:.2f}): {n['scoring_reason'] or '-'}"
                            for n in d.get("nearest") or [])
        what = (f"{d['item_id']} {d['title']}: {d['status']}{release}"  # the status as the roadmap shows it
                if d["item_id"] else "not on the roadmap" + (f"; nearest: {nearest}" if nearest else ""))
        flag = "" if p["answered"] else "  [open]"
        click.echo(f"\n* {p['label']} ({_times(p['mentions'], 'mention')}, {p['first_heard']} to {p['last_heard']})"
                   f"{flag}")
        click.echo(f"  {what}")
        for q in p["quotes"]:
            click.echo(f"  \u201c{q['text']}\u201d ({q['note_id']}, {q['date']})")
    if data["moved_since"]:
        moved = [f"{m['item_id']} {m['old_status']} -> {m['new_status']}" + (" (they asked)" if m["asked_by_account"]
                                                                            else "") for m in data["moved"]]
        click.echo(f"\nMoved since {data['moved_since']}: " + (", ".join(moved) or "nothing"))
    else:
        click.echo("\nMoved: no notes to date it from (--since DAY lists the items that moved since then)")
    click.echo(f"Drafts made for {account}: {len(data['drafts'])}")
    if not data["checks"].get("passed"):
        click.echo("check: " + "; ".join(data["checks"]["problems"]))
