"""From the roadmap's Decision to the items a draft phrases: nothing here ranks items or decides a verdict.

The question is untrusted data: it is matched as written, fenced as data in any LLM prompt and never obeyed. Text
that looks like instructions only adds a warning to the draft.
"""
from __future__ import annotations

from ..roadmap import decision as decisions, service as roadmap
from . import checks
from .base import DraftItem

ALTERNATIVE_MIN = 0.3  # calibrated matcher score (0.5 = accepted) for a near miss worth naming internally


def match_question(services, text: str) -> dict:
    """{"decision", "verdict", "items": [DraftItem] (cited, best first), "alternatives", "score_context", "matches"}."""
    decision = decisions.decide(services, [{"id": "q", "text": text}])[0]
    scored = _scores(services)
    rows = _item_rows(services)
    items = [_draft_item(rows[r.item_id], scored, r.score) for r in decision.cited if r.item_id in rows]
    alternatives = ([_draft_item(rows[r.item_id], scored, r.score)
                     for r in decision.near_misses(ALTERNATIVE_MIN) if r.item_id in rows]
                    if decision.abstained else [])
    return {"decision": decision, "verdict": decision.verdict, "items": items, "alternatives": alternatives,
            "score_context": _score_context(scored),
            "shared_title_terms": checks.shared_title_terms(r.title for r in rows.values()),
            "matches": [r.to_dict() for r in decision.ranked if r.score >= decisions.ACCEPTED]}


def shared_title_terms(services) -> frozenset[str]:
    """Title terms two or more roadmap items share: they name no one item in a draft (`checks._named`)."""
    return checks.shared_title_terms(r.title for r in _item_rows(services).values())


def _item_rows(services) -> dict:
    with services.db.session() as session:
        rows = roadmap.load_items(session)
    return {r.id: r for r in rows}


def _scores(services) -> dict[str, dict]:
    """Each item's score with inputs and reason; an unscorable roadmap must not stop a draft."""
    try:
        return {r["item_id"]: r for r in roadmap.scores(services)["items"]}
    except ValueError:  # a bad FEEDBACK_SCORING setting: drafts still work, just without scores
        return {}


def _score_context(scored: dict[str, dict]) -> dict:
    """The score range of in-development and planned items: what a 'no' is measured against."""
    out = {}
    for status in ("in_progress", "planned"):
        values = [r["score"] for r in scored.values() if r.get("status") == status and r.get("score") is not None]
        if values:
            out[status] = [min(values), max(values)]
    return out


def _stated_reason(extra: dict | None) -> str | None:
    """The roadmap's own why-not, from a `reason` column (any case) kept as the item's extra data."""
    value = next((v for k, v in (extra or {}).items() if str(k).strip().lower() == "reason"), None)
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def _draft_item(row, scored: dict, match_score: float | None) -> DraftItem:
    s = scored.get(row.id)
    return DraftItem(
        id=row.id, title=row.title, description=row.description or "", status=row.status, release=row.release,
        goal=row.goal, workaround=row.workaround or None, reason=_stated_reason(row.extra), url=row.url,
        match_score=match_score,
        score={k: s.get(k) for k in ("score", "method", "inputs", "reason")} if s else None)
