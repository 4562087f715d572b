"""Unanswered parts of a two-sentence request (`service/roadmap/parts.py`): does the rep's warning fire where a
second ask is left unanswered, and stay quiet on small talk?

    .venv/bin/python -m eval.bench_asks [--sets hwu64,sofmattress,...] [--pairs 300]

Public dev sets (eval/devsets.py: title-only items, the set's other statements as the pool). Requests join an
in-scope utterance A and a second sentence B ("A. B"), 300 per kind and set (seed 0):
- `oos`: B is an out-of-scope utterance (no item addresses it);
- `in`: B is in scope for another item;
- `talk_dev` / `talk_test`: B is a small-talk line (eval/datasets/small_talk.jsonl, each half apart).
Per kind, when the whole request's Decision cites items: the share of requests with a warning about B (`warned`),
and, of those, the share naming B's own item (`named_right`; none exists for oos and small talk). For `in`, the
requests whose citations already include B's item are counted apart (`cited_b`: a warning there is wrong). When the
Decision abstains: the share with a "part matches" warning and, of those, the share naming the part's own item.
Also: the share of the set's ordinary requests with any such warning, and the B2B questions (dev and test halves,
the bundled roadmap, through `decide`) with their warnings listed for the dev half. Figures go to
eval/out/bench_asks.json. Nothing here is tuned: the rule has no threshold of its own.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from . import devsets
from .bench_match import OUT, cached_embed

TALK = Path(__file__).resolve().parent / "datasets" / "small_talk.jsonl"


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text[-1:] in ".?!" else text + "."


def _pairs(ds, kind: str, talk: list[str], n: int, rng: random.Random) -> list[tuple[str, str, int, int]]:
    inside = [k for k, g in enumerate(ds.gold) if g >= 0]
    outside = [k for k, g in enumerate(ds.gold) if g < 0]
    out = []
    for _ in range(n):
        a = rng.choice(inside)
        if kind == "oos":
            b, gold_b = ds.requests[rng.choice(outside)], -1
        elif kind == "in":
            k = rng.choice([k for k in inside if ds.gold[k] != ds.gold[a]])
            b, gold_b = ds.requests[k], int(ds.gold[k])
        else:
            b, gold_b = rng.choice(talk), -1
        out.append((_sentence(ds.requests[a]), _sentence(b), int(ds.gold[a]), gold_b))
    return out


def _cited(fitted, texts: list[str], vectors: np.ndarray) -> list[list[str]]:
    """Each request's cited item ids as `decision.decide` cites them (two asks included)."""
    from service.roadmap.decision import Ranked, two_asks

    by_id = {i.id: i for i in fitted.items}
    out = []
    for text, res in zip(texts, fitted.match(texts, top_k=2, vectors=vectors, transductive=False)):
        ranked = [Ranked(m["item_id"], by_id[m["item_id"]].title, by_id[m["item_id"]].status, m["score"])
                  for m in res.matches]
        out.append([r.item_id for r in (two_asks(text, ranked, by_id) or ranked[:1])] if res.in_scope else [])
    return out


def bench_pairs(ds, fitted, embedder, kind: str, talk: list[str], n: int) -> dict:
    from service.roadmap.parts import unanswered

    pairs = _pairs(ds, kind, talk, n, random.Random(f"{ds.name}-{kind}"))
    texts = [f"{a} {b}" for a, b, _, _ in pairs]
    cited = _cited(fitted, texts, embedder.embed(texts))
    found = unanswered(fitted, embedder, texts, cited)
    ids = [i["id"] for i in ds.items]
    yes = {"requests": 0, "warned": 0, "named_right": 0, "warned_with_item": 0, "cited_b": 0, "cited_b_warned": 0}
    no = {"requests": 0, "warned": 0, "named_right": 0}
    for (a, b, gold_a, gold_b), ids_cited, parts in zip(pairs, cited, found):
        def gold_of(part):  # the splitter may cut an utterance in two: a part is A's or B's by where it sits
            return gold_a if part.text in a else gold_b if part.text in b else -1

        if ids_cited:
            about_b = [p for p in parts if p.text in b and p.text not in a]
            if gold_b >= 0 and ids[gold_b] in ids_cited:
                yes["cited_b"] += 1
                yes["cited_b_warned"] += bool(about_b)
                continue
            yes["requests"] += 1
            yes["warned"] += bool(about_b)
            yes["warned_with_item"] += bool(about_b) and about_b[0].item_id is not None
            yes["named_right"] += bool(about_b) and gold_b >= 0 and about_b[0].item_id == ids[gold_b]
        else:
            no["requests"] += 1
            no["warned"] += bool(parts)
            no["named_right"] += bool(parts) and all(gold_of(p) >= 0 and p.item_id == ids[gold_of(p)] for p in parts)
    return {"cites": _shares(yes), "abstains": _shares(no)}


def _shares(counts: dict) -> dict:
    out = dict(counts)
    if counts["requests"]:
        out["warned_share"] = round(counts["warned"] / counts["requests"], 3)
    if counts["warned"]:
        out["named_right_share"] = round(counts["named_right"] / counts["warned"], 3)
    if counts.get("cited_b"):
        out["cited_b_warned_share"] = round(counts["cited_b_warned"] / counts["cited_b"], 3)
    return out


def bench_set(ds, embedder, n: int, talk: dict[str, list[str]]) -> dict:
    from service.roadmap.matcher import RoadmapMatcher
    from service.roadmap.parts import unanswered

    pool = cached_embed(embedder, ds.pool, f"{ds.name}-pool")
    fitted = RoadmapMatcher().fit(ds.items, embedder, pool_vectors=pool, pool_texts=ds.pool)
    out = {kind: bench_pairs(ds, fitted, embedder, kind, [], n) for kind in ("oos", "in")}
    for half, lines in talk.items():
        out[f"talk_{half}"] = bench_pairs(ds, fitted, embedder, f"talk_{half}", lines, n)
    vectors = cached_embed(embedder, ds.requests, f"{ds.name}-requests")
    found = unanswered(fitted, embedder, ds.requests, _cited(fitted, ds.requests, vectors))
    out["ordinary_requests_warned"] = round(float(np.mean([bool(f) for f in found])), 4)
    return out


def bench_b2b() -> dict:
    from service.roadmap.decision import decide

    from .runner import eval_services, halves, read_jsonl

    questions = read_jsonl(Path(__file__).resolve().parent / "datasets" / "questions.jsonl")
    out = {}
    with eval_services() as (app, svc), app.app_context():
        for half, rows in halves(questions).items():
            decisions = decide(svc, [{"id": q["id"], "text": q["question"]} for q in rows])
            warned = [d for d in decisions if d.unanswered]
            out[half] = {"questions": len(rows), "warned": len(warned)}
            if half == "dev":
                out[half]["warnings"] = [{"id": d.request_id, "cited": [r.item_id for r in d.cited],
                                          "parts": [p.to_dict() for p in d.unanswered]} for d in warned]
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="hwu64," + ",".join(devsets.HINT3_SETS), help="comma-separated set names")
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--no-b2b", action="store_true")
    args = parser.parse_args(argv)
    from service.embedding import get_embedder

    names = devsets.set_names(parser, args.sets)
    talk = {"dev": [], "test": []}
    for row in map(json.loads, TALK.read_text().splitlines()):
        talk[row["split"]].append(row["text"])
    embedder = get_embedder()
    report = {"sets": {}}
    for ds in devsets.public_sets():
        if ds.name in names:
            report["sets"][ds.name] = bench_set(ds, embedder, args.pairs, talk)
            print(ds.name, json.dumps(report["sets"][ds.name]), flush=True)
    if not report["sets"]:
        print("no public data set found (../shared/datasets or FEEDBACK_DATASETS): public sets skipped")
    if not args.no_b2b:
        report["b2b"] = bench_b2b()
        print("b2b", json.dumps(report["b2b"], indent=1))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_asks.json").write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
