"""Which accounts asked for an item: rules for follow-up selection on public data nobody in this project wrote.

    .venv/bin/python -m eval.bench_followups [--sets questions-dev,hwu64,sofmattress,curekart,powerplay11]
                                              [--links 0,5] [--accounts 36] [--seeds 5] [--sample]

The bundled sample's gold list (eval/datasets/followups_gold.jsonl, three items) is the only follow-up gold we have,
so a selection rule is judged here first: each dev set of eval/devsets.py (hwu64 and the three HINT3 sets, intents as
title-only items, `--links` linked examples per item) gets its requests dealt at random into `--accounts` accounts
(as the sample's 933 statements are spread over 36 accounts); an account asked for an item when one of its requests
is labelled with the item. Every request gets the product's Decision (the fitted matcher, one request at a time,
and `decision.two_asks`), and each rule below lists the accounts for each item. Per item: account recall and
precision against the labels; per set: their means over items (items some account asked for) and the mean F1,
averaged over `--seeds` deals. `questions-dev` is the dev half of eval/datasets/questions.jsonl against the sample
roadmap (the only dev set whose items have descriptions and tags), decided by the service's `decide()` with the
sample notes stored, about six questions per account. `--sample` adds every rule's figures on the bundled sample's
gold items, for the record only: nothing is chosen on them. Labels are used for scoring only. Figures go to
eval/out/bench_followups.json.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from service.followups import asks as asks_mod
from service.roadmap.decision import ACCEPTED, two_asks
from service.text import terms

from . import devsets
from .bench_match import cached_embed

OUT = Path(__file__).resolve().parent / "out"

# What some rules read besides the Decision, set for each data set by _features().
TERMS: dict[str, set] = {}  # item id -> stemmed terms of its text (title; on the sample roadmap with tags, description)
TEXT_TERMS: dict[int, set] = {}  # statement id -> its stemmed terms
CONTEXT: dict[int, float] = {}  # statement id -> probability it reads as context (service.themes.context)
KIND: dict[int, str] = {}  # statement id -> pain | praise | other (service.themes.select, as a theme run sets it)
BOILER: set[int] = set()  # statement ids of a rep's pasted lines (service.followups.asks._boilerplate)


def _features(item_texts: dict[str, str], texts: dict[int, str], embedder, vectors=None) -> None:
    from service.themes.context import context_probability
    from service.themes.select import classify

    TERMS.clear()
    TERMS.update({x: set(terms(t)) for x, t in item_texts.items()})
    TEXT_TERMS.clear()
    TEXT_TERMS.update({n: set(terms(t)) for n, t in texts.items()})
    vectors = embedder.embed(list(texts.values())) if vectors is None else vectors
    CONTEXT.clear()
    CONTEXT.update(zip(texts, context_probability(vectors, embedder).tolist()))
    KIND.clear()
    KIND.update(zip(texts, classify(list(texts.values()), vectors, embedder)))
    ids = list(texts)
    BOILER.clear()
    BOILER.update(ids[i] for i in asks_mod._boilerplate(SimpleNamespace(embedder=embedder),
                                                        [(n, t, None, None) for n, t in texts.items()]))


def decisions(ds: devsets.DevSet, embedder, links: int) -> list[asks_mod.StatementAsk]:
    """The Decision for every request of the set, as the service would store it for a statement."""
    from service.roadmap.matcher import RoadmapMatcher

    vectors = cached_embed(embedder, ds.requests, f"{ds.name}-requests")
    pool = cached_embed(embedder, ds.pool, f"{ds.name}-pool")
    items, keep = ds.items, list(range(len(ds.pool)))
    if links and ds.examples:
        items = ds.with_links(links)
        linked = {e for i in items for e in i["evidence"]}
        keep = [n for n, t in enumerate(ds.pool) if t not in linked]  # a linked example is not also background
    fitted = RoadmapMatcher().fit(items, embedder, pool_vectors=pool[keep], pool_texts=[ds.pool[n] for n in keep])
    results = fitted.match(ds.requests, top_k=len(items), vectors=vectors, transductive=False)
    by_id = {i["id"]: SimpleNamespace(title=i["title"], tags=[]) for i in items}
    _features({i["id"]: i["title"] for i in items}, dict(enumerate(ds.requests)), embedder, vectors)
    out = []
    for n, (text, res) in enumerate(zip(ds.requests, results)):
        ranked = [SimpleNamespace(item_id=m["item_id"], score=float(m["score"])) for m in res.matches]
        cited = (two_asks(text, ranked[:2], by_id) or ranked[:1]) if res.in_scope else []
        out.append(asks_mod.StatementAsk(statement_id=n, text=text, note_id=str(n), account=None, at=None, kind=None,
                                         cited=tuple((r.item_id, r.score) for r in cited),
                                         ranked={r.item_id: r.score for r in ranked}))
    return out


def _lexical(st) -> list[str]:
    """The cited items, with the accepted runner-up put first when the statement names a term only it has and none
    only the cited item has."""
    cited = [c for c, _ in st.cited]
    ranked = sorted(st.ranked, key=lambda k: -st.ranked[k])
    if not cited or len(ranked) < 2 or st.ranked[ranked[1]] < ACCEPTED or cited[0] != ranked[0]:
        return cited
    top, second = ranked[0], ranked[1]
    words, mine, theirs = TEXT_TERMS.get(st.statement_id, set()), TERMS.get(second, set()), TERMS.get(top, set())
    if words & (mine - theirs) and not words & (theirs - mine):
        return [second] + [c for c in cited if c != second]
    return cited


def _top(st) -> float:
    return max(st.ranked.values()) if st.ranked else 0.0


# Each rule: (the account's statements, item id) -> does the account ask for the item?
RULES = {
    # the service's own rule: a rep's pasted line asks for nothing (`asks._boilerplate` empties its Decision there)
    "cited (current)": lambda sts, x: any(s.asks_for(x) and s.statement_id not in BOILER for s in sts),
    "cited, pasted boilerplate kept (before)": lambda sts, x: any(s.asks_for(x) for s in sts),
    "accepted, cited or not": lambda sts, x: any(s.score_for(x) >= ACCEPTED for s in sts),
    "cited, or accepted within 0.1 of the best": lambda sts, x: any(
        x in dict(s.cited) or (s.score_for(x) >= ACCEPTED and s.score_for(x) >= _top(s) - 0.1) for s in sts),
    "cited as the first item only": lambda sts, x: any(s.cited and s.cited[0][0] == x for s in sts),
    "strongest citing statement >= 0.6": lambda sts, x: max(
        (s.score_for(x) for s in sts if x in dict(s.cited)), default=0.0) >= 0.6,
    "cited, or accepted in 2+ statements": lambda sts, x: any(x in dict(s.cited) for s in sts) or sum(
        s.score_for(x) >= ACCEPTED for s in sts) >= 2,
    "cited in 2+ statements, or once >= 0.6": lambda sts, x: (
        sum(x in dict(s.cited) for s in sts) >= 2
        or any(x in dict(s.cited) and s.score_for(x) >= 0.6 for s in sts)),
    "cited, statements reading as context (p > 0.5) left out": lambda sts, x: any(
        x in dict(s.cited) and CONTEXT.get(s.statement_id, 0.0) <= 0.5 for s in sts),
    "cited, statements reading as context (p > 0.8) left out": lambda sts, x: any(
        x in dict(s.cited) and CONTEXT.get(s.statement_id, 0.0) <= 0.8 for s in sts),
    "cited, statements a theme run calls other left out": lambda sts, x: any(
        x in dict(s.cited) and KIND.get(s.statement_id) != "other" for s in sts),
    "cited, pains only (praise and other left out)": lambda sts, x: any(
        x in dict(s.cited) and KIND.get(s.statement_id, "pain") == "pain" for s in sts),
    "lexical runner-up added": lambda sts, x: any(x in dict(s.cited) or x in _lexical(s) for s in sts),
    "lexical runner-up swapped in": lambda sts, x: any(
        x in _lexical(s)[:1] + [c for c, _ in s.cited[1:]] for s in sts),
}


def score_rules(asks: list, gold: list[set], item_ids: list[str], n_accounts: int, seed: int) -> dict:
    """Mean account recall, precision and F1 over the items some account asked for; `gold[n]`: the items request n
    asks for (empty: none)."""
    rng = random.Random(seed)
    owner = [rng.randrange(n_accounts) for _ in asks]
    by_account = [[] for _ in range(n_accounts)]
    wanted = {x: set() for x in item_ids}
    for n, st in enumerate(asks):
        by_account[owner[n]].append(st)
        for x in gold[n]:
            wanted[x].add(owner[n])
    out = {}
    for name, rule in RULES.items():
        recall, precision, f1 = [], [], []
        for x in item_ids:
            if not wanted[x]:
                continue
            listed = {a for a in range(n_accounts) if rule(by_account[a], x)}
            hit = len(listed & wanted[x])
            r, p = hit / len(wanted[x]), (hit / len(listed) if listed else 0.0)
            recall.append(r)
            precision.append(p)
            f1.append(2 * r * p / (r + p) if r + p else 0.0)
        out[name] = {"recall": float(np.mean(recall)), "precision": float(np.mean(precision)),
                     "f1": float(np.mean(f1))}
    return out


def _item_texts(items: list[dict]) -> dict[str, str]:
    return {i["id"]: f"{i['title']} {' '.join(i.get('tags') or [])} {i.get('description') or ''}" for i in items}


def questions_dev(embedding_model: str | None = None) -> tuple[list, list[set], list[str]]:
    """The dev half of eval/datasets/questions.jsonl against the sample roadmap (titles, descriptions and tags) with
    the sample notes stored, each question decided by the service's own `decide()`: the one dev set whose items are
    described as a real roadmap's are. The test half is never read."""
    from service.roadmap import decision

    from .runner import DATASETS, SAMPLE, eval_services, read_jsonl

    rows = [q for q in read_jsonl(DATASETS / "questions.jsonl") if q["split"] == "dev"]
    with eval_services(embedding_model) as (_, svc):
        found = decision.decide(svc, [{"id": q["id"], "text": q["question"]} for q in rows])
        embedder = svc.embedder
    items = json.loads((SAMPLE / "roadmap.json").read_text())
    _features(_item_texts(items), {n: q["question"] for n, q in enumerate(rows)}, embedder)
    asks = [asks_mod.StatementAsk(statement_id=n, text=q["question"], note_id=q["id"], account=None, at=None,
                                  kind=None, cited=tuple((r.item_id, r.score) for r in d.cited),
                                  ranked={r.item_id: r.score for r in d.ranked})
            for n, (q, d) in enumerate(zip(rows, found))]
    return asks, [set(q["gold_item_ids"]) for q in rows], [i["id"] for i in items]


def sample_figures(embedding_model: str | None = None) -> dict:
    """Every rule on the bundled sample against eval/datasets/followups_gold.jsonl, as the followups suite builds it
    (RM-104 shipped by roadmap_update.json): recall and precision per gold item. Reported, never tuned on."""
    from service.roadmap.service import import_items

    from .runner import DATASETS, SAMPLE, eval_services, read_jsonl

    gold = read_jsonl(DATASETS / "followups_gold.jsonl")
    update = json.loads((SAMPLE / "roadmap_update.json").read_text())
    with eval_services(embedding_model) as (_, svc):
        import_items(svc, update, source="roadmap_update.json")
        asks = [st for st in asks_mod.statement_asks(svc) if st.account is not None]
        _features(_item_texts(update), {st.statement_id: st.text for st in asks}, svc.embedder)
    by_account: dict[str, list] = {}
    for st in asks:
        by_account.setdefault(st.account, []).append(st)
    out = {}
    for name, rule in RULES.items():
        out[name] = {}
        for g in gold:
            wanted = set(g["accounts"])
            listed = {a for a, sts in by_account.items() if rule(sts, g["item_id"])}
            hit = len(listed & wanted)
            out[name][g["item_id"]] = {"recall": round(hit / len(wanted), 3),
                                       "precision": round(hit / len(listed), 3) if listed else 0.0}
    return out


def first_citation(asks: list, gold: list[set]) -> dict:
    """Share of requests about some item whose first cited item is one they ask for: the Decision as it is, and with
    the lexical runner-up cited first (`_lexical`), as a Decision change would do."""
    about = [(st, g) for st, g in zip(asks, gold) if g]
    return {"decision": round(sum(bool(st.cited) and st.cited[0][0] in g for st, g in about) / len(about), 4),
            "lexical runner-up first": round(sum(_lexical(st)[:1] != [] and _lexical(st)[0] in g
                                                 for st, g in about) / len(about), 4)}


def _report_set(report: dict, key: str, asks: list, gold: list[set], ids: list[str], accounts: int,
                seeds: int) -> None:
    runs = [score_rules(asks, gold, ids, accounts, seed) for seed in range(seeds)]
    figures = {rule: {k: round(float(np.mean([r[rule][k] for r in runs])), 4) for k in runs[0][rule]}
               for rule in RULES}
    first = first_citation(asks, gold)
    report["sets"][key] = {"rules": figures, "first_citation": first}
    print(f"\n{key}: {len(asks)} requests, {len(ids)} items, {accounts} accounts, {seeds} deals; first citation "
          f"right {first['decision']:.3f} (lexical runner-up first: {first['lexical runner-up first']:.3f})", flush=True)
    base = figures["cited (current)"]["f1"]
    for rule, f in figures.items():
        print(f"  {rule:56s} R {f['recall']:.3f}  P {f['precision']:.3f}  F1 {f['f1']:.3f} ({f['f1'] - base:+.3f})",
              flush=True)


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="questions-dev,hwu64," + ",".join(devsets.HINT3_SETS))
    parser.add_argument("--links", default="0,5", help="comma-separated linked examples per item, one run each")
    parser.add_argument("--accounts", type=int, default=36)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sample", action="store_true", help="also every rule on the bundled sample's gold items")
    args = parser.parse_args(argv)
    names = devsets.set_names(parser, args.sets, extra=("questions-dev",))
    from service.embedding import get_embedder

    embedder = get_embedder()
    report: dict = {"accounts": args.accounts, "seeds": args.seeds, "sets": {}}
    for name in names:
        if name == "questions-dev":
            asks, gold, ids = questions_dev()
            # 76 questions: about six per account, so that an item has several accounts and most have none
            _report_set(report, "questions dev half", asks, gold, ids, min(args.accounts, len(asks) // 6), args.seeds)
            continue
        ds = devsets.hwu64() if name == "hwu64" else devsets.hint3(name)
        if ds is None:
            print(f"bench_followups: no data for {name} under {devsets.datasets_dir()}; skipped")
            continue
        for links in [int(v) for v in args.links.split(",")]:
            asks = decisions(ds, embedder, links)
            ids = [i["id"] for i in ds.items]
            _report_set(report, f"{ds.name}, {links} links", asks, [{ids[g]} if g >= 0 else set() for g in ds.gold],
                        ids, args.accounts, args.seeds)
    if args.sample:
        report["sample"] = sample_figures()
        print("\nbundled sample, followups_gold.jsonl (recall / precision per item):")
        for rule, per_item in report["sample"].items():
            print(f"  {rule:56s} " + "  ".join(f"{x} {f['recall']:.3f} / {f['precision']:.3f}"
                                                for x, f in per_item.items()), flush=True)
    if not report["sets"] and "sample" not in report:  # was an empty report over the last run's figures
        print(f"bench_followups: nothing measured; {OUT / 'bench_followups.json'} left as it was")
        return None
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_followups.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {OUT / 'bench_followups.json'}")
    return report


if __name__ == "__main__":
    main()
