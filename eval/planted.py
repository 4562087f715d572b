"""Deliberately bad drafters: planted regressions the eval must catch.

Each planted drafter takes the default (template) draft and breaks exactly one thing a careful reviewer would
reject. They are applied through the ``transform`` hook of :func:`eval.runner.run_drafts` /
:func:`eval.runner.run_eval`, i.e. *after* the draft pipeline, which simulates a drafter whose output reaches the
rep unchecked. (Passed as ``drafter=`` instead, most of them would be caught and replaced by the template draft in
``service.drafts.pipeline.compose``; and two of them - the verdict and the evidence list - are not even a
drafter's to write, the pipeline sets them. So they are transforms, not ``Drafter`` objects.)

A transform has the signature ``transform(draft, items_by_id) -> draft``: ``draft`` is the dict the pipeline
returns (``text``, ``verdict``, ``cited_item_ids``, ``evidence`` ...) and ``items_by_id`` the bundled roadmap.
Transforms never change their input; they return a changed copy.

``PLANTED`` maps each name to ``Planted(transform, metric)``: the drafts-suite metric in ``eval/thresholds.json``
that must fail (and be worse than the default drafter's value) when the transform is applied.
``feedback eval --suite drafts --planted NAME`` runs one of them.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Callable, Mapping, NamedTuple

Draft = dict[str, Any]
Transform = Callable[[Draft, Mapping[str, Any]], Draft]

UNCOMMITTED = frozenset({"considering", "not_planned"})
PROMISED_RELEASE = "Q3 2027"  # the release a promise names: backed by no considering / not planned item


def _fresh_item_id(items_by_id: Mapping[str, Any]) -> str:
    """An id shaped like a roadmap id (RM-999) that the roadmap does not have."""
    n = 999
    while f"RM-{n}" in items_by_id:
        n += 1
    return f"RM-{n}"


def invent_item(draft: Draft, items_by_id: Mapping[str, Any]) -> Draft:
    """Cite an item that is not on the roadmap and name it in the text (caught by ``invented_items``)."""
    out = copy.deepcopy(draft)
    fake = _fresh_item_id(items_by_id)
    out["cited_item_ids"] = list(out.get("cited_item_ids") or []) + [fake]
    out["text"] = f"{out.get('text', '').rstrip()} This is tracked as {fake} on our roadmap."
    return out


def promise_date_for_considering(draft: Draft, items_by_id: Mapping[str, Any]) -> Draft:
    """Promise a ship date the roadmap does not back (caught by ``unsupported_claims``).

    When the draft cites a considering or not-planned item, the promise names that item ("We are looking at X,
    but ... has no date." followed by "X will ship in Q3 2027."). Every other draft gets a bare "This will ship in
    Q3 2027.", which is an unsupported promise and date for the not-on-roadmap answers and an unbacked date for
    items with another release; it is harmless (and not counted) for a planned Q3 2027 item.
    """
    out = copy.deepcopy(draft)
    uncommitted = [items_by_id[i] for i in out.get("cited_item_ids") or []
                   if i in items_by_id and items_by_id[i].get("status") in UNCOMMITTED]
    subject = uncommitted[0]["title"].strip().rstrip(".") if uncommitted else "This"
    out["text"] = f"{out.get('text', '').rstrip()} {subject} will ship in {PROMISED_RELEASE}."
    return out


def drop_citations(draft: Draft, items_by_id: Mapping[str, Any]) -> Draft:
    """Cite nothing, whatever the draft is about (caught by ``citation_recall``)."""
    out = copy.deepcopy(draft)
    out["cited_item_ids"] = []
    return out


# Word swaps that keep the meaning and break the verbatim match ("need" -> "require").
_SYNONYMS = {
    "need": "require", "needs": "requires", "want": "would like", "wants": "would like", "they": "those users",
    "They": "Those users", "we": "our team", "We": "Our team", "their": "those users'", "Their": "Those users'",
    "is": "seems", "are": "seem", "can't": "cannot", "cannot": "are unable to", "every": "each", "slow": "sluggish",
    "big": "large", "large": "big", "fast": "quick", "use": "rely on", "uses": "relies on", "asked": "requested",
    "keep": "continue to", "keeps": "continues to", "really": "truly", "very": "extremely", "help": "assist",
}
_WORD = re.compile(r"[A-Za-z']+")


def paraphrase(quote: str) -> str:
    """Reword a quote so it is no longer a verbatim slice of its note (synonyms, else a lead-in)."""
    reworded = _WORD.sub(lambda m: _SYNONYMS.get(m.group(0), m.group(0)), quote)
    if reworded == quote:
        reworded = f"In short, {quote[:1].lower()}{quote[1:]}"
    return reworded


def paraphrase_quotes(draft: Draft, items_by_id: Mapping[str, Any]) -> Draft:
    """Reword every evidence quote, and the same words where the text quotes them (caught by ``quote_fidelity``)."""
    out = copy.deepcopy(draft)
    text = out.get("text") or ""
    for ev in out.get("evidence") or []:
        original = ev.get("quote") or ""
        if not original:
            continue
        ev["quote"] = paraphrase(original)
        text = text.replace(original.strip(), ev["quote"].strip())
    out["text"] = text
    return out


def always_available(draft: Draft, items_by_id: Mapping[str, Any]) -> Draft:
    """Answer "available" to every request, whatever the roadmap says (caught by ``verdict_accuracy``)."""
    out = copy.deepcopy(draft)
    out["verdict"] = "available"
    return out


class Planted(NamedTuple):
    transform: Transform
    metric: str  # the drafts-suite metric that must fail


PLANTED: dict[str, Planted] = {
    "invent_item": Planted(invent_item, "invented_items"),
    "promise_date_for_considering": Planted(promise_date_for_considering, "unsupported_claims"),
    "drop_citations": Planted(drop_citations, "citation_recall"),
    "paraphrase_quotes": Planted(paraphrase_quotes, "quote_fidelity"),
    "always_available": Planted(always_available, "verdict_accuracy"),
}
