"""Does the draft check tell a claim about a cited item from a claim about something else?

`eval/datasets/draft_claims.jsonl` holds draft sentences with availability or promise claims, each next to the items
the draft cites, labelled `backed` (every claim is about a cited item or the offered alternative) by a writer who had
not read the checker. The check under test is the part of `service.drafts.checks` that flags a claim "about something
no cited item names" (`availability_problems`, `promise_problems`; when a draft cites nothing, any claim they flag);
status and date problems of a cited item are other checks and are not counted here. The positive class is an unbacked text: recall is the share of unbacked texts flagged, precision
the share of flagged texts that are unbacked.

    python -m eval.bench_draft_claims                 # dev half, the check as it is
    python -m eval.bench_draft_claims --ablate        # dev half, each word set of the "points back" rule emptied
    python -m eval.bench_draft_claims --split test    # the held-out half (read once a choice is made)
"""
from __future__ import annotations

import argparse
import json
from contextlib import contextmanager
from pathlib import Path

from service.drafts import checks
from service.drafts.base import DraftItem

DATA = Path(__file__).parent / "datasets" / "draft_claims.jsonl"
ROADMAP = Path(__file__).parent.parent / "service" / "sample_data" / "roadmap.json"
UNNAMED = "about something no cited item names"
# The word sets that decide whether a claim's clause points back at the item under discussion.
WORD_SETS = ("_PRONOUNS", "_BACK_NOUNS", "_DETERMINERS", "_FILLER")


def load(split: str | None = None, path: Path = DATA) -> list[dict]:
    rows = _jsonl(path)
    return [r for r in rows if split in (None, "all") or r["split"] == split]


def _item(d: dict) -> DraftItem:
    return DraftItem(id=d["id"], title=d["title"], status=d["status"], release=d.get("release") or None)


def flagged(row: dict) -> list[str]:
    """The check's "no cited item names" problems for one row."""
    items = [_item(d) for d in row["items"]]
    alternatives = [_item(d) for d in row["alternatives"]]
    shared = checks.shared_title_terms(row["roadmap_titles"])
    problems = checks.promise_problems(row["text"], row["verdict"], items, shared)
    problems += checks.availability_problems(row["text"], items, alternatives, shared)
    if row.get("any_problem"):
        return problems + checks.date_problems(row["text"], items)
    # With nothing cited every claim is about something no cited item names, whatever words the problem uses.
    return [p for p in problems if UNNAMED in p or not items]


def rated_rows(split: str) -> list[dict]:
    """`rated_drafts.jsonl` as a second set: each draft next to its question's gold items, `backed` when raters
    scored its accuracy 4 or 5, unbacked when 1 or 2 (3 is left out). The check here is every promise, availability
    and date problem, since a rater's low accuracy score may come from any of them."""
    questions = {q["id"]: q for q in _jsonl(DATA.parent / "questions.jsonl")}
    roadmap = {i["id"]: i for i in json.loads(ROADMAP.read_text(encoding="utf-8"))}
    titles = [i["title"] for i in roadmap.values()]
    out = []
    for r in _jsonl(DATA.parent / "rated_drafts.jsonl"):
        q = questions[r["question_id"]]
        if (split != "all" and q["split"] != split) or r["accurate"] == 3:
            continue
        items = [{k: roadmap[i].get(k) or "" for k in ("id", "title", "status", "release")} for i in q["gold_item_ids"]]
        out.append({"id": r["id"], "text": r["text"], "backed": r["accurate"] >= 4, "verdict": q["gold_verdict"],
                    "items": items, "alternatives": [], "roadmap_titles": titles, "any_problem": True})
    return out


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(rows: list[dict]) -> dict:
    tp = fp = fn = tn = 0
    for row in rows:
        hit = bool(flagged(row))
        unbacked = not row["backed"]
        tp += hit and unbacked
        fp += hit and not unbacked
        fn += unbacked and not hit
        tn += not hit and not unbacked
    n = tp + fp + fn + tn
    return {"n": n, "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / (tp + fn), 3) if tp + fn else None,
            "accuracy": round((tp + tn) / n, 3) if n else None, "false_alarms": fp, "missed": fn}


@contextmanager
def emptied(name: str):
    """The check with one word set emptied ("none": as it is)."""
    if name == "none":
        yield
        return
    before = getattr(checks, name)
    setattr(checks, name, frozenset())
    try:
        yield
    finally:
        setattr(checks, name, before)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="dev", choices=("dev", "test", "all"))
    parser.add_argument("--ablate", action="store_true", help="also score with each word set emptied")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sets = {"draft_claims": load(args.split), "rated_drafts": rated_rows(args.split)}
    results = {}
    for set_name, rows in sets.items():
        results[set_name] = {}
        for name in ("none",) + (WORD_SETS if args.ablate else ()):
            with emptied(name):
                results[set_name][name] = score(rows)
    if args.json:
        print(json.dumps({"split": args.split, "results": results}, indent=2))
        return 0
    for set_name, by_variant in results.items():
        print(f"{set_name} {args.split} ({len(sets[set_name])} rows); positive = unbacked")
        for name, r in by_variant.items():
            label = "as it is" if name == "none" else f"without {name}"
            print(f"  {label:24} precision {r['precision']}  recall {r['recall']}  accuracy {r['accuracy']}  "
                  f"false alarms {r['false_alarms']}  missed {r['missed']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
