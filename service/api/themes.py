"""Themes API: the latest run, one theme, a new run, a PM's edits (rename, merge, hide, move) and pasted text."""
from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.fields import List
from apiflask.validators import Length, OneOf, Range
from flask import current_app, request

from ..auth import principal
from ..models.notes import SOURCE_KINDS
from ..notes import parse_filter_date
from ..services import services
from ..themes.queries import PER_PAGE, ThemeNotFound, latest_run_json, run_page, theme_detail, theme_statements
from ..themes.run import RunOptions, ThemeRunError, run_themes
from .errors import APIError
from .fields import COMMON, Body, StrictBoolean, Text, WholeNumber
from .hygiene import MAX_PAGE, check_body, query_flag, query_int
from .openapi import query_parameters
from .queries import MAX_PER_PAGE, THEME_STATUSES, BackgroundQuery, ThemesQuery, page_field, per_page_field

bp = APIBlueprint("themes", __name__, url_prefix="/api/v1", tag="Themes")
bp.before_request(check_body)  # JSON, parsed and within limits, once the caller is known
# Summarising ran at 2,500-4,000 characters/s (eval/bench_request_text.py: 200,000 took 49 s, past the 30 s worker
# timeout); 20,000 took 6.5 s.
MAX_SUMMARIZE_CHARS = 20_000
# A move is a person sorting statements by hand; more per call is a script that can send batches (and a 404 lists
# the ids it did not find).
MAX_MOVE_STATEMENTS = 1000
FROM_TO = "must be from {min:,} to {max:,}"
EDIT_RESPONSES = {201: "the edit and the re-run it triggered", 404: "no such theme",
                  409: "no theme run yet, a theme run in progress, or the edit conflicts with the themes as they "
                       "are (already hidden or not hidden, label taken, merged into another theme)",
                  422: "bad body (details.field names the input)"}


class ThemesPageQuery(ThemesQuery):
    """GET /themes pages as GET /notes does (the same names, default and bounds)."""
    page = page_field()
    per_page = per_page_field(PER_PAGE)


class RunIn(Body):
    since = Text(allow_none=True, metadata={"description": "ISO date: only notes from this day"})
    until = Text(allow_none=True, metadata={"description": "ISO date: only notes up to this day"})
    account = Text(allow_none=True)
    source = Text(allow_none=True, validate=OneOf(SOURCE_KINDS, error="must be one of {choices}"))
    all = StrictBoolean(allow_none=True, metadata={"description": "cluster every note, not only pains"})
    incremental = StrictBoolean(allow_none=True, metadata={"description": "assign new statements to the current "
                                                                          "themes instead of re-clustering"})
    min_mentions = WholeNumber(allow_none=True, validate=Range(1, 1_000_000, error=FROM_TO), metadata={"default": 3})
    min_accounts = WholeNumber(allow_none=True, validate=Range(1, 1_000_000, error=FROM_TO), metadata={"default": 2})


class RenameIn(Body):
    label = Text(required=True, metadata={"description": "the new label, on one line; pinned across runs"})


class MergeIn(Body):
    into = WholeNumber(required=True, metadata={"description": "the theme that absorbs this one"})


class HideIn(Body):
    hidden = StrictBoolean(load_default=True, metadata={"description": "false shows the theme again"})


class MoveIn(Body):
    statement_ids = List(WholeNumber(), required=True, error_messages={**COMMON, "invalid": "must be a list"},
                         validate=Length(1, MAX_MOVE_STATEMENTS, error="must hold {min} to {max:,} ids"),
                         metadata={"description": f"1 to {MAX_MOVE_STATEMENTS:,} statement ids"})
    to = WholeNumber(required=True, allow_none=True,
                     error_messages={"required": "say where the statements go: a theme id, or null for 'not a pain'"},
                     metadata={"description": "a theme id, or null for 'not a pain'"})


class SummarizeIn(Body):
    text = Text(metadata={"description": "pasted notes (or give texts)"})
    texts = List(Text(), error_messages={**COMMON, "invalid": "must be a list"},
                 metadata={"description": "several pasted notes"})
    account = Text(allow_none=True)
    source = Text(allow_none=True)
    date = Text(allow_none=True, metadata={"description": "ISO date of the notes"})
    store = StrictBoolean(load_default=False, metadata={"description": "also store the notes (like POST /notes)"})


def init_app(app) -> None:
    app.register_blueprint(bp)


@bp.get("/themes")
@query_parameters(ThemesPageQuery)
@bp.doc(summary=f"Themes of the latest run (?status=recurring|emerging), a page at a time: page, per_page "
                f"(default {PER_PAGE}, <= {MAX_PER_PAGE}); total counts the themes of every page",
        responses={200: "the run and a page of its themes", 400: "bad status, page or per_page"})
def list_themes():
    status = request.args.get("status")
    if status and status not in THEME_STATUSES:
        raise APIError(400, f"unknown status {status!r}", {"field": "status", "allowed": list(THEME_STATUSES)})
    page = query_int("page", 1, 1, MAX_PAGE)
    per_page = query_int("per_page", PER_PAGE, 1, MAX_PER_PAGE)
    with services().db.session() as session:
        return run_page(latest_run_json(session), status=status, page=page, per_page=per_page)


@bp.get("/themes/<int:theme_id>")
@bp.doc(summary="One theme with quotes, figures, history and member statements; merged_into_id: the theme it now "
                "lives in when merged away (by a PM or a run), following chains of merges",
        responses={404: "no such theme"})
def get_theme(theme_id: int):
    with services().db.session() as session:
        try:
            data = theme_detail(session, theme_id)
        except ThemeNotFound as exc:
            raise APIError(404, str(exc))
        data["statements"] = theme_statements(session, theme_id, limit=50)
    return data


def _run_options(body: dict) -> RunOptions:
    return RunOptions(
        since=_run_date(body, "since"), until=_run_date(body, "until", end_of_day=True),
        account=body.get("account"), source=body.get("source"), include_all=bool(body.get("all")),
        incremental=bool(body.get("incremental")), min_mentions=body.get("min_mentions") or 3,
        min_accounts=body.get("min_accounts") or 2,
    )


def _run_date(body: dict, name: str, end_of_day: bool = False):
    """A run's `since` or `until`, or a 422 naming it."""
    try:
        return parse_filter_date(body.get(name), name, end_of_day=end_of_day)
    except ValueError as exc:
        raise APIError(422, str(exc), {"field": name})


def _run_error(exc: ThemeRunError) -> APIError:
    return APIError(422, str(exc), {"field": exc.field} if exc.field else None)


@bp.post("/themes/run")
@query_parameters(BackgroundQuery)
@bp.input(RunIn, location="json", arg_name="body")
@bp.doc(summary="Run theme discovery over the stored notes; ?background=true queues it as a job (202)",
        responses={201: "the run", 202: "queued as a job (poll /api/v1/jobs/<id>)", 422: "bad options"})
def post_run(body):
    opts = _run_options(body)
    if opts.since and opts.until and opts.since > opts.until:  # refused before a job is queued for it, too
        raise _run_error(ThemeRunError(f"since ({opts.since:%Y-%m-%d}) is after until ({opts.until:%Y-%m-%d})",
                                       field="since"))
    if query_flag("background"):
        return _queued_run(opts)
    try:
        return run_themes(services(), opts), 201
    except ThemeRunError as exc:
        raise _run_error(exc)


def _queued_run(opts: RunOptions):
    """?background=true: the same run as a job (a theme run over many statements outlives a web request)."""
    from ..jobs import enqueue, themes_payload

    job = enqueue(services(), "themes", themes_payload(opts))
    return {"job": job, "status_url": f"/api/v1/jobs/{job['id']}"}, 202, {"Location": f"/api/v1/jobs/{job['id']}"}


def _edit(kind: str, **fields):
    from ..themes.edits import ThemeEditError, edit_and_rerun

    try:  # who edits is who is signed in or whose token it is, never what the body claims
        return edit_and_rerun(services(), kind, principal().actor, **fields), 201
    except ThemeEditError as exc:
        raise APIError(exc.status, str(exc), {"field": exc.field} if exc.field else None)
    except ThemeRunError as exc:
        raise _run_error(exc)


@bp.post("/themes/<int:theme_id>/rename")
@bp.input(RenameIn, location="json", arg_name="body")
@bp.doc(summary="Rename a theme (the label is pinned across runs)", responses=EDIT_RESPONSES)
def rename_theme(theme_id: int, body):
    return _edit("rename", theme_id=theme_id, label=body["label"])


@bp.post("/themes/<int:theme_id>/merge")
@bp.input(MergeIn, location="json", arg_name="body")
@bp.doc(summary="Merge a theme into another",
        responses={**EDIT_RESPONSES, 409: "already merged, a theme run in progress, or no run yet",
                   422: "bad body, or a merge into itself"})
def merge_theme(theme_id: int, body):
    return _edit("merge", theme_id=theme_id, target_id=body["into"])


@bp.post("/themes/<int:theme_id>/hide")
@bp.input(HideIn, location="json", arg_name="body")
@bp.doc(summary="Hide a theme ({\"hidden\": false} shows it again)", responses=EDIT_RESPONSES)
def hide_theme(theme_id: int, body):
    return _edit("hide" if body["hidden"] else "unhide", theme_id=theme_id)


@bp.post("/themes/move")
@bp.input(MoveIn, location="json", arg_name="body")
@bp.doc(summary="Move statements to a theme, or out of themes (to: null)",
        responses={**EDIT_RESPONSES, 404: "no such theme or statement"})
def move_statements(body):
    return _edit("move", statement_ids=body["statement_ids"], target_id=body["to"])


@bp.post("/themes/summarize")
@bp.input(SummarizeIn, location="json", arg_name="body")
@bp.doc(summary="Themes in pasted text, each matched to the corpus",
        responses={200: "the themes of the text", 413: f"over {MAX_SUMMARIZE_CHARS:,} characters", 422: "bad body"})
def post_summarize(body):
    from ..themes.summary import SummaryError, summarize_texts

    if "text" in body and body.get("texts") is not None:  # one would be dropped without a word
        raise APIError(422, "give 'text' or 'texts', not both", {"field": "body"})
    texts = body.get("texts")
    if texts is None:
        texts = [body["text"]] if "text" in body else None
    if not texts:
        raise APIError(422, "give 'text' (a string) or 'texts' (a list of strings) with the pasted notes",
                       {"field": "text"})
    blank = [i for i, t in enumerate(texts) if not t.strip()]
    if blank:  # name the entry, so a caller with hundreds of notes can find the empty one
        listed = body.get("texts") is not None
        field = f"texts[{blank[0]}]" if listed else "text"
        more = f" ({len(blank)} empty entries)" if len(blank) > 1 else ""
        raise APIError(422, f"{field} is empty or only whitespace{more}",
                       {"field": field, "empty_indexes": blank[:20]} if listed else {"field": field})
    if sum(len(t) for t in texts) > MAX_SUMMARIZE_CHARS:
        raise APIError(413, f"pasted text is over {MAX_SUMMARIZE_CHARS:,} characters (text/texts together); "
                            "store it with POST /api/v1/notes and run themes instead",
                       {"field": "texts" if body.get("texts") is not None else "text", "limit": MAX_SUMMARIZE_CHARS})
    try:
        return summarize_texts(services(), texts, account=body.get("account"), source=body.get("source") or "other",
                               date=body.get("date"), store=body["store"],
                               max_chars=current_app.config["MAX_NOTE_CHARS"])
    except SummaryError as exc:
        raise APIError(422, str(exc), exc.details)
