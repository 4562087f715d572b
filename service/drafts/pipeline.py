"""Question in, stored draft out: match (code decides) -> evidence -> compose (a drafter phrases) -> check -> store.

Questions and notes are untrusted data: a question is matched as written, fenced as data in any LLM prompt and never
obeyed (instruction-like text only adds a warning); whatever a drafter writes is checked against the decision before it is stored, and a draft that fails the
checks is replaced by the template draft rather than shown.
"""
from __future__ import annotations

import logging
import os
import time

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..accounts import canonical, spellings
from ..models import Draft, DraftFeedback, row_number
from ..roadmap.decision import INSTRUCTION_LIKE
from . import checks
from .base import AUDIENCES, TONES, DraftContext, DraftResult
from .evidence import gather
from .matching import match_question
from .template import TemplateDrafter

log = logging.getLogger(__name__)
MAX_QUESTION_CHARS = 4000
MAX_ACCOUNT_CHARS = 200
MAX_FEEDBACK_CHARS = 20_000


class DraftInputError(ValueError):
    """The request cannot be drafted as given (the API answers 422, the CLI exits 2)."""


class DraftNotFound(LookupError):
    pass


def validate_input(question, account=None, audience="customer", tone=None) -> tuple:
    if question is not None and not isinstance(question, str):
        raise DraftInputError(f"question must be a string, got {type(question).__name__}")
    if question is None or not question.strip():
        raise DraftInputError("question is required")
    if len(question) > MAX_QUESTION_CHARS:
        raise DraftInputError(f"question has {len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,}")
    if "\x00" in question:
        raise DraftInputError("question contains a NUL byte")
    if account is not None and (not isinstance(account, str) or len(account) > MAX_ACCOUNT_CHARS):
        raise DraftInputError(f"account must be a string of at most {MAX_ACCOUNT_CHARS} characters")
    audience = audience or "customer"
    if audience not in AUDIENCES:
        raise DraftInputError(f"audience must be one of {', '.join(AUDIENCES)}")
    # Tone reaches the model's trusted parameters block, so it is a fixed vocabulary, never free text.
    if tone not in (None, "") and tone not in TONES:
        raise DraftInputError(f"tone must be one of {', '.join(TONES)}")
    return question.strip(), (account or "").strip() or None, audience, tone or None


def default_drafter(services):
    """The LLM drafter when an endpoint is configured and drafts may use it; else the template."""
    flag = getattr(services.config, "DRAFTS_LLM", None)  # a test or an embedding app may set it on the config
    if flag is None:
        flag = os.environ.get("FEEDBACK_DRAFTS_LLM", "on")
    if str(flag).lower() in ("0", "off", "false", "no") or services.llm is None:
        return TemplateDrafter()
    from .llm_drafter import LLMDrafter

    return LLMDrafter(services.llm)


def build_context(services, question: str, account, audience: str, tone) -> tuple[DraftContext, dict]:
    decision = match_question(services, question)
    found = gather(services, question, account, decision["items"])
    ctx = DraftContext(question=question, account=account, audience=audience, tone=tone, verdict=decision["verdict"],
                       items=decision["items"], evidence=found["evidence"], demand=found["demand"],
                       alternatives=decision["alternatives"], score_context=decision["score_context"],
                       names=found["names"], shared_title_terms=decision["shared_title_terms"])
    return ctx, decision


def compose(drafter, ctx: DraftContext) -> tuple[DraftResult, list[str]]:
    """Run the drafter and the final checks; anything that fails becomes the template draft plus a warning."""
    try:
        result = drafter.draft(ctx)
    except Exception:  # a drafter bug must cost the rep a nicer wording, not the answer
        log.exception("drafter %s failed; using the template", getattr(drafter, "name", drafter))
        result = TemplateDrafter().draft(ctx)
        result.warnings.append("the drafter failed; this is the template draft")
    problems = checks.check_draft(result.text, result.cited_item_ids, result.quotes, ctx)
    if problems and result.mode != TemplateDrafter.name:
        warnings = result.warnings + [f"the {result.mode} draft failed the checks ({'; '.join(problems)}); "
                                      "this is the template draft"]
        result = TemplateDrafter().draft(ctx)
        result.warnings = warnings + result.warnings
        problems = checks.check_draft(result.text, result.cited_item_ids, result.quotes, ctx)
    if problems:
        result.warnings.append("check before sending: " + "; ".join(problems))
    return result, problems


def create_draft(services, question, account=None, audience="customer", tone=None, drafter=None,
                 request_id=None) -> dict:
    question, account, audience, tone = validate_input(question, account, audience, tone)
    if account:  # "ACME corp." asks as the stored "Acme Corp": its own quotes, its brief, its drafts list
        with services.db.session() as session:
            account = canonical(session, account)
    start = time.monotonic()
    ctx, decision = build_context(services, question, account, audience, tone)
    result, problems = compose(drafter or default_drafter(services), ctx)
    warnings = decision["decision"].warnings + list(result.warnings)
    latency_ms = round((time.monotonic() - start) * 1000, 1)
    draft = Draft(
        request_id=None if request_id is None else str(request_id)[:200], question=question, account=account,
        audience=audience, tone=tone, verdict=ctx.verdict, item_ids=list(result.cited_item_ids),
        evidence=[e.public() for e in ctx.evidence], text=result.text, mode=result.mode,
        prompt_version=result.prompt_version, model=result.model, latency_ms=latency_ms, warnings=warnings,
        checks=checks.report(result.text, problems),
        extra={"matches": decision["matches"], "alternatives": [a.id for a in ctx.alternatives],
               "demand": ctx.demand, "instruction_like": INSTRUCTION_LIKE in decision["decision"].warnings,
               "llm_latency_ms": result.latency_ms})
    with services.db.transaction() as session:
        session.add(draft)
        session.flush()
        return draft_dict(draft)


def draft_many(services, requests: list[dict], drafter=None) -> list[dict]:
    """One result per request, in order; a bad row yields {"id", "request_id", "error"} instead of stopping the batch.

    A request's own "id" (a line of a .jsonl file) comes back as "id" and "request_id"; the stored draft's row id
    is "draft_id". Without an id of its own, "request_id" is the line or position and "id" the draft's row id."""
    out = []
    for n, req in enumerate(requests, start=1):
        own = isinstance(req, dict) and req.get("id") not in (None, "")
        rid = req.get("request_id", req["id"] if own else n) if isinstance(req, dict) else n
        try:
            if not isinstance(req, dict):
                raise DraftInputError("each request must be an object with a question")
            row = create_draft(services, req.get("question") or req.get("text"), req.get("account"),
                               req.get("audience") or "customer", req.get("tone"), drafter=drafter, request_id=rid)
            out.append({**row, "id": req["id"]} if own else row)
        except DraftInputError as exc:  # request_id as stored with a draft: the same type on every row
            out.append({"id": req["id"] if own else None, "request_id": str(rid)[:200], "error": str(exc)})
    return out


def draft_dict(d: Draft, *, feedback: bool = False) -> dict:
    out = {
        "id": d.id, "draft_id": d.id, "request_id": d.request_id, "created_at": d.created_at.isoformat() if d.created_at else None,
        "question": d.question, "account": d.account, "audience": d.audience, "tone": d.tone,
        "verdict": d.verdict, "cited_item_ids": list(d.item_ids or []), "text": d.text,
        "evidence": list(d.evidence or []), "mode": d.mode, "prompt_version": d.prompt_version, "model": d.model,
        "latency_ms": d.latency_ms, "warnings": list(d.warnings or []), "checks": d.checks or {},
        "alternatives": list((d.extra or {}).get("alternatives") or []),
    }
    if feedback:
        out["feedback"] = [feedback_dict(f) for f in d.feedback]
    return out


def feedback_dict(f: DraftFeedback) -> dict:
    return {"id": f.id, "draft_id": f.draft_id, "rating": int(f.rating) if f.rating.isdigit() else f.rating,
            "edited_text": f.edited_text, "comment": f.comment, "by": f.author, "created_at": f.created_at.isoformat()}


def get_draft(services, draft_id) -> dict:
    with services.db.session() as session:
        draft = session.get(Draft, _int_id(draft_id), options=[selectinload(Draft.feedback)])
        if draft is None:
            raise DraftNotFound(f"no draft with id {draft_id!r}")
        return draft_dict(draft, feedback=True)


def list_drafts(services, *, page: int = 1, per_page: int = 20, account: str | None = None) -> tuple[list[dict], int]:
    """Most recent first."""
    with services.db.session() as session:
        query = select(Draft)
        if account:
            query = query.where(Draft.account.in_(spellings(session, Draft.account, account)))
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        rows = session.scalars(query.order_by(Draft.id.desc()).offset((page - 1) * per_page).limit(per_page)).all()
        return [draft_dict(d) for d in rows], total


def normalize_rating(rating) -> str:
    if isinstance(rating, bool):
        raise DraftInputError('rating must be "up", "down" or a whole number from 1 to 5')
    if isinstance(rating, str) and rating.strip().lower() in ("up", "down"):
        return rating.strip().lower()
    if isinstance(rating, (int, str)) and str(rating).strip() in ("1", "2", "3", "4", "5"):
        return str(rating).strip()
    raise DraftInputError('rating must be "up", "down" or a whole number from 1 to 5')


def save_feedback(services, draft_id, rating, edited_text=None, comment=None, author: str | None = None) -> dict:
    """Store a rating (and the text actually sent); `author` is who sent it: the caller, never a field of a body."""
    rating = normalize_rating(rating)
    for name, value in (("edited_text", edited_text), ("comment", comment)):
        if value is not None and (not isinstance(value, str) or len(value) > MAX_FEEDBACK_CHARS):
            raise DraftInputError(f"{name} must be a string of at most {MAX_FEEDBACK_CHARS:,} characters")
    with services.db.transaction() as session:
        if session.get(Draft, _int_id(draft_id)) is None:
            raise DraftNotFound(f"no draft with id {draft_id!r}")
        row = DraftFeedback(draft_id=_int_id(draft_id), rating=rating, edited_text=edited_text or None,
                            comment=comment or None, author=(author or None) and author[:200])
        session.add(row)
        session.flush()
        return feedback_dict(row)


def edit_problems(services, draft: dict, text: str) -> list[str]:
    """The drafts' own checks (dates, promises, availability, quotes, names) run on a rep's version of a stored
    draft (`get_draft`'s dict): the problems it adds to the draft's own text, judged against the items the draft
    cites as they are now. Length is not checked: the rep's version may be as long as they need."""
    from ..roadmap import service as roadmap
    from .base import Evidence
    from .matching import _draft_item, _scores, shared_title_terms

    with services.db.session() as session:
        rows = {r.id: r for r in roadmap.load_items(session, include_archived=True)}
    scored = _scores(services) if rows else {}
    items = [_draft_item(rows[i], scored, None) for i in draft.get("cited_item_ids") or [] if i in rows]
    alternatives = [_draft_item(rows[i], scored, None) for i in draft.get("alternatives") or [] if i in rows]
    evidence = [Evidence(note_id=e.get("note_id"), account=e.get("account"), quote=e.get("quote") or "",
                         own=bool(draft["account"]) and e.get("account") == draft["account"])
                for e in draft.get("evidence") or []]
    ctx = DraftContext(question=draft["question"], account=draft["account"], audience=draft["audience"], tone=None,
                       verdict=draft["verdict"], items=items, evidence=evidence, alternatives=alternatives,
                       shared_title_terms=shared_title_terms(services))

    def problems(version: str) -> list[str]:
        found = checks.check_draft(version, [i.id for i in items], checks.quoted_spans(version), ctx)
        return [p for p in found if not p.startswith("too long")]

    already = set(problems(draft["text"]))
    return [p for p in problems(text) if p not in already]


def _int_id(draft_id) -> int:
    number = row_number(draft_id)
    if number is None:  # not digits, or beyond any row id: no such draft
        raise DraftNotFound(f"no draft with id {draft_id!r}")
    return number
