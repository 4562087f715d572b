"""Shared helpers for the metric modules: pairing with gold, id extraction, text normalisation.

Pairing rule (used by every suite-level metric that takes ``(predictions, gold)``):

* A prediction is keyed by ``question_id``, else ``request_id``, else ``id``.  If at least one
  prediction key matches a gold ``id``, predictions are paired **by id**: every gold row gets
  its prediction, a gold row without one is paired with ``None`` (scored as an empty
  prediction: no verdict, nothing cited), and predictions whose key is not in the gold are
  ignored.  Two predictions for the same gold id raise ``ValueError``.
* Otherwise the two lists are paired **by order** and must have the same length.
* An empty gold list raises ``ValueError`` (a rate over nothing is not a pass).
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Sequence

ITEM_ID_RE = re.compile(r"\b([A-Z]{2,5})-\d{2,5}\b")
# Prefixes of well-known identifiers that look like item ids but are not roadmap items.
NON_ITEM_PREFIXES = frozenset(
    {"ISO", "IEC", "RFC", "CVE", "SOC", "PCI", "UTF", "SHA", "AES", "TLS", "SSL", "WCAG",
     "HTTP", "ANSI", "IEEE", "NIST", "FIPS", "GDPR", "CCPA", "HIPAA", "FY"}
)
_KEYS = ("question_id", "request_id", "id")
_TYPOGRAPHY = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'",
                             "\u2019": "'", "\u2013": "-", "\u2014": " - ", "\u00a0": " ",
                             "\u2026": "..."})


def normalize_text(text: str | None) -> str:
    """Straighten typographic quotes/dashes/ellipses and collapse runs of spaces and tabs."""
    return re.sub(r"[ \t]+", " ", (text or "").translate(_TYPOGRAPHY))


def collapse_ws(text: str | None) -> str:
    """`normalize_text` plus collapsing every whitespace run (newlines too) into one space."""
    return re.sub(r"\s+", " ", normalize_text(text)).strip()


def split_sentences(text: str) -> list[str]:
    """The service's one sentence splitter (service/text.py): sentence-final punctuation before white space, or
    a line break; abbreviations ("e.g.") do not end a sentence."""
    from service.text import sentences

    return sentences(text or "")


def find_item_ids(text: str | None) -> list[str]:
    """Item-id-looking tokens (``RM-101``) in order of first appearance, minus standards ids."""
    seen: dict[str, None] = {}
    for m in ITEM_ID_RE.finditer(text or ""):
        if m.group(1) not in NON_ITEM_PREFIXES:
            seen.setdefault(m.group(0), None)
    return list(seen)


def unique(values: Iterable[Any]) -> list[Any]:
    """Order-preserving de-duplication (None and empty strings dropped)."""
    out: dict[Any, None] = {}
    for v in values or ():
        if v not in (None, ""):
            out.setdefault(v, None)
    return list(out)


def prediction_key(pred: Mapping[str, Any]) -> Any:
    """The gold id a prediction answers: ``question_id``, ``request_id`` or ``id``."""
    for key in _KEYS:
        if pred.get(key) not in (None, ""):
            return pred[key]
    return None


def pair_with_gold(
    predictions: Sequence[Mapping[str, Any]], gold: Sequence[Mapping[str, Any]]
) -> list[tuple[Mapping[str, Any] | None, Mapping[str, Any]]]:
    """Pair predictions with gold rows following the module-level pairing rule."""
    predictions, gold = list(predictions or []), list(gold or [])
    if not gold:
        raise ValueError("gold set is empty")
    gold_ids = {g.get("id") for g in gold}
    by_id: dict[Any, Mapping[str, Any]] = {}
    for pred in predictions:
        key = prediction_key(pred)
        if key in gold_ids:
            if key in by_id:
                raise ValueError(f"two predictions for gold id {key!r}")
            by_id[key] = pred
    if by_id:
        return [(by_id.get(g.get("id")), g) for g in gold]
    if len(predictions) != len(gold):
        raise ValueError(
            f"cannot pair {len(predictions)} predictions with {len(gold)} gold rows: "
            "no ids match and the lengths differ"
        )
    return list(zip(predictions, gold))


def gold_ids(g: Mapping[str, Any]) -> list[str]:
    """A gold row's item ids, de-duplicated, in order."""
    return unique(g.get("gold_item_ids") or [])


def cited_ids(pred: Mapping[str, Any] | None) -> list[str]:
    """A draft's cited item ids, de-duplicated, in order (``[]`` for a missing draft)."""
    return unique((pred or {}).get("cited_item_ids") or [])


def verdict_of(pred: Mapping[str, Any] | None) -> str | None:
    """A prediction's verdict, or None when the prediction is missing."""
    return (pred or {}).get("verdict")
