"""Theme discovery's graph: a kNN graph of the statement embeddings and Louvain communities on it.

Method (all steps deterministic, memory O(n * k)):

1. Exact k-nearest-neighbour graph computed in row chunks (never an n x n matrix), with
   k = ceil(log2 n): the usual size at which a kNN graph is connected, so it grows with the data.
2. Shared-nearest-neighbour (Jaccard) edge weights. They suppress the chance edges between two
   themes that happen to sit close together, which plain cosine weights keep.
3. Louvain modularity on that graph at a grid of resolutions. The finest is bounded by the graph
   and `min_size` (see `finest_resolution`), the grid spans four octaves below it on a fixed lattice
   (`resolution_grid`). Louvain runs once at the finest resolution; the coarser candidates are
   computed on the graph aggregated over that first level, so the sweep is nearly free. Nodes are
   visited in an order drawn from a hash of their vectors (`node_keys`), not a shuffle of all n.

Re-runs: given the previous run's themes, Louvain's first level can start from them instead of from
singletons (`local_moving`, the warm start of dynamic Louvain). Choosing among the candidate partitions,
outliers and assignment are `cluster`'s.
"""
from __future__ import annotations

import hashlib
import math
import random

import networkx as nx
import numpy as np
import scipy.sparse as sp

# Resolutions tried: a geometric grid (steps of sqrt 2) spanning 4 octaves below the finest useful one.
GRID_STEPS = 9


def default_k(n: int) -> int:
    return int(min(30, max(5, math.ceil(math.log2(max(n, 2))))))


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


class _KeyedOrder(random.Random):
    """Louvain's random node order, drawn from per-node keys instead of one shuffle of all nodes.

    networkx visits nodes in `seed.shuffle(list(G.nodes))` order, and a shuffle of n items is a different
    permutation altogether for n + 1 items: appending a few statements reordered every visit and moved
    themes that had nothing to do with the new data. Sorting by a key fixed per node (`node_keys`) is just
    as arbitrary with respect to content, but the old nodes keep their relative order. Only the first
    shuffle (over the graph's own nodes) is replaced; networkx's internal aggregated levels keep the seeded
    shuffle."""

    def __init__(self, keys: dict[int, int], seed: int):
        super().__init__(seed)
        self.keys = keys
        self.used = False

    def shuffle(self, x, *args, **kwargs):
        if not self.used and len(x) == len(self.keys):
            self.used = True
            x.sort(key=lambda u: (self.keys[u], u))
        else:
            super().shuffle(x)


def node_keys(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """A pseudo-random 64-bit key per vector that depends on that vector (rounded, so float noise in
    stored embeddings does not change it) and the seed only. Orders and samples drawn from these keys are
    as arbitrary as a shuffle, but survive appended data: the old points keep their relative order."""
    rounded = np.round(np.asarray(vectors, dtype=np.float32), 4) + 0.0  # + 0.0 folds -0.0 into 0.0
    salt = int(seed).to_bytes(16, "little", signed=True)
    return np.array([int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8, salt=salt).digest(), "little")
                     for row in rounded], dtype=np.uint64)


def multi_resolution_louvain(w: sp.csr_matrix, resolutions, seed: int = 0, keys: np.ndarray | None = None,
                             start: np.ndarray | None = None) -> list[np.ndarray]:
    """One Louvain partition per resolution, sharing the expensive first level at the finest one.

    `keys` (one per node, see `node_keys`) set the node visit order in place of a seeded shuffle. With
    `start` (a label per node, -1 for none) the first level moves nodes from that partition instead of
    from singletons (`local_moving`)."""
    n = w.shape[0]
    finest = max(resolutions)
    if start is not None:
        visit = np.arange(n) if keys is None else np.lexsort((np.arange(n), keys))
        base = _to_labels(_communities(local_moving(w, start, finest, visit)), n)
    else:
        order = seed if keys is None else _KeyedOrder({i: int(k) for i, k in enumerate(keys)}, seed)
        base = _to_labels(next(iter(nx.community.louvain_partitions(_nx_graph(w), resolution=finest, seed=order))), n)
    p = sp.csr_matrix((np.ones(n), (np.arange(n), base)), shape=(n, base.max() + 1))
    agg = (p.T @ w @ p).tocsr()
    # networkx stores a reduced community as a self-loop holding its internal weight once.
    agg.setdiag(agg.diagonal() / 2)
    g = _nx_graph(agg)
    community_keys = None
    if keys is not None:  # a community's key: its smallest member's
        smallest = np.full(agg.shape[0], np.iinfo(np.uint64).max, dtype=np.uint64)
        np.minimum.at(smallest, base, np.asarray(keys, dtype=np.uint64))
        community_keys = {c: int(k) for c, k in enumerate(smallest)}
    out = []
    for res in resolutions:
        order = seed if community_keys is None else _KeyedOrder(community_keys, seed)
        coarse = _to_labels(nx.community.louvain_communities(g, resolution=res, seed=order), agg.shape[0])
        out.append(coarse[base])
    return out


def _communities(labels: np.ndarray) -> list[list[int]]:
    order = np.argsort(labels, kind="stable")
    return [list(map(int, g)) for g in np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)]


def local_moving(w: sp.csr_matrix, start: np.ndarray, resolution: float, order: np.ndarray | None = None) -> np.ndarray:
    """Louvain's first phase from a given partition instead of from singletons: each node in turn moves to
    the neighbouring community with the best modularity gain until no move helps.

    Started from the previous run's themes (new statements as singletons), it finds a partition as good
    locally as a cold start but next to the old one: the warm start of dynamic Louvain (Aynaud & Guillaume,
    "Static community detection algorithms for evolving networks", 2010). `start` labels < 0 are singletons."""
    w = sp.csr_matrix(w)
    n = w.shape[0]
    start = np.asarray(start, dtype=np.int64)
    comm = np.where(start >= 0, start, start.max(initial=-1) + 1 + np.arange(n))
    _, comm = np.unique(comm, return_inverse=True)
    degree = np.asarray(w.sum(axis=1)).ravel()
    two_m = float(degree.sum())
    if two_m <= 0:
        return comm
    total = np.bincount(comm, weights=degree, minlength=n).astype(np.float64)
    indptr, indices, data = w.indptr, w.indices, w.data
    order = np.arange(n) if order is None else np.asarray(order)
    scale = resolution / two_m
    for _ in range(100):  # converges in a handful of sweeps; the cap only guards against cycling
        moved = 0
        for u in order.tolist():
            lo, hi = indptr[u], indptr[u + 1]
            if lo == hi:
                continue
            nbr, wt = indices[lo:hi], data[lo:hi]
            mine = nbr != u
            here = comm[u]
            total[here] -= degree[u]
            cands, inv = np.unique(comm[nbr[mine]], return_inverse=True)
            links = np.bincount(inv, weights=wt[mine])
            gains = links - scale * total[cands] * degree[u]
            own = np.flatnonzero(cands == here)
            stay = (gains[own[0]] if len(own) else -scale * total[here] * degree[u])
            best = int(np.argmax(gains))
            target = int(cands[best]) if gains[best] > stay + 1e-12 else here
            total[target] += degree[u]
            if target != here:
                comm[u] = target
                moved += 1
        if not moved:
            break
    return np.unique(comm, return_inverse=True)[1]


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
    """`steps` resolutions sqrt(2) apart, the finest at most `finest`, on a fixed lattice (powers of sqrt 2).

    The lattice does not move with the data: `finest` grows with the corpus, and a grid hanging from it
    would offer a re-run after a few more notes a slightly different set of resolutions, so the chosen
    partition (and with it theme ids) would shift even where nothing changed. On the lattice the next run
    tries the same resolutions unless the bound crossed a lattice point."""
    top = math.floor(2 * math.log2(finest) + 1e-9)
    return tuple(float(2 ** ((top - i) / 2)) for i in reversed(range(steps)))
