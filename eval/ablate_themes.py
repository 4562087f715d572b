"""Offline ablation of the theme grouping on labelled dev sets (issue 14), for changes that are cheaper to try
here than through the whole product path.

    .venv/bin/python -m eval.ablate_themes [--variants base,finest,...] [--sets hwu64_fold1,...]

It runs the product's own stages on cached vectors, in the order `run_themes` runs them: statement kinds
(`stages.class_scores` / `decide`, pasted context), clustering of the pains (`stages.cluster`), close calls
adopted into themes (`stages.adopt`), themes that are context or one pasted sentence dropped
(`stages.context_clusters`, `stages.copy_clusters`). What it leaves out is storage, lineage and labels; on hwu64
all and fold1 its `base` figures equal the product path's (`eval.bench_themes`). A variant swaps one stage.

Sets: hwu64 fold1 and all (intents), the three HINT3 train sets (intents), and multi-pain notes built from hwu64
all with `bench_themes.multi_pain_notes` (seeds 0 and 1; best-match F1). All are dev data: a variant is worth
landing only if it helps on two of them and costs none more than 0.01 (eval/README.md).
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

SETS = ("hwu64_fold1", "hwu64_all", "hint3_sofmattress", "hint3_curekart", "hint3_powerplay11", "multipain_0",
        "multipain_1")


def _source(name: str, folder: Path) -> Path:
    """The file a dev set is read from (hwu64's folder is `folder`; HINT3 sits beside it)."""
    if name.startswith("hint3_"):
        return folder.parent / "hint3" / f"{name[6:]}_train.csv"
    return folder / (f"{name}.csv" if name.startswith("hwu64_") else "hwu64_all.csv")


def load_set(name: str, folder: Path) -> dict:
    """{texts, owner (note per statement), truth or gold} for one dev set."""
    from eval.bench_themes import multi_pain_notes, read_csv

    if name.startswith("hwu64_"):
        texts, truth = read_csv(folder / f"{name}.csv")
        return {"texts": texts, "truth": truth}
    if name.startswith("hint3_"):
        with open(_source(name, folder), newline="", encoding="utf-8") as fh:
            rows = [(r["sentence"], r["label"]) for r in csv.DictReader(fh)]
        return {"texts": [t for t, _ in rows], "truth": [y for _, y in rows]}
    from service.ingest.split import split_statements

    texts, truth = read_csv(folder / "hwu64_all.csv")
    notes = multi_pain_notes(texts, truth, 1000, seed=int(name.split("_")[1]))
    out = {"texts": [], "owner": [], "gold": {}}
    for note in notes:
        for seg in split_statements(note["text"]):
            out["texts"].append(seg.text)
            out["owner"].append(note["id"])
        for intent in note["gold"]:
            out["gold"].setdefault(intent, set()).add(note["id"])
    return out


def pipeline(data: dict, vectors: np.ndarray, embedder, variant: str) -> np.ndarray:
    """Theme label per statement (-1: none), the product's stages in order, one swapped by `variant`."""
    from service.themes import stages

    texts = data["texts"]
    scores = stages.class_scores(texts, vectors, embedder)
    kinds = np.array(stages.decide(scores))
    parts = variant.split("+")
    for part in parts:
        if part.startswith("ctx_below_"):  # "other" read as a request when the context model leans product-side
            from service.themes.context import context_probability

            kinds[(kinds == "other") & (context_probability(vectors, embedder) < float(part[10:]))] = "pain"
        if part.startswith("pool_requests_"):  # "other" read as a request by a context model that saw the pains
            from service.themes.context import pool_model, probability

            other = np.flatnonzero(kinds == "other")
            model = pool_model(vectors, np.flatnonzero(kinds == "pain"), embedder)
            kinds[other[probability(model, vectors[other]) < float(part[14:])]] = "pain"
    kinds[stages.pasted_context(texts, vectors, embedder)] = "other"
    take = kinds != "praise" if "no_praise_filter" in parts else kinds == "pain"
    keep, rest = np.flatnonzero(take), np.flatnonzero(~take)
    labels = np.full(len(texts), -1, dtype=np.int64)
    labels[keep] = cluster_variant(vectors[keep], next((p for p in parts if p in CLUSTER_VARIANTS), "base"))
    adopted = adopt_variant(scores[rest], vectors[rest], vectors[keep], labels[keep],
                            next((p for p in parts if p in ADOPT_VARIANTS), "base"))
    labels[rest[adopted >= 0]] = adopted[adopted >= 0]
    for c in stages.context_clusters(vectors, labels, embedder):
        labels[labels == c] = -1
    kept = labels >= 0
    for c in stages.copy_clusters([t for t, k in zip(texts, kept) if k], labels[kept]):
        labels[labels == c] = -1
    return labels


def cluster_variant(v: np.ndarray, variant: str) -> np.ndarray:
    from service.themes import cluster as cl
    from service.themes import graph

    if variant == "hdbscan_pca30":
        from sklearn.cluster import HDBSCAN
        from sklearn.decomposition import PCA

        x = PCA(30, random_state=0).fit_transform(v)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        ms = max(cl.default_min_size(len(v)), 5)
        labels = HDBSCAN(min_cluster_size=ms, min_samples=max(ms // 2, 2), copy=True).fit_predict(x)
        if (labels >= 0).any():  # outliers join the nearest theme when as close as its members (choose_threshold)
            cents = cl.centroids(v, labels)
            best, sim = cl._nearest(v, cents)
            labels = np.where(labels >= 0, labels, np.where(sim >= cl.choose_threshold(v, labels, cents), best, -1))
        return labels
    if variant in ("finest", "finest_merge_0.8"):
        original = cl._one_se_choice
        cl._one_se_choice = lambda per_point, candidates: len(candidates) - 1  # the finest resolution of the grid
        try:
            labels = cl.cluster(v)
        finally:
            cl._one_se_choice = original
        if variant == "finest_merge_0.8" and len(np.unique(labels[labels >= 0])) > 1:
            from sklearn.cluster import AgglomerativeClustering

            merged = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                             distance_threshold=0.2).fit(cl.centroids(v, labels)).labels_
            labels = np.where(labels >= 0, merged[np.maximum(labels, 0)], -1)
        return labels
    if variant == "best_silhouette":  # the best mean silhouette, without the one-standard-error step
        original = cl._one_se_choice
        cl._one_se_choice = lambda per_point, candidates: int(np.argmax([s.mean() for s in per_point]))
        try:
            return cl.cluster(v)
        finally:
            cl._one_se_choice = original
    if variant == "finest_within_se":  # the finest candidate within one standard error of the best silhouette
        original = cl._one_se_choice

        def finest_within(per_point, candidates):
            means = np.array([s.mean() for s in per_point])
            best = int(np.argmax(means))
            se = np.array([(per_point[best] - s).std() for s in per_point]) / np.sqrt(len(per_point[best]))
            ok = np.flatnonzero(means >= means[best] - se)
            return int(ok[int(np.argmax([len(np.unique(candidates[i])) for i in ok]))])

        cl._one_se_choice = finest_within
        try:
            return cl.cluster(v)
        finally:
            cl._one_se_choice = original
    if variant == "stability":
        return stability_choice(v)
    if variant in ("k_x0.7", "k_x1.5", "min_size_x0.6"):
        factor = float(variant.split("_x")[1])
        kwargs = ({"min_size": max(2, round(cl.default_min_size(len(v)) * factor))} if variant.startswith("min")
                  else {"k": max(3, round(graph.default_k(len(v)) * factor))})
        return cl.cluster(v, **kwargs)
    return cl.cluster(v)


def stability_choice(v: np.ndarray, seeds=(0, 1, 2)) -> np.ndarray:
    """The resolution whose partitions agree most across Louvain runs in different node orders (mean pairwise
    ARI; the coarser on a tie), instead of the silhouette's choice. Seed 0's partition at it is finished as
    `cluster` finishes its choice."""
    from itertools import combinations

    from sklearn.metrics import adjusted_rand_score

    from service.themes import cluster as cl
    from service.themes import graph

    n = len(v)
    min_size, k = cl.default_min_size(n), graph.default_k(n)
    w = graph.snn_graph(graph.knn(v, k)[0])
    grid = graph.resolution_grid(graph.finest_resolution(w, min_size))
    runs = [[cl.tidy(v, lab, min_size)
             for lab in graph.multi_resolution_louvain(w, grid, seed, graph.node_keys(v, seed))]
            for seed in seeds]
    agree = [np.mean([adjusted_rand_score(runs[a][i], runs[b][i]) for a, b in combinations(range(len(seeds)), 2)])
             for i in range(len(grid))]
    best = int(np.argmax(np.round(agree, 3)))
    print(f"    stability per resolution: {' '.join(f'{a:.3f}' for a in agree)} -> {best}", flush=True)
    return cl._finish(v, np.arange(n), runs[0][best], min_size, cl.OUTLIER_Z)


def adopt_variant(scores, vectors, theme_vectors, theme_labels, variant: str) -> np.ndarray:
    from service.themes import cluster as cl
    from service.themes import select, stages

    if variant not in ("adopt_unless_praise", "adopt_double_evidence"):
        return stages.adopt(scores, vectors, theme_vectors, theme_labels)
    out = np.full(len(vectors), -1, dtype=np.int64)
    if not len(vectors) or not (theme_labels >= 0).any():
        return out
    cents = cl.centroids(theme_vectors, theme_labels)
    best, sim = cl._nearest(np.asarray(vectors, dtype=np.float32), cents)
    near = sim >= cl.choose_threshold(theme_vectors, theme_labels, cents)
    if variant == "adopt_unless_praise":
        turn = near & (np.asarray(scores).argmax(axis=1) != select.CLASSES.index("praise"))
    else:  # being inside a theme counts as two lexical cues instead of one
        s = np.asarray(scores, dtype=np.float32).copy()
        s[near, select.CLASSES.index("pain")] += 2 * select.CUE_BONUS
        turn = near & (s.argmax(axis=1) == select.CLASSES.index("pain"))
    out[turn] = best[turn]
    return out


CLUSTER_VARIANTS = ("finest", "finest_merge_0.8", "k_x0.7", "k_x1.5", "min_size_x0.6", "hdbscan_pca30",
                    "best_silhouette", "finest_within_se", "stability")
ADOPT_VARIANTS = ("adopt_unless_praise", "adopt_double_evidence")
VARIANTS = ("base", *CLUSTER_VARIANTS, "no_praise_filter", *ADOPT_VARIANTS, "ctx_below_0.6", "ctx_below_0.7",
            "pool_requests_0.5")


def known_variant(variant: str) -> bool:
    """A variant is one of VARIANTS or several joined by "+" (one stage each); `ctx_below_T` and `pool_requests_T`
    (an "other" statement is a request when `context.pool_model`, fitted with the pains, gives it a context
    probability below T) take any T."""
    def known(part):
        if part.startswith(("ctx_below_", "pool_requests_")):
            try:
                return 0.0 < float(part.rsplit("_", 1)[1]) <= 1.0
            except ValueError:
                return False
        return part in VARIANTS
    return all(known(p) for p in variant.split("+"))


def score(data: dict, labels: np.ndarray) -> str:
    from eval.bench_themes import scores
    from eval.metrics.themes import best_match_f1

    if "gold" in data:
        found: dict[int, set] = {}
        for owner, lab in zip(data["owner"], labels.tolist()):
            if lab >= 0:
                found.setdefault(lab, set()).add(owner)
        return f"F1 {best_match_f1(data['gold'], found):.3f} themes {len(found)}"
    s = scores(data["truth"], labels)
    return f"NMI {s['nmi']:.3f} ARI {s['ari']:.3f} themes {s['clusters']} unassigned {s['unassigned']:.3f}"


def main(argv: list[str] | None = None) -> int:
    from eval.bench_themes import cached_embed, datasets_dir
    from service.embedding import get_embedder

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--sets", default=",".join(SETS))
    args = ap.parse_args(argv)
    unknown = [v for v in args.variants.split(",") if not known_variant(v)] + \
        [s for s in args.sets.split(",") if s not in SETS]
    if unknown:
        ap.error(f"unknown variant or set: {', '.join(unknown)} (variants: {', '.join(VARIANTS)}; sets: "
                 f"{', '.join(SETS)})")
    folder = datasets_dir()
    present = [n for n in args.sets.split(",") if _source(n, folder).is_file()]
    for name in sorted(set(args.sets.split(",")) - set(present)):
        print(f"ablate_themes: no data for {name} ({_source(name, folder)}); skipped")
    embedder = get_embedder() if present else None
    for name in present:
        data = load_set(name, folder)
        vectors = cached_embed(data["texts"], f"ablate-{name}")
        for variant in args.variants.split(","):
            print(f"{name:18} {variant:22} {score(data, pipeline(data, vectors, embedder, variant))}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
