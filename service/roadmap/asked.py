"""What a request names: the terms of an item's title and tags, and the order in which a request names items.

When a rep asks about two items at once ("CSV and Excel", "Snowflake in one division and BigQuery in another"), the
answer leads with the one asked about first, whatever the similarity scores say about the pair. The matcher's
service and the drafts both use this, so `feedback match` and a draft give the same verdict.
"""
from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+")
# Words too generic to tell two items apart or to show that a request names an item.
STOP = frozenset("support supported supports yet feature available option possible anything something "
                 "the and for with from into our your their this that are was can does has have not all any "
                 "to of in on at by a an is it be as or large new".split())


def stem_s(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def terms(text: str | None) -> set[str]:
    """Content words, plural "s" dropped so "export" and "exports" count as one term."""
    words = (stem_s(w) for w in _WORD.findall((text or "").lower()))
    return {w for w in words if len(w) > 2 and w not in STOP}


def own_terms(title: str, tags: list[str] | None) -> set[str]:
    return terms(f"{title} {' '.join(tags or [])}")


def in_asked_order(question: str, named: list[set[str]]) -> list[int] | None:
    """Indices of the items (given by their own terms) in the order the question names them, by where each item's
    distinct terms (its own minus the others') first occur; None when some item is not named at all."""
    if len(named) < 2:
        return None
    words = [stem_s(w) for w in _WORD.findall(question.lower())]
    positions = []
    for i, mine in enumerate(named):
        distinct = mine - set().union(*(t for j, t in enumerate(named) if j != i))
        first = min((k for k, w in enumerate(words) if w in distinct), default=None)
        if first is None:
            return None
        positions.append(first)
    return sorted(range(len(named)), key=lambda i: positions[i])
