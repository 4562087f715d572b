"""feedback themes run|list|show."""
from __future__ import annotations

import click

from ..auth.audit import cli_actor, record
from ..models.notes import SOURCE_KINDS
from ..notes import parse_filter_date
from ..themes.queries import PER_PAGE, ThemeNotFound, latest_run_json, run_page, theme_detail, theme_statements
from ..themes.run import RunOptions, ThemeRunError, run_themes
from .common import ROW_ID, emit_json, fail, pass_ctx, refuse_empty


def register(cli: click.Group) -> None:
    cli.add_command(themes)


@click.group()
def themes():
    """Recurring pain themes: run (discover), list, show; rename, merge, move statements, hide."""


@themes.command("run")
@click.option("--since", metavar="DATE", callback=refuse_empty("a date such as 2026-11-01"),
              help="Only notes on or after this date (ISO 8601).")
@click.option("--until", metavar="DATE", callback=refuse_empty("a date such as 2026-11-30"),
              help="Only notes on or before this date (a plain date: the whole day).")
@click.option("--account", callback=refuse_empty("the account's name"), help="Only this account's notes.")
@click.option("--source", type=click.Choice(SOURCE_KINDS), help="Only notes of this kind.")
@click.option("--all", "include_all", is_flag=True, help="Cluster every statement, not only pains and requests.")
@click.option("--incremental", is_flag=True, help="Assign new statements to existing themes; cluster only the rest.")
@click.option("--min-mentions", default=3, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Mentions a theme needs to be recurring (fewer: emerging).")
@click.option("--min-accounts", default=2, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Distinct accounts a theme needs to be recurring (fewer: emerging).")
@click.option("--no-llm", is_flag=True, help="Use the offline labeller even when an LLM endpoint is configured.")
@click.option("--json", "as_json", is_flag=True, help="Print the run and its themes as JSON.")
@pass_ctx
def themes_run(ctx, since, until, account, source, include_all, incremental, min_mentions, min_accounts, no_llm, as_json):
    """Discover themes; ids stay stable across runs."""
    try:
        opts = RunOptions(since=parse_filter_date(since, "--since"), until=parse_filter_date(until, "--until", end_of_day=True),
                          account=account, source=source, include_all=include_all, incremental=incremental,
                          min_mentions=min_mentions, min_accounts=min_accounts, use_llm=not no_llm)
    except ValueError as exc:
        fail(str(exc), code=2)
    try:
        result = run_themes(ctx.services, opts)
    except ThemeRunError as exc:  # --since after --until conflicts as options do (2); nothing to cluster is 1
        fail(str(exc), code=2 if exc.field in ("since", "until") else 1)
    record(ctx.services.db, cli_actor(), "themes_run", f"run_id={result['run_id']}",
           {"mode": result["mode"], "themes": len(result["themes"])})
    if as_json:
        emit_json(result)
    else:
        _print_run(result)


def _print_run(result: dict, counted: list[dict] | None = None) -> None:
    """The run's header, counting every theme of the run (`counted`, when the list shown is filtered), then the
    themes shown."""
    counted = result["themes"] if counted is None else counted
    recurring = sum(t["status"] == "recurring" for t in counted)
    click.echo(f"run {result['run_id']} ({result['mode']}): {recurring} recurring themes, "
               f"{len(counted) - recurring} emerging; {result['assigned']} of {result['statements']} "
               f"statements assigned")
    if result.get("trend_window"):
        click.echo(f"trend compares {result['trend_window']}")
    for t in result["themes"]:
        marker = " " if t["status"] == "recurring" else "~"
        click.echo(f"{marker}{t['id']:>5}  {t['label'][:60]:<60} {t['mentions']:>4} mentions {t['accounts']:>3} accounts  {t['trend']}")


@themes.command("list")
@click.option("--status", type=click.Choice(["recurring", "emerging"]), help="Only themes of this status.")
@click.option("--page", default=1, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Which page of themes to show.")
@click.option("--per-page", default=PER_PAGE, show_default=True, type=click.IntRange(1, 200),
              help="Themes per page (as ?per_page= of GET /api/v1/themes).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the latest run and a page of its themes as JSON, as GET /api/v1/themes answers "
                   "(total counts the themes of every page).")
@pass_ctx
def themes_list(ctx, status, page, per_page, as_json):
    """Themes of the latest run, most accounts first ("~" marks an emerging theme), a page at a time."""
    with ctx.services.db.session() as session:
        result = latest_run_json(session)
    # The API's answer for the same page (with no run, its empty answer: it was exit code 1 and no JSON at all).
    answer = run_page(result, status=status, page=page, per_page=per_page)
    if as_json:
        emit_json(answer)
        if answer["total"] > page * per_page:  # a script reading stdout sees total; a person sees how to go on
            click.echo(f"note: {_shown(answer)}", err=True)
    elif result is None:
        click.echo("no theme run yet: run `feedback themes run` first")
    else:  # the header describes the run: "0 recurring themes" under --status emerging misread a run of 16
        _print_run(answer, counted=result["themes"])
        if answer["total"] > per_page or page > 1:
            click.echo(_shown(answer))


def _shown(answer: dict) -> str:
    """Which themes a page holds and how to reach the next: "themes 1-50 of 818; --page 2 for the next"."""
    page, per_page, total = answer["page"], answer["per_page"], answer["total"]
    if not answer["themes"]:
        return f"no themes on page {page}: {total} themes make {max(1, -(-total // per_page))} page(s) of {per_page}"
    first = (page - 1) * per_page + 1
    more = f"; --page {page + 1} for the next" if total > page * per_page else ""
    return f"themes {first}-{first + len(answer['themes']) - 1} of {total}{more}"


@themes.command("show")
@click.argument("theme_id", type=ROW_ID)
@click.option("--json", "as_json", is_flag=True,
              help="Print the theme as JSON, with its history, edits and statements (their ids for `themes move`).")
@pass_ctx
def themes_show(ctx, theme_id, as_json):
    """One theme with its quotes, figures and history."""
    with ctx.services.db.session() as session:
        try:
            data = theme_detail(session, theme_id)
        except ThemeNotFound as exc:
            fail(str(exc))
        data["statements"] = theme_statements(session, theme_id, limit=20)
    if as_json:
        emit_json(data)
        return
    click.echo(f"theme {data['id']}: {data['label']}  [{data['status']}, {data['trend']}]")
    if data.get("merged_into_id"):  # said first: the figures below are from the last run the theme was in
        click.echo(f"  merged into theme {data['merged_into_id']} (see `feedback themes show "
                   f"{data['merged_into_id']}`)" + ("" if data["current"] else "; not in the latest theme run"))
    if data.get("trend_window"):
        click.echo(f"  trend compares {data['trend_window']}")
    click.echo(f"  {data['mentions']} mentions from {data['accounts']} accounts; sources {data['sources']}")
    click.echo(f"  keywords: {', '.join(data['keywords'])}")
    if data["arr"]:
        click.echo(f"  ARR behind it: ${data['arr']:,.0f}")
    for q in data["quotes"]:
        click.echo(f"  \"{q['text']}\" — {q['account'] or 'unknown account'} (note {q['note_id']})")


def _by(by: str | None) -> str:
    """The edit's author: --by, else the login name as every CLI action is credited (cli:NAME, or cli)."""
    return by or cli_actor()


def _edit(ctx, kind: str, by: str | None, as_json: bool, **fields) -> None:
    from ..themes.edits import ThemeEditError, edit_and_rerun

    try:
        result = edit_and_rerun(ctx.services, kind, _by(by), **fields)
    except ThemeEditError as exc:  # bad input is a usage error (2); no such theme, or a conflict, is 1
        fail(f"{exc.field}: {exc}" if exc.field else str(exc), code=2 if exc.status in (400, 422) else 1)
    except ThemeRunError as exc:
        fail(str(exc))
    if as_json:
        emit_json(result)
        return
    e = result["edit"]
    click.echo(f"edit {e['id']} ({e['kind']}) by {e['by']} at {e['at']}; themes re-ran as run {result['run']['run_id']}")
    for notice in result.get("notices", []):
        click.echo(f"note: {notice}", err=True)
    _print_run(result["run"])


_BY = click.option("--by", help="Who makes the edit (default: cli:YOUR_LOGIN_NAME).")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the edit and the re-run as JSON.")


@themes.command("rename")
@click.argument("theme_id", type=ROW_ID)
@click.argument("label")
@_BY
@_JSON
@pass_ctx
def themes_rename(ctx, theme_id, label, by, as_json):
    """Rename a theme; the label is pinned and survives re-runs."""
    _edit(ctx, "rename", by, as_json, theme_id=theme_id, label=label)


@themes.command("merge")
@click.argument("theme_id", type=ROW_ID)
@click.option("--into", "into", type=ROW_ID, required=True, help="The theme that absorbs THEME_ID.")
@_BY
@_JSON
@pass_ctx
def themes_merge(ctx, theme_id, into, by, as_json):
    """Merge THEME_ID into another theme; later runs keep them together."""
    _edit(ctx, "merge", by, as_json, theme_id=theme_id, target_id=into)


@themes.command("move")
@click.argument("statement_ids", type=ROW_ID, nargs=-1, required=True)
@click.option("--to", "to", type=ROW_ID, help="The theme the statements belong to.")
@click.option("--not-a-pain", is_flag=True, help="The statements are no pain or request: keep them out of themes.")
@_BY
@_JSON
@pass_ctx
def themes_move(ctx, statement_ids, to, not_a_pain, by, as_json):
    """Move statements to another theme (--to ID) or out of all themes (--not-a-pain)."""
    if (to is None) == (not not_a_pain):
        fail("give exactly one of --to THEME_ID or --not-a-pain", code=2)
    _edit(ctx, "move", by, as_json, statement_ids=list(statement_ids), target_id=to)


@themes.command("hide")
@click.argument("theme_id", type=ROW_ID)
@click.option("--undo", is_flag=True, help="Show the theme again.")
@_BY
@_JSON
@pass_ctx
def themes_hide(ctx, theme_id, undo, by, as_json):
    """Hide a theme from lists, pages and reports (its statements stay in it); --undo shows it again."""
    _edit(ctx, "unhide" if undo else "hide", by, as_json, theme_id=theme_id)
