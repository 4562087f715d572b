"""Drafts API: ask how the roadmap addresses something, read past drafts, and rate them."""
from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.fields import Raw
from flask import request

from ..auth import principal
from ..drafts.base import AUDIENCES, TONES
from ..drafts.pipeline import (MAX_QUESTION_CHARS, DraftInputError, DraftNotFound, create_draft, get_draft,
                               list_drafts, save_feedback)
from ..drafts.template import TemplateDrafter
from ..services import services
from .errors import APIError
from .fields import COMMON, Body, Text
from .hygiene import MAX_PAGE, check_body, query_int
from .openapi import query_parameters
from .queries import MAX_PER_PAGE, DraftsQuery

DRAFTERS = ("auto", "llm", "template")
bp = APIBlueprint("drafts", __name__, url_prefix="/api/v1", tag="Drafts")
bp.before_request(check_body)  # JSON, parsed and within limits, once the caller is known


class DraftIn(Body):
    question = Text(required=True,
                    metadata={"description": f"the rep's question, up to {MAX_QUESTION_CHARS:,} characters"})
    account = Text(allow_none=True, metadata={"description": "the account asking; its own notes are quoted first"})
    audience = Text(allow_none=True, metadata={"enum": list(AUDIENCES), "default": "customer"})
    tone = Text(allow_none=True, metadata={"enum": list(TONES)})
    drafter = Text(allow_none=True, metadata={"enum": list(DRAFTERS), "default": "auto",
                                              "description": "auto: the LLM when configured and within the caller's "
                                                             "daily budget, else the template; llm: 429 when the "
                                                             "budget is spent; template"})


class FeedbackIn(Body):
    rating = Raw(required=True, error_messages=COMMON,
                 metadata={"description": '"up", "down" or a whole number from 1 to 5'})
    edited_text = Text(allow_none=True, metadata={"description": "the text the rep actually sent"})
    comment = Text(allow_none=True)


def init_app(app) -> None:
    app.register_blueprint(bp)


@bp.post("/drafts")
@bp.input(DraftIn, location="json", arg_name="body")
@bp.doc(summary="Draft a grounded answer: the verdict comes from the roadmap matcher, the wording from a drafter",
        responses={201: "the stored draft", 400: "malformed JSON",
                   422: "missing or oversized question, bad audience, tone or drafter (llm without an endpoint)",
                   429: "drafter llm: the caller's daily LLM budget is spent (Retry-After)"})
def post_draft(body):
    try:
        return create_draft(services(), body.get("question"), body.get("account"), body.get("audience") or "customer",
                            body.get("tone"), drafter=_drafter(body.get("drafter") or "auto")), 201
    except DraftInputError as exc:
        raise _invalid(exc, DraftIn)


def _invalid(exc: DraftInputError, schema) -> APIError:
    """422 naming the field in details.field: the pipeline's messages start with it ("question has 5,000
    characters; the limit is 4,000"); a message about no one field of the body has none."""
    name = str(exc).split(" ", 1)[0]
    return APIError(422, str(exc), {"field": name} if name in schema._declared_fields else None)


def _drafter(choice: str):
    """None (the default choice), the template, or the LLM drafter when asked for and still affordable today."""
    if choice not in DRAFTERS:
        raise APIError(422, f"drafter must be one of {', '.join(DRAFTERS)}", {"field": "drafter"})
    if choice == "template":
        return TemplateDrafter()
    llm = services().llm
    if choice == "llm" and llm is None:
        raise APIError(422, "drafter llm needs an LLM endpoint and none is configured (OPENAI_BASE_URL and "
                            "FEEDBACK_LLM_MODEL); use auto or template", {"field": "drafter"})
    budget = getattr(llm, "budget", None)
    if choice == "llm" and budget is not None and budget.spent():
        error = APIError(429, budget.message(), {"field": "drafter", "budget": budget.daily})
        error.headers = {"Retry-After": str(budget.retry_after())}
        raise error
    if choice == "llm":
        from ..drafts.llm_drafter import LLMDrafter

        return LLMDrafter(llm)
    return None


@bp.get("/drafts")
@query_parameters(DraftsQuery)
@bp.doc(summary="Recent drafts, newest first. Filters: account; page, per_page (<= 200)")
def get_drafts():
    page = query_int("page", 1, 1, MAX_PAGE)
    per_page = query_int("per_page", 20, 1, MAX_PER_PAGE)
    items, total = list_drafts(services(), page=page, per_page=per_page, account=request.args.get("account"))
    return {"items": items, "page": page, "per_page": per_page, "total": total}


@bp.get("/drafts/<draft_id>")
@bp.doc(summary="One draft with its evidence, checks and feedback", responses={404: "no such draft"})
def get_one(draft_id: str):
    try:
        return get_draft(services(), draft_id)
    except DraftNotFound as exc:
        raise APIError(404, str(exc))


@bp.post("/drafts/<draft_id>/feedback")
@bp.input(FeedbackIn, location="json", arg_name="body")
@bp.doc(summary="Rate a draft (up/down or 1-5), optionally with the text that was actually sent",
        responses={201: "stored", 404: "no such draft", 422: "bad rating or text"})
def post_feedback(draft_id: str, body):
    try:
        return save_feedback(services(), draft_id, body["rating"], body.get("edited_text"), body.get("comment"),
                             author=principal().actor if principal() else None), 201
    except DraftNotFound as exc:
        raise APIError(404, str(exc))
    except DraftInputError as exc:
        raise _invalid(exc, FeedbackIn)
