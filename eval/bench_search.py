"""Search rankings on public labelled data: dense only, lexical only (BM25) and their reciprocal-rank-fusion hybrid.

    .venv/bin/python -m eval.bench_search [--sets hwu64,sofmattress,...] [--requests 200]

Protocol (eval/devsets.py), per set: the corpus is every labelled example text of the set (HINT3's out-of-scope
examples included, relevant to no query); the queries are
- `titles`: each item's title, as a PM types a topic ("Order taking"); relevant: that item's examples;
- `requests`: a sample of `--requests` test requests that have a gold item (seed 0); relevant: the gold item's
  examples. A corpus text identical to the query is left out of its ranking (nobody searches for a statement they
  already have).
Each query is ranked by the functions service.search uses: `dense_ranking` over in-memory vectors (the index's top
DENSE_CANDIDATES), the lexical candidates as the SQL query picks them (`like_fragments`/`like_score`, ties in a
fixed random order standing in for "newest first", capped at LEXICAL_CANDIDATES) ranked by `lexical_ranking` (BM25),
and `fuse`. Figures: precision@10 and MRR (1 / rank of the first relevant result, 0 when none is ranked), means over
the queries. Nothing here is tuned: RRF's k is the published 60. Figures go to eval/out/bench_search.json.
"""
from __future__ import annotations

import argparse
import json
import random

import numpy as np

from service.search import (DENSE_CANDIDATES, LEXICAL_CANDIDATES, RANKINGS, dense_ranking, fuse, lexical_ranking,
                            like_fragments, like_score)

from . import devsets
from .bench_match import OUT, cached_embed

AT = 10


def corpus_of(ds: devsets.DevSet) -> tuple[list[str], list[str]]:
    """(texts, the item id each was labelled with) of every labelled example."""
    texts, labels = [], []
    for label, examples in ds.examples.items():
        texts += examples
        labels += [label] * len(examples)
    return texts, labels


def queries_of(ds: devsets.DevSet, n_requests: int) -> dict[str, list[tuple[str, str]]]:
    """{"titles": [(query, relevant item id)], "requests": [...]} for items that have examples."""
    titles = [(i["title"], i["id"]) for i in ds.items if ds.examples.get(i["id"])]
    asked = [(r, ds.items[g]["id"]) for r, g in zip(ds.requests, ds.gold)
             if g >= 0 and ds.examples.get(ds.items[g]["id"])]
    return {"titles": titles, "requests": random.Random(0).sample(asked, min(n_requests, len(asked)))}


class Lexical:
    """The lexical side as service.search._lexical runs it in SQL, on a list of texts."""

    def __init__(self, texts: list[str], seed: int = 0):
        self.texts = texts
        order = list(range(len(texts)))
        random.Random(seed).shuffle(order)
        self.age = {doc: n for n, doc in enumerate(order)}  # "newest first" among candidates of equal points

    def ranking(self, query: str, skip: set[int]) -> list[int]:
        fragments = like_fragments(query)
        if not fragments:
            return []
        points = {i: like_score(fragments, t) for i, t in enumerate(self.texts)
                  if i not in skip and any(f in t.lower() for f in fragments)}
        candidates = sorted(points, key=lambda i: (-points[i], self.age[i]))[:LEXICAL_CANDIDATES]
        return [candidates[i] for i, _ in lexical_ranking(query, [self.texts[c] for c in candidates])]


def figures(order: list[int], relevant: set[int]) -> tuple[float, float]:
    top = order[:AT]
    precision = sum(1 for i in top if i in relevant) / AT
    first = next((rank for rank, i in enumerate(order, start=1) if i in relevant), None)
    return precision, (1.0 / first if first else 0.0)


def bench_set(ds: devsets.DevSet, embedder, n_requests: int) -> dict:
    texts, labels = corpus_of(ds)
    vectors = cached_embed(embedder, texts, f"{ds.name}-search-corpus")
    lexical = Lexical(texts)
    by_text: dict[str, set[int]] = {}
    for i, t in enumerate(texts):
        by_text.setdefault(t.strip().lower(), set()).add(i)
    out: dict = {"corpus": len(texts)}
    for kind, queries in queries_of(ds, n_requests).items():
        qvecs = cached_embed(embedder, [q for q, _ in queries], f"{ds.name}-search-{kind}")
        sums = {r: np.zeros(2) for r in RANKINGS}
        for (query, item), qvec in zip(queries, qvecs):
            skip = by_text.get(query.strip().lower(), set())
            relevant = {i for i, label in enumerate(labels) if label == item}
            dense = [i for i, _ in dense_ranking(qvec, vectors, DENSE_CANDIDATES + len(skip)) if i not in skip]
            dense = dense[:DENSE_CANDIDATES]
            found = lexical.ranking(query, skip)
            for ranking in RANKINGS:
                sums[ranking] += figures([i for i, _ in fuse(dense, found, ranking)], relevant)
        out[kind] = {"queries": len(queries), **{r: {"p@10": round(float(s[0] / len(queries)), 4),
                                                     "mrr": round(float(s[1] / len(queries)), 4)}
                                                 for r, s in sums.items()}}
    return out


def table(report: dict) -> str:
    rows = ["| set | queries | dense p@10 / MRR | lexical (BM25) p@10 / MRR | hybrid (RRF) p@10 / MRR |",
            "| --- | --- | --- | --- | --- |"]
    for name, data in report["sets"].items():
        for kind in ("titles", "requests"):
            f = data[kind]
            cells = [f"{f[r]['p@10']:.3f} / {f[r]['mrr']:.3f}" for r in ("dense", "lexical", "hybrid")]
            rows.append(f"| {name} ({data['corpus']:,} statements) | {kind}: {f['queries']} | "
                        + " | ".join(cells) + " |")
    return "\n".join(rows)


def verdict(report: dict) -> dict:
    """Hybrid against dense, per set, on the mean of both query kinds' MRR and p@10: the rule of the task is to keep
    hybrid when it beats dense on at least two sets and loses none by more than 0.01."""
    out = {}
    for name, data in report["sets"].items():
        diff = [data[k]["hybrid"][m] - data[k]["dense"][m] for k in ("titles", "requests") for m in ("p@10", "mrr")]
        out[name] = round(float(np.mean(diff)), 4)
    wins = sum(1 for d in out.values() if d > 0)
    worst = min(out.values()) if out else 0.0
    return {"hybrid_minus_dense": out, "keep_hybrid": wins >= 2 and worst >= -0.01}


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="hwu64," + ",".join(devsets.HINT3_SETS),
                        help="comma-separated: hwu64 and/or the HINT3 set names")
    parser.add_argument("--requests", type=int, default=200, help="test requests sampled per set")
    args = parser.parse_args(argv)
    wanted = devsets.set_names(parser, args.sets)
    sets = [devsets.hwu64() if name == "hwu64" else devsets.hint3(name) for name in wanted]
    missing = [n for n, s in zip(wanted, sets) if s is None]
    if missing:
        print(f"bench_search: no data for {', '.join(missing)} under {devsets.datasets_dir()} "
              "(set FEEDBACK_DATASETS to the datasets folder); skipped")
    sets = [s for s in sets if s is not None]
    if not sets:
        return None
    from service.embedding import get_embedder

    embedder = get_embedder()
    report: dict = {"embedder": embedder.name, "sets": {}}
    for ds in sets:
        report["sets"][ds.name] = bench_set(ds, embedder, args.requests)
        print(f"{ds.name}: done", flush=True)
    report["verdict"] = verdict(report)
    print(table(report))
    print(f"hybrid minus dense (mean of p@10 and MRR over both query kinds): "
          f"{report['verdict']['hybrid_minus_dense']}; keep hybrid: {report['verdict']['keep_hybrid']}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_search.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {OUT / 'bench_search.json'}")
    return report


if __name__ == "__main__":
    main()
