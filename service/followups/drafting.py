"""A follow-up draft for one account, made and checked by the drafts pipeline.

The context holds the one item, its verdict (from its status), and only the account's own statements as evidence,
so a draft can quote no other account. The drafter is the one drafts use (the template, or the LLM when set up), and
drafts.pipeline.compose runs the same checks and falls back to the template draft on any problem: no second drafter.
"""
from __future__ import annotations

from ..drafts import checks, pipeline
from ..drafts.base import VERDICT_OF_STATUS, DraftContext, Evidence
from ..drafts.evidence import _quotable, known_names, names_in
from ..drafts.matching import _draft_item, _score_context, _scores, shared_title_terms

MAX_QUOTES = 2


def item_context(services, item_row, account: str, quotes: list[dict], audience: str = "customer") -> DraftContext:
    """A draft context about one item for one account; quotes: that account's [{"note_id", "text"}] only."""
    scored = _scores(services)
    item = _draft_item(item_row, scored, None)
    with services.db.session() as session:
        registry = known_names(services, session)
    evidence = [Evidence(note_id=q["note_id"], account=account, quote=q["text"], own=True)
                for q in quotes if _quotable(q["text"], []) and not names_in(q["text"], registry)][:MAX_QUOTES]
    question = f"What is the status of {item.title}?"
    names = names_in(" ".join([question] + [e.quote for e in evidence]), registry)
    return DraftContext(question=question, account=account, audience=audience, tone=None,
                        verdict=VERDICT_OF_STATUS[item.status], items=[item], evidence=evidence, demand=None,
                        alternatives=[], score_context=_score_context(scored), names=names,
                        shared_title_terms=shared_title_terms(services))


def draft_for(services, ctx: DraftContext) -> dict:
    """{"text", "verdict", "cited_item_ids", "checks", "mode", "warnings", "evidence", ...}: composed and checked."""
    result, problems = pipeline.compose(pipeline.default_drafter(services), ctx)
    return {"text": result.text, "verdict": ctx.verdict, "cited_item_ids": list(result.cited_item_ids),
            "checks": checks.report(result.text, problems), "mode": result.mode, "warnings": list(result.warnings),
            "prompt_version": result.prompt_version, "model": result.model,
            "evidence": [e.public() for e in ctx.evidence]}
