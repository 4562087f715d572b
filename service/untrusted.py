"""Untrusted text: notes and questions are data, never instructions.

The defence is structural: a question is matched as written (code decides the verdict), the template drafter never
executes anything it reads, and any LLM prompt fences the question and the quotes inside a data block the system
prompt tells the model not to obey. This phrase check only *notices* instruction-like text so a draft can carry a
warning and a quote is not chosen as evidence; it is measured on phrasings it was not written for
(eval/datasets/injections.jsonl, `feedback eval --suite injection`) and is not relied on to stop anything.
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


def looks_like_instructions(text: str) -> bool:
    return bool(_INJECTION.search(text or ""))
