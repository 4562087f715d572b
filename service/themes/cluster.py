"""Theme discovery: cluster statement embeddings without being told how many themes there are.

Method (all steps deterministic, memory O(n * k)):

1. Exact k-nearest-neighbour graph computed in row chunks (never an n x n matrix), with
   k = ceil(log2 n): the usual size at which a kNN graph is connected, so it grows with the data.
2. Shared-nearest-neighbour (Jaccard) edge weights. They suppress the chance edges between two
   themes that happen to sit close together, which plain cosine weights keep.
3. Louvain modularity on that graph at a grid of resolutions. The finest is derived from the graph
   and `min_size` (see `finest_resolution`), the grid spans four octaves below it. Louvain runs once
   at the finest resolution; the coarser candidates are computed on the graph aggregated over that
   first level, so the sweep is nearly free.
4. Each candidate partition is tidied (communities under `min_size` dissolved, two spherical
   k-means steps to fix ragged graph borders); the cosine silhouette on a fixed sample picks one
   (the coarsest within one standard error of the best): the data chooses the granularity.
5. Points far below their theme's typical similarity (robust z-score) are left unassigned (-1).

`assign` puts new statements into existing themes; `choose_threshold` reads its cut-off from the
clustered data (see there) instead of a constant.

Corpora above `max_graph_points` are clustered on a fixed random sample and the rest is assigned
to the nearest centroid, which keeps 100k statements within minutes and a few hundred MB.
"""
from __future__ import annotations

import math

import networkx as nx
import numpy as np
import scipy.sparse as sp

# Resolutions tried: a geometric grid (steps of sqrt 2) spanning 4 octaves below the finest useful one.
GRID_STEPS = 9
# Robust z below which a point is an outlier of its theme (the usual 3-MAD rule).
OUTLIER_Z = 3.0
_MAD_TO_SIGMA = 1.4826
# Only when there is nothing to learn a threshold from (no themes yet): about what choose_threshold
# yields for all-MiniLM-L6-v2 on short statements (0.50-0.55 on the dev data).
DEFAULT_ASSIGN_THRESHOLD = 0.5


def default_k(n: int) -> int:
    return int(min(30, max(5, math.ceil(math.log2(max(n, 2))))))


def default_min_size(n: int) -> int:
    """Smallest theme worth showing: grows like sqrt(n) (3 at 1k statements, ~32 at 100k), so a
    large corpus is not split into slivers while a small one keeps its small themes."""
    return int(max(3, round(math.sqrt(n) / 10)))


def _top_k(s: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top k, best first; equal similarities are ordered by the smaller index."""
    try:  # torch ships with the embedder and its top-k is ~20x faster than numpy's argpartition
        import torch

        extra = min(s.shape[1], k + 4)  # a little slack so index tie-breaking is ours, not torch's
        vals, part = torch.topk(torch.from_numpy(s), extra, dim=1)
        ps, part = vals.numpy(), part.numpy()
    except ImportError:  # pragma: no cover - numpy-only install
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        ps = np.take_along_axis(s, part, axis=1)
    order = np.lexsort((part, -ps), axis=1)[:, :k]  # lexsort: last key is the primary one
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(ps, order, axis=1)


def knn(vectors: np.ndarray, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine kNN (self excluded), computed in row chunks: O(chunk * n) memory, never n x n."""
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(v)
    k = min(k, n - 1)
    idx = np.empty((n, k), dtype=np.int64)
    sims = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        s = v[start:stop] @ v.T
        s[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        idx[start:stop], sims[start:stop] = _top_k(s, k)
    return idx, sims


def snn_graph(idx: np.ndarray) -> sp.csr_matrix:
    """Symmetric graph over kNN edges weighted by the Jaccard overlap of the two neighbourhoods."""
    n, k = idx.shape
    rows = np.repeat(np.arange(n), k)
    a = sp.csr_matrix((np.ones(n * k, dtype=np.float32), (rows, idx.ravel())), shape=(n, n))
    a_self = (a + sp.identity(n, dtype=np.float32, format="csr")).tocsr()
    edges = ((a + a.T) > 0).astype(np.float32)
    shared = sp.triu(a_self.dot(a_self.T).multiply(edges), k=1).tocoo()
    weight = shared.data / (2 * (k + 1) - shared.data)
    w = sp.coo_matrix((weight, (shared.row, shared.col)), shape=(n, n))
    return (w + w.T).tocsr()


def _to_labels(communities, n: int) -> np.ndarray:
    """Number communities by size then smallest member, so ids do not depend on set order."""
    labels = np.full(n, -1, dtype=np.int64)
    ordered = sorted((sorted(c) for c in communities), key=lambda c: (-len(c), c[0]))
    for cid, members in enumerate(ordered):
        labels[members] = cid
    return labels


def _nx_graph(w: sp.csr_matrix) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(w.shape[0]))
    coo = sp.triu(w).tocoo()
    g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()))
    return g


def multi_resolution_louvain(w: sp.csr_matrix, resolutions, seed: int = 0) -> list[np.ndarray]:
    """One Louvain partition per resolution, sharing the expensive first level at the finest one."""
    n = w.shape[0]
    finest = max(resolutions)
    level1 = next(iter(nx.community.louvain_partitions(_nx_graph(w), resolution=finest, seed=seed)))
    base = _to_labels(level1, n)
    p = sp.csr_matrix((np.ones(n), (np.arange(n), base)), shape=(n, base.max() + 1))
    agg = (p.T @ w @ p).tocsr()
    # networkx stores a reduced community as a self-loop holding its internal weight once.
    agg.setdiag(agg.diagonal() / 2)
    g = _nx_graph(agg)
    out = []
    for res in resolutions:
        coarse = _to_labels(nx.community.louvain_communities(g, resolution=res, seed=seed), agg.shape[0])
        out.append(coarse[base])
    return out


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
    onehot = sp.csr_matrix((np.ones(len(lab)), (np.arange(len(lab)), lab)), shape=(len(lab), len(uniq)))
    sums = np.asarray((onehot.T @ dist.T).T)  # (m, K) summed distance to each cluster
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
    clusters shrink, so among statistically equal partitions the simplest wins)."""
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(vectors), size=min(len(vectors), sample_size), replace=False))
    dist = np.clip(1.0 - vectors[sample] @ vectors[sample].T, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    per_point = [silhouette_samples(dist, lab[sample]) for lab in candidates]
    means = np.array([s.mean() for s in per_point])
    best = int(np.argmax(means))
    se = per_point[best].std() / math.sqrt(len(sample))
    ok = np.flatnonzero(means >= means[best] - se)
    n_clusters = [len(np.unique(candidates[i])) for i in ok]
    return int(ok[int(np.argmin(n_clusters))])  # argmin: the coarser resolution wins a tie


def finest_resolution(w: sp.csr_matrix, min_size: int) -> float:
    """Resolution at which two themes of min_size points joined by one typical edge stay apart.

    Modularity merges communities A and B when the weight between them exceeds
    gamma * deg(A) * deg(B) / 2m. With |A| = |B| = min_size, a mean node degree d and a mean edge
    weight e, one bridging edge keeps them apart once gamma > n * e / (min_size^2 * d). Finer than
    that, Louvain would split themes at the level of single chance edges, below what min_size allows."""
    n = w.shape[0]
    degree = float(w.sum()) / n
    edge = float(w.data.mean()) if w.nnz else 1.0
    size = max(min_size, 2)
    # Never below 1, modularity's own scale, so the grid always holds the standard partition.
    return max(n * edge / (size ** 2 * max(degree, 1e-12)), 1.0)


def resolution_grid(finest: float, steps: int = GRID_STEPS) -> tuple[float, ...]:
    return tuple(float(finest * 2 ** (-i / 2)) for i in reversed(range(steps)))


def _fit_graph(v: np.ndarray, k: int, min_size: int, resolutions, seed: int, sample_size: int) -> np.ndarray:
    w = snn_graph(knn(v, k)[0])
    resolutions = resolutions or resolution_grid(finest_resolution(w, min_size))
    candidates = [tidy(v, lab, min_size) for lab in multi_resolution_louvain(w, resolutions, seed)]
    return candidates[select_partition(v, candidates, sample_size, seed)]


def cluster(vectors: np.ndarray, *, min_size: int | None = None, k: int | None = None,
            resolutions=None, max_graph_points: int = 20000,
            silhouette_sample: int = 4000, outlier_z: float = OUTLIER_Z, seed: int = 0) -> np.ndarray:
    """Theme labels for unit vectors (n, d): 0..K-1 by decreasing size, -1 for outliers."""
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(v)
    min_size = default_min_size(n) if min_size is None else int(min_size)
    if n < max(2 * min_size, 3):
        return np.zeros(n, dtype=np.int64) if n >= min_size else np.full(n, -1, dtype=np.int64)
    if n > max_graph_points:
        # Fit on a fixed sample; min_size scales down with it so small themes survive the sampling.
        fit_idx = np.sort(np.random.default_rng(seed).choice(n, size=max_graph_points, replace=False))
        fit_min = max(3, round(min_size * max_graph_points / n))
    else:
        fit_idx, fit_min = np.arange(n), min_size
    k = default_k(len(fit_idx)) if k is None else int(k)
    labels = _fit_graph(v[fit_idx], k, fit_min, resolutions, seed, silhouette_sample)
    cents = centroids(v[fit_idx], labels)
    labels, _ = _nearest(v, cents)
    labels = tidy(v, labels, min_size, iters=1)
    cents = centroids(v, labels)
    threshold = outlier_threshold(v, labels, cents, z=outlier_z)
    return _relabel_by_size(assign(v, cents, threshold))
