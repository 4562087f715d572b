"""A follow-up draft for one account, made and checked by the drafts pipeline.

The context holds the one item, its verdict (from its status), and only the account's own statements as evidence,
so a draft can quote no other account. The drafter is the one drafts use (the template, or the LLM when set up), and
drafts.pipeline.compose runs the same checks and falls back to the template draft on any problem: no second drafter.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..drafts import checks, pipeline
from ..drafts.base import VERDICT_OF_STATUS, DraftContext, Evidence
from ..drafts.evidence import _quotable, known_names, names_in
from ..drafts.matching import _draft_item, _score_context, _scores, shared_title_terms

MAX_QUOTES = 2


@dataclass(frozen=True)
class ItemBasis:
    """What every account's draft about one item shares: the item, the roadmap's scores, the names to redact, the
    title terms that name no one item and the drafter. Read once per list of accounts (four queries), not once per
    account (four queries each: 1,210 at 300 accounts)."""
    item_row: object
    scored: dict
    registry: set
    shared_title_terms: frozenset
    drafter: object


def item_basis(services, item_row) -> ItemBasis:
    with services.db.session() as session:
        registry = known_names(services, session)
    return ItemBasis(item_row=item_row, scored=_scores(services), registry=registry,
                     shared_title_terms=shared_title_terms(services), drafter=pipeline.default_drafter(services))


def item_context(basis: ItemBasis, account: str, quotes: list[dict], audience: str = "customer") -> DraftContext:
    """A draft context about the basis' item for one account; quotes: that account's [{"note_id", "text"}] only."""
    item = _draft_item(basis.item_row, basis.scored, None)
    registry = basis.registry
    evidence = [Evidence(note_id=q["note_id"], account=account, quote=q["text"], own=True)
                for q in quotes if _quotable(q["text"], []) and not names_in(q["text"], registry)][:MAX_QUOTES]
    question = f"What is the status of {item.title}?"
    names = names_in(" ".join([question] + [e.quote for e in evidence]), registry)
    return DraftContext(question=question, account=account, audience=audience, tone=None,
                        verdict=VERDICT_OF_STATUS[item.status], items=[item], evidence=evidence, demand=None,
                        alternatives=[], score_context=_score_context(basis.scored), names=names,
                        shared_title_terms=basis.shared_title_terms)


def draft_for(basis: ItemBasis, account: str, quotes: list[dict]) -> dict:
    """{"text", "verdict", "cited_item_ids", "checks", "mode", "warnings", "evidence", ...}: composed and checked."""
    ctx = item_context(basis, account, quotes)
    result, problems = pipeline.compose(basis.drafter, ctx)
    return {"text": result.text, "verdict": ctx.verdict, "cited_item_ids": list(result.cited_item_ids),
            "checks": checks.report(result.text, problems), "mode": result.mode, "warnings": list(result.warnings),
            "prompt_version": result.prompt_version, "model": result.model,
            "evidence": [e.public() for e in ctx.evidence]}
