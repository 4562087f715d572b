"""Roadmap matcher benchmark on public labelled data nobody in this project wrote: hwu64 and the three HINT3 sets.

    .venv/bin/python -m eval.bench_match [--sets hwu64,sofmattress,...] [--links 5] [--no-speed] [--requests 5000]

Protocol (eval/devsets.py): each intent is a roadmap item given by its TITLE only; requests are real utterances,
some about no item (hwu64: 10 held-out intents; HINT3: NO_NODES_DETECTED). Per set, next to raw cosine to the title:
- `matcher`: the service's path, one request at a time, with the set's other statements as the unlabeled pool;
- `matcher, no pool`: a fresh install with no stored notes;
- with `--links N` (HINT3's train examples, hwu64's other folds): N linked examples per item, against raw cosine to
  the title and the same N examples (max over them); `_half` rows link examples to every other item only, as a PM
  who has linked notes to some items.
Two reference rows (not product paths) use EVERY labelled example per item: a nearest-centroid reading and a logistic
regression on the same vectors, the ceiling a title-only matcher is measured against.
Figures: in-scope top-1, AUROC of the top score (in vs out of scope), correct-and-accepted at the threshold that
declines 80% of out-of-scope requests, and the matcher's own default decision: the share of out-of-scope requests
it declines (the band is 0.75-0.90) and its correct-and-accepted. Labels are used for scoring only. A speed section
times match() on 5,000 requests x 150 items against the embedding model alone. Figures go to eval/out/bench_match.json.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from pathlib import Path

import numpy as np

from . import devsets
from .metrics.match import accepted_at_oos_recall, auroc

OUT = Path(__file__).resolve().parent / "out"
BAND = (0.75, 0.90)
FILLERS = ("", "", "hey ", "quick question, ", "can you ", "please ", "so ", "i was wondering ")


def cached_embed(embedder, texts: list[str], name: str) -> np.ndarray:
    """Embeddings cached under eval/out (git-ignored), keyed by model and texts."""
    key = hashlib.sha256("\n".join([embedder.name, *texts]).encode()).hexdigest()[:16]
    path = OUT / "cache" / f"{name}-{key}.npy"
    if path.exists():
        return np.load(path)
    vectors = embedder.embed(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def figures(top: np.ndarray, score: np.ndarray, gold: np.ndarray, accepted: np.ndarray | None = None) -> dict:
    inside = gold >= 0
    correct = top == gold
    out = {"top1": round(float(correct[inside].mean()), 4),
           "auroc": round(auroc(score[inside], score[~inside]), 4),
           "accepted_at_oos_recall_0.8": round(accepted_at_oos_recall(score, correct, inside), 4)}
    if accepted is not None:
        out["oos_recall"] = round(float((~accepted[~inside]).mean()), 4)
        out["correct_and_accepted"] = round(float((correct & accepted)[inside].mean()), 4)
        out["in_band"] = BAND[0] <= out["oos_recall"] <= BAND[1]
    return out


def raw_cosine(item_vectors: list[np.ndarray], requests: np.ndarray, gold: np.ndarray) -> dict:
    """Max cosine of a request to each item's vectors (its title, plus any linked examples)."""
    sims = np.stack([(requests @ v.T).max(axis=1) for v in item_vectors], axis=1)
    return figures(sims.argmax(axis=1), sims.max(axis=1), gold)


def run_matcher(items, ds, vectors, embedder, pool=None, pool_texts=None) -> dict:
    from service.roadmap.matcher import RoadmapMatcher

    matcher = RoadmapMatcher().fit(items, embedder, pool_vectors=pool, pool_texts=pool_texts)
    results = matcher.match(ds.requests, top_k=1, vectors=vectors, transductive=False)
    ids = [i["id"] for i in items]
    top = np.array([ids.index(r.matches[0]["item_id"]) for r in results])
    return figures(top, np.array([r.confidence for r in results]), ds.gold, np.array([r.in_scope for r in results]))


def bench_set(ds: devsets.DevSet, embedder, links: int) -> dict:
    vectors = cached_embed(embedder, ds.requests, f"{ds.name}-requests")
    pool = cached_embed(embedder, ds.pool, f"{ds.name}-pool")
    titles = cached_embed(embedder, [i["title"] for i in ds.items], f"{ds.name}-titles")
    out = {"requests": len(ds.requests), "out_of_scope": int((ds.gold < 0).sum()), "items": len(ds.items),
           "pool": len(ds.pool),
           "raw_cosine": raw_cosine([t[None] for t in titles], vectors, ds.gold),
           "matcher": run_matcher(ds.items, ds, vectors, embedder, pool, ds.pool),
           "matcher_no_pool": run_matcher(ds.items, ds, vectors, embedder)}
    if ds.examples:
        out.update(supervised_reference(ds, vectors, embedder))
    if links and ds.examples:
        linked = ds.with_links(links)
        examples = [cached_embed(embedder, i["evidence"], f"{ds.name}-links") if i["evidence"] else np.zeros((0, titles.shape[1]))
                    for i in linked]
        out[f"raw_cosine_{links}_links"] = raw_cosine([np.vstack([t[None], e]) for t, e in zip(titles, examples)],
                                                      vectors, ds.gold)
        linked_texts = {e for i in linked for e in i["evidence"]}
        keep = [n for n, t in enumerate(ds.pool) if t not in linked_texts]  # a linked example is not also background
        out[f"matcher_{links}_links"] = run_matcher(linked, ds, vectors, embedder, pool[keep],
                                                    [ds.pool[n] for n in keep])
        # A PM links notes to some items, not all: every other item keeps its title only.
        half = [dict(i, evidence=i["evidence"] if n % 2 == 0 else []) for n, i in enumerate(linked)]
        out[f"raw_cosine_{links}_links_half"] = raw_cosine(
            [np.vstack([t[None], e]) if n % 2 == 0 else t[None] for n, (t, e) in enumerate(zip(titles, examples))],
            vectors, ds.gold)
        half_texts = {e for i in half for e in i["evidence"]}
        keep = [n for n, t in enumerate(ds.pool) if t not in half_texts]
        out[f"matcher_{links}_links_half"] = run_matcher(half, ds, vectors, embedder, pool[keep],
                                                         [ds.pool[n] for n in keep])
    return out


def supervised_reference(ds: devsets.DevSet, vectors: np.ndarray, embedder) -> dict:
    """What the same vectors give with EVERY labelled example of every item (not a product path): the ceiling a
    title-only matcher is measured against. A nearest-centroid reading and a logistic regression (scikit-learn)."""
    from sklearn.linear_model import LogisticRegression

    texts, labels = [], []
    for j, item in enumerate(ds.items):
        texts += ds.examples.get(item["id"], [])
        labels += [j] * len(ds.examples.get(item["id"], []))
    if len(set(labels)) < 2:
        return {}
    examples = _unit(cached_embed(embedder, texts, f"{ds.name}-labelled"))
    labels, requests = np.array(labels), _unit(vectors)
    present = np.unique(labels)
    centroids = _unit(np.stack([examples[labels == j].mean(axis=0) for j in present]))
    sims = requests @ centroids.T
    model = LogisticRegression(max_iter=300).fit(examples, labels)
    probs = model.predict_proba(requests)
    return {"supervised_centroid_all": figures(present[sims.argmax(axis=1)], sims.max(axis=1), ds.gold),
            "supervised_logreg_all": figures(model.classes_[probs.argmax(axis=1)], probs.max(axis=1), ds.gold)}


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def speed(embedder, rows: list[str], titles: list[str], n_requests: int, n_items: int, repeats: int = 3) -> dict:
    """match() end to end (one embedding call inside) against embed() alone on the same perturbed requests."""
    from service.roadmap.matcher import RoadmapMatcher

    rng = random.Random(1)
    requests = []
    for _ in range(n_requests):
        words = rng.choice(rows).split()
        if len(words) > 3 and rng.random() < 0.5:
            words.pop(rng.randrange(len(words)))  # drop a word so texts are not plain repeats of the data set
        requests.append(rng.choice(FILLERS) + " ".join(words))
    qualifiers = ("", " for teams", " on mobile", " with admin controls")
    items = [{"id": f"item-{n}", "title": t + q, "description": f"Customers asked for {t}{q}." if n % 2 else "",
              "status": devsets.STATUSES[n % len(devsets.STATUSES)]}
             for n, (q, t) in enumerate((q, t) for q in qualifiers for t in titles)][:n_items]
    started = time.perf_counter()
    matcher = RoadmapMatcher().fit(items, embedder)
    fit_seconds = time.perf_counter() - started
    embedder.embed(requests[:64])  # warm-up outside every timing
    runs = []
    for _ in range(repeats):  # interleaved: on a shared 2-core machine other work shifts any single timing
        started = time.perf_counter()
        embedder.embed(requests)
        alone = time.perf_counter() - started
        started = time.perf_counter()
        matcher.match(requests, top_k=5)
        runs.append((alone, time.perf_counter() - started))
    embed_seconds, match_seconds = min(r[0] for r in runs), min(r[1] for r in runs)
    return {"requests": len(requests), "items": len(items), "repeats": repeats, "fit_seconds": round(fit_seconds, 2),
            "embed_seconds": round(embed_seconds, 2), "match_seconds": round(match_seconds, 2),
            "ratio_match_over_embed": round(match_seconds / embed_seconds, 3), "target_ratio": 1.5}


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="hwu64," + ",".join(devsets.HINT3_SETS),
                        help="comma-separated: hwu64 and/or the HINT3 set names")
    parser.add_argument("--links", type=int, default=5, help="linked examples per item for the links rows (0: none)")
    parser.add_argument("--no-speed", action="store_true", help="skip the 5,000-request timing")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--items", type=int, default=150)
    args = parser.parse_args(argv)

    wanted = devsets.set_names(parser, args.sets)
    sets = [devsets.hwu64() if name == "hwu64" else devsets.hint3(name) for name in wanted]
    missing = [n for n, s in zip(wanted, sets) if s is None]
    if missing:
        print(f"bench_match: no data for {', '.join(missing)} under {devsets.datasets_dir()} "
              "(set FEEDBACK_DATASETS to the datasets folder); skipped")
    sets = [s for s in sets if s is not None]
    if not sets:
        return None
    from service.embedding import get_embedder

    embedder = get_embedder()
    report: dict = {"sets": {}}
    for ds in sets:
        report["sets"][ds.name] = bench_set(ds, embedder, args.links)
        print_set(ds.name, report["sets"][ds.name], flush=True)
    hint3 = [report["sets"][n] for n in devsets.HINT3_SETS if n in report["sets"]]
    if hint3:
        report["hint3_mean_auroc"] = {k: round(float(np.mean([s[k]["auroc"] for s in hint3])), 4)
                                      for k in ("raw_cosine", "matcher", "matcher_no_pool")}
        print(f"HINT3 mean AUROC: raw {report['hint3_mean_auroc']['raw_cosine']:.3f}, matcher "
              f"{report['hint3_mean_auroc']['matcher']:.3f} (target >= 0.80), no pool "
              f"{report['hint3_mean_auroc']['matcher_no_pool']:.3f}")
    if not args.no_speed and "hwu64" in report["sets"]:
        hwu = next(s for s in sets if s.name == "hwu64")
        titles = sorted({devsets.title_of(i["id"]) for i in hwu.items})
        report["speed"] = speed(embedder, hwu.pool + hwu.requests, titles, args.requests, args.items)
        s = report["speed"]
        print(f"speed: {s['requests']} requests x {s['items']} items: embed alone {s['embed_seconds']}s, match end to "
              f"end {s['match_seconds']}s (best of {s['repeats']}), ratio {s['ratio_match_over_embed']} (target <= 1.5)")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_match.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {OUT / 'bench_match.json'}")
    return report


def print_set(name: str, data: dict, flush: bool = False) -> None:
    print(f"\n{name}: {data['requests']} requests ({data['out_of_scope']} out of scope), {data['items']} title-only "
          f"items, pool {data['pool']}", flush=flush)
    print(f"{'':24s} {'top-1':>7s} {'AUROC':>7s} {'acc@R.8':>8s} {'declined':>9s} {'c&a':>6s}")
    for key, f in data.items():
        if isinstance(f, dict):
            decided = (f"{f['oos_recall']:9.3f} {f['correct_and_accepted']:6.3f}"
                       f"{'' if f['in_band'] else '  (outside 0.75-0.90)'}" if "oos_recall" in f else "")
            print(f"{key:24s} {f['top1']:7.3f} {f['auroc']:7.3f} {f['accepted_at_oos_recall_0.8']:8.3f} {decided}",
                  flush=flush)


if __name__ == "__main__":
    main()
