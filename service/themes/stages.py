"""The swappable stages of a theme run, behind one small interface each.

classify: pain/request vs praise vs other; cluster: vectors -> labels (-1 unassigned); context_clusters: themes
that are small talk or account context; assign: new vectors to
existing centroids; label_clusters: a label, keywords and representative quotes per cluster, from the offline
labeller or, when an LLM endpoint is configured, an LLM label validated against the offline one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class Labelled:
    label: str
    keywords: list[str] = field(default_factory=list)
    representatives: list[int] = field(default_factory=list)  # indices into the cluster's texts
    source: str = "offline"  # offline | llm | pinned
    candidates: list[str] = field(default_factory=list)  # offline label phrases, best first


def classify(texts: list[str], vectors: np.ndarray, embedder) -> list[str]:
    from .select import classify as _classify

    return list(_classify(texts, vectors, embedder))


def class_scores(texts: list[str], vectors: np.ndarray, embedder) -> np.ndarray:
    from .select import class_scores as _scores

    return np.asarray(_scores(texts, vectors, embedder))


def decide(scores: np.ndarray) -> list[str]:
    from .select import decide as _decide

    return list(_decide(scores))


def adopt(scores: np.ndarray, vectors: np.ndarray, theme_vectors: np.ndarray, theme_labels: np.ndarray) -> np.ndarray:
    """Theme label for each non-pain statement that the themes show to be a pain after all, else -1.

    `theme_vectors`/`theme_labels` are the clustered pains. A statement counts as inside a theme when it is as
    close to the nearest centroid as members are to their own (`choose_threshold`, the same bar a new statement
    meets to join a theme in an incremental run); that is one more cue for pain (`select.theme_evidence`)."""
    from .cluster import _nearest, centroids, choose_threshold
    from .select import theme_evidence

    out = np.full(len(vectors), -1, dtype=np.int64)
    theme_labels = np.asarray(theme_labels)
    if not len(vectors) or not (theme_labels >= 0).any():
        return out
    cents = centroids(theme_vectors, theme_labels)
    threshold = choose_threshold(theme_vectors, theme_labels, cents)
    best, sim = _nearest(np.asarray(vectors, dtype=np.float32), cents)
    turn = theme_evidence(scores, sim >= threshold)
    out[turn] = best[turn]
    return out


def context_clusters(vectors: np.ndarray, labels: np.ndarray, embedder) -> list[int]:
    """Clusters that are small talk or account context rather than a product theme (`context`)."""
    from .context import context_clusters as _context

    return _context(vectors, labels, embedder)


def pasted_context(texts: list[str], vectors: np.ndarray, embedder) -> list[int]:
    """Statements that are a sentence pasted into many notes and read as context (`context.pasted_context`)."""
    from .context import pasted_context as _pasted

    return _pasted(texts, vectors, embedder)


def copy_clusters(texts: list[str], labels: np.ndarray) -> dict[int, str]:
    """Clusters that are mostly one sentence pasted again and again, with that sentence (`context.copy_clusters`)."""
    from .context import copy_clusters as _copies

    return _copies(texts, labels)


def cluster(vectors: np.ndarray, min_size: int | None = None, prior: np.ndarray | None = None) -> np.ndarray:
    """`prior`: the previous run's theme per statement (-1 for none), so a re-run can start from it."""
    from .cluster import cluster as _cluster

    if len(vectors) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(vectors) == 1:
        return np.zeros(1, dtype=np.int64) if (min_size or 2) <= 1 else np.full(1, -1, dtype=np.int64)
    kwargs = {"min_size": min_size} if min_size is not None else {}
    if prior is not None:
        kwargs["prior"] = prior
    return np.asarray(_cluster(vectors, **kwargs), dtype=np.int64)


def assign(vectors: np.ndarray, centroids: np.ndarray, threshold: float) -> np.ndarray:
    from .cluster import assign as _assign

    return np.asarray(_assign(vectors, centroids, threshold), dtype=np.int64)


def assign_threshold(vectors: np.ndarray, labels: np.ndarray, centroids: dict[int, np.ndarray]) -> float:
    """How close a new statement must be to a theme's centroid to join it, read from this run's own clusters."""
    from .cluster import choose_threshold

    return float(choose_threshold(vectors, labels))


def default_assign_threshold() -> float:
    from .cluster import DEFAULT_ASSIGN_THRESHOLD

    return float(DEFAULT_ASSIGN_THRESHOLD)


def label_clusters(texts: list[list[str]], vectors: list[np.ndarray], services=None, use_llm: bool = True) -> list[Labelled]:
    """A noun-phrase label per cluster (`phrase.phrase_label`), else its most central statement tidied;
    c-TF-IDF keywords against the other clusters; representative quotes, the best one first."""
    from . import label as offline
    from .phrase import phrase_label

    weights = offline.ctfidf_weights(texts)
    results = []
    for cluster_texts, cluster_vecs, w in zip(texts, vectors, weights):
        kws = [t for t, _ in sorted(w.items(), key=lambda x: (-x[1], x[0]))[:10]]
        phrase = phrase_label(cluster_texts, cluster_vecs, w, kws, services.embedder) if services is not None else None
        lab = phrase.label if phrase else offline.label(cluster_texts, cluster_vecs, keywords_=kws)
        reps = offline.representatives(cluster_texts, cluster_vecs, k=3)
        results.append(Labelled(lab, kws, [int(r) for r in reps], candidates=phrase.candidates[:5] if phrase else [lab]))
    if use_llm and services is not None and services.llm is not None:
        from .llm_label import relabel

        relabel(services, texts, results)
    return results
