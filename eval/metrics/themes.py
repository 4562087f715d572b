"""Clustering metrics for theme discovery.

A point is *unassigned* when its label is ``None``, ``-1`` (HDBSCAN noise) or NaN.  For NMI and
ARI every unassigned point - in either labelling - becomes its own singleton cluster, so noise
is neither rewarded as one big "noise" cluster nor silently dropped; the unassigned share is
reported separately by :func:`unassigned_rate`.  For :func:`purity` singletons would be
trivially pure, so unassigned predictions count as wrong instead.  NMI uses the arithmetic
mean normalisation (scikit-learn's default).
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Hashable, Sequence

from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def is_unassigned(label: Any) -> bool:
    """True for ``None``, ``-1`` and NaN."""
    if label is None or isinstance(label, bool):
        return label is None
    try:
        return bool(label != label or label == -1)  # NaN is the only value unequal to itself
    except (TypeError, ValueError):  # labels with exotic __eq__
        return False


def with_singletons(labels: Sequence[Any]) -> list[Hashable]:
    """Labels with every unassigned point replaced by a fresh singleton label."""
    return [("__unassigned__", i) if is_unassigned(lab) else ("label", lab) for i, lab in enumerate(labels)]


def _check(labels_true: Sequence[Any], labels_pred: Sequence[Any]) -> tuple[list[int], list[int]]:
    if len(labels_true) != len(labels_pred):
        raise ValueError(f"length mismatch: {len(labels_true)} true vs {len(labels_pred)} predicted labels")
    if not len(labels_true):
        raise ValueError("no labels")
    return _codes(with_singletons(labels_true)), _codes(with_singletons(labels_pred))


def _codes(labels: list[Hashable]) -> list[int]:
    index: dict[Hashable, int] = {}
    return [index.setdefault(lab, len(index)) for lab in labels]


def nmi(labels_true: Sequence[Any], labels_pred: Sequence[Any]) -> float:
    """Normalised mutual information in [0, 1]; unassigned points become singletons."""
    t, p = _check(labels_true, labels_pred)
    return float(normalized_mutual_info_score(t, p))


def ari(labels_true: Sequence[Any], labels_pred: Sequence[Any]) -> float:
    """Adjusted Rand index (1 = identical, ~0 = chance); unassigned points become singletons."""
    t, p = _check(labels_true, labels_pred)
    return float(adjusted_rand_score(t, p))


def unassigned_rate(labels_pred: Sequence[Any]) -> float:
    """Fraction of points whose predicted label is unassigned (``None``, ``-1``, NaN)."""
    if not len(labels_pred):
        raise ValueError("no labels")
    return sum(is_unassigned(lab) for lab in labels_pred) / len(labels_pred)


def purity(labels_true: Sequence[Any], labels_pred: Sequence[Any]) -> float:
    """Sum over predicted clusters of their majority true-class count, divided by N.

    Unassigned predicted points count as wrong (contribute 0).  Unassigned *true* labels are
    singletons, so they only count as correct when they form a predicted cluster on their own.
    """
    if len(labels_true) != len(labels_pred):
        raise ValueError(f"length mismatch: {len(labels_true)} true vs {len(labels_pred)} predicted labels")
    if not len(labels_true):
        raise ValueError("no labels")
    clusters: dict[Any, Counter] = {}
    for t, p in zip(with_singletons(labels_true), labels_pred):
        if not is_unassigned(p):
            clusters.setdefault(p, Counter())[t] += 1
    return sum(max(c.values()) for c in clusters.values()) / len(labels_true)
