"""Follow-ups and account briefs API: who asked for an item, grounded drafts for them, and a brief per account."""
from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.validators import Length
from flask import request

from ..auth import audit_this, principal
from ..erase import fingerprint
from ..followups.brief import brief
from ..followups.refusals import asking_again, not_asking
from ..followups.service import FollowupInputError, ItemArchived, followups, mark_told, parse_since, unmark_told
from ..ingest.validate import year_problem
from ..notes import NotFound
from ..roadmap.history import item_history
from ..services import services
from .errors import APIError
from .fields import Body, Text
from .hygiene import check_body, query_flag
from .openapi import query_parameters
from .queries import BriefQuery, FollowupsQuery

bp = APIBlueprint("followups", __name__, url_prefix="/api/v1", tag="Follow-ups")
bp.before_request(check_body)  # JSON, parsed and within limits, once the caller is known


def init_app(app) -> None:
    app.register_blueprint(bp)


MAX_TOLD_NOTE_CHARS = 2000  # a line or two about the conversation; it is shown with every follow-up list


class NotAskingIn(Body):
    account = Text(required=True, metadata={"description": "the account whose quotes are not about the item"})


class ToldIn(Body):
    """Who told them is the caller (the token or the signed-in user), never a field of the body."""
    account = Text(required=True, metadata={"description": "the account that was told about the item's status"})
    note = Text(allow_none=True, validate=Length(max=MAX_TOLD_NOTE_CHARS, error="is longer than {max:,} characters"),
                metadata={"description": f"what was said, up to {MAX_TOLD_NOTE_CHARS:,} characters"})


def _since():
    try:
        since = parse_since(request.args.get("since"))
    except FollowupInputError as exc:
        raise APIError(400, str(exc), {"field": "since"})
    if since is not None and (problem := year_problem(since, "since")):
        raise APIError(400, problem, {"field": "since"})
    return since


@bp.get("/roadmap/items/<item_id>/history")
@bp.doc(summary="An item's recorded status and release changes, oldest first", responses={404: "no such item"})
def get_history(item_id: str):
    try:
        return {"item_id": item_id, "changes": item_history(services(), item_id)}
    except NotFound as exc:
        raise APIError(404, str(exc))


@bp.get("/roadmap/items/<item_id>/followups")
@query_parameters(FollowupsQuery)
@bp.doc(summary="Accounts that asked for an item, ordered by ARR then asks, each with its own quotes and a checked "
                "follow-up draft. ?since=YYYY-MM-DD keeps notes on or after it; ?drafts=false lists accounts only",
        responses={400: "bad since or drafts", 404: "no such item"})
def get_followups(item_id: str):
    since = _since()
    drafts = query_flag("drafts", default=True)
    try:
        return followups(services(), item_id, since=since, drafts=drafts)
    except NotFound as exc:
        raise APIError(404, str(exc))


@bp.post("/roadmap/items/<item_id>/followups/told")
@bp.input(ToldIn, location="json", arg_name="body")
@bp.doc(summary="Mark an account as told about the item's current status (stored, shown, left out next time); "
                "told_by is the caller",
        responses={201: "marked", 200: "already marked", 404: "no such item, or the account did not ask",
                   409: "the item is archived (off the roadmap)", 422: "bad account or note, or an unknown field"})
def post_told(item_id: str, body):
    try:  # who told them is whose token it is (or who is signed in), never what the body claims
        mark = mark_told(services(), item_id, body["account"], told_by=principal().actor, note=body.get("note"))
    except FollowupInputError as exc:
        raise APIError(422, str(exc), {"field": "account"})
    except NotFound as exc:
        raise APIError(404, str(exc))
    except ItemArchived as exc:
        raise APIError(409, str(exc))
    audit_this(unchanged=not mark["created"], account=fingerprint(mark["account"]))
    return mark, 201 if mark["created"] else 200


@bp.delete("/roadmap/items/<item_id>/followups/told")
@bp.input(ToldIn, location="json", arg_name="body")
@bp.doc(summary="Undo a told mark made by mistake: the account is listed again and the draft stored as sent with "
                "the mark is deleted", responses={200: "unmarked", 404: "no such item, or no mark for the account",
                                                  422: "bad account, or an unknown field"})
def delete_told(item_id: str, body):
    try:
        undone = unmark_told(services(), item_id, body["account"])
    except FollowupInputError as exc:
        raise APIError(422, str(exc), {"field": "account"})
    except NotFound as exc:
        raise APIError(404, str(exc))
    audit_this(account=fingerprint(body["account"].strip()))
    return undone


@bp.post("/roadmap/items/<item_id>/followups/not-asking")
@bp.input(NotAskingIn, location="json", arg_name="body")
@bp.doc(summary="Say an account's quotes are not about the item: its statements matched to the item are rejected for "
                "it, so they and close copies in other accounts' notes stop counting as asks; DELETE takes it back",
        responses={201: "rejected", 200: "already rejected", 404: "no such item, or none of the account's statements "
                   "is matched to it", 422: "bad account, or an unknown field"})
def post_not_asking(item_id: str, body):
    try:
        done = not_asking(services(), item_id, body["account"], by=principal().actor)
    except FollowupInputError as exc:
        raise APIError(422, str(exc), {"field": "account"})
    except NotFound as exc:
        raise APIError(404, str(exc))
    audit_this(unchanged=not done["rejected"], account=fingerprint(done["account"]), statements=done["statements"])
    return {k: v for k, v in done.items() if k != "account"} | {"account": done["account"]}, \
        201 if done["rejected"] else 200


@bp.delete("/roadmap/items/<item_id>/followups/not-asking")
@bp.input(NotAskingIn, location="json", arg_name="body")
@bp.doc(summary="Take back \"not asking for this\": the account's statements count as asks for the item again",
        responses={200: "taken back", 404: "no such item, or nothing rejected for the account",
                   422: "bad account, or an unknown field"})
def delete_not_asking(item_id: str, body):
    try:
        done = asking_again(services(), item_id, body["account"])
    except FollowupInputError as exc:
        raise APIError(422, str(exc), {"field": "account"})
    except NotFound as exc:
        raise APIError(404, str(exc))
    audit_this(account=fingerprint(done["account"]))
    return done


@bp.get("/accounts/brief")
@bp.get("/accounts/<path:name>/brief")
@query_parameters(BriefQuery)
@bp.doc(summary="One account's pains by theme with the roadmap's Decision for each, items moved since ?since= "
                "(default: its last note), open asks and drafts already made. /accounts/brief?account=NAME takes "
                "any name; in the path, a name \".\" or \"..\" or one with \"/\" at either end does not arrive as "
                "written", responses={400: "bad since, or no account given", 404: "no such account"})
def get_brief(name: str | None = None):
    if name is None:
        name = request.args.get("account")
        if not name or not name.strip():
            raise APIError(400, "account is required: /api/v1/accounts/brief?account=NAME", {"field": "account"})
    since = _since()
    try:
        return brief(services(), name, since=since)
    except NotFound as exc:
        raise APIError(404, str(exc))
