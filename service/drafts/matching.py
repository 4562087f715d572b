"""From a question to the decision a draft phrases: the verdict and the items, decided by the roadmap matcher.

The question is untrusted. Sentences that address the assistant instead of asking something ("ignore previous
instructions...", "[admin note: ...]", "### assistant: ...") are dropped before matching, so they can neither move
the verdict nor reach a model. They are never obeyed: nothing downstream reads instructions from the question.
"""
from __future__ import annotations

from ..roadmap import asked, service as roadmap
from ..untrusted import looks_like_instructions, sanitize_question  # noqa: F401 (re-exported)
from .base import NOT_ON_ROADMAP, VERDICT_OF_STATUS, DraftItem

MAX_ITEMS = 2  # a draft that cites more than two items stops being an answer
ALTERNATIVE_MIN = 0.3  # calibrated matcher score (0.5 = accepted) for a near miss worth naming internally
ACCEPTED = 0.5  # the matcher's acceptance point

def match_question(services, text: str) -> dict:
    """{"verdict", "items": [DraftItem] (cited, best first), "alternatives": [DraftItem], "score_context", "matches"}."""
    # One matcher call gives the decision and the near misses (scores between ALTERNATIVE_MIN and the 0.5 cut).
    result = roadmap.match_requests(services, [{"id": "q", "text": text}], min_score=ALTERNATIVE_MIN)[0]
    verdict = result["verdict"]
    matches = [m for m in result["matches"] if m["score"] >= ACCEPTED]
    scored = _scores(services)
    rows = _item_rows(services)
    chosen = _in_asked_order(text, _cited(text, matches, rows), rows) if verdict != NOT_ON_ROADMAP else []
    items = [_draft_item(rows[m["item_id"]], scored, m["score"]) for m in chosen if m["item_id"] in rows]
    if items:  # the answer leads with what the rep asked about first
        verdict = VERDICT_OF_STATUS.get(items[0].status, verdict)
    alternatives = []
    if verdict == NOT_ON_ROADMAP:
        near = [(m["item_id"], m["score"]) for m in result["matches"]][:2]
        alternatives = [_draft_item(rows[i], scored, s) for i, s in near if i in rows]
    return {"verdict": verdict, "items": items, "alternatives": alternatives,
            "score_context": _score_context(scored), "matches": matches}


def _cited(question: str, matches: list[dict], rows: dict) -> list[dict]:
    """The best match, plus a runner-up only when the question names something only the runner-up covers.

    Accepted runners-up are often near-duplicates of the best item (the Excel export next to the CSV one); citing
    them would put claims in the draft that nobody asked about. A term the question shares with the runner-up and
    not with the best item is a sign the rep really asked about both.
    """
    if not matches:
        return []
    chosen = [matches[0]]
    asked = _terms(question)
    best = rows.get(matches[0]["item_id"])
    best_terms = _terms(_item_text(best)) if best else set()
    for m in matches[1:]:
        row = rows.get(m["item_id"])
        if len(chosen) >= MAX_ITEMS or row is None:
            break
        if (_terms(f"{row.title} {' '.join(row.tags or [])}") - best_terms) & asked:
            chosen.append(m)
    return chosen


def _in_asked_order(question: str, chosen: list[dict], rows: dict) -> list[dict]:
    """Two cited items in the order the question names them ("CSV and Excel": CSV first); the matcher's order when
    the question does not name each of them."""
    if len(chosen) < 2 or any(m["item_id"] not in rows for m in chosen):
        return chosen
    order = asked.in_asked_order(question, [asked.own_terms(rows[m["item_id"]].title, rows[m["item_id"]].tags)
                                            for m in chosen])
    return chosen if order is None else [chosen[i] for i in order]


_terms = asked.terms


def _item_text(row) -> str:
    return f"{row.title} {row.description or ''} {' '.join(row.tags or [])}"


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


def _draft_item(row, scored: dict, match_score: float | None) -> DraftItem:
    s = scored.get(row.id)
    return DraftItem(
        id=row.id, title=row.title, description=row.description or "", status=row.status, release=row.release,
        goal=row.goal, workaround=row.workaround or None, url=row.url, match_score=match_score,
        score={k: s.get(k) for k in ("score", "method", "inputs", "reason")} if s else None)
