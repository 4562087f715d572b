"""Rejections ("not the right item") on public labelled data: does a person's "no" help the requests that follow?

    .venv/bin/python -m eval.bench_rejections [--sets hwu64,sofmattress,...] [--per-item 5,20] [--near 0.7,0.8]

Protocol (eval/devsets.py: title-only items, the set's other statements as the pool, single requests): the matcher
decides every pool statement; those it accepts for an item they are not about (hwu64: held-out intents and other
items' utterances; HINT3: other intents' train sentences) are what a rep would answer "not the right item" to. Per
item, N of them (seed 0) become the item's rejected texts, and the matcher is fitted again with them; the requests
(never in the pool) are then scored as in `bench_match`: top-1, AUROC, correct-and-accepted at out-of-scope recall 0.8,
and the share of out-of-scope requests declined. `--near` sets `matcher.REJECTED_NEAR` for the run. Labels are used
to choose what is rejected (as a rep would know) and to score, never by the matcher.
"""
from __future__ import annotations

import argparse
import json
import random

import numpy as np

from . import devsets
from .bench_match import OUT, cached_embed, figures


def pool_labels(ds: devsets.DevSet) -> np.ndarray:
    """Each pool statement's item index, -1 for a statement of no item (hwu64's held-out intents)."""
    label = {text: j for j, item in enumerate(ds.items) for text in ds.examples.get(item["id"], [])}
    return np.array([label.get(text, -1) for text in ds.pool])


def decided(matcher, texts: list[str], vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = matcher.scores(texts, vectors, transductive=False)
    return scores.argmax(axis=1), scores.max(axis=1)


def bench_set(ds: devsets.DevSet, embedder, per_item: list[int], near: list[float]) -> dict:
    from service.roadmap import matcher as matcher_mod

    requests = cached_embed(embedder, ds.requests, f"{ds.name}-requests")
    pool = cached_embed(embedder, ds.pool, f"{ds.name}-pool")
    fitted = matcher_mod.RoadmapMatcher().fit(ds.items, embedder, pool_vectors=pool, pool_texts=ds.pool)
    top, best = decided(fitted, ds.requests, requests)
    out = {"requests": len(ds.requests), "items": len(ds.items), "without": figures(top, best, ds.gold, best >= 0.5)}
    pool_top, pool_best = decided(fitted, ds.pool, pool)
    wrong = (pool_best >= 0.5) & (pool_top != pool_labels(ds))
    out["pool_accepted"], out["pool_wrongly_accepted"] = int((pool_best >= 0.5).sum()), int(wrong.sum())
    default_near = matcher_mod.REJECTED_NEAR
    try:
        for n in per_item:
            rng = random.Random(0)
            items = [dict(item, rejected=[ds.pool[i] for i in rng.sample(sorted(np.flatnonzero(wrong & (pool_top == j))),
                                                                          min(n, int((wrong & (pool_top == j)).sum())))])
                     for j, item in enumerate(ds.items)]
            rejected = sum(len(i["rejected"]) for i in items)
            fitted = matcher_mod.RoadmapMatcher().fit(items, embedder, pool_vectors=pool, pool_texts=ds.pool)
            for cosine in near:
                matcher_mod.REJECTED_NEAR = cosine
                top, best = decided(fitted, ds.requests, requests)
                out[f"{n}_per_item_near_{cosine}"] = {**figures(top, best, ds.gold, best >= 0.5), "rejected": rejected}
    finally:
        matcher_mod.REJECTED_NEAR = default_near
    return out


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="hwu64," + ",".join(devsets.HINT3_SETS))
    parser.add_argument("--per-item", default="5,20", help="rejected texts per item, comma-separated")
    parser.add_argument("--near", default="0.7,0.8", help="REJECTED_NEAR values to run, comma-separated")
    args = parser.parse_args(argv)
    wanted = devsets.set_names(parser, args.sets)
    try:
        per_item = [int(x) for x in args.per_item.split(",") if x.strip()]
        near = [float(x) for x in args.near.split(",") if x.strip()]
    except ValueError:
        parser.error("--per-item takes whole numbers and --near numbers, comma-separated")
    sets = [devsets.hwu64() if name == "hwu64" else devsets.hint3(name) for name in wanted]
    if any(s is None for s in sets):
        print(f"bench_rejections: no data under {devsets.datasets_dir()} for "
              f"{', '.join(n for n, s in zip(wanted, sets) if s is None)}; skipped")
    sets = [s for s in sets if s is not None]
    if not sets:
        return None
    from service.embedding import get_embedder

    embedder = get_embedder()
    report = {}
    for ds in sets:
        report[ds.name] = data = bench_set(ds, embedder, per_item, near)
        print(f"\n{ds.name}: {data['requests']} requests, {data['items']} items; pool statements accepted "
              f"{data['pool_accepted']}, for an item they are not about {data['pool_wrongly_accepted']}", flush=True)
        print(f"{'':26s} {'top-1':>7s} {'AUROC':>7s} {'acc@R.8':>8s} {'declined':>9s}")
        for key, f in data.items():
            if isinstance(f, dict):
                print(f"{key:26s} {f['top1']:7.3f} {f['auroc']:7.3f} {f['accepted_at_oos_recall_0.8']:8.3f} "
                      f"{f['oos_recall']:9.3f}", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_rejections.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
