"""Quote fidelity: evidence quotes and quoted customer words must be verbatim in the notes.

"Verbatim" is compared after straightening typographic quotes/dashes and collapsing whitespace;
otherwise it is exact and case-sensitive, except that the first character of a quote may differ
in case (quotes are routinely capitalised at the start of a sentence).  ``notes_by_id`` maps
note id -> note text (a dict with a ``text`` key, and optionally ``account``, is accepted too).
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from ._common import collapse_ws, normalize_text

MIN_QUOTED_WORDS = 3  # shorter double-quoted spans in the text are names/scare quotes, not quotes
_QUOTED = re.compile(r'"([^"\n]+)"')
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|\[\.\.\.\])\s*")


def _note(notes_by_id: Mapping[str, Any], note_id: Any) -> tuple[str | None, Any]:
    note = notes_by_id.get(note_id)
    if note is None:
        return None, None
    if isinstance(note, Mapping):
        return collapse_ws(note.get("text")), note.get("account")
    return collapse_ws(str(note)), None


def _verbatim(fragment: str, haystack: str) -> bool:
    if not fragment:
        return False
    if fragment in haystack:
        return True
    return fragment[0].swapcase() + fragment[1:] in haystack


def _evidence_problem(ev: Mapping[str, Any], notes_by_id: Mapping[str, Any]) -> str | None:
    note_id, quote = ev.get("note_id"), collapse_ws(ev.get("quote"))
    text, account = _note(notes_by_id, note_id)
    if text is None:
        return f"unknown_note: {note_id}"
    if not quote:
        return f"empty_quote: {note_id}"
    if not _verbatim(quote, text):
        return f"not_verbatim: {note_id}: '{quote[:80]}'"
    if account is not None and ev.get("account") not in (None, "", account):
        return f"account_mismatch: {note_id}: evidence says {ev.get('account')!r}, note is {account!r}"
    return None


def verbatim_evidence_count(draft: Mapping[str, Any], notes_by_id: Mapping[str, Any]) -> tuple[int, int]:
    """``(verbatim, total)`` evidence quotes of one draft (see :func:`quote_fidelity`)."""
    evidence = draft.get("evidence") or []
    return sum(_evidence_problem(e, notes_by_id) is None for e in evidence), len(evidence)


def quote_fidelity(draft: Mapping[str, Any], notes_by_id: Mapping[str, Any]) -> float:
    """Fraction of the draft's evidence quotes that are verbatim in the note they cite.

    A draft with no evidence scores 1.0 (nothing misquoted); an unknown note id, an empty quote
    or an account that contradicts the note's counts as a miss.
    """
    good, total = verbatim_evidence_count(draft, notes_by_id)
    return good / total if total else 1.0


def text_quotes(text: str | None, min_words: int = MIN_QUOTED_WORDS) -> list[str]:
    """Double-quoted spans of at least ``min_words`` words, trailing punctuation stripped."""
    out = []
    for m in _QUOTED.finditer(normalize_text(text)):
        inner = collapse_ws(m.group(1)).rstrip(".,;:!?").strip()
        if len(inner.split()) >= min_words:
            out.append(inner)
    return out


def quote_problems(draft: Mapping[str, Any], notes_by_id: Mapping[str, Any],
                   min_words: int = MIN_QUOTED_WORDS) -> list[str]:
    """Every quoting problem in a draft, as ``"<kind>: <detail>"`` strings.

    * evidence quotes that are not verbatim in their note (see :func:`quote_fidelity`);
    * double-quoted spans in the draft text (``min_words`` words or more) that are not verbatim
      in any note cited by the draft's evidence.  An ellipsis splits a quote into fragments that
      must each be verbatim in the same note.
    """
    evidence = draft.get("evidence") or []
    problems = [p for p in (_evidence_problem(e, notes_by_id) for e in evidence) if p]
    sources = [t for t in (_note(notes_by_id, e.get("note_id"))[0] for e in evidence) if t]
    for quote in text_quotes(draft.get("text"), min_words):
        fragments = [f for f in _ELLIPSIS.split(quote) if f]
        if not any(all(_verbatim(f, src) for f in fragments) for src in sources):
            problems.append(f"unsourced_quote: '{quote[:80]}'")
    return problems
