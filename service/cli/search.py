"""`feedback search QUERY`: every stored statement about a query, verbatim (service.search, as the API and page)."""
from __future__ import annotations

import click

from ..models.notes import SOURCE_KINDS
from ..search import DEFAULT_LIMIT, DENSE_CANDIDATES, MAX_LIMIT, MAX_OFFSET, RANKING, RANKINGS, SearchError, search
from .common import emit_json, fail, pass_ctx, refuse_empty

# service.search names its parameters; these are the command's spellings of them
FIELDS = {"query": "QUERY", "since": "--since", "until": "--until", "source": "--source", "limit": "--limit",
          "offset": "--offset", "account": "--account", "ranking": "--ranking"}


def register(cli: click.Group) -> None:
    cli.add_command(search_cmd)


@click.command("search")
@click.argument("query", callback=refuse_empty("the words to search for"))
@click.option("--account", callback=refuse_empty("the account's name"),
              help="Only this account's statements (any spelling: case, punctuation and a legal form such as Inc do "
                   "not matter).")
@click.option("--since", metavar="DATE", callback=refuse_empty("a day such as 2026-11-01"),
              help="Only notes dated on or after this day (ISO 8601, e.g. 2026-11-01).")
@click.option("--until", metavar="DATE", callback=refuse_empty("a day such as 2026-11-30"),
              help="Only notes dated on or before this day (the whole day).")
@click.option("--source", type=click.Choice(SOURCE_KINDS), help="Only notes of this kind.")
@click.option("--limit", default=DEFAULT_LIMIT, show_default=True, type=click.IntRange(1, MAX_LIMIT),
              help="Show at most this many results.")
@click.option("--offset", default=0, type=click.IntRange(0, MAX_OFFSET), help="Skip this many results first.")
@click.option("--ranking", type=click.Choice(RANKINGS), default=RANKING, show_default=True,
              help="dense: nearest by meaning (ranked best on the public dev sets); hybrid: dense and BM25 fused "
                   "(exact product names such as SCIM); lexical: BM25 alone.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"query", "results": [...], "total_candidates", "total_related", "floor", ...} as JSON.')
@pass_ctx
def search_cmd(ctx, query, account, since, until, source, limit, offset, ranking, as_json):
    """Every customer statement about QUERY ("salesforce duplicates", "SCIM"), best first: each verbatim, with its
    account, date, source, note id and theme. Statements that do not stand out from how close QUERY is to stored
    statements in general are still listed, marked "weakly related"."""
    try:
        found = search(ctx.services, query, account=account, since=since, until=until, source=source, limit=limit,
                       offset=offset, ranking=ranking)
    except SearchError as exc:
        fail(exc.named(FIELDS), code=2)
    if as_json:
        emit_json(found)
        return
    for notice in found["notices"]:
        click.echo(f"note: {notice}", err=True)
    results = found["results"]
    if not results:
        if found["total_candidates"]:
            click.echo(f"no results past {offset}")
        elif found["notices"]:  # an account nobody stored, a query with no word to look for: the note says which
            click.echo("no statements ranked (see the note above)")
        else:
            click.echo("no statements to rank: none stored, or none pass the filters")
        return
    if found["total_related"] == 0:
        first, last = offset + 1, offset + len(results)
        which = (f"{first}-{last} of the nearest are" if offset else "the nearest is" if len(results) == 1
                 else f"the {len(results)} nearest are")
        click.echo(f"No statement is about {found['query']!r}: {which} listed below as weakly related.")
        click.echo("")
    for n, row in enumerate(results, start=offset + 1):
        # one line per field: a line break or tab inside a name or the text would break the block
        account_name = " ".join((row["account"] or "no account").split())
        weak = " · weakly related" if row["related"] is False else ""
        click.echo(f"{n}. {account_name} · {row['date'][:10]} · {row['source']} · note {row['note_id']}{weak}")
        click.echo(f'   "{" ".join(row["text"].split())}"')
        if row["theme"]:
            click.echo(f"   theme {row['theme']['id']}: {' '.join(row['theme']['label'].split())}")
        click.echo("")
    shown = f"{offset + 1}-{offset + len(results)}"
    # every candidate is ranked, related or not (nothing is cut): "found" would overstate it
    click.echo(f"{shown} of {found['total_candidates']} statements ranked ({found['ranking']}){_related(found)}")


def _related(found: dict) -> str:
    """How many ranked statements are about the query (service.search's count), as the summary line's end."""
    count = found["total_related"]
    if count is None:
        return ""
    if count == 0:
        return "; none is about the query"
    more = " or more" if count >= DENSE_CANDIDATES else ""  # every statement ranked by meaning clears the floor
    return f"; {count}{more} about the query, the rest weakly related"
