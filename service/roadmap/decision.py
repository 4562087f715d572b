"""The only place a request becomes a verdict: one `Decision` per request, read by every consumer.

`feedback match`, `POST /api/v1/match`, drafts, coverage and the pages all call `decide()` (or `decide_texts()` for
texts that are not requests, such as theme labels) and read the value it returns; none of them re-ranks items or
re-derives a verdict. The matcher behind it is fitted once per roadmap, evidence and corpus state and cached here.

A request is untrusted data: it is matched as written, less any Markdown or HTML it was pasted with. Instruction-like
text in it ("ignore previous instructions...") is noted as a warning, never obeyed; nothing downstream reads
instructions from it.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import RoadmapItem, Statement
from ..text import plain_text, terms
from ..untrusted import looks_like_instructions
from ..vectorstore import STATEMENTS
from . import matcher as matcher_mod, parts
from .parts import Part

ACCEPTED = 0.5  # calibrated scores: 0.5 is the acceptance threshold for every request and item
EVIDENCE_MARGIN = 0.1  # cosine below a linked note's closest statement still counted as evidence
THEME_EVIDENCE = 20  # most central statements of a linked theme used as evidence
POOL_MAX = 5000  # customer statements given to the matcher as its unlabeled background
INSTRUCTION_LIKE = "the request contains instruction-like text; it was treated as data, not obeyed"
# A person said the item is not the right one for a question like this; the next best is cited on its own score.
AFTER_REJECTION = ("{rejected} was marked as not the right item for a question like this one, so it is not cited; "
                   "{cited} is the next best match on its own score: check it before sending")
# Without a roadmap every verdict is not_on_roadmap: that "no" is for want of a roadmap, not an answer to send.
NO_ROADMAP = ("no roadmap is imported, so \"not on the roadmap\" only means there was no roadmap to check; do not "
              "send this as is: a PM imports the roadmap first (`feedback roadmap import roadmap.csv` or "
              "POST /api/v1/roadmap/items)")
_fit_lock = threading.Lock()


@dataclass(frozen=True)
class Ranked:
    item_id: str
    title: str
    status: str
    score: float  # calibrated, in [0, 1]; >= 0.5 means the matcher accepts the item for the request

    def to_dict(self) -> dict:
        return {"item_id": self.item_id, "title": self.title, "status": self.status,
                "score": matcher_mod.shown_score(self.score, 4)}  # a declined score never reads as 0.5, the line


@dataclass
class Decision:
    request_id: str | None
    text: str
    verdict: str
    abstained: bool  # True: no item addresses the request (verdict not_on_roadmap, nothing cited)
    ranked: list[Ranked]  # every item, best first
    cited: list[Ranked]  # what a draft may cite: the accepted best item (two when two are asked for), or nothing
    why: dict = field(default_factory=dict)  # for the cited item: the view of it the request is closest to
    warnings: list[str] = field(default_factory=list)
    # Sentences of the request this Decision leaves unanswered (parts.py): each is a warning too, for the rep
    unanswered: list[Part] = field(default_factory=list)

    @property
    def best(self) -> Ranked | None:
        return self.cited[0] if self.cited else None

    def near_misses(self, floor: float = 0.3, limit: int = 2) -> list[Ranked]:
        """Items below acceptance but above floor: worth naming internally next to a 'no'."""
        return [r for r in self.ranked if floor <= r.score < ACCEPTED][:limit]

    def match_dict(self, min_score: float = ACCEPTED) -> dict:
        """The `feedback match` / API shape: {"id", "verdict", "matches": [...]} with matches >= min_score, the cited
        items first (in the order asked), then the rest best first."""
        ordered = self.cited + [r for r in self.ranked if r not in self.cited]
        return {"id": self.request_id, "verdict": self.verdict,
                "matches": [r.to_dict() for r in ordered if r.score >= min_score]}

    def to_dict(self) -> dict:
        out = asdict(self)
        out["ranked"] = [r.to_dict() for r in self.ranked]
        out["cited"] = [r.to_dict() for r in self.cited]
        return out


def decide(services, requests: list[dict], *, vectors: np.ndarray | None = None, top_k: int | None = None,
           scores_out: list | None = None) -> list[Decision]:
    """One Decision per {"id", "text"}, in input order; single-request semantics (no batch effects).

    For bulk callers (every stored statement): `vectors` are the embeddings of the texts as given (from the index;
    a text pasted with markup is embedded again without it), `top_k` keeps only the best items in `ranked` (a
    refused item beyond them is not named in a warning), and `scores_out` receives one ItemScores, every item's
    score for every request, instead of a Ranked object per item and request."""
    texts = [plain_text(r["text"]) or r["text"] for r in requests]  # the words, without pasted Markdown or HTML
    fitted = get_matcher(services)
    if fitted is None or not requests:  # fitted is None only when no (non-archived) roadmap item exists
        return [_empty(r) for r in requests]
    by_id = {i.id: i for i in fitted.items}
    vectors = _request_vectors(services, requests, texts, vectors)
    probs = fitted.scores(texts, vectors, False)
    if scores_out is not None:
        scores_out.append(ItemScores(tuple(i.id for i in fitted.items), probs))
    results = fitted.results(texts, probs, min(top_k or len(fitted.items), len(fitted.items)))
    explained = fitted.explain(texts, vectors, [r.matches[0]["item_id"] for r in results])
    vetoed = fitted.vetoed(vectors)
    out = []
    for row, (req, text, res, why, refused) in enumerate(zip(requests, texts, results, explained, vetoed)):
        ranked = [Ranked(m["item_id"], by_id[m["item_id"]].title, by_id[m["item_id"]].status, float(m["score"]))
                  for m in res.matches]
        cited = (two_asks(text, ranked[:2], by_id) or ranked[:1]) if res.in_scope else []
        warnings = [INSTRUCTION_LIKE] if looks_like_instructions(req["text"]) else []
        warnings += _after_rejection(cited, [Ranked(fitted.items[j].id, fitted.items[j].title, fitted.items[j].status,
                                                    matcher_mod.shown_score(float(probs[row, j])))
                                             for j in np.flatnonzero(refused)])
        verdict = matcher_mod.verdict(cited[0].status) if cited else res.verdict
        out.append(Decision(request_id=req.get("id"), text=req["text"], verdict=verdict,
                            abstained=not res.in_scope, ranked=ranked, cited=cited,
                            why=why if res.in_scope else {}, warnings=warnings))
    found = parts.unanswered(fitted, services.embedder, texts, [[r.item_id for r in d.cited] for d in out])
    for decision, unanswered in zip(out, found):
        decision.unanswered = unanswered
        decision.warnings += [parts.warning(p, decision.abstained) for p in unanswered]
    return out


def _request_vectors(services, requests: list[dict], texts: list[str], given: np.ndarray | None) -> np.ndarray:
    if given is None:
        return services.embedder.embed(texts)
    if len(given) != len(requests):
        raise ValueError(f"{len(given)} vectors for {len(requests)} requests")
    out = np.array(given, dtype=np.float32)
    marked = [k for k, (r, t) in enumerate(zip(requests, texts)) if t != r["text"]]
    if marked:
        out[marked] = services.embedder.embed([texts[k] for k in marked])
    return out


class ItemScores:
    """Every item's calibrated score for each request of one decide() call: `row(k)` reads as {item_id: score}
    (the score as Ranked holds it), without a Python object per item and request."""

    def __init__(self, item_ids: tuple[str, ...], probs: np.ndarray):
        self.item_ids, self.probs = item_ids, np.asarray(probs, dtype=np.float32)
        self.index = {item_id: j for j, item_id in enumerate(item_ids)}

    def row(self, k: int) -> "RowScores":
        return RowScores(self, k)


class RowScores(Mapping):
    __slots__ = ("_table", "_row")

    def __init__(self, table: ItemScores, row: int):
        self._table, self._row = table, row

    def __getitem__(self, item_id: str) -> float:
        return matcher_mod.shown_score(float(self._table.probs[self._row, self._table.index[item_id]]))

    def __iter__(self):
        return iter(self._table.item_ids)

    def __len__(self) -> int:
        return len(self._table.item_ids)


def _after_rejection(cited: list[Ranked], refused: list[Ranked]) -> list[str]:
    """A warning when an item refused for this request (a rejected question like it) would have come before what is
    cited: the runner-up is cited on its own score, but the rep said the best guess was wrong, so a person checks."""
    if not cited or not refused:
        return []
    ahead = sorted((r for r in refused if r.score / matcher_mod.VETOED >= cited[0].score), key=lambda r: -r.score)
    return [AFTER_REJECTION.format(rejected=ahead[0].item_id, cited=cited[0].item_id)] if ahead else []


def two_asks(text: str, top: list[Ranked], by_id: dict) -> list[Ranked] | None:
    """Both of the two best items, in the order the request names them, when both are accepted and the request
    names each by a term of its own title or tags that the other lacks ("CSV and Excel"); else None.

    Measured on requests joining two public utterances ("A. Also, B"): it puts the first-named item first more
    often on 3 of 4 sets and raises citation F1 on all 4 (eval/README.md, "Matcher ablation")."""
    if len(top) < 2 or any(r.score < ACCEPTED for r in top):
        return None
    own = [set(terms(f"{by_id[r.item_id].title} {' '.join(by_id[r.item_id].tags)}")) for r in top]
    words = terms(text)
    first = []
    for mine, other in ((own[0], own[1]), (own[1], own[0])):
        found = next((k for k, w in enumerate(words) if w in mine - other), None)
        if found is None:
            return None
        first.append(found)
    return top if first[0] <= first[1] else [top[1], top[0]]


def decide_texts(services, texts: list[str]) -> list[Decision]:
    """Decisions for texts that are not requests (theme labels, quotes), cached until the matcher or texts change:
    coverage asks for the same labels on every page view."""
    if not texts:
        return []
    fitted = get_matcher(services)
    if fitted is None:
        return [_empty({"id": None, "text": t}) for t in texts]
    key = (services._roadmap_matcher[0], hashlib.sha256("\x1f".join(texts).encode()).hexdigest())
    cached = getattr(services, "_decided_texts", None)
    if cached and cached[0] == key:
        return cached[1]
    found = decide(services, [{"id": None, "text": t} for t in texts])
    services._decided_texts = (key, found)
    return found


def _empty(request: dict) -> Decision:
    """The Decision when no roadmap item exists (the only time there is no matcher): it says why it abstains, and
    notes instruction-like text as `decide` does (a request is no less data without a roadmap)."""
    warnings = [INSTRUCTION_LIKE] if looks_like_instructions(request["text"]) else []
    return Decision(request_id=request.get("id"), text=request["text"], verdict=matcher_mod.NOT_ON_ROADMAP,
                    abstained=True, ranked=[], cited=[], warnings=warnings + [NO_ROADMAP])


# ---- the fitted matcher, cached per roadmap, evidence and corpus state -----------------------------------------
def get_matcher(services):
    """The matcher fitted on the current items and their evidence; refitted only when either changed.

    A few counts decide whether anything changed (items, links, notes, statements, the theme run); only then are
    the items and their evidence loaded and hashed, so an unchanged roadmap costs a draft a few small queries."""
    from . import service as roadmap

    with services.db.session() as session:
        state = (roadmap.state_key(session), services.embedder.name)
    cached = getattr(services, "_roadmap_matcher", None)
    if cached and cached[2] == state:
        return cached[1]
    from .rejections import rejected_texts

    with services.db.session() as session:
        items = roadmap.load_items(session)
        evidence = {i.id: _raw_evidence(session, i) for i in items}
        rejected = rejected_texts(session)
    if not items:
        return None
    data = [[i.id, i.title, i.description, i.tags, i.status, rejected.get(i.id, [])] for i in items]
    key = hashlib.sha256(json.dumps([data, evidence, list(state[0][6:8]), services.embedder.name],
                                    default=str).encode()).hexdigest()
    with _fit_lock:
        cached = getattr(services, "_roadmap_matcher", None)
        if cached and cached[0] == key:
            services._roadmap_matcher = (key, cached[1], state)
            return cached[1]
        notes_linked = any(kind == "note" for groups in evidence.values() for kind, _ in groups)
        item_vectors = _item_vectors(services.embedder, items) if notes_linked else None
        specs = [_spec(i, evidence[i.id], services.embedder, item_vectors, n) | {"rejected": rejected.get(i.id, [])}
                 for n, i in enumerate(items)]
        vectors, texts = _pool(services)
        fitted = matcher_mod.RoadmapMatcher().fit(specs, services.embedder, pool_vectors=vectors, pool_texts=texts)
        services._roadmap_matcher = (key, fitted, state)
        return fitted


def _pool(services) -> tuple[np.ndarray | None, list[str] | None]:
    """An even sample of stored customer statements (vectors and texts): the matcher's unlabeled background."""
    with services.db.session() as session:
        rows = session.execute(select(Statement.id, Statement.text).order_by(Statement.id)).all()
    rows = rows[:: max(1, math.ceil(len(rows) / POOL_MAX))]
    if not rows:
        return None, None
    found, vectors, _ = services.store.get(STATEMENTS, [f"s{i}" for i, _ in rows])
    if vectors is None or vectors.ndim != 2 or vectors.shape[1] != services.embedder.dim:
        return None, None  # an index built by another model: no background rather than a crash
    text_of = {f"s{i}": t for i, t in rows}
    return vectors, [text_of[i] for i in found]


def _raw_evidence(session: Session, item: RoadmapItem) -> list[tuple[str, list[str]]]:
    """Per link, its candidate texts: a note's statements, a theme's most central statements, or the question of a
    draft a rep confirmed as about the item."""
    from ..models import Draft
    from .service import theme_queries

    groups = []
    for ln in item.links:
        if ln.kind == "note":
            groups.append(("note", [s.text for s in ln.note.statements]))
        elif ln.kind == "draft":
            draft = session.get(Draft, ln.draft_id)
            groups.append(("draft", [draft.question] if draft is not None else []))
        elif theme_queries is not None:
            groups.append(("theme", theme_queries.theme_texts(session, ln.theme_id, limit=THEME_EVIDENCE)))
    return groups


def _spec(item: RoadmapItem, groups: list[tuple[str, list[str]]], embedder, item_vectors: np.ndarray | None,
          index: int) -> dict:
    # A theme's member statements and a confirmed question are all about it; a note's only where closest to the item.
    evidence = [t for kind, texts in groups
                for t in (_note_evidence(embedder, item_vectors, index, texts) if kind == "note" else texts)]
    return {"id": item.id, "title": item.title, "description": item.description, "tags": item.tags or [],
            "status": item.status, "evidence": list(dict.fromkeys(evidence))}


def _item_vectors(embedder, items: list[RoadmapItem]) -> np.ndarray:
    vectors = np.asarray(embedder.embed([f"{i.title}. {i.description or ''}" for i in items]), np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _note_evidence(embedder, item_vectors: np.ndarray, index: int, texts: list[str]) -> list[str]:
    """A note often covers several topics; its statements that are closer to this item than to every other item and
    within EVIDENCE_MARGIN of its statement closest to the item are evidence for it (when none is, that closest one
    is). The margin alone let a note's other asks in as evidence; adding the closest-item condition raised acc@R.8
    on all four public sets with linked mixed notes (eval/README.md, "Evidence from a linked note")."""
    if len(texts) <= 1:
        return texts
    vectors = np.asarray(embedder.embed(texts), np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = vectors @ item_vectors.T
    to_item = sims[:, index]
    mine = (sims.argmax(axis=1) == index) & (to_item >= to_item.max() - EVIDENCE_MARGIN)
    if not mine.any():  # the note was linked to the item: its closest statement is about it
        mine[int(to_item.argmax())] = True
    return [t for t, keep in zip(texts, mine) if keep]
