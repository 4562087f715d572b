from __future__ import annotations

from apiflask import APIBlueprint
from flask import current_app, request

from ..models.notes import SOURCE_KINDS
from ..notes import parse_filter_date
from ..auth import principal
from ..services import services
from ..themes.queries import ThemeNotFound, latest_run_json, theme_detail, theme_statements
from ..themes.run import RunOptions, ThemeRunError, run_themes
from .errors import APIError

bp = APIBlueprint("themes", __name__, url_prefix="/api/v1", tag="Themes")
# Summarising ran at 2,500-4,000 characters/s (eval/bench_request_text.py: 200,000 took 49 s, past the 30 s worker
# timeout); 20,000 took 6.5 s.
MAX_SUMMARIZE_CHARS = 20_000


def init_app(app) -> None:
    app.register_blueprint(bp)


@bp.get("/themes")
@bp.doc(summary="Themes of the latest run (?status=recurring|emerging)")
def list_themes():
    with services().db.session() as session:
        result = latest_run_json(session)
    if result is None:
        return {"run_id": None, "themes": [], "unassigned_note_ids": [], "message": "no theme run yet"}
    status = request.args.get("status")
    if status:
        result["themes"] = [t for t in result["themes"] if t["status"] == status]
    return result


@bp.get("/themes/<int:theme_id>")
@bp.doc(summary="One theme with quotes, figures, history and member statements", responses={404: "no such theme"})
def get_theme(theme_id: int):
    with services().db.session() as session:
        try:
            data = theme_detail(session, theme_id)
        except ThemeNotFound as exc:
            raise APIError(404, str(exc))
        data["statements"] = theme_statements(session, theme_id, limit=50)
    return data


def _run_options(body: dict) -> RunOptions:
    if not isinstance(body, dict):
        raise APIError(400, "the body must be a JSON object")
    for name in ("source", "account", "since", "until"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise APIError(422, f"{name} must be a string", {"field": name})
    for name in ("min_mentions", "min_accounts"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000):
            raise APIError(422, f"{name} must be a whole number from 1 to 1,000,000", {"field": name})
    source = body.get("source")
    if source and source not in SOURCE_KINDS:
        raise APIError(422, f"unknown source {source!r}", {"field": "source", "allowed": list(SOURCE_KINDS)})
    try:
        return RunOptions(
            since=parse_filter_date(body.get("since"), "since"), until=parse_filter_date(body.get("until"), "until"),
            account=body.get("account"), source=source, include_all=bool(body.get("all")),
            incremental=bool(body.get("incremental")), min_mentions=int(body.get("min_mentions", 3)),
            min_accounts=int(body.get("min_accounts", 2)),
        )
    except (TypeError, ValueError) as exc:
        raise APIError(422, str(exc))


@bp.post("/themes/run")
@bp.doc(summary="Run theme discovery: {since, until, account, source, all, incremental, min_mentions, min_accounts}; "
                "?background=true queues it as a job (202)")
def post_run():
    opts = _run_options(request.get_json(silent=True) or {})
    if request.args.get("background", "").lower() in ("1", "true", "yes", "on"):
        return _queued_run(opts)
    try:
        return run_themes(services(), opts), 201
    except ThemeRunError as exc:
        raise APIError(422, str(exc))


def _queued_run(opts: RunOptions):
    """?background=true: the same run as a job (a theme run over many statements outlives a web request)."""
    from ..jobs import enqueue, themes_payload

    job = enqueue(services(), "themes", themes_payload(opts))
    return {"job": job, "status_url": f"/api/v1/jobs/{job['id']}"}, 202, {"Location": f"/api/v1/jobs/{job['id']}"}


def _edit(kind: str, body, **fields):
    from ..themes.edits import ThemeEditError, edit_and_rerun

    if not isinstance(body, dict):
        raise APIError(400, "the body must be a JSON object")
    try:  # who edits is who is signed in or whose token it is, never what the body claims
        return edit_and_rerun(services(), kind, principal().actor, **fields), 201
    except ThemeEditError as exc:
        raise APIError(exc.status, str(exc), {"field": exc.field} if exc.field else None)
    except ThemeRunError as exc:
        raise APIError(422, str(exc))


@bp.post("/themes/<int:theme_id>/rename")
@bp.doc(summary="Rename a theme (the label is pinned across runs): {label}", responses={404: "no such theme"})
def rename_theme(theme_id: int):
    body = request.get_json(silent=True)
    return _edit("rename", body, theme_id=theme_id, label=(body or {}).get("label") if isinstance(body, dict) else None)


@bp.post("/themes/<int:theme_id>/merge")
@bp.doc(summary="Merge a theme into another: {into}", responses={404: "no such theme", 409: "already merged"})
def merge_theme(theme_id: int):
    body = request.get_json(silent=True)
    return _edit("merge", body, theme_id=theme_id, target_id=(body or {}).get("into") if isinstance(body, dict) else None)


@bp.post("/themes/<int:theme_id>/hide")
@bp.doc(summary="Hide a theme ({hidden: false} shows it again): {hidden?}", responses={404: "no such theme"})
def hide_theme(theme_id: int):
    body = request.get_json(silent=True)
    show = isinstance(body, dict) and body.get("hidden") is False
    return _edit("unhide" if show else "hide", body, theme_id=theme_id)


@bp.post("/themes/move")
@bp.doc(summary="Move statements to a theme or out of themes: {statement_ids, to (a theme id or null)}")
def move_statements():
    body = request.get_json(silent=True)
    if isinstance(body, dict) and "to" not in body:
        raise APIError(422, "say where the statements go: 'to' is a theme id, or null for 'not a pain'", {"field": "to"})
    return _edit("move", body, statement_ids=(body or {}).get("statement_ids") if isinstance(body, dict) else None,
                 target_id=(body or {}).get("to") if isinstance(body, dict) else None)


@bp.post("/themes/summarize")
@bp.doc(summary="Themes in pasted text, each matched to the corpus: {text, account?, source?, date?, store?}")
def post_summarize():
    from ..themes.summary import SummaryError, summarize_texts

    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise APIError(400, "the body must be a JSON object with a 'text' field")
    text = body.get("text")
    texts = body.get("texts")
    if texts is None:
        texts = [text] if isinstance(text, str) else None
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise APIError(422, "give 'text' (a string) or 'texts' (a list of strings) with the pasted notes", {"field": "text"})
    if sum(len(t) for t in texts) > MAX_SUMMARIZE_CHARS:
        raise APIError(413, f"pasted text is over {MAX_SUMMARIZE_CHARS:,} characters (text/texts together); "
                            "store it with POST /api/v1/notes and run themes instead",
                       {"field": "texts" if body.get("texts") is not None else "text", "limit": MAX_SUMMARIZE_CHARS})
    try:
        return summarize_texts(services(), texts, account=body.get("account"), source=body.get("source") or "other",
                               date=body.get("date"), store=bool(body.get("store", False)),
                               max_chars=current_app.config["MAX_NOTE_CHARS"])
    except SummaryError as exc:
        raise APIError(422, str(exc), exc.details)
