"""Keep theme ids stable across runs: match new clusters to the previous run's themes by shared statements.

A new cluster inherits the id of the previous theme it shares the most statements with (greedy, largest overlap
first, deterministic tie-breaks). When two clusters claim one old theme, the larger overlap keeps the id and the
other becomes a new theme split from it; when one cluster absorbs several old themes, the others are recorded as
merged into it. Clusters with no shared statements (a shifted window) fall back to centroid similarity.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Lineage:
    cluster_to_theme: dict[int, int | None]  # None: a new theme
    split_from: dict[int, int] = field(default_factory=dict)  # cluster -> old theme it split from
    merged: dict[int, int] = field(default_factory=dict)  # old theme -> old theme id it merged into
    retired: list[int] = field(default_factory=list)


def match_previous(
    labels: np.ndarray,
    statement_ids: list[int],
    previous: dict[int, int],
    centroids: dict[int, np.ndarray],
    previous_centroids: dict[int, np.ndarray],
    min_share: float = 0.3,
    centroid_threshold: float = 0.85,
) -> Lineage:
    """labels[i] is the new cluster of statement_ids[i]; previous maps statement id -> old theme id."""
    overlap: dict[int, Counter] = defaultdict(Counter)
    known: Counter = Counter()  # per cluster: statements that had an old theme
    for sid, lab in zip(statement_ids, labels):
        if lab < 0:
            continue
        old = previous.get(sid)
        if old is not None:
            overlap[int(lab)][old] += 1
            known[int(lab)] += 1
    clusters = sorted({int(l) for l in labels if l >= 0})
    pairs = sorted(
        ((count, c, t) for c, counter in overlap.items() for t, count in counter.items()),
        key=lambda p: (-p[0], p[1], p[2]),
    )
    result: dict[int, int | None] = {c: None for c in clusters}
    taken: set[int] = set()
    for count, c, t in pairs:
        if result[c] is not None or t in taken or count < min_share * known[c]:
            continue
        result[c] = t
        taken.add(t)
    lineage = Lineage(result)
    for c in clusters:  # a cluster whose main old theme went to another cluster split from it
        if result[c] is None and overlap.get(c):
            best = min(overlap[c].items(), key=lambda kv: (-kv[1], kv[0]))[0]
            if best in taken:
                lineage.split_from[c] = best
    free_old = sorted(set(previous_centroids) - taken)
    for c in clusters:  # no shared statements: e.g. a run over another window
        if result[c] is not None or c in lineage.split_from or not free_old or c not in centroids:
            continue
        sims = [(float(np.dot(centroids[c], previous_centroids[t])), t) for t in free_old]
        sim, t = max(sims, key=lambda st: (st[0], -st[1]))
        if sim >= centroid_threshold:
            result[c] = t
            taken.add(t)
            free_old.remove(t)
    new_theme_of = {c: t for c, t in result.items() if t is not None}
    for old in sorted(set(previous.values()) - taken):
        homes = Counter(int(l) for sid, l in zip(statement_ids, labels) if l >= 0 and previous.get(sid) == old)
        if homes:
            c, _ = min(homes.items(), key=lambda kv: (-kv[1], kv[0]))
            if new_theme_of.get(c) is not None:
                lineage.merged[old] = new_theme_of[c]
                continue
        lineage.retired.append(old)
    return lineage
