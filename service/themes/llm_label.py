"""LLM theme labels: proposed from keywords and quotes, validated, the offline label kept on any failure.

The LLM only phrases: its label must mean what one of the offline candidate phrases means (cosine of the
packaged embeddings at least `AGREEMENT`), so a fluent label about something else never replaces the
offline one."""
from __future__ import annotations

import logging
import re

from ..llm import LLMError
from ..prompts import PromptError, load_prompt
from ..drafts.evidence import names_in
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
    registry = _known_names(services)
    for cluster_texts, result in zip(texts, results):
        sent = [cluster_texts[i] for i in result.representatives]
        # Contact and author names as drafts redact them (docs/llm.md). Keywords are lower-cased phrases of the same
        # statements: one with a word of a name found in them is left out, not sent as "whitfield says".
        names = names_in(" ".join(sent + list(result.keywords[:10])), registry)
        redactor = Redactor(names=names)
        quotes = [redactor.redact(text) for text in sent]
        name_words = {w.lower() for n in names for w in n.split()}
        keywords = [k for k in result.keywords[:10] if not name_words & set(k.lower().split())]
        try:
            reply = services.llm.complete_json(prompt, {"keywords": keywords, "quotes": quotes})
        except LLMError as exc:
            log.info("LLM labeller failed (%s); offline label kept", type(exc).__name__)
            continue
        label = str(reply.data.get("label", "")).strip().strip(".\"'")
        if valid_label(label) and "[" not in label and agrees(services.embedder, label, result.candidates or [result.label]):
            result.label = label[0].upper() + label[1:]
            result.source = "llm"
        else:
            # Not the label itself: the model wrote it from customer quotes, and this is the server's log
            log.info("LLM label of %d characters rejected; offline label kept", len(label))


def _known_names(services) -> set[str]:
    from ..names import person_names

    with services.db.session() as session:
        return person_names(services, session)


def agrees(embedder, label: str, candidates: list[str]) -> bool:
    """Does the LLM's label mean what one of the offline candidates means?"""
    import numpy as np

    vecs = np.asarray(embedder.embed([label, *candidates]), dtype=np.float32)
    return bool((vecs[1:] @ vecs[0]).max(initial=-1.0) >= AGREEMENT)
