"""Which sentences of a linked note become evidence for the item: the rule of `service/roadmap/decision.py` against
its variants, on public data nobody here wrote (hwu64 and the three HINT3 sets, eval/devsets.py).

    .venv/bin/python -m eval.bench_note_evidence [--sets hwu64,sofmattress,...] [--seeds 2]

Per item, one mixed "note" is linked: one labelled utterance of the item and three pool utterances of other intents,
shuffled (a call note covers several topics). The note's utterances leave the pool. The matcher then answers the set's
requests one at a time; figures are in-scope top-1, AUROC and correct-and-accepted at out-of-scope recall 0.8
(acc@R.8), averaged over seeds. Labels are used for building notes and scoring only.
"""
from __future__ import annotations

import argparse
import random

import numpy as np

from . import devsets
from .bench_match import cached_embed, figures


def _select(rule: str, embedder, item_vectors: np.ndarray, index: int, texts: list[str]) -> list[str]:
    from service.roadmap.decision import EVIDENCE_MARGIN, _note_evidence

    if rule == "none":
        return []
    if rule == "service":
        return _note_evidence(embedder, item_vectors, index, texts)
    vectors = embedder.embed(texts)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    to_item = vectors @ item_vectors[index]
    if rule == "margin":
        keep = to_item >= to_item.max() - EVIDENCE_MARGIN
    elif rule == "closest_sentence":
        keep = np.arange(len(texts)) == to_item.argmax()
    else:  # "closest_item": closer to this item than to every other one
        keep = (vectors @ item_vectors.T).argmax(axis=1) == index
        if not keep.any():
            keep[to_item.argmax()] = True
    return [t for t, k in zip(texts, keep) if k]


RULES = ("none", "margin", "closest_sentence", "closest_item", "service")


def bench_set(ds: devsets.DevSet, embedder, seeds: int) -> dict:
    from service.roadmap.decision import _item_vectors
    from service.roadmap.matcher import RoadmapMatcher, RoadmapItem

    vectors = cached_embed(embedder, ds.requests, f"{ds.name}-requests")
    pool = cached_embed(embedder, ds.pool, f"{ds.name}-pool")
    ids = [i["id"] for i in ds.items]
    item_vectors = _item_vectors(embedder, [RoadmapItem.coerce(i) for i in ds.items])
    label_of = {t: item for item, texts in ds.examples.items() for t in texts}
    runs: dict[str, list] = {}
    for seed in range(seeds):
        rng = random.Random(seed)
        notes = {}
        for item in ds.items:
            own = ds.examples.get(item["id"], [])
            if own:
                note = [rng.choice(own)] + rng.sample([t for t in ds.pool if label_of.get(t) != item["id"]], 3)
                rng.shuffle(note)
                notes[item["id"]] = note
        linked = {t for note in notes.values() for t in note}
        keep = [n for n, t in enumerate(ds.pool) if t not in linked]
        for rule in RULES:
            items = [dict(item, evidence=_select(rule, embedder, item_vectors, k, notes[item["id"]])
                          if item["id"] in notes else []) for k, item in enumerate(ds.items)]
            matcher = RoadmapMatcher().fit(items, embedder, pool_vectors=pool[keep],
                                           pool_texts=[ds.pool[n] for n in keep])
            results = matcher.match(ds.requests, top_k=1, vectors=vectors, transductive=False)
            top = np.array([ids.index(r.matches[0]["item_id"]) for r in results])
            runs.setdefault(rule, []).append(figures(top, np.array([r.confidence for r in results]), ds.gold))
    return {rule: {k: round(float(np.mean([f[k] for f in fs])), 4) for k in fs[0]} for rule, fs in runs.items()}


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="hwu64," + ",".join(devsets.HINT3_SETS))
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args(argv)
    names = devsets.set_names(parser, args.sets)
    sets = [s for s in (devsets.hwu64() if n == "hwu64" else devsets.hint3(n) for n in names) if s is not None]
    if not sets:
        print(f"bench_note_evidence: no data under {devsets.datasets_dir()}; skipped")
        return None
    from service.embedding import get_embedder

    embedder, report = get_embedder(), {}
    for ds in sets:
        report[ds.name] = bench_set(ds, embedder, args.seeds)
        print(f"\n{ds.name}: {'rule':18s} {'top-1':>7s} {'AUROC':>7s} {'acc@R.8':>8s}")
        for rule, f in report[ds.name].items():
            print(f"{'':{len(ds.name) + 2}s}{rule:18s} {f['top1']:7.3f} {f['auroc']:7.3f} "
                  f"{f['accepted_at_oos_recall_0.8']:8.3f}", flush=True)
    return report


if __name__ == "__main__":
    main()
