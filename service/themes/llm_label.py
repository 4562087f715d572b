"""LLM theme labels: proposed from keywords and quotes, validated, the offline label kept on any failure.

The LLM only phrases: its label must mean what one of the offline candidate phrases means (cosine of the
packaged embeddings at least `AGREEMENT`), so a fluent label about something else never replaces the
offline one."""
from __future__ import annotations

import logging
import re

from ..llm import LLMError
from ..prompts import PromptError, load_prompt
from ..redact import Redactor

log = logging.getLogger(__name__)
_BAD = re.compile(r"[<>{}\n]|https?://|@")
AGREEMENT = 0.6  # paraphrases of one pain sit above it with all-MiniLM-L6-v2; different pains below


def valid_label(label: object) -> bool:
    """Short, one line, no markup, no contact details, and not a sentence of instructions."""
    if not isinstance(label, str):
        return False
    words = label.split()
    return 1 <= len(words) <= 8 and len(label) <= 80 and not _BAD.search(label)


def relabel(services, texts: list[list[str]], results) -> None:
    """Replace offline labels in place with validated LLM labels; any failure keeps the offline one."""
    try:
        prompt = load_prompt("theme_label")
    except PromptError as exc:
        log.warning("theme_label prompt unusable, keeping offline labels: %s", exc)
        return
    for cluster_texts, result in zip(texts, results):
        redactor = Redactor()
        quotes = [redactor.redact(cluster_texts[i]) for i in result.representatives]
        try:
            reply = services.llm.complete_json(prompt, {"keywords": result.keywords[:10], "quotes": quotes})
        except LLMError as exc:
            log.info("LLM labeller failed (%s); offline label kept", type(exc).__name__)
            continue
        label = str(reply.data.get("label", "")).strip().strip(".\"'")
        if valid_label(label) and "[" not in label and agrees(services.embedder, label, result.candidates or [result.label]):
            result.label = label[0].upper() + label[1:]
            result.source = "llm"
        else:
            log.info("LLM label %r rejected; offline label kept", label[:80])


def agrees(embedder, label: str, candidates: list[str]) -> bool:
    """Does the LLM's label mean what one of the offline candidates means?"""
    import numpy as np

    vecs = np.asarray(embedder.embed([label, *candidates]), dtype=np.float32)
    return bool((vecs[1:] @ vecs[0]).max(initial=-1.0) >= AGREEMENT)
