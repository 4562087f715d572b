"""The parts of a request its Decision leaves unanswered, for a warning to the rep (never for the customer's text).

A rep's question often asks two things in two sentences ("Is there an audit log? Also, do you offer phone
support?"). The Decision reads the request whole: it cites the item the request is closest to, and a second ask that
no cited item covers got no word in the draft, so the customer's second question went unanswered without anyone
noticing. Here each sentence of a request of two or more is decided on its own, by the same fitted matcher, and:

- when the Decision cites items and one sentence alone is accepted for one of them, every other sentence that reads
  as an ask (the theme run's own classifier, `themes.select`: pain or request, not small talk or praise) and that on
  its own is not accepted for a cited item is a part the draft does not answer;
- when the Decision says no item addresses the request, a sentence that reads as an ask and is accepted on its own
  for an item is a part the "no" may be wrong about.

Nothing here changes the Decision's verdict or citations (sentence-level verdicts were measured and not kept:
eval/README.md, "Matcher ablation"); it only tells the rep what to check. Figures: `python -m eval.bench_asks`.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..text import sentences

PART_CHARS = 100  # a part is quoted back to the rep up to this many characters
# The item a part matches on its own is not named here: on the public dev sets it was the part's own item for only
# 19-25% of the parts warned about (eval/README.md, "Unanswered parts"), so naming it would mislead more than help.
UNANSWERED = ("this draft does not answer part of the question, \"{part}\": no item it cites covers that part; "
              "answer it separately or ask it on its own")
PART_MATCHES = ("on its own, part of the question, \"{part}\", is matched to {item_id} ({title}), but this draft says "
                "nothing on the roadmap addresses the question: check which is right before sending")


@dataclass(frozen=True)
class Part:
    text: str  # the sentence, as the request wrote it (after markup was taken off)
    item_id: str | None  # the item the sentence is accepted for on its own, or None
    title: str | None

    def to_dict(self) -> dict:
        return {"text": self.text, "item_id": self.item_id, "title": self.title}


def unanswered(fitted, embedder, texts: list[str], cited: list[list[str]]) -> list[list[Part]]:
    """Per request, the parts its Decision leaves unanswered; `cited` holds each Decision's cited item ids (empty
    when it abstained). Requests of one sentence cost nothing: only sentences of longer requests are embedded."""
    from ..themes.select import classify

    out: list[list[Part]] = [[] for _ in texts]
    rows = [(k, s) for k, text in enumerate(texts) for s in _split(text)]
    if not rows:
        return out
    parts = [s for _, s in rows]
    vectors = embedder.embed(parts)
    kinds = classify(parts, vectors, embedder)
    results = fitted.match(parts, top_k=1, vectors=vectors, transductive=False)
    titles = {item.id: item.title for item in fitted.items}
    grouped: dict[int, list[tuple[str, bool, str | None]]] = {}
    for (k, part), kind, res in zip(rows, kinds, results):
        grouped.setdefault(k, []).append((part, kind == "pain", res.item_id if res.in_scope else None))
    for k, found in grouped.items():
        ids = set(cited[k])
        if not ids:  # the Decision says no: a part accepted on its own for an item contradicts it
            out[k] = [Part(part, item, titles.get(item)) for part, asks, item in found if asks and item]
        elif any(item in ids for _, _, item in found):  # one part gives what the draft cites; the rest it leaves out
            out[k] = [Part(part, item, titles.get(item)) for part, asks, item in found if asks and item not in ids]
        # else: no sentence alone gives what the whole cites: which part it answers is unclear, so nothing is said
    return out


def warning(part: Part, abstained: bool) -> str:
    """The rep's warning for one part (the part is untrusted text: it is shortened here, escaped where shown)."""
    text = part.text if len(part.text) <= PART_CHARS else part.text[:PART_CHARS - 1].rstrip() + "…"
    if abstained:
        return PART_MATCHES.format(part=text, item_id=part.item_id, title=part.title)
    return UNANSWERED.format(part=text)


def _split(text: str) -> list[str]:
    found = sentences(text)
    return found if len(found) >= 2 else []
