"""Roadmap API: items (import with the same validation as the CLI), links, coverage, scores, and /match."""
from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Float, Integer, List, String
from apiflask.validators import Range
from flask import request
from marshmallow import INCLUDE

from ..auth import audit_this, principal
from ..ingest.errors import IngestError
from ..models.roadmap import ROADMAP_STATUSES
from ..notes import NotFound
from ..roadmap import importer, service
from ..services import services
from .errors import APIError
from .fields import Body, Id, Text, WholeNumber
from .hygiene import MAX_PAGE, check_body, query_int
from .notes import bool_arg
from .openapi import query_parameters
from .queries import MAX_PER_PAGE, ImportQuery, ItemsQuery, page_field

bp = APIBlueprint("roadmap", __name__, url_prefix="/api/v1", tag="Roadmap")
bp.before_request(check_body)  # JSON, parsed and within limits, once the caller is known
MAX_MATCH_REQUESTS = 1000
# All request texts together. Matching ran at 2,600-4,000 characters/s on a shared 2-core machine
# (eval/bench_request_text.py: 40,000 took 10.5-15.3 s); at 20,000, 1,000 requests took 6.9 s, under a quarter of
# the 30 s worker timeout, leaving room for a loaded machine.
MAX_MATCH_CHARS = 20_000


def init_app(app) -> None:
    app.register_blueprint(bp)


class ItemIn(Body):
    """One roadmap item. The importer validates it (the same rules as `feedback roadmap import`); this documents it."""

    class Meta:
        unknown = INCLUDE  # other columns are kept as the item's extras

    id = Id(required=True, metadata={"description": "your id; re-sending it updates the item. No '/' (it is a URL "
                                                    "path segment)"})
    title = Text(required=True)
    description = Text()
    status = Text(required=True, metadata={"description": f"one of {', '.join(ROADMAP_STATUSES)} or a synonym "
                                                          "(Released, In development, Next, Backlog, Won't do...)"})
    release, goal, url, workaround = Text(), Text(), Text(), Text()
    score, reach, impact, effort = Float(), Float(), Float(), Float()
    confidence = Float(metadata={"description": "0-1, or 0-100 as a percentage"})
    tags = List(Text())


class LinkIn(Body):
    """Exactly one of note_id, theme_id, draft_id. Who links is the caller (the token or the signed-in user)."""
    note_id = Id(metadata={"description": "a note id as returned by /notes"})
    theme_id = WholeNumber()
    draft_id = WholeNumber(metadata={"description": "a draft whose question a rep confirmed as about the item"})


class RejectionIn(Body):
    """A draft whose question is NOT about the item ("not the right item"). Who says so is the caller."""
    draft_id = WholeNumber(required=True, metadata={"description": "a draft that cited the item wrongly"})


class MatchIn(Body):
    """One request; a request can also be a plain string."""
    id = Text(allow_none=True,
              metadata={"description": "your id for the request, echoed in the result (default: its position)"})
    text = Text(required=True)


class MatchArgs(Schema):
    min_score = Float(load_default=0.5, validate=Range(0, 1, error="must be a number from {min} to {max}"),
                      error_messages={"invalid": "must be a number from 0 to 1",
                                      "special": "must be a number from 0 to 1, not NaN or infinity"},
                      metadata={"description": "the lowest score a match needs to be listed, from 0 to 1"})


COVERAGE_LISTS = ("themes", "items", "gaps")
COVERAGE_PER_PAGE = 50  # as a page of notes or of themes


class CoverageQuery(Schema):
    """Paging on request: without page or per_page the answer is whole, as before paging (clients read its four
    fields); with either, each of its lists is cut to that page."""
    page = page_field()
    per_page = Integer(load_default=COVERAGE_PER_PAGE, validate=Range(1, MAX_PER_PAGE),
                       metadata={"description": "themes, items and gaps per page; giving page or per_page asks "
                                                "for pages (without either, every row)"})


class ImportOut(Schema):
    created, updated, unchanged, archived, deleted = Integer(), Integer(), Integer(), Integer(), Integer()
    item_ids = List(String())
    would_archive = List(String(), metadata={"description": "items missing from the input, kept (sync=true archives)"})


@bp.get("/roadmap/items")
@query_parameters(ItemsQuery)
@bp.doc(summary="Roadmap items. Filters: status, include_archived=true")
def list_items():
    status = request.args.get("status")
    if status and status not in ROADMAP_STATUSES:
        raise APIError(400, f"unknown status {status!r}", {"field": "status", "allowed": list(ROADMAP_STATUSES)})
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
@query_parameters(ImportQuery)
@bp.input(ItemIn(many=True), location="json", validation=False, arg_name="body")
@bp.output(ImportOut, status_code=201)
@bp.doc(summary='Import items: a list or {"items": [...]}; atomic upsert. Items left out are only listed '
                '(would_archive); ?sync=true archives them, ?sync=true&prune=true deletes them',
        responses={201: "stored", 400: "malformed JSON", 422: "invalid items (nothing stored)"})
def post_items(body):
    sync, prune = bool_arg("sync"), bool_arg("prune")
    if prune and not sync:
        raise APIError(422, "prune=true deletes the items missing from the input; it needs sync=true as well",
                       {"field": "prune", "location": "query"})
    try:
        rows = importer.json_rows(body, "request")
        return service.import_items(services(), rows, prune=prune, source="request", sync=sync), 201
    except IngestError as exc:
        raise APIError(422, f"{len(exc.errors)} error(s); nothing was stored",
                       {"errors": [e.as_dict() for e in exc.errors]})


@bp.post("/roadmap/items/<item_id>/links")
@bp.input(LinkIn, location="json", arg_name="body")
@bp.doc(summary="Link a note, a theme or a confirmed draft to an item (idempotent); created_by is the caller",
        responses={201: "linked", 200: "already linked", 404: "no such item, note or theme",
                   422: "not exactly one of note_id, theme_id, draft_id; a wrong type; an unknown field"})
def post_link(item_id: str, body):
    try:
        result = _link(item_id, body)
    except NotFound as exc:
        raise APIError(404, str(exc))
    except service.LinkError as exc:  # a bad id names its field; "exactly one of" is about the body as a whole
        given = [k for k in ("note_id", "theme_id", "draft_id") if body.get(k) is not None]
        raise APIError(422, str(exc), {"field": given[0] if len(given) == 1 else "body"})
    if result["unrejected"]:  # the same change as DELETE .../rejections: the log says so
        audit_this(unrejected=True)
    return result, 201 if result["created"] else 200


def _link(item_id: str, body) -> dict:
    """service.link, which takes the roadmap write lock so racing requests for one link take turns; should the
    unique constraint still break (a writer that bypassed the lock), the second try finds that link (200), not a 500."""
    from sqlalchemy.exc import IntegrityError

    # who links is whose token it is (or who is signed in), never what the body claims
    fields = dict(note_id=body.get("note_id"), theme_id=body.get("theme_id"), draft_id=body.get("draft_id"),
                  created_by=principal().actor)
    try:
        return service.link(services(), item_id, **fields)
    except IntegrityError:
        return service.link(services(), item_id, **fields)


@bp.delete("/roadmap/items/<item_id>/links")
@bp.input(LinkIn, location="json", arg_name="body")
@bp.doc(summary="Take back a link made by mistake: the note, theme or draft stops counting as evidence for the item",
        responses={200: "unlinked", 404: "no such item, note, theme or draft, or no such link",
                   422: "not exactly one of note_id, theme_id, draft_id; a wrong type; an unknown field"})
def delete_link(item_id: str, body):
    fields = {k: body.get(k) for k in ("note_id", "theme_id", "draft_id")}
    try:
        gone = service.unlink(services(), item_id, **fields)
    except NotFound as exc:
        raise APIError(404, str(exc))
    except service.LinkError as exc:
        given = [k for k, v in fields.items() if v is not None]
        raise APIError(422, str(exc), {"field": given[0] if len(given) == 1 else "body"})
    if not gone:
        raise APIError(404, f"{item_id} has no such link")
    audit_this(**{k: v for k, v in fields.items() if v is not None})
    return {"item_id": item_id, **fields, "deleted": True}


@bp.post("/roadmap/items/<item_id>/rejections")
@bp.input(RejectionIn, location="json", arg_name="body")
@bp.doc(summary="Say a draft's question is not about the item (idempotent): its link to the item goes, and the "
                "matcher declines the item for requests that read as the question; a later link takes it back",
        responses={201: "rejected", 200: "already rejected", 404: "no such item or draft",
                   422: "no draft_id, a wrong type, an unknown field; an item the draft neither cites nor is "
                        "linked to"})
def post_rejection(item_id: str, body):
    from ..roadmap.rejections import reject

    try:
        done = reject(services(), item_id, draft_id=body["draft_id"], created_by=principal().actor)
    except NotFound as exc:
        raise APIError(404, str(exc))
    except service.LinkError as exc:
        raise APIError(422, str(exc), {"field": "draft_id"})
    audit_this(unchanged=not done["created"], draft_id=body["draft_id"], unlinked=done["unlinked"])
    return {**done["rejections"][0], "created": bool(done["created"]), "unlinked": done["unlinked"]}, \
        201 if done["created"] else 200


@bp.delete("/roadmap/items/<item_id>/rejections")
@bp.input(RejectionIn, location="json", arg_name="body")
@bp.doc(summary="Take back a rejection", responses={200: "taken back", 404: "no such rejection"})
def delete_rejection(item_id: str, body):
    from ..roadmap.rejections import unreject

    if not unreject(services(), item_id, draft_id=body["draft_id"]):
        raise APIError(404, f"draft {body['draft_id']} is not rejected for {item_id}")
    audit_this(draft_id=body["draft_id"])
    return {"item_id": item_id, "draft_id": body["draft_id"], "deleted": True}


@bp.get("/roadmap/coverage")
@query_parameters(CoverageQuery)
@bp.doc(summary="Items addressing each theme of the latest run, demand per item, and gaps. With page or per_page "
                f"(default {COVERAGE_PER_PAGE}, <= {MAX_PER_PAGE}) each list (themes, items, gaps, each in its own "
                "order) holds that page, and totals counts each list's rows over every page",
        responses={200: "the coverage", 400: "bad page or per_page"})
def get_coverage():
    paged = any((request.args.get(name) or "").strip() for name in ("page", "per_page"))
    page = query_int("page", 1, 1, MAX_PAGE)
    per_page = query_int("per_page", COVERAGE_PER_PAGE, 1, MAX_PER_PAGE)
    data = service.coverage(services())
    if not paged:  # the whole answer, exactly as before paging
        return data
    cut = slice((page - 1) * per_page, page * per_page)
    return {**data, **{name: data[name][cut] for name in COVERAGE_LISTS}, "page": page, "per_page": per_page,
            "totals": {name: len(data[name]) for name in COVERAGE_LISTS}}


@bp.get("/roadmap/scores")
@bp.doc(summary="Scores of current items, best first, each with its method, inputs and reason")
def get_scores():
    try:
        return service.scores(services())
    except ValueError as exc:  # FEEDBACK_SCORING or its weights are misconfigured: the server's setting, not a bug
        raise APIError(503, f"items cannot be scored until the server's setting is fixed: {exc}")


@bp.post("/match")
@bp.input(MatchArgs, location="query", arg_name="args")
@bp.input(MatchIn(many=True), location="json", validation=False, arg_name="body")
@bp.doc(summary='Match customer requests to roadmap items: a list of strings or {id, text} (or {"requests": '
                '[...]}), up to 1,000',
        responses={200: '{"results": [{"id", "verdict", "matches": [{"item_id", "title", "status", "score"}]}]}',
                   413: "more than 1,000 requests, or more than 20,000 characters of text together",
                   422: "empty or invalid requests, or min_score outside 0 to 1"})
def post_match(args, body):
    if isinstance(body, dict) and "requests" in body:
        body = body["requests"]
    if not isinstance(body, list) or not body:
        raise APIError(422, "expected a non-empty list of requests (strings or {\"id\", \"text\"})", {"field": "body"})
    if len(body) > MAX_MATCH_REQUESTS:
        raise APIError(413, f"{len(body)} requests; the limit is {MAX_MATCH_REQUESTS:,} per call",
                       {"limit": MAX_MATCH_REQUESTS})
    requests, errors = [], []
    for n, item in enumerate(body, start=1):
        request_or_error = _match_request(n, item)
        (errors if "reason" in request_or_error else requests).append(request_or_error)
    if errors:
        raise APIError(422, f"{len(errors)} invalid request(s)", {"errors": errors})
    total = sum(len(r["text"]) for r in requests)
    if total > MAX_MATCH_CHARS:
        raise APIError(413, f"the requests' text fields hold {total:,} characters together; the limit is "
                            f"{MAX_MATCH_CHARS:,} per call (split them over several calls)",
                       {"field": "text", "limit": MAX_MATCH_CHARS, "chars": total})
    return {"results": service.match_requests(services(), requests, min_score=args["min_score"])}


def _match_request(n: int, item) -> dict:
    """{"id", "text"} for the n-th request, or {"line", "field", "reason"}: the same field rules as MatchIn."""
    if isinstance(item, str):
        item = {"text": item}
    if not isinstance(item, dict):
        return {"line": n, "field": None, "reason": f"a request is a string or {{id, text}}, not {type(item).__name__}"}
    if isinstance(item.get("id"), int) and not isinstance(item.get("id"), bool):
        item = {**item, "id": str(item["id"])}  # a numeric id is fine: it is only echoed
    problems = MatchIn().validate(item)
    if problems:
        field, reasons = next(iter(problems.items()))
        return {"line": n, "field": None if field == "_schema" else field, "reason": " ".join(map(str, reasons))}
    if not item["text"].strip():
        return {"line": n, "field": "text", "reason": "a request needs non-empty text"}
    return {"id": item.get("id") or str(n), "text": item["text"]}


__all__ = ["bp", "init_app"]
