"""LLM theme labels: proposed from keywords and quotes, validated, the offline label kept on any failure."""
from __future__ import annotations

import logging
import re

from ..llm import LLMError
from ..prompts import PromptError, load_prompt
from ..redact import Redactor

log = logging.getLogger(__name__)
_BAD = re.compile(r"[<>{}\n]|https?://|@")


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
        if valid_label(label) and "[" not in label:
            result.label = label[0].upper() + label[1:]
            result.source = "llm"
