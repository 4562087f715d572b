"""``unsupported_claims``: what a draft asserts that the roadmap does not back.

Three families of problems, each reported as ``"<kind>: <detail>"``:

* ``invented_item`` - an item-id-looking token (``\\b[A-Z]{2,5}-\\d{2,5}\\b``, minus standards
  such as ISO-27001) in the text, or a cited id, that is not in the roadmap.
* ``relative_date`` / ``unbacked_date`` - a date or release expression in the text (see
  :mod:`eval.metrics.dates`) that is not consistent with the ``release`` of a *cited* item whose
  status is shipped, in_progress or planned.  Relative dates are always unsupported.  Backing is
  draft-level: any such cited item's release backs a date anywhere in the text.
* ``promise`` - commitment language ("will ship", "guaranteed", "committed to", ...) in a draft
  whose verdict is not_on_roadmap / not_planned / under_consideration, or in a sentence about a
  cited item whose status is considering / not_planned.  A sentence is "about" the items whose
  id or title it mentions, else about the draft's first cited item.  A phrase is ignored when
  its clause (text since the last , ; : - or "but"/"however"/...) contains a negation or hedge
  ("not", "no", "never", "n't", "cannot", "without", "if", "whether", "unless"), so honest
  sentences ("we have no plans to build", "this is not something we will build", "a target,
  not a commitment") pass.

Text inside double quotes that reproduces one of the draft's evidence quotes is a customer's
words, not a claim, and is skipped by the date and promise checks.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from ._common import cited_ids, find_item_ids, normalize_text, split_sentences, unique
from .dates import find_dates, is_backed, release_fields

BACKING_STATUSES = frozenset({"shipped", "in_progress", "planned"})
UNCOMMITTED_STATUSES = frozenset({"considering", "not_planned"})
HONEST_VERDICTS = frozenset({"not_on_roadmap", "not_planned", "under_consideration"})

PROMISE_RE = re.compile(
    r"\bwill\s+(?:be\s+)?(?:ship|shipped|shipping|available|released|release|launch|launched|deliver|"
    r"delivered|ready|live|land|roll(?:ed)?\s+out|built|build|add|added)\b"
    r"|\b(?:we|you|it|they|this|that)'ll\s+(?:ship|deliver|launch|release|land|build|add|have\s+it|get\s+it|"
    r"be\s+(?:available|shipping|live|ready|released))\b"
    r"|\byou\s+will\s+(?:have|get)\s+it\b"
    r"|\bguarantee[sd]?\b"
    r"|\bcommit(?:ted|ting)?\s+to\b(?!\s+(?:keeping|updating|sharing|listening|letting|following|hearing|informing)\b)"
    r"|\bcommitted\s+(?:date|timeline|release)\b"
    r"|\b(?:a|our|firm)\s+commitment\b"
    r"|\b(?:is|are)\s+coming(?:\s+in)?\b"
    r"|\bon\s+track\s+(?:to|for)\b"
    r"|\b(?:scheduled|slated)\s+(?:for|to)\b"
    r"|\b(?:is|are)\s+(?:landing|launching)\b"
    r"|\bdefinitely\s+(?:ship|deliver|build|add|coming)\b",
    re.IGNORECASE,
)
NEGATION_RE = re.compile(
    r"\b(?:not|no|never|nothing|none|neither|nor|cannot|without|unlikely|if|whether|unless)\b|n't\b",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(r"[,;:()]|\s-\s|\b(?:but|however|although|though|whereas)\b", re.IGNORECASE)
_NON_ITEM_SUBJECT = re.compile(
    r"\b(?:details|updates?|news|information|pricing|more\s+info|an?\s+answer)\s+(?:will|is|are)\s*$",
    re.IGNORECASE,
)
_QUOTED = re.compile(r'"([^"\n]+)"')


def _mask_evidence_quotes(text: str, draft: Mapping[str, Any]) -> str:
    """Blank out double-quoted spans that reproduce one of the draft's evidence quotes."""
    quotes = [normalize_text(e.get("quote")) for e in draft.get("evidence") or [] if e.get("quote")]

    def repl(m: re.Match[str]) -> str:
        inner = m.group(1).strip().rstrip(".,;:!?").strip()
        return " " * len(m.group(0)) if inner and any(inner in q for q in quotes) else m.group(0)

    return _QUOTED.sub(repl, text)


def invented_item_ids(draft: Mapping[str, Any], items_by_id: Mapping[str, Any]) -> list[str]:
    """Item ids in the text or the cited list that are not in the roadmap."""
    problems = [f"invented_item: {i} (text)" for i in find_item_ids(draft.get("text")) if i not in items_by_id]
    problems += [f"invented_item: {i} (cited)" for i in cited_ids(draft) if i not in items_by_id]
    return problems


def _backing_releases(draft: Mapping[str, Any], items_by_id: Mapping[str, Any]) -> list[dict[str, Any]]:
    releases: list[dict[str, Any]] = []
    for item_id in cited_ids(draft):
        item = items_by_id.get(item_id)
        if item and item.get("status") in BACKING_STATUSES and (item.get("release") or "").strip():
            releases += release_fields(normalize_text(item["release"]))
    return releases


def unsupported_dates(draft: Mapping[str, Any], items_by_id: Mapping[str, Any]) -> list[str]:
    """Date/release expressions in the text not backed by a cited shipped/in_progress/planned item."""
    text = _mask_evidence_quotes(normalize_text(draft.get("text")), draft)
    releases = _backing_releases(draft, items_by_id)
    problems = []
    for expr in find_dates(text):
        if expr.kind == "relative":
            problems.append(f"relative_date: '{expr.text}'")
        elif not is_backed(expr, releases):
            problems.append(f"unbacked_date: '{expr.text}'")
    return unique(problems)


def _sentence_items(sentence: str, draft: Mapping[str, Any], items_by_id: Mapping[str, Any]) -> list[str]:
    """The roadmap items a sentence is about: ids it names, else cited titles it names, else the first cited."""
    named = [i for i in find_item_ids(sentence) if i in items_by_id]
    if named:
        return named
    cited = [i for i in cited_ids(draft) if i in items_by_id]
    low = sentence.lower()
    titled = [i for i in cited if (items_by_id[i].get("title") or "").strip().lower() in low
              and (items_by_id[i].get("title") or "").strip()]
    return titled or cited[:1]


def _is_hedged(sentence: str, start: int) -> bool:
    clause = _CLAUSE_BREAK.split(sentence[:start])[-1]
    return bool(NEGATION_RE.search(clause) or _NON_ITEM_SUBJECT.search(clause))


def unsupported_promises(draft: Mapping[str, Any], items_by_id: Mapping[str, Any]) -> list[str]:
    """Un-negated commitment language where the verdict or the item's status allows no commitment."""
    text = _mask_evidence_quotes(normalize_text(draft.get("text")), draft)
    verdict = draft.get("verdict")
    problems = []
    for sentence in split_sentences(text):
        for m in PROMISE_RE.finditer(sentence):
            if _is_hedged(sentence, m.start()):
                continue
            phrase = " ".join(m.group(0).split())
            if verdict in HONEST_VERDICTS:
                problems.append(f"promise: '{phrase}' in a draft with verdict {verdict}")
                continue
            for item_id in _sentence_items(sentence, draft, items_by_id):
                status = items_by_id[item_id].get("status")
                if status in UNCOMMITTED_STATUSES:
                    problems.append(f"promise: '{phrase}' about {item_id} ({status})")
    return unique(problems)


def unsupported_claims(draft: Mapping[str, Any], items_by_id: Mapping[str, Any]) -> list[str]:
    """All problems in one draft: invented items, unsupported dates and unsupported promises.

    ``items_by_id`` maps item id -> roadmap item dict (``status``, ``release``, ``title``...).
    Returns an empty list for a clean draft; see the module docstring for the rules.
    """
    return (invented_item_ids(draft, items_by_id) + unsupported_dates(draft, items_by_id)
            + unsupported_promises(draft, items_by_id))
