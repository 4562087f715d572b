"""Roadmap API: items (import with the same validation as the CLI), links, coverage, scores, and /match."""
from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Float, Integer, List, String
from flask import request

from ..ingest.errors import IngestError
from ..models.roadmap import ROADMAP_STATUSES
from ..notes import NotFound
from ..roadmap import importer, service
from ..services import services
from .errors import APIError
from .notes import bool_arg

bp = APIBlueprint("roadmap", __name__, url_prefix="/api/v1", tag="Roadmap")
MAX_MATCH_REQUESTS = 1000
# All request texts together. Matching ran at 2,600-4,000 characters/s on a shared 2-core machine
# (eval/bench_request_text.py: 40,000 took 10.5-15.3 s); at 20,000, 1,000 requests took 6.9 s, under a quarter of
# the 30 s worker timeout, leaving room for a loaded machine.
MAX_MATCH_CHARS = 20_000


def init_app(app) -> None:
    app.register_blueprint(bp)


class ItemIn(Schema):
    id = String(required=True, metadata={"description": "your id; re-sending it updates the item"})
    title = String(required=True)
    description = String()
    status = String(required=True, metadata={"description": f"one of {', '.join(ROADMAP_STATUSES)} or a synonym "
                                                            "(Released, In development, Next, Backlog, Won't do...)"})
    release, goal, url, workaround = String(), String(), String(), String()
    score, reach, impact, effort = Float(), Float(), Float(), Float()
    confidence = Float(metadata={"description": "0-1, or 0-100 as a percentage"})
    tags = List(String())


class LinkIn(Schema):
    note_id = String(metadata={"description": "a note id as returned by /notes"})
    theme_id = Integer()
    draft_id = Integer(metadata={"description": "a draft whose question a rep confirmed as about the item"})


class MatchIn(Schema):
    id = String()
    text = String(required=True)


class ImportOut(Schema):
    created, updated, unchanged, archived, deleted = Integer(), Integer(), Integer(), Integer(), Integer()
    item_ids = List(String())
    would_archive = List(String(), metadata={"description": "items missing from the input, kept (sync=true archives)"})


@bp.get("/roadmap/items")
@bp.doc(summary="Roadmap items. Filters: status, include_archived=true")
def list_items():
    status = request.args.get("status")
    if status and status not in ROADMAP_STATUSES:
        raise APIError(400, f"unknown status {status!r}", {"allowed": list(ROADMAP_STATUSES)})
    with services().db.session() as session:
        items = [service.item_dict(i) for i in service.load_items(session, bool_arg("include_archived"), status)]
    return {"items": items, "total": len(items)}


@bp.get("/roadmap/items/<item_id>")
@bp.doc(summary="One item with its score (inputs and reason) and links", responses={404: "no such item"})
def get_item(item_id: str):
    try:
        return service.item_detail(services(), item_id)
    except NotFound as exc:
        raise APIError(404, str(exc))


@bp.post("/roadmap/items")
@bp.input(ItemIn(many=True), location="json", validation=False, arg_name="body")
@bp.output(ImportOut, status_code=201)
@bp.doc(summary='Import items: a list or {"items": [...]}; atomic upsert. Items left out are only listed '
                '(would_archive); ?sync=true archives them, ?sync=true&prune=true deletes them',
        responses={201: "stored", 400: "malformed JSON", 422: "invalid items (nothing stored)"})
def post_items(body):
    sync, prune = bool_arg("sync"), bool_arg("prune")
    if prune and not sync:
        raise APIError(422, "prune=true deletes the items missing from the input; it needs sync=true as well")
    try:
        rows = importer.json_rows(body, "request")
        return service.import_items(services(), rows, prune=prune, source="request", sync=sync), 201
    except IngestError as exc:
        raise APIError(422, f"{len(exc.errors)} error(s); nothing was stored",
                       {"errors": [e.as_dict() for e in exc.errors]})


@bp.post("/roadmap/items/<item_id>/links")
@bp.input(LinkIn, location="json", validation=False, arg_name="body")
@bp.doc(summary="Link a note, a theme or a confirmed draft to an item (idempotent)",
        responses={201: "linked", 200: "already linked", 404: "no such item, note or theme", 422: "bad body"})
def post_link(item_id: str, body):
    if not isinstance(body, dict):
        raise APIError(422, 'expected {"note_id": ...}, {"theme_id": ...} or {"draft_id": ...}')
    unknown = set(body) - {"note_id", "theme_id", "draft_id", "created_by"}
    if unknown:
        raise APIError(422, f"unknown field(s): {', '.join(sorted(unknown))}")
    note_id = body.get("note_id")
    try:
        result = service.link(services(), item_id, note_id=None if note_id is None else str(note_id),
                              theme_id=body.get("theme_id"), draft_id=body.get("draft_id"),
                              created_by=body.get("created_by"))
    except NotFound as exc:
        raise APIError(404, str(exc))
    except service.LinkError as exc:
        raise APIError(422, str(exc))
    return result, 201 if result["created"] else 200


@bp.get("/roadmap/coverage")
@bp.doc(summary="Items addressing each theme of the latest run, demand per item, and gaps")
def get_coverage():
    return service.coverage(services())


@bp.get("/roadmap/scores")
@bp.doc(summary="Scores of current items, best first, each with its method, inputs and reason")
def get_scores():
    try:
        return service.scores(services())
    except ValueError as exc:  # FEEDBACK_SCORING or its weights are misconfigured
        raise APIError(500, str(exc))


@bp.post("/match")
@bp.input(MatchIn(many=True), location="json", validation=False, arg_name="body")
@bp.doc(summary="Match customer requests (strings or {id, text}, up to 1,000) to roadmap items",
        responses={200: '{"results": [{"id", "verdict", "matches": [{"item_id", "title", "status", "score"}]}]}',
                   413: "more than 1,000 requests, or more than 20,000 characters of text together", 422: "empty or invalid requests"})
def post_match(body):
    if isinstance(body, dict) and "requests" in body:
        body = body["requests"]
    if not isinstance(body, list) or not body:
        raise APIError(422, "expected a non-empty list of requests (strings or {\"id\", \"text\"})")
    if len(body) > MAX_MATCH_REQUESTS:
        raise APIError(413, f"{len(body)} requests; the limit is {MAX_MATCH_REQUESTS:,} per call",
                       {"limit": MAX_MATCH_REQUESTS})
    requests, errors = [], []
    for n, item in enumerate(body, start=1):
        text = item.get("text") if isinstance(item, dict) else item
        if not isinstance(text, str) or not text.strip():
            errors.append({"line": n, "field": "text", "reason": "a request needs non-empty text"})
            continue
        rid = item.get("id") if isinstance(item, dict) else None
        requests.append({"id": str(rid) if rid not in (None, "") else str(n), "text": text})
    if errors:
        raise APIError(422, f"{len(errors)} invalid request(s)", {"errors": errors})
    total = sum(len(r["text"]) for r in requests)
    if total > MAX_MATCH_CHARS:
        raise APIError(413, f"the requests' text fields hold {total:,} characters together; the limit is "
                            f"{MAX_MATCH_CHARS:,} per call (split them over several calls)",
                       {"field": "text", "limit": MAX_MATCH_CHARS, "chars": total})
    try:
        min_score = float(request.args.get("min_score", 0.5))
    except ValueError:
        raise APIError(400, "min_score must be a number between 0 and 1")
    return {"results": service.match_requests(services(), requests, min_score=min_score)}


__all__ = ["bp", "init_app"]
