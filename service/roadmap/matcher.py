"""Roadmap request matcher: which roadmap items address a customer request, and does any at all?

Pure and DB-free: items and requests in, ranked matches and an abstention decision out.

- Similarity stream: best cosine to an item's views (title, title with glued words split, title+description+tags,
  title with tags, each sentence of the description, each confirmed evidence statement) plus saturated BM25, because exact product terms (SCIM, BAA) decide matches,
  minus the same for words that ask the opposite of what an item names (import vs export).
- With an unlabeled pool of customer statements (pool_vectors at fit(), or a large request batch): requests are
  smoothed toward their pool neighbours, item vectors are re-centred on the statements they attract (pseudo-relevance
  feedback), and a graph stream adds label-propagation mass from the items over the pool's kNN graph.
- Calibration: each stream is centred on texts that are not about the item they are scored on and put in units of
  its spread; the acceptance threshold is a quantile of leave-the-item-out negatives, and scores are a logistic of the
  distance to it, so 0.5 means "at the threshold" for every request and every item.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
from scipy import sparse
from scipy.special import expit

from service.roadmap.lexical import BM25, expand_compounds, packaged_vocabulary

VERDICTS = {
    "shipped": "available",
    "in_progress": "in_progress",
    "planned": "planned",
    "considering": "under_consideration",
    "not_planned": "not_planned",
}
NOT_ON_ROADMAP = "not_on_roadmap"
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")

# Small talk from customer calls that asks for no feature. Used only when there is no pool of real statements, so a
# small roadmap still has a background of "about nothing on it" to calibrate against.
SMALL_TALK = (
    "Thanks for taking the time to meet with us today.", "Let's schedule a follow-up call next week.",
    "Can you send me the slides from the presentation?", "Our fiscal year ends in March.",
    "I'll loop in my manager on the next call.", "The weather has been terrible here lately.",
    "We are headquartered in Chicago with about 200 employees.", "Sorry, I was on mute.",
    "Who else from your team will join?", "Can we move the meeting to Thursday afternoon?",
    "Please send the invoice to our accounts payable address.", "Happy holidays to you and your team.",
    "I need to drop off in five minutes.", "Could you repeat that last part?", "Our CEO is travelling this week.",
    "Let me check my calendar and get back to you.", "We just hired a new marketing director.",
    "Is there parking near your office?",
)


def verdict(status: str | None) -> str:
    """The answer for sales: the matched item's status, or not_on_roadmap when the matcher abstained (None)."""
    if status is None:
        return NOT_ON_ROADMAP
    try:
        return VERDICTS[status]
    except KeyError:
        raise ValueError(f"unknown roadmap status {status!r}; expected one of {sorted(VERDICTS)}") from None


@dataclass
class RoadmapItem:
    id: str
    title: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    status: str = "considering"
    evidence: list[str] = field(default_factory=list)  # customer statements a PM confirmed for this item

    @classmethod
    def coerce(cls, obj: Any) -> "RoadmapItem":
        data = obj if isinstance(obj, dict) else asdict(obj) if hasattr(obj, "__dataclass_fields__") else vars(obj)
        known = {k: data[k] for k in ("id", "title", "description", "tags", "status", "evidence") if k in data}
        item = cls(**known)
        if not str(item.title or "").strip():
            raise ValueError(f"roadmap item {item.id!r} has no title")
        tags = item.tags.split(",") if isinstance(item.tags, str) else item.tags or []
        evidence = [item.evidence] if isinstance(item.evidence, str) else item.evidence or []
        item.id, item.description = str(item.id), item.description or ""
        item.tags = [t.strip() for t in tags if t and t.strip()]
        item.evidence = [e for e in evidence if e and e.strip()]
        verdict(item.status)  # reject unknown statuses at fit time, not at answer time
        return item


@dataclass
class MatchResult:
    request: str
    matches: list[dict]  # [{"item_id": str, "score": float}], best first; score in [0, 1]
    in_scope: bool  # False: no item addresses the request (abstain)
    confidence: float  # calibrated score of the best item; >= 0.5 exactly when in_scope
    item_id: str | None  # the best item when in scope
    verdict: str

    def to_dict(self) -> dict:
        return asdict(self)


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


def _neighbours(queries: np.ndarray, pool: np.ndarray, k: int, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosines of each query's k nearest pool vectors, in row chunks: never an n x N matrix in memory."""
    idx = np.empty((len(queries), k), dtype=np.int64)
    sims = np.empty((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), chunk):
        block = queries[start:start + chunk] @ pool.T
        top = np.argpartition(block, -k, axis=1)[:, -k:]  # no negated copy: twice as fast on wide blocks
        idx[start:start + chunk], sims[start:start + chunk] = top, np.take_along_axis(block, top, axis=1)
    return idx, sims


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


class RoadmapMatcher:
    """fit() once per roadmap version; match() for single requests or batches of thousands.

    Defaults are generic, not tuned to one data set: 10 neighbours is a local neighbourhood, 0.05 is the usual
    softmax temperature for cosine similarities, and the acceptance threshold comes from the data at fit time
    (target_oos_recall is the share of requests about topics missing from the roadmap that should be declined).
    """

    def __init__(self, *, lexical_weight: float = 0.5, neighbours: int = 10, temperature: float = 0.05,
                 iterations: int = 5, graph_bandwidth: float = 0.3, target_oos_recall: float = 0.9,
                 min_pool: int = 50, sentence_views: bool = True, graph_weight: float = 0.5):
        self.sentence_views = sentence_views
        # The graph stream votes with half the weight of direct similarity: it knows only the pool's structure, and
        # a topic the pool rarely mentions (a new connector) must still match on what the request and item say.
        self.graph_weight = graph_weight
        # Item texts share their domain's words (security, exports) far more than requests do; with lexical scores
        # in the background the threshold rose with every shared tag. The background is dense-only, so an exact
        # term in a request (HubSpot, BAA) is evidence on top of it.
        self.lexical_in_calibration = False
        self.lexical_weight = lexical_weight  # a matched rare term (SCIM, BAA, HubSpot) is worth ~0.25 of cosine
        self.neighbours = neighbours
        self.temperature = temperature
        self.iterations = iterations
        self.graph_bandwidth = graph_bandwidth  # wide: edge weights barely differ among near neighbours
        self.target_oos_recall = target_oos_recall
        self.min_pool = min_pool  # below this a pool is too small to say where the neighbours of a request are

    # ---- fit -------------------------------------------------------------------------------------------------
    def fit(self, items: Iterable[Any], embedder, pool_vectors: np.ndarray | None = None) -> "RoadmapMatcher":
        """Embed the items' views in one call and build the index, the pool's structure and the calibration.

        pool_vectors: optional unlabeled customer statements (e.g. all stored statements), so that single requests
        get the same transductive help a large batch gets from itself.
        """
        self.items = [RoadmapItem.coerce(i) for i in items]
        if not self.items:
            raise ValueError("fit() needs at least one roadmap item")
        if len({i.id for i in self.items}) != len(self.items):
            raise ValueError("roadmap item ids must be unique")
        self.embedder = embedder
        vocab = packaged_vocabulary()
        texts, owner, is_evidence = [], [], []
        for j, item in enumerate(self.items):
            # Definition views first, evidence after, so per-item maxima are contiguous slices (reduceat).
            defs = [item.title, expand_compounds(item.title, vocab)]
            if item.description or item.tags:
                defs.append(". ".join(filter(None, [item.title, item.description, ", ".join(item.tags)])))
            if item.tags:  # the PM's own keywords, undiluted by the description: "BigQuery: GCP, Google Cloud"
                defs.append(f"{item.title}: {', '.join(item.tags)}")
            if self.sentence_views:  # an item has facets; a request usually asks about one of them
                defs.extend(s for s in _SENTENCE_END.split(item.description) if len(s.split()) >= 4)
            for text in dict.fromkeys(d for d in defs if d.strip()):
                texts.append(text), owner.append(j), is_evidence.append(False)
            for text in item.evidence:
                texts.append(text), owner.append(j), is_evidence.append(True)
        self.view_texts, self.view_owner = texts, np.array(owner)
        self.view_evidence = np.array(is_evidence)
        vectors = _normalise(embedder.embed(texts + list(SMALL_TALK)))  # one embedder call for everything
        self.view_vectors, self.small_talk = vectors[: len(texts)], vectors[len(texts):]
        self.bm25 = BM25([" ".join([i.title, i.description, " ".join(i.tags), " ".join(i.evidence)])
                          for i in self.items], vocabulary=vocab)
        self.anchors = self._anchors()
        self.pool = (_normalise(pool_vectors) if pool_vectors is not None and len(pool_vectors)
                     else np.zeros((0, self.view_vectors.shape[1]), np.float32))
        self.state = self._prepare(self.pool)
        return self

    def _anchors(self) -> np.ndarray:
        """One vector per item: the mean of its definition views plus, equally weighted, the mean of its evidence."""
        anchors = np.zeros((len(self.items), self.view_vectors.shape[1]), np.float32)
        for j in range(len(self.items)):
            mine = self.view_owner == j
            anchors[j] = self.view_vectors[mine & ~self.view_evidence].mean(axis=0)
            if (mine & self.view_evidence).any():
                anchors[j] += self.view_vectors[mine & self.view_evidence].mean(axis=0)
        return _normalise(anchors)

    def _prepare(self, pool: np.ndarray) -> dict:
        """Everything that does not depend on one request: item centroids, graph mass of the pool, calibration."""
        state = {"pool": pool if len(pool) >= self.min_pool else pool[:0]}
        if len(state["pool"]):
            # Notes repeat sentences (a template line, a pasted recap): copies of one statement share one vote.
            state["pool_copies"] = np.unique(state["pool"], axis=0, return_inverse=True)[1].ravel()
            # The pool's own neighbourhoods (each statement is its own nearest) serve smoothing, graph and background.
            state["pool_near"] = self._neighbourhood(state["pool"], state)
            state["centroids"] = self._recentre(state)
            state["pool_mass"] = self._propagate(state)
            state["mass_floor"] = float(np.median(state["pool_mass"])) + 1e-12
        else:
            state["centroids"] = self.anchors
        self._calibrate(state)
        return state

    def _neighbourhood(self, vectors: np.ndarray, state: dict) -> tuple[np.ndarray, np.ndarray]:
        # One more than `neighbours`: a pool statement finds itself first and still gets `neighbours` others.
        return _neighbours(vectors, state["pool"], min(self.neighbours + 1, len(state["pool"])))

    @staticmethod
    def _shares(idx: np.ndarray, state: dict) -> np.ndarray:
        """(n, k) weight of each neighbour: 1 over the number of copies of the same statement among the k.

        Without it, eight copies of "Said the new dashboard editor is a big step up" outvoted the one neighbour that
        was about the request (reselling dashboards under an agency's brand)."""
        copies = state["pool_copies"][idx]
        return 1.0 / (copies[:, :, None] == copies[:, None, :]).sum(axis=2)

    @staticmethod
    def _smooth(vectors: np.ndarray, idx: np.ndarray, pool: np.ndarray, shares: np.ndarray | None = None) -> np.ndarray:
        """Pull a request halfway toward its pool neighbours: one short utterance is a noisy sample of its topic."""
        if shares is None:
            return _normalise(vectors + pool[idx].mean(axis=1))
        neighbours = np.einsum("nk,nkd->nd", shares, pool[idx]) / shares.sum(axis=1, keepdims=True)
        return _normalise(vectors + neighbours)

    def _recentre(self, state: dict) -> np.ndarray:
        """Pseudo-relevance feedback: soft-assign the smoothed pool to items and move each item toward its share.

        The anchor keeps equal weight at every step, so an item never drifts away from what it says.
        """
        idx = state["pool_near"][0]
        # Plain means here: copies of a pool statement are each other's neighbours, so its smoothed self stays itself.
        pool = self._smooth(state["pool"], idx, state["pool"])
        centroids = self.anchors
        for _ in range(self.iterations):
            resp = _softmax((pool @ centroids.T) / self.temperature)
            mass = np.maximum(resp.sum(axis=0)[:, None], 1e-9)
            centroids = _normalise(self.anchors + (resp.T @ pool) / mass)
        return centroids

    def _propagate(self, state: dict) -> np.ndarray:
        """Label propagation (Zhou et al. 2004) from the item anchors over a kNN graph of the pool.

        An item links to its own nearest statements, so a cluster of statements that is merely *near* an item, while
        another cluster is nearer, receives little mass: this is what separates "not on the roadmap" topics that
        share vocabulary with an item from the item's own requests.
        """
        m, pool = len(self.anchors), state["pool"]
        anchor_idx, anchor_sims = self._neighbourhood(self.anchors, state)
        idx = np.vstack([anchor_idx, state["pool_near"][0]])
        sims = np.vstack([anchor_sims, state["pool_near"][1]])
        nodes = len(idx)
        own = idx == (np.arange(nodes) - m)[:, None]  # a statement is not its own neighbour in the graph
        weights = np.where(own, 0.0, np.exp((sims - 1.0) / self.graph_bandwidth))
        graph = sparse.csr_matrix((weights.ravel(), (np.repeat(np.arange(nodes), idx.shape[1]), idx.ravel() + m)),
                                  shape=(nodes, nodes))
        graph = graph.maximum(graph.T)
        inv = sparse.diags(1.0 / np.sqrt(np.maximum(np.asarray(graph.sum(axis=1)).ravel(), 1e-12)))
        graph = (inv @ graph @ inv).astype(np.float32)
        seeds = np.zeros((nodes, m), np.float32)
        seeds[np.arange(m), np.arange(m)] = 1.0
        mass = seeds
        for _ in range(30):  # 0.9 ** 30 < 0.05: later iterations barely move the result
            mass = 0.9 * (graph @ mass) + 0.1 * seeds
        return np.asarray(mass[m:], dtype=np.float32)

    # ---- scoring ---------------------------------------------------------------------------------------------
    def _streams(self, texts: Sequence[str] | None, vectors: np.ndarray, state: dict,
                 near: tuple[np.ndarray, np.ndarray] | None = None) -> list[np.ndarray]:
        """(n, items) raw relevance per evidence stream: similarity (dense + lexical), and graph mass with a pool."""
        sims = vectors @ self.view_vectors.T
        dense = np.full((len(vectors), len(self.items)), -1.0, np.float32)
        # Views are grouped by item, so a per-item max is one reduceat over the group starts.
        starts = np.flatnonzero(np.r_[True, self.view_owner[1:] != self.view_owner[:-1]])
        dense[:, self.view_owner[starts]] = np.maximum.reduceat(sims, starts, axis=1)
        against = 0.0
        if texts is not None:
            dense = dense + self.lexical_weight * self.bm25.saturated(texts)
            # Counted after the pool's smoothing below, which knows no words and would otherwise undo it.
            against = self.lexical_weight * self.bm25.contradicted(texts)
        if not len(state["pool"]):
            return [dense - against]
        idx, near_sims = near if near is not None else self._neighbourhood(vectors, state)
        shares = self._shares(idx, state)
        smoothed = self._smooth(vectors, idx, state["pool"], shares) @ state["centroids"].T
        # Graph mass of a request = similarity-weighted mass of its pool neighbours (itself, when in the pool).
        weights = np.exp((near_sims - 1.0) / self.graph_bandwidth) * shares
        mass = np.einsum("nk,nkm->nm", weights, state["pool_mass"][idx]) / weights.sum(axis=1, keepdims=True)
        return [np.maximum(dense, smoothed) - against, np.log(mass + state["mass_floor"])]

    def _relevance(self, streams: list[np.ndarray], state: dict) -> np.ndarray:
        """Sum of the centred streams: each in units of its own spread, so neither dominates by scale."""
        weights = (1.0, self.graph_weight)
        return sum(w * (s - loc) / scale for w, s, loc, scale in zip(weights, streams, state["location"], state["scale"]))

    def _calibrate(self, state: dict) -> None:
        """Stream locations and an acceptance threshold from texts known NOT to be about the item they are scored on.

        Negatives: each item's own views scored with that item left out (a request about a topic missing from the
        roadmap looks like that), and pool statements with their best item left out (or, with no pool, small talk
        that is about no item). The threshold is their target_oos_recall quantile, so about that share of
        out-of-roadmap requests is expected to be declined.
        """
        own = (np.arange(len(self.view_owner)), self.view_owner)
        streams = self._streams(self.view_texts if self.lexical_in_calibration else None, self.view_vectors, state)
        if len(state["pool"]):
            extra = self._streams(None, state["pool"], state, state["pool_near"])
        else:
            extra = self._streams(list(SMALL_TALK), self.small_talk, state)
        streams = [np.vstack([v, p]) for v, p in zip(streams, extra)]
        state["location"], state["scale"] = [], []
        for stream in streams:
            stream[own] = np.nan  # a view says nothing about its own item's background
            # One location per stream, not per item: per-item centring lifted items with few, short views ("Dashboard
            # editor v2") over the item a request names (its SDK), and cost top-1 on hwu64 as well as on the B2B set.
            location = float(np.nanmedian(stream))
            spread = np.nanmedian(np.abs(stream - np.nanmedian(stream, axis=0)), axis=0)
            state["location"].append(location)
            state["scale"].append(float(max(np.median(spread), 1e-6)))  # per-item scales overreact to few views
        relevance = self._relevance(streams, state)
        n_views = len(self.view_owner)
        negatives = np.nanmax(relevance[:n_views], axis=1)
        if not len(state["pool"]):
            negatives = np.r_[negatives, relevance[n_views:].max(axis=1)]
        elif relevance.shape[1] > 1:
            negatives = np.r_[negatives, np.sort(relevance[n_views:], axis=1)[:, -2]]
        negatives = negatives[np.isfinite(negatives)]  # a lone item's views have no other item to be scored on
        state["threshold"] = float(np.quantile(negatives, self.target_oos_recall))
        state["spread"] = float(max(np.std(negatives), 1e-6))

    def scores(self, requests: Sequence[str], vectors: np.ndarray | None = None,
               transductive: bool | None = None) -> np.ndarray:
        """(n, items) calibrated scores in [0, 1]; 0.5 is the acceptance threshold, comparable across requests."""
        requests = list(requests)
        if vectors is None:
            vectors = self.embedder.embed(requests) if requests else np.zeros((0, self.anchors.shape[1]))
        vectors = _normalise(vectors)
        if len(vectors) != len(requests):
            raise ValueError(f"{len(vectors)} vectors for {len(requests)} requests")
        state, near = self.state, None
        if transductive is None:  # a batch big enough to have structure of its own joins the pool
            transductive = len(requests) >= self.min_pool
        if transductive and len(requests):
            state = self._prepare(np.vstack([self.pool, vectors]))
            if len(state["pool"]):  # the requests are the pool's tail: their neighbourhoods are already known
                near = tuple(a[len(self.pool):] for a in state["pool_near"])
        z = self._relevance(self._streams(requests, vectors, state, near), state)
        return expit((z - state["threshold"]) / state["spread"])

    def match(self, requests: Sequence[str], top_k: int = 5, vectors: np.ndarray | None = None,
              transductive: bool | None = None) -> list[MatchResult]:
        """Ranked matches and the abstention decision per request; all requests are embedded in one call.

        transductive=None uses the batch itself as unlabeled pool when it has at least min_pool requests; pass
        False for results that do not depend on the other requests of the batch.
        """
        requests = list(requests)
        probs = self.scores(requests, vectors, transductive)
        # A stable sort on the negated score keeps ties in roadmap order, so rankings are reproducible.
        order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
        results = []
        for row, request in enumerate(requests):
            best = int(order[row, 0])
            confidence = float(probs[row, best])
            accepted = confidence >= 0.5
            item = self.items[best]
            results.append(MatchResult(
                request=request,
                matches=[{"item_id": self.items[j].id, "score": round(float(probs[row, j]), 6)} for j in order[row]],
                in_scope=accepted, confidence=confidence, item_id=item.id if accepted else None,
                verdict=verdict(item.status if accepted else None)))
        return results
