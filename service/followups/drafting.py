"""A follow-up or brief draft for one account, made and checked by the drafts pipeline.

The context holds the one item, its verdict (from its status), and only the account's own statements as evidence,
so a draft can quote no other account. The drafter is the configured one (the LLM when set up), except that the
offline default words an update ("an update on something your team raised") rather than an answer to a question;
either way drafts.pipeline.compose runs the same checks and falls back to the template draft on any problem.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..drafts import checks, pipeline, template
from ..drafts.base import VERDICT_OF_STATUS, DraftContext, DraftResult, Evidence
from ..drafts.evidence import _quotable, known_names, names_in
from ..drafts.matching import _draft_item, _score_context, _scores

VERSION = "followup-v1-" + hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:8]
MAX_QUOTES = 2


class FollowupDrafter:
    """The offline default: the template's status wording after an update-style opening."""

    name = "followup-template"

    def draft(self, ctx: DraftContext) -> DraftResult:
        text, quotes, warnings = template._fit(_parts, ctx)
        return DraftResult(text=text, cited_item_ids=ctx.item_ids, quotes=quotes, mode=self.name,
                           prompt_version=VERSION, model=None, warnings=warnings, latency_ms=0.0)


def _parts(ctx: DraftContext, with_quote: bool) -> list[tuple]:
    own = ctx.own_evidence
    opening = "A quick update on something your team raised with us."
    parts = [(f'{opening} From our notes: "{own[0].quote.strip()}"', 0, [own[0].quote.strip()])
             if with_quote and own else (opening, 0, [])]
    item = ctx.items[0]
    parts += [(s, 0 if k == 0 else 2, []) for k, s in enumerate(template._status_sentences(item, ctx.score_context))]
    why = template._goal_sentence(item)
    if why:
        parts.append((why, 1, []))
    parts.append((template._next_step(ctx.verdict), 0, []))
    return parts


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
                        alternatives=[], score_context=_score_context(scored), names=names)


def draft_for(services, ctx: DraftContext) -> dict:
    """{"text", "verdict", "cited_item_ids", "checks", "mode", "warnings", "quotes"}: composed and checked."""
    drafter = pipeline.default_drafter(services)
    if isinstance(drafter, template.TemplateDrafter):
        drafter = FollowupDrafter()
    result, problems = pipeline.compose(drafter, ctx)
    return {"text": result.text, "verdict": ctx.verdict, "cited_item_ids": list(result.cited_item_ids),
            "checks": checks.report(result.text, problems), "mode": result.mode, "warnings": list(result.warnings),
            "prompt_version": result.prompt_version, "model": result.model,
            "evidence": [e.public() for e in ctx.evidence]}
