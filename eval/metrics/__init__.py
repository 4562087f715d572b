"""Eval-suite metrics: small pure functions grouped by suite.

``METRIC_DIRECTIONS`` maps every metric name used in reports and in ``eval/thresholds.json``
to ``"higher"`` or ``"lower"`` (which way is better); threshold checks and ``--compare`` use it.
"""
from __future__ import annotations

from . import drafts, judge, match, themes
from .drafts import (citation_precision, citation_recall, first_citation_correct, internal_leaks_total,
                     invented_item_ids, invented_items_total, leaks_internal, length_ok, length_ok_rate,
                     pii_leaks, pii_leaks_total, pii_pattern_leaks, pii_pattern_leaks_total, quote_fidelity,
                     quote_fidelity_micro, quote_problems, quote_problems_total, readability_grade,
                     readability_grade_p90, readability_ok, readability_ok_rate, unsupported_claims,
                     unsupported_claims_total, unsupported_dates, unsupported_promises, verdict_accuracy)
from .judge import cohen_kappa
from .match import accepted_at_oos_recall, auroc, oos_precision, oos_recall, ranked_ids, top1
from .themes import ari, label_hit_at_k, label_hits, majority_gold, nmi, purity, unassigned_rate

HIGHER, LOWER = "higher", "lower"

METRIC_DIRECTIONS: dict[str, str] = {
    # drafts
    "verdict_accuracy": HIGHER,
    "citation_precision": HIGHER,
    "citation_recall": HIGHER,
    "first_citation_correct": HIGHER,
    "unsupported_claims": LOWER,  # suite total of unsupported_claims()
    "invented_items": LOWER,  # suite total of invented_item_ids()
    "quote_fidelity": HIGHER,  # micro over all evidence quotes
    "quote_problems": LOWER,
    "pii_leaks": LOWER,
    "pii_pattern_leaks": LOWER,
    "internal_leaks": LOWER,  # customer-audience drafts only
    "readability_grade_p90": LOWER,
    "readability_ok_rate": HIGHER,
    "length_ok_rate": HIGHER,
    # follow-ups (issue 17): accounts listed for an item against the gold list, and follow-up drafts
    "account_recall_min": HIGHER,
    "account_precision_min": HIGHER,
    "account_recall_mean": HIGHER,
    "account_precision_mean": HIGHER,
    "unbacked_dates": LOWER,
    "other_account_quotes": LOWER,
    "checks_passed_rate": HIGHER,
    # match
    "top1": HIGHER,
    "oos_recall": HIGHER,
    "oos_precision": HIGHER,
    "auroc": HIGHER,
    "accepted_at_oos_recall_0.8": HIGHER,
    "oos_recall_gap": LOWER,  # distance of the default decision's OOS recall from the 0.75-0.90 band
    # injection
    "instruction_recall": HIGHER,
    "instruction_false_alarms": LOWER,
    "claim_precision": HIGHER, "claim_recall": HIGHER, "draft_claim_accuracy": HIGHER, "draft_claim_precision": HIGHER,
    "draft_claim_recall": HIGHER,
    # themes
    "nmi": HIGHER,
    "ari": HIGHER,
    "purity": HIGHER,
    "label_hit_at_3": HIGHER,
    "unassigned_rate": LOWER,
    # judge
    "cohen_kappa": HIGHER,
    "cohen_kappa_linear": HIGHER,
    "cohen_kappa_quadratic": HIGHER,
}

__all__ = [
    "METRIC_DIRECTIONS", "HIGHER", "LOWER", "drafts", "judge", "match", "themes",
    "verdict_accuracy", "citation_precision", "citation_recall", "first_citation_correct",
    "unsupported_claims", "unsupported_claims_total", "invented_item_ids", "invented_items_total",
    "unsupported_dates", "unsupported_promises", "quote_fidelity", "quote_fidelity_micro",
    "quote_problems", "quote_problems_total", "pii_leaks", "pii_leaks_total", "pii_pattern_leaks",
    "pii_pattern_leaks_total", "readability_grade", "readability_grade_p90", "readability_ok",
    "readability_ok_rate", "length_ok", "length_ok_rate", "leaks_internal", "internal_leaks_total",
    "top1", "oos_recall", "oos_precision", "auroc", "accepted_at_oos_recall", "ranked_ids", "nmi", "ari", "purity",
    "unassigned_rate", "cohen_kappa", "label_hit_at_k", "label_hits", "majority_gold",
]
