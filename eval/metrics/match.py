"""Metrics for request -> roadmap matching.

A match result is a dict keyed like a draft (``question_id`` / ``request_id`` / ``id``, paired
with gold as in :mod:`eval.metrics._common`) with a ``verdict`` and a ranking, read from the
first present key of ``ranked_item_ids``, ``matches``, ``candidates``, ``item_ids``,
``cited_item_ids``.  Ranking entries are item ids or dicts with ``item_id`` / ``id``; they are
taken in the order given (already ranked best first).  A request is *in scope* when its gold
``gold_item_ids`` is non-empty and *out of scope* (OOS) when it is empty.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ._common import gold_ids, pair_with_gold, verdict_of
from .drafts import verdict_accuracy

OOS_VERDICT = "not_on_roadmap"
_RANK_KEYS = ("ranked_item_ids", "matches", "candidates", "item_ids", "cited_item_ids")

__all__ = ["ranked_ids", "top1", "oos_recall", "oos_precision", "verdict_accuracy", "auroc", "accepted_at_oos_recall"]


def ranked_ids(result: Mapping[str, Any] | None) -> list[str]:
    """The item ids of a match result, best first (``[]`` for a missing result)."""
    for key in _RANK_KEYS:
        entries = (result or {}).get(key)
        if entries:
            return [e.get("item_id", e.get("id")) if isinstance(e, Mapping) else e for e in entries]
    return []


def top1(results: Sequence[Mapping[str, Any]], gold: Sequence[Mapping[str, Any]]) -> float:
    """Over in-scope requests: fraction whose top-ranked item id is one of the gold ids."""
    scored = [(r, g) for r, g in pair_with_gold(results, gold) if gold_ids(g)]
    if not scored:
        raise ValueError("no in-scope requests (all gold_item_ids empty)")
    return sum(bool(ranked_ids(r)) and ranked_ids(r)[0] in gold_ids(g) for r, g in scored) / len(scored)


def oos_recall(results: Sequence[Mapping[str, Any]], gold: Sequence[Mapping[str, Any]]) -> float:
    """Over out-of-scope requests (empty gold ids): fraction answered ``not_on_roadmap``."""
    scored = [(r, g) for r, g in pair_with_gold(results, gold) if not gold_ids(g)]
    if not scored:
        raise ValueError("no out-of-scope requests (every gold_item_ids is non-empty)")
    return sum(verdict_of(r) == OOS_VERDICT for r, _ in scored) / len(scored)


def oos_precision(results: Sequence[Mapping[str, Any]], gold: Sequence[Mapping[str, Any]]) -> float:
    """Over requests answered ``not_on_roadmap``: fraction that really are out of scope.

    1.0 when nothing was answered ``not_on_roadmap`` (no false alarm; see :func:`oos_recall`).
    """
    flagged = [g for r, g in pair_with_gold(results, gold) if verdict_of(r) == OOS_VERDICT]
    return sum(not gold_ids(g) for g in flagged) / len(flagged) if flagged else 1.0


def auroc(scores_in: Sequence[float], scores_out: Sequence[float]) -> float:
    """Area under the ROC curve separating in-scope (positive) from out-of-scope scores.

    Equals P(score_in > score_out) + 0.5 * P(score_in == score_out), computed from tie-averaged
    ranks (Mann-Whitney U).  Higher in-scope scores are better; 0.5 is chance.
    """
    s_in = np.asarray(scores_in, dtype=float).ravel()
    s_out = np.asarray(scores_out, dtype=float).ravel()
    if not s_in.size or not s_out.size:
        raise ValueError("auroc needs at least one in-scope and one out-of-scope score")
    both = np.concatenate([s_in, s_out])
    if np.isnan(both).any():
        raise ValueError("scores contain NaN")
    _, inverse, counts = np.unique(both, return_inverse=True, return_counts=True)
    avg_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based average rank per distinct value
    rank_sum = avg_rank[inverse][: s_in.size].sum()
    return float((rank_sum - s_in.size * (s_in.size + 1) / 2.0) / (s_in.size * s_out.size))


def accepted_at_oos_recall(scores: Sequence[float], correct: Sequence[bool], in_scope: Sequence[bool],
                           oos_recall: float = 0.8) -> float:
    """Over in-scope requests: the share ranked right AND scored above the threshold that declines `oos_recall`
    of the out-of-scope requests. Compares matchers at one abstention rate, whatever their score scales."""
    s, ok, inside = (np.asarray(x, dtype=float) for x in (scores, correct, in_scope))
    inside = inside.astype(bool)
    if not inside.any() or inside.all():
        raise ValueError("accepted_at_oos_recall needs in-scope and out-of-scope requests")
    threshold = float(np.quantile(s[~inside], oos_recall))
    return float(((ok > 0) & (s > threshold))[inside].mean())
