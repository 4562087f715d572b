"""Theme discovery: cluster statement embeddings without being told how many themes there are.

Steps 1-3 build a graph and its candidate partitions (`graph`: a kNN graph with shared-nearest-neighbour
weights, Louvain at a grid of resolutions). This module chooses among them and finishes the answer:

4. Each candidate partition is tidied (communities under `min_size` dissolved, two spherical
   k-means steps to fix ragged graph borders); the cosine silhouette on a fixed sample picks one
   (the coarsest within one paired standard error of the best): the data chooses the granularity.
5. Points far below their theme's typical similarity (robust z-score) are left unassigned (-1).

Re-runs: given the previous run's themes (`prior`), step 3 also runs from them instead of from
singletons (`graph.local_moving`, the warm start of dynamic Louvain), and that answer is kept unless the
fresh one has a significantly higher silhouette (`significantly_better`) or agrees at least as well
with the previous themes (so unchanged data gives the identical partition). A theme of the answer that holds
most of two or more previous themes is split back along them (`keep_apart`). Together with the fixed
lattice and key order this keeps theme ids through a re-run after more notes arrive.

`assign` puts new statements into existing themes; `choose_threshold` reads its cut-off from the
clustered data (see there) instead of a constant.

Corpora above `max_graph_points` are clustered on a fixed sample (the smallest `graph.node_keys`) and the
rest is assigned to the nearest centroid, which keeps 100k statements within minutes and a few
hundred MB.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from .graph import default_k, finest_resolution, knn, multi_resolution_louvain, node_keys, resolution_grid, snn_graph

# Robust z below which a point is an outlier of its theme (the usual 3-MAD rule).
OUTLIER_Z = 3.0
_MAD_TO_SIGMA = 1.4826
# Only when there is nothing to learn a threshold from (no themes yet): about what choose_threshold
# yields for all-MiniLM-L6-v2 on short statements (0.50-0.55 on the dev data).
DEFAULT_ASSIGN_THRESHOLD = 0.5
# A re-run replaces the previous themes only when the fresh partition's silhouette is higher beyond chance:
# a paired z-test at the conventional 5% level. The two-sided critical value (not the one-sided 1.645)
# because the test is repeated at every re-run and each false alarm renumbers themes.
CHANGE_Z = 1.96


def default_min_size(n: int) -> int:
    """Smallest theme worth showing: grows like sqrt(n) (3 at 1k statements, ~32 at 100k), so a
    large corpus is not split into slivers while a small one keeps its small themes."""
    return int(max(3, round(math.sqrt(n) / 10)))


def centroids(vectors: np.ndarray, labels: np.ndarray, n_clusters: int | None = None) -> np.ndarray:
    """Unit-norm mean vector of each label 0..K-1 (rows of empty labels stay zero)."""
    labels = np.asarray(labels)
    k = int(labels.max()) + 1 if n_clusters is None else n_clusters
    ok = np.flatnonzero(labels >= 0)
    member = sp.csr_matrix((np.ones(len(ok), dtype=np.float32), (labels[ok], ok)), shape=(max(k, 0), len(labels)))
    out = np.asarray(member @ vectors, dtype=np.float32)  # sparse sum: np.add.at is ~50x slower
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return out / norms


def _nearest(vectors: np.ndarray, cents: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid and its cosine, chunked; argmax takes the lowest id on ties."""
    best = np.empty(len(vectors), dtype=np.int64)
    sim = np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), chunk):
        s = vectors[start:start + chunk] @ cents.T
        best[start:start + chunk] = s.argmax(axis=1)
        sim[start:start + chunk] = s.max(axis=1)
    return best, sim


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Drop empty ids and number clusters by decreasing size (ties: first member)."""
    ids, first, sizes = np.unique(labels[labels >= 0], return_index=True, return_counts=True)
    if not len(ids):
        return labels
    order = ids[np.lexsort((first, -sizes))]
    remap = np.full(labels.max() + 1, -1)
    remap[order] = np.arange(len(order))
    return np.where(labels >= 0, remap[np.maximum(labels, 0)], -1)


def tidy(vectors: np.ndarray, labels: np.ndarray, min_size: int, iters: int = 2) -> np.ndarray:
    """Dissolve clusters under min_size, then a few spherical k-means steps from the graph partition."""
    sizes = np.bincount(labels[labels >= 0])
    keep = np.flatnonzero(sizes >= min_size)
    if not len(keep):  # nothing is big enough: one theme is a better answer than none
        keep = np.array([int(np.argmax(sizes))])
    remap = np.full(len(sizes), -1)
    remap[keep] = np.arange(len(keep))
    labels = np.where(labels >= 0, remap[np.maximum(labels, 0)], -1)
    for _ in range(iters + 1):
        cents = centroids(vectors, labels, len(keep))
        labels, _ = _nearest(vectors, cents)
    return labels


def outlier_threshold(vectors: np.ndarray, labels: np.ndarray, cents: np.ndarray | None = None,
                      z: float = OUTLIER_Z) -> float:
    """Cosine below which a member is an outlier of its theme: median - z robust sigmas (MAD) of the
    member-to-centroid similarities."""
    labels = np.asarray(labels)
    ok = labels >= 0
    if not ok.any():
        return 1.0
    cents = centroids(vectors, labels) if cents is None else cents
    sims = np.einsum("ij,ij->i", vectors[ok], cents[labels[ok]])
    med = float(np.median(sims))
    # Floor the spread: a theme of identical statements has MAD 0 and float noise must not evict them.
    mad = max(float(np.median(np.abs(sims - med))) * _MAD_TO_SIGMA, 1e-3)
    return med - z * mad


def choose_threshold(vectors: np.ndarray, labels: np.ndarray, cents: np.ndarray | None = None) -> float:
    """Threshold for `assign`, read from the clustered data itself.

    A member's similarity to its own centroid is what "belongs to this theme" looks like; its
    similarity to the best *other* centroid is what a statement about some theme we do not have
    looks like. The threshold maximises Youden's J (accepted members minus accepted strangers)
    between those two empirical distributions. Falls back to the outlier rule with one theme."""
    labels = np.asarray(labels)
    ok = np.flatnonzero(labels >= 0)
    cents = centroids(vectors, labels) if cents is None else np.asarray(cents, dtype=np.float32)
    if len(cents) < 2 or not len(ok):
        return outlier_threshold(vectors, labels, cents) if len(ok) else DEFAULT_ASSIGN_THRESHOLD
    own = np.empty(len(ok), dtype=np.float32)
    rival = np.empty(len(ok), dtype=np.float32)
    for start in range(0, len(ok), 8192):
        rows = ok[start:start + 8192]
        s = vectors[rows] @ cents.T
        mine = labels[rows]
        own[start:start + len(rows)] = s[np.arange(len(rows)), mine]
        s[np.arange(len(rows)), mine] = -np.inf
        rival[start:start + len(rows)] = s.max(axis=1)
    cand = np.unique(own)
    accepted_members = 1.0 - np.searchsorted(np.sort(own), cand, side="left") / len(own)
    accepted_strangers = 1.0 - np.searchsorted(np.sort(rival), cand, side="left") / len(rival)
    return float(cand[int(np.argmax(accepted_members - accepted_strangers))])


def assign(vectors: np.ndarray, cents: np.ndarray, threshold: float) -> np.ndarray:
    """Incremental assignment: nearest centroid if its cosine >= threshold, else -1."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if len(vectors) == 0 or len(cents) == 0:
        return np.full(len(vectors), -1, dtype=np.int64)
    best, sim = _nearest(vectors, np.asarray(cents, dtype=np.float32))
    return np.where(sim >= threshold, best, -1)


def silhouette_samples(dist: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-point silhouette from a precomputed distance matrix (as sklearn's, singletons score 0),
    so several candidate partitions share one distance computation."""
    uniq, lab = np.unique(labels, return_inverse=True)
    if len(uniq) < 2:
        return np.full(len(labels), -1.0)
    members = sp.csr_matrix((np.ones(len(lab)), (lab, np.arange(len(lab)))), shape=(len(uniq), len(lab)))
    sums = np.empty((len(lab), len(uniq)))  # (m, K) summed distance to each cluster, in float64
    for start in range(0, len(lab), 512):  # by rows: one float64 copy of all of `dist` was the job's peak
        sums[start:start + 512] = (members @ dist[start:start + 512].T).T
    sizes = np.bincount(lab).astype(np.float64)
    rows = np.arange(len(lab))
    own = sizes[lab] - 1
    a = np.divide(sums[rows, lab], own, out=np.zeros(len(lab)), where=own > 0)
    mean_other = sums / sizes
    mean_other[rows, lab] = np.inf
    b = mean_other.min(axis=1)
    return np.where(own > 0, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)


def select_partition(vectors: np.ndarray, candidates: list[np.ndarray], sample_size: int, seed: int) -> int:
    """Index of the chosen candidate: the one with the fewest clusters whose mean silhouette is within
    one standard error of the best (the one-standard-error rule: cosine silhouette drifts upwards as
    clusters shrink, so among statistically equal partitions the simplest wins).

    Every candidate is scored on the same points, so the standard error is that of the paired
    per-point difference to the best. The spread of the best's own silhouettes is mostly the spread
    between points, shared by all candidates; on a small corpus it would call clearly worse
    partitions (two real themes merged) "equal"."""
    return _one_se_choice(sample_silhouettes(vectors, candidates, sample_size, seed), candidates)


def sample_silhouettes(vectors: np.ndarray, candidates: list[np.ndarray], sample_size: int, seed: int) -> list[np.ndarray]:
    """Per-point cosine silhouettes of each candidate on one fixed sample (one distance matrix for all)."""
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(vectors), size=min(len(vectors), sample_size), replace=False))
    dist = np.clip(1.0 - vectors[sample] @ vectors[sample].T, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    return [silhouette_samples(dist, lab[sample]) for lab in candidates]


def _one_se_choice(per_point: list[np.ndarray], candidates: list[np.ndarray]) -> int:
    means = np.array([s.mean() for s in per_point])
    best = int(np.argmax(means))
    se = np.array([(per_point[best] - s).std() for s in per_point]) / math.sqrt(len(per_point[best]))
    ok = np.flatnonzero(means >= means[best] - se)
    n_clusters = [len(np.unique(candidates[i])) for i in ok]
    return int(ok[int(np.argmin(n_clusters))])  # argmin: the coarser resolution wins a tie


def significantly_better(challenger: np.ndarray, incumbent: np.ndarray, z: float = CHANGE_Z) -> bool:
    """Paired z-test on per-point silhouettes (same sample points): is the challenger's mean higher by
    more than `z` standard errors of the difference?"""
    d = np.asarray(challenger, dtype=np.float64) - np.asarray(incumbent, dtype=np.float64)
    se = d.std() / math.sqrt(len(d)) if len(d) else 0.0
    return bool(d.mean() > z * se)


def _fit_graph(v: np.ndarray, k: int, min_size: int, resolutions, seed: int, sample_size: int,
               keys: np.ndarray, prior: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The graph partition from singletons and, on a re-run, the one grown from the previous themes (None
    when the fresh one is significantly better or there is no prior)."""
    w = snn_graph(knn(v, k)[0])
    resolutions = resolutions or resolution_grid(finest_resolution(w, min_size))
    cold = [tidy(v, lab, min_size) for lab in multi_resolution_louvain(w, resolutions, seed, keys)]
    if prior is None or not (np.asarray(prior) >= 0).any():
        return cold[select_partition(v, cold, sample_size, seed)], None
    # A re-run: also search from the previous themes and keep that answer unless the fresh one is
    # significantly better, so themes change when the data says so and not with every reshuffle.
    warm = [tidy(v, lab, min_size) for lab in multi_resolution_louvain(w, resolutions, seed, keys, start=prior)]
    per_point = sample_silhouettes(v, cold + warm, sample_size, seed)
    fresh = _one_se_choice(per_point[:len(cold)], cold)
    kept = _one_se_choice(per_point[len(cold):], warm)
    if significantly_better(per_point[fresh], per_point[len(cold) + kept]):
        return cold[fresh], None
    return cold[fresh], warm[kept]


def agreement(labels: np.ndarray, prior: np.ndarray) -> float:
    """ARI between a partition and the previous run's themes, on the points that had a theme then."""
    from sklearn.metrics import adjusted_rand_score

    known = np.asarray(prior) >= 0
    if known.sum() < 2:
        return 0.0
    return float(adjusted_rand_score(np.asarray(prior)[known], np.asarray(labels)[known]))


def _finish(v: np.ndarray, fit_idx: np.ndarray, fit_labels: np.ndarray, min_size: int, outlier_z: float) -> np.ndarray:
    """From the graph partition of the fitted points to labels for all: nearest centroid, small themes
    dissolved, outliers unassigned, ids by size."""
    cents = centroids(v[fit_idx], fit_labels)
    labels, _ = _nearest(v, cents)
    labels = tidy(v, labels, min_size, iters=1)
    cents = centroids(v, labels)
    threshold = outlier_threshold(v, labels, cents, z=outlier_z)
    return _relabel_by_size(assign(v, cents, threshold))


def cluster(vectors: np.ndarray, *, min_size: int | None = None, k: int | None = None,
            resolutions=None, max_graph_points: int = 20000,
            silhouette_sample: int = 4000, outlier_z: float = OUTLIER_Z, seed: int = 0,
            prior: np.ndarray | None = None) -> np.ndarray:
    """Theme labels for unit vectors (n, d): 0..K-1 by decreasing size, -1 for outliers.

    `prior` (optional, one label per vector, -1 for none) is the previous run's themes: the graph search
    then also starts from them (see `_fit_graph`)."""
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(v)
    min_size = default_min_size(n) if min_size is None else int(min_size)
    if n < max(2 * min_size, 3):
        return np.zeros(n, dtype=np.int64) if n >= min_size else np.full(n, -1, dtype=np.int64)
    keys = node_keys(v, seed)
    if n > max_graph_points:
        # Fit on a fixed sample; min_size scales down with it so small themes survive the sampling. The
        # sample is the points with the smallest keys: as random as any, and a re-run with more data
        # keeps most of the same points (bottom-k sampling) instead of drawing a new sample.
        fit_idx = np.sort(np.lexsort((np.arange(n), keys))[:max_graph_points])
        fit_min = max(3, round(min_size * max_graph_points / n))
    else:
        fit_idx, fit_min = np.arange(n), min_size
    k = default_k(len(fit_idx)) if k is None else int(k)
    fit_prior = None if prior is None else np.asarray(prior, dtype=np.int64)[fit_idx]
    cold, warm = _fit_graph(v[fit_idx], k, fit_min, resolutions, seed, silhouette_sample, keys[fit_idx], fit_prior)
    fresh = _finish(v, fit_idx, cold, min_size, outlier_z)
    if warm is None:
        return fresh
    kept = _finish(v, fit_idx, warm, min_size, outlier_z)
    # The fresh answer is a pure function of the data, so on unchanged data it reproduces the previous run
    # exactly (agreement 1.0); the warm one need not (it moves nodes from the previous *final* themes,
    # outliers included). Whichever agrees more with the previous themes is kept: identical re-runs are
    # identical, and after new notes the warm start still keeps ids where it stays closer.
    chosen = fresh if agreement(fresh, prior) >= agreement(kept, prior) else kept
    return keep_apart(v, chosen, np.asarray(prior), min_size)


def keep_apart(v: np.ndarray, labels: np.ndarray, prior: np.ndarray, min_size: int) -> np.ndarray:
    """A re-run's theme that holds most of two or more previous themes (of at least min_size statements) is split
    back along them, each member to the nearest of their centroids: themes that were apart stay apart when a few
    more notes arrive (a merge a PM wants is an edit, `edits`). Ids by size, as `cluster` returns them."""
    labels, prior = np.asarray(labels).copy(), np.asarray(prior)
    ids, sizes = np.unique(prior[prior >= 0], return_counts=True)
    size_of = dict(zip(ids.tolist(), sizes.tolist()))
    next_id = int(labels.max(initial=-1)) + 1
    for c in np.unique(labels[labels >= 0]).tolist():
        inside = labels == c
        held, counts = np.unique(prior[inside & (prior >= 0)], return_counts=True)
        whole = [t for t, k in zip(held.tolist(), counts.tolist()) if size_of[t] >= min_size and 2 * k > size_of[t]]
        if len(whole) < 2:
            continue
        rows = np.flatnonzero(inside)
        cents = centroids(v[rows], np.array([whole.index(t) if t in whole else -1 for t in prior[rows].tolist()]),
                          len(whole))
        best, _ = _nearest(v[rows], cents)
        new_ids = np.array([c, *range(next_id, next_id + len(whole) - 1)])
        next_id += len(whole) - 1
        labels[rows] = new_ids[best]
    return _relabel_by_size(labels)
