"""Labelled matching sets that nobody tuned the matcher on by hand: hwu64 and the three HINT3 sets.

Each set becomes a roadmap of title-only items, requests with a gold item index (-1: not on the roadmap), an
unlabeled pool (other customers' statements, never the requests themselves) and, for HINT3, labelled examples per
item (the part of notes a PM linked to an item). Labels are used for scoring only. The data lives in
`../shared/datasets` (or FEEDBACK_DATASETS); every loader returns None when its files are absent.
"""
from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

STATUSES = ("shipped", "in_progress", "planned", "considering", "not_planned")
HINT3_SETS = ("sofmattress", "curekart", "powerplay11")
OUT_OF_SCOPE = "NO_NODES_DETECTED"


@dataclass
class DevSet:
    name: str
    items: list[dict]  # {"id", "title", "status"}: title only, as a roadmap export without descriptions
    requests: list[str]
    gold: np.ndarray  # index into items, -1 when no item addresses the request
    pool: list[str]  # unlabeled statements of the same domain, disjoint from the requests
    examples: dict[str, list[str]] = field(default_factory=dict)  # item id -> labelled examples (links)

    def with_links(self, per_item: int, seed: int = 0) -> list[dict]:
        """The items with `per_item` linked examples each (fewer where an item has fewer)."""
        rng = random.Random(seed)
        return [dict(i, evidence=rng.sample(self.examples.get(i["id"], []),
                                            min(per_item, len(self.examples.get(i["id"], [])))))
                for i in self.items]


def datasets_dir() -> Path:
    env = os.environ.get("FEEDBACK_DATASETS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _rows(path: Path, text: str, label: str) -> list[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [(row[text].strip(), row[label].strip()) for row in csv.DictReader(fh) if row[text].strip()]


def title_of(label: str) -> str:
    """An intent label as a roadmap title: ORDER_TAKING -> "Order taking", alarm_query -> "Alarm query"."""
    words = label.replace("_", " ").strip().lower()
    return words[:1].upper() + words[1:]


def _items(labels: list[str]) -> list[dict]:
    return [{"id": label, "title": title_of(label), "status": STATUSES[n % len(STATUSES)]}
            for n, label in enumerate(labels)]


def hwu64(seed: int = 0, folder: Path | None = None) -> DevSet | None:
    """Fold 1 as requests, 10 intents held out (`random.seed(seed); random.sample(sorted(intents), 10)`), the
    other folds' utterances as the pool; examples per kept intent come from the pool."""
    folder = folder or datasets_dir() / "hwu64"
    if not (folder / "hwu64_fold1.csv").is_file():
        return None
    rows = _rows(folder / "hwu64_fold1.csv", "text", "intent")
    intents = sorted({intent for _, intent in rows})
    random.seed(seed)
    held = set(random.sample(intents, 10))
    kept = [i for i in intents if i not in held]
    seen = {t for t, _ in rows}
    others = _rows(folder / "hwu64_all.csv", "text", "intent") if (folder / "hwu64_all.csv").is_file() else []
    others = [(t, i) for t, i in others if t not in seen]
    examples: dict[str, list[str]] = {}
    for text, intent in others:
        if intent in kept:
            examples.setdefault(intent, []).append(text)
    return DevSet(name="hwu64" if seed == 0 else f"hwu64-seed{seed}", items=_items(kept),
                  requests=[t for t, _ in rows],
                  gold=np.array([kept.index(i) if i in kept else -1 for _, i in rows]),
                  pool=[t for t, _ in others], examples=examples)


def hint3(name: str, folder: Path | None = None) -> DevSet | None:
    """A HINT3 set: its intents as items, its test queries as requests (NO_NODES_DETECTED: not on the roadmap).

    The pool is the train sentences, unlabeled: what a company's stored customer messages would be."""
    folder = folder or datasets_dir() / "hint3"
    if not (folder / f"{name}_test.csv").is_file():
        return None
    train = _rows(folder / f"{name}_train.csv", "sentence", "label")
    test = _rows(folder / f"{name}_test.csv", "sentence", "label")
    labels = sorted({label for _, label in train if label != OUT_OF_SCOPE})
    examples: dict[str, list[str]] = {}
    for text, label in train:
        examples.setdefault(label, []).append(text)
    asked = {t for t, _ in test}
    return DevSet(name=name, items=_items(labels), requests=[t for t, _ in test],
                  gold=np.array([labels.index(lb) if lb in labels else -1 for _, lb in test]),
                  pool=list(dict.fromkeys(t for t, _ in train if t not in asked)), examples=examples)


def set_names(parser, value: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The names of a benchmark's `--sets` value; an unknown name is a usage error (exit 2) listing the known ones.
    A misspelt name ("hwu6") was reported as "no data for hwu6 under ...; skipped", which sends one looking for
    files, and the run exited 0."""
    known = (*extra, "hwu64", *HINT3_SETS)
    names = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"--sets: unknown set {', '.join(unknown)} (known: {', '.join(known)})")
    return names


def public_sets() -> list[DevSet]:
    """Every public dev set that is present: hwu64 and the three HINT3 sets."""
    found = [hwu64()] + [hint3(n) for n in HINT3_SETS]
    return [s for s in found if s is not None]
