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


def majority_gold(pairs: Sequence[tuple[Any, Hashable]]) -> dict[Any, Hashable]:
    """(predicted theme, gold label) pairs -> each theme's most frequent gold label (ties: the smallest)."""
    counts: dict[Any, Counter] = {}
    for theme, gold in pairs:
        if not is_unassigned(theme):
            counts.setdefault(theme, Counter())[gold] += 1
    return {t: min(c.items(), key=lambda kv: (-kv[1], str(kv[0])))[0] for t, c in counts.items()}


def label_hit_at_k(label_vectors, gold_index: Sequence[int], name_vectors, k: int = 3) -> float:
    """Share of themes whose label, by cosine to every gold theme's name, ranks its own gold name in the top k.

    `label_vectors` (one unit vector per theme label), `gold_index[i]` the row of theme i's gold name in
    `name_vectors` (unit vectors of all gold names)."""
    import numpy as np

    labels = np.asarray(label_vectors, dtype=np.float32)
    names = np.asarray(name_vectors, dtype=np.float32)
    if not len(labels):
        raise ValueError("no labels")
    if len(labels) != len(gold_index):
        raise ValueError(f"length mismatch: {len(labels)} labels vs {len(gold_index)} gold names")
    sims = labels @ names.T
    own = sims[np.arange(len(labels)), np.asarray(gold_index)]
    rank = (sims > own[:, None]).sum(axis=1)  # names strictly closer than the gold one
    return float((rank < k).mean())


def label_hits(embedder, labels: dict, gold_of_theme: dict, gold_names: Sequence[str], k: int = 3) -> dict:
    """hit@k of theme labels among all `gold_names` (a gold label `snake_case` is read as words)."""
    names = sorted({str(g) for g in gold_names})
    themes = sorted(t for t in labels if t in gold_of_theme)
    if not themes:
        return {f"label_hit@{k}": None, "labelled_themes": 0}
    name_vecs = embedder.embed([n.replace("_", " ") for n in names])
    label_vecs = embedder.embed([labels[t] for t in themes])
    gold = [names.index(str(gold_of_theme[t])) for t in themes]
    return {f"label_hit@{k}": round(label_hit_at_k(label_vecs, gold, name_vecs, k), 4), "labelled_themes": len(themes),
            "gold_names": len(names)}


def best_match_f1(gold: dict[Hashable, set], predicted: dict[Hashable, set]) -> float:
    """Mean over gold themes of the best F1 any predicted theme reaches on the items (e.g. notes) they hold.

    For multi-label data (a note can carry several pains): a gold theme is found when some theme holds
    about the same notes; notes outside every theme cost recall."""
    if not gold:
        raise ValueError("no gold themes")
    scores = []
    for members in gold.values():
        best = 0.0
        for found in predicted.values():
            shared = len(members & found)
            if shared:
                best = max(best, 2 * shared / (len(members) + len(found)))
        scores.append(best)
    return sum(scores) / len(scores)
