"""`feedback draft` (one question or a file of them) and `feedback drafts list|show|rate`."""
from __future__ import annotations

import json

import click

from ..auth.audit import cli_actor
from ..drafts.base import AUDIENCES, TONES
from ..drafts.pipeline import (DraftInputError, DraftNotFound, create_draft, draft_many, get_draft, list_drafts,
                               save_feedback)
from ..drafts.template import TemplateDrafter
from ..ingest.readers import LINE_BREAK
from ..roadmap.decision import NO_ROADMAP
from .common import ROW_ID, emit_json, fail, pass_ctx, read_text_file, refuse_empty


def register(cli: click.Group) -> None:
    cli.add_command(draft)
    cli.add_command(drafts)


@click.command()
@click.argument("question", required=False)
@click.option("--file", "file", type=click.Path(allow_dash=True), callback=refuse_empty("a file or -"),  # a folder: 1
              help=".jsonl rows with id, question (or text), account, audience, tone; or one question per line.")
@click.option("--account", help="The account asking (its own notes are quoted first).")
@click.option("--audience", type=click.Choice(AUDIENCES), default="customer", show_default=True,
              help="Who reads it: a customer draft quotes only the asking account's notes and names no other "
                   "account, item id or score; an internal one may.")
@click.option("--tone", type=click.Choice(TONES), help="How it is worded (default: the drafter's neutral wording).")
@click.option("--no-llm", is_flag=True, help="Use the offline template drafter even when an LLM is configured.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list with --file).")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="One JSON object per line (a row per question with --file).")
@pass_ctx
def draft(ctx, question, file, account, audience, tone, no_llm, as_json, as_jsonl):
    """Draft an answer to "how does the roadmap address X?" that says what the roadmap says and no more.

    The draft is stored (`feedback drafts list`); its warnings go to stderr (with --json, into its "warnings")."""
    if (question is None) == (file is None):  # an empty question is still a question: the pipeline names it
        fail("give a question or --file FILE (not both)", code=2)
    if as_json and as_jsonl:  # --jsonl silently won
        fail("give --json or --jsonl, not both", code=2)
    drafter = TemplateDrafter() if no_llm else None
    svc = ctx.services
    if file:
        requests, lines = _read_requests(file, account, audience, tone)
        results = draft_many(svc, requests, drafter=drafter)
        if as_jsonl:
            for row in results:
                click.echo(json.dumps(row, ensure_ascii=False, default=str))
        elif as_json:
            emit_json(results)
        else:
            for row, line in zip(results, lines):
                _echo_brief(row, f"{file}:{line}")
            # One line per row shows no warnings; this one holds for every row, so it is said once for the batch.
            if any(NO_ROADMAP in r.get("warnings", ()) for r in results):
                click.echo(f"warning: {NO_ROADMAP}", err=True)
        failed = sum(1 for r in results if "error" in r)
        if failed and (as_json or as_jsonl):  # each row says whether it was drafted; the output stays only JSON
            raise SystemExit(1)
        if failed:  # the rows drafted are stored all the same: say so, or a rerun drafts them twice
            stored = len(results) - failed
            fail(f"{failed} of {len(results)} question(s) in {file} not drafted; "
                 + (f"the other {stored} draft(s) are stored" if stored else "no draft was stored"))
        return
    try:
        result = create_draft(svc, question, account, audience, tone, drafter=drafter)
    except DraftInputError as exc:
        fail(str(exc), code=2)
    if as_jsonl:  # one question, one line (it printed the text draft as if --jsonl were not given)
        click.echo(json.dumps(result, ensure_ascii=False, default=str))
    elif as_json:
        emit_json(result)
    else:
        _echo_draft(result)


REQUEST_TEXT_FIELDS = ("question", "text", "account", "audience", "tone")
REQUEST_ID_FIELDS = ("id", "request_id")  # echoed back to match results to rows: a name or a number, not an object


def _read_requests(path: str, account, audience, tone) -> tuple[list[dict], list[int]]:
    """Rows from a .jsonl file, or one question per line, and the line of each; defaults come from the command's
    options. A problem in the file (invalid JSON, a field of the wrong type) is named with its line, all of them at
    once, exit code 1."""
    text = read_text_file(path)
    rows, problems, lines = [], [], []
    is_jsonl = path.endswith(".jsonl") or text.lstrip().startswith("{")
    for n, line in enumerate(LINE_BREAK.split(text), start=1):
        if not line.strip() or (not is_jsonl and line.lstrip().startswith("#")):
            continue
        if is_jsonl:
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{path}:{n}: invalid JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                problems.append(f"{path}:{n}: each line must be a JSON object")
                continue
            wrong = [f"{path}:{n} [{k}]: {k} must be a string, got {type(row[k]).__name__}"
                     for k in REQUEST_TEXT_FIELDS if row.get(k) is not None and not isinstance(row[k], str)]
            wrong += [f"{path}:{n} [{k}]: {k} must be a string or a whole number, got {type(row[k]).__name__}"
                      for k in REQUEST_ID_FIELDS if row.get(k) is not None
                      and (isinstance(row[k], bool) or not isinstance(row[k], (str, int)))]
            if wrong:
                problems += wrong
                continue
        else:
            row = {"question": line.strip()}
        row.setdefault("request_id", row.get("id") if row.get("id") not in (None, "") else n)  # else the line
        for key, value in (("account", account), ("audience", audience), ("tone", tone)):
            if row.get(key) in (None, "") and value is not None:
                row[key] = value
        rows.append(row)
        lines.append(n)
    for problem in problems[:-1]:
        click.echo(f"error: {problem}", err=True)
    if problems:
        fail(problems[-1] + (f" ({len(problems)} problems; nothing was drafted)" if len(problems) > 1 else
                             "; nothing was drafted"))
    if not rows:
        fail(f"{path}: no questions")
    return rows, lines


def _echo_draft(d: dict) -> None:
    click.echo(d["text"])
    click.echo("")
    cited = ", ".join(d["cited_item_ids"]) or "none"
    click.echo(f"-- draft {d['id']}: verdict {d['verdict']}, cited {cited}, {d['mode']} ({d['prompt_version']})")
    for ev in d["evidence"]:
        click.echo(f'   evidence {ev["note_id"]} ({ev["account"] or "-"}): "{ev["quote"]}"')
    for warning in d["warnings"]:
        click.echo(f"warning: {warning}", err=True)


def _echo_brief(row: dict, where: str) -> None:
    if "error" in row:  # named by file and line, as a problem found while reading the file is
        click.echo(f"error: {where}: {row['error']} (request {row['request_id']})", err=True)
        return
    cited = ",".join(row["cited_item_ids"]) or "-"
    click.echo(f"{row['request_id']}: draft {row['draft_id']} {row['verdict']} [{cited}] {row['mode']}")


@click.group()
def drafts():
    """Stored drafts: list, show, rate, delete."""


@drafts.command("list")
@click.option("--account", callback=refuse_empty("the account's name"), help="Only drafts made for this account.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help='Print {"items": [...], "total": N} as JSON.')
@pass_ctx
def drafts_list(ctx, account, limit, as_json):
    """Stored drafts, newest first: id, time (UTC), verdict, audience and question."""
    items, total = list_drafts(ctx.services, per_page=limit, account=account)
    if as_json:
        emit_json({"items": items, "total": total})
        return
    for d in items:
        question = d["question"].replace("\n", " ")
        click.echo(f"{d['id']:>6} {d['created_at'][:16]} {d['verdict']:<19} {d['audience']:<8} {question[:60]}")
    click.echo(f"{len(items)} of {total} drafts")


@drafts.command("show")
@click.argument("draft_id", type=ROW_ID)
@click.option("--json", "as_json", is_flag=True, help="Print the draft, its evidence, checks and ratings as JSON.")
@pass_ctx
def drafts_show(ctx, draft_id, as_json):
    """One stored draft: the question, the text, its evidence and warnings, and the ratings it got."""
    try:
        d = get_draft(ctx.services, draft_id)
    except DraftNotFound as exc:
        fail(str(exc))
    if as_json:
        emit_json(d)
        return
    click.echo(f"question: {d['question']}")
    click.echo(f"account: {d['account'] or '-'}  audience: {d['audience']}")
    click.echo("")
    _echo_draft(d)
    for f in d["feedback"]:
        click.echo(f"   feedback {f['rating']}: {f['comment'] or ''}{' (edited)' if f['edited_text'] else ''}")


@drafts.command("rate")
@click.argument("draft_id", type=ROW_ID)
@click.option("--up", is_flag=True, help="The draft was good.")
@click.option("--down", is_flag=True, help="The draft was not usable.")
@click.option("--score", "score", type=click.IntRange(1, 5), help="A 1-5 rating instead of up/down.")
# a missing file or a folder: exit 1 naming it (read_text_file), as ingest, match and roadmap import answer
@click.option("--edited", type=click.Path(allow_dash=True), callback=refuse_empty("a file or -"),
              help="A file with the text you actually sent (UTF-8).")
@click.option("--comment", help="A note on the rating, e.g. why it was not usable.")
@click.option("--json", "as_json", is_flag=True, help="Print the stored rating as JSON.")
@pass_ctx
def drafts_rate(ctx, draft_id, up, down, score, edited, comment, as_json):
    """Record a rep's verdict on a draft: --up, --down or --score N, and optionally the edited text."""
    if up + down + (score is not None) != 1:
        fail("give exactly one of --up, --down or --score N", code=2)
    edited_text = read_text_file(edited) if edited else None
    if edited_text is not None and not edited_text.strip():  # it was stored as "not edited", without a word
        fail(f"--edited {edited}: the file is empty; nothing was recorded")
    try:
        row = save_feedback(ctx.services, draft_id, "up" if up else "down" if down else score, edited_text, comment,
                            author=cli_actor())
    except DraftNotFound as exc:
        fail(str(exc))
    except DraftInputError as exc:
        fail(str(exc), code=2)
    if as_json:
        emit_json(row)
    else:
        click.echo(f"recorded {row['rating']} for draft {row['draft_id']}")
