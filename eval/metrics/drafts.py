"""Metrics for the answer drafts ("how does the roadmap address X?").

Suite-level metrics take ``(drafts, gold)`` and pair them as described in
:mod:`eval.metrics._common` (by question id when ids match, else by order; a gold question
without a draft scores as an empty draft).  Per-draft checks (``unsupported_claims``,
``quote_fidelity``, ``pii_leaks``, ...) live in :mod:`.claims`, :mod:`.quotes` and
:mod:`.text` and are re-exported here together with their suite-level totals.

Citation metrics are **micro-averaged**: per draft, cited ids and gold ids are de-duplicated,
then true positives, citations and gold ids are summed over the suite.  A draft citing nothing
for a question with empty gold contributes 0/0, i.e. it never lowers precision or recall
("perfect").  When the whole suite cites nothing precision is 1.0 (no wrong citation was
made); when the suite has no gold ids recall is 1.0 (nothing to find).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ._common import cited_ids, gold_ids, pair_with_gold, verdict_of
from .claims import invented_item_ids, unsupported_claims, unsupported_dates, unsupported_promises
from .quotes import quote_fidelity, quote_problems, text_quotes, verbatim_evidence_count
from .text import (count_syllables, leaks_internal, length_ok, pii_leaks, pii_pattern_leaks,
                   readability_grade, readability_ok, word_count)

Draft = Mapping[str, Any]

__all__ = [
    "verdict_accuracy", "citation_precision", "citation_recall", "first_citation_correct",
    "unsupported_claims", "invented_item_ids", "unsupported_dates", "unsupported_promises",
    "quote_fidelity", "quote_problems", "text_quotes", "verbatim_evidence_count", "pii_leaks", "pii_pattern_leaks",
    "readability_grade", "readability_ok", "count_syllables", "length_ok", "word_count",
    "leaks_internal", "unsupported_claims_total", "invented_items_total", "quote_fidelity_micro",
    "quote_problems_total", "pii_leaks_total", "pii_pattern_leaks_total", "internal_leaks_total",
    "readability_grade_p90", "readability_ok_rate", "length_ok_rate",
]


def verdict_accuracy(drafts: Sequence[Draft], gold: Sequence[Mapping[str, Any]]) -> float:
    """Fraction of gold questions whose draft verdict equals ``gold_verdict``."""
    pairs = pair_with_gold(drafts, gold)
    return sum(verdict_of(d) == g.get("gold_verdict") for d, g in pairs) / len(pairs)


def _citation_counts(drafts: Sequence[Draft], gold: Sequence[Mapping[str, Any]]) -> tuple[int, int, int]:
    tp = n_cited = n_gold = 0
    for d, g in pair_with_gold(drafts, gold):
        cited, expected = cited_ids(d), set(gold_ids(g))
        tp += sum(c in expected for c in cited)
        n_cited += len(cited)
        n_gold += len(expected)
    return tp, n_cited, n_gold


def citation_precision(drafts: Sequence[Draft], gold: Sequence[Mapping[str, Any]]) -> float:
    """Micro precision: correct citations / all citations (1.0 when nothing is cited)."""
    tp, n_cited, _ = _citation_counts(drafts, gold)
    return tp / n_cited if n_cited else 1.0


def citation_recall(drafts: Sequence[Draft], gold: Sequence[Mapping[str, Any]]) -> float:
    """Micro recall: gold ids cited / all gold ids (1.0 when the gold has no ids)."""
    tp, _, n_gold = _citation_counts(drafts, gold)
    return tp / n_gold if n_gold else 1.0


def first_citation_correct(drafts: Sequence[Draft], gold: Sequence[Mapping[str, Any]]) -> float:
    """Fraction of questions whose first cited id is the first gold id.

    For a question with empty gold ids or ``gold_verdict == "not_on_roadmap"`` the draft is
    correct only when it cites nothing.
    """
    pairs = pair_with_gold(drafts, gold)
    correct = 0
    for d, g in pairs:
        cited, expected = cited_ids(d), gold_ids(g)
        if not expected or g.get("gold_verdict") == "not_on_roadmap":
            correct += not cited
        else:
            correct += bool(cited) and cited[0] == expected[0]
    return correct / len(pairs)


# --- suite-level totals of the per-draft checks ------------------------------------------------
def _text(d: Draft | str) -> str:
    return d if isinstance(d, str) else (d.get("text") or "")


def unsupported_claims_total(drafts: Iterable[Draft], items_by_id: Mapping[str, Any]) -> int:
    """Sum of ``len(unsupported_claims(d, items_by_id))`` over the drafts."""
    return sum(len(unsupported_claims(d, items_by_id)) for d in drafts)


def invented_items_total(drafts: Iterable[Draft], items_by_id: Mapping[str, Any]) -> int:
    """Sum of invented item ids (text or cited, not in the roadmap) over the drafts."""
    return sum(len(invented_item_ids(d, items_by_id)) for d in drafts)


def quote_fidelity_micro(drafts: Iterable[Draft], notes_by_id: Mapping[str, Any]) -> float:
    """Verbatim evidence quotes / all evidence quotes over the suite (1.0 with no quotes)."""
    good = total = 0
    for d in drafts:
        g, n = verbatim_evidence_count(d, notes_by_id)
        good, total = good + g, total + n
    return good / total if total else 1.0


def quote_problems_total(drafts: Iterable[Draft], notes_by_id: Mapping[str, Any]) -> int:
    """Sum of ``len(quote_problems(d, notes_by_id))`` over the drafts."""
    return sum(len(quote_problems(d, notes_by_id)) for d in drafts)


def pii_leaks_total(drafts: Iterable[Draft | str], pii_values: Sequence[str]) -> int:
    """Sum over drafts of the planted PII values each one leaks."""
    return sum(len(pii_leaks(_text(d), pii_values)) for d in drafts)


def pii_pattern_leaks_total(drafts: Iterable[Draft | str]) -> int:
    """Sum over drafts of the email addresses / phone numbers each one contains."""
    return sum(len(pii_pattern_leaks(_text(d))) for d in drafts)


def internal_leaks_total(drafts: Iterable[Draft]) -> int:
    """Sum of ``leaks_internal`` findings over the drafts whose audience is ``customer``."""
    return sum(len(leaks_internal(_text(d))) for d in drafts if d.get("audience") == "customer")


def readability_grade_p90(drafts: Iterable[Draft | str]) -> float:
    """90th percentile (linear interpolation) of the Flesch-Kincaid grade over the drafts."""
    grades = [readability_grade(_text(d)) for d in drafts]
    if not grades:
        raise ValueError("no drafts")
    return float(np.percentile(grades, 90))


def readability_ok_rate(drafts: Iterable[Draft | str], max_grade: float = 10) -> float:
    """Fraction of drafts with grade <= ``max_grade``."""
    oks = [readability_ok(_text(d), max_grade) for d in drafts]
    if not oks:
        raise ValueError("no drafts")
    return sum(oks) / len(oks)


def length_ok_rate(drafts: Iterable[Draft | str], min_words: int = 40, max_words: int = 220) -> float:
    """Fraction of drafts whose word count is within ``[min_words, max_words]``."""
    oks = [length_ok(_text(d), min_words, max_words) for d in drafts]
    if not oks:
        raise ValueError("no drafts")
    return sum(oks) / len(oks)
