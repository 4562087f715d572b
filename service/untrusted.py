"""Untrusted text: notes and questions are data, never instructions.

Sentences that address an assistant instead of asking something ("ignore previous instructions...", "[admin note:
...]", "### assistant: ...") are dropped before a request is matched or drafted, so they can neither move a verdict
nor reach a model. Nothing downstream reads instructions from them; this only keeps their words out of the topic.
"""
from __future__ import annotations

import re

_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.?!]{0,40}\b(?:instructions?|guidelines|rules|roadmap|prompt|above|context)\b"
    r"|\b(?:system|developer)\s+(?:override|prompt|message|note)\b|\bnew\s+instructions?\b|\byou\s+are\s+now\b"
    r"|\b(?:note|message)\s+to\s+(?:the\s+)?(?:assistant|ai|model|bot)\b|\badmin\s+note\b"
    r"|\b(?:print|reveal|show|repeat)\b[^.?!]{0,20}\b(?:system\s+prompt|instructions)\b"
    r"|\b(?:reply|respond|answer)\s+(?:only\s+)?(?:with|that)\b|\bconfirm\s+the\s+above\b"
    r"|(?:^|\s)(?:system|assistant|user)\s*:|###|</?[a-z_]+>|\bdo\s+not\s+check\b",
    re.IGNORECASE)
_BRACKETED = re.compile(r"\[[^\]]*\]|\([^)]*\)")
_SENTENCE = re.compile(r"(?<=[.?!])\s+|\s+(?=###)|\s*(?=</?[a-z_]+>)", re.IGNORECASE)


def sanitize_question(question: str) -> tuple[str, list[str]]:
    """(the question without instruction-like sentences, the removed parts). Falls back to the original when
    nothing is left, so a question made only of noise still gets a (declining) answer instead of an error."""
    removed = [m.group(0) for m in _BRACKETED.finditer(question) if _INJECTION.search(m.group(0))]
    text = question
    for part in removed:
        text = text.replace(part, " ")
    kept = []
    for sentence in _SENTENCE.split(text):
        if sentence.strip() and _INJECTION.search(sentence):
            removed.append(sentence.strip())
        elif sentence.strip():
            kept.append(sentence.strip())
    clean = " ".join(kept).strip()
    return (clean or " ".join(question.split())), removed


def looks_like_instructions(text: str) -> bool:
    return bool(_INJECTION.search(text))
