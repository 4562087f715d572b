"""Roadmap request matcher: which roadmap items address a customer request, and does any at all?

Pure and DB-free: items and requests in, ranked matches and an abstention decision out.

- Similarity stream: best cosine to an item's views (title, title+description+tags, title with tags, each sentence
  of the description, each confirmed evidence statement) plus saturated BM25, because exact product terms (SCIM,
  BAA) decide matches.
- With an unlabeled pool of customer statements (pool_vectors at fit(), or a large request batch): a request is also
  read together with its nearest pool statements (smoothing), since one short utterance is a noisy sample of its topic.
- Self-training (with a pool): the pool's statements, labelled by the matcher itself (an equal share of the most
  confident per item), train a linear classifier on the vectors; its log-probability is mixed into the score, so the
  roadmap's own customers' wording decides what an item covers, not only its title.
- Calibration: scores are centred on texts that are not about the item they are scored on and put in units of their
  spread; the acceptance threshold is a quantile of leave-the-item-out negatives, and scores are a logistic of the
  distance to it, so 0.5 means "at the threshold" for every request and every item. An item with linked evidence
  gets a line of its own from the negatives that landed on it (shrunk towards the global line).

Every stream and rule here was measured with and without on hwu64, the three HINT3 sets and the gold dev half
(eval/README.md, "Ablation"); what did not help on at least two of them was deleted.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
from scipy.special import expit, logit

from service.text import BM25, terms

VERDICTS = {
    "shipped": "available",
    "in_progress": "in_progress",
    "planned": "planned",
    "considering": "under_consideration",
    "not_planned": "not_planned",
}
NOT_ON_ROADMAP = "not_on_roadmap"
# A request this close (cosine) to a text a person rejected for an item reads as that text: the item is declined.
# 0.8 is near-paraphrase; 0.7 cost curekart 0.028 acc@R.8 with simulated rejections (eval/README.md, "Rejections").
REJECTED_NEAR = 0.8
VETOED = 0.49  # the vetoed item's score is scaled by this: below the 0.5 line from any score, its order kept
ITEM_PRIOR = 50  # an item's own line counts as much as this many negatives against the global one

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
    rejected: list[str] = field(default_factory=list)  # texts a person said are NOT about this item

    @classmethod
    def coerce(cls, obj: Any) -> "RoadmapItem":
        data = obj if isinstance(obj, dict) else asdict(obj) if hasattr(obj, "__dataclass_fields__") else vars(obj)
        known = {k: data[k] for k in ("id", "title", "description", "tags", "status", "evidence", "rejected")
                 if k in data}
        item = cls(**known)
        if not str(item.title or "").strip():
            raise ValueError(f"roadmap item {item.id!r} has no title")
        tags = item.tags.split(",") if isinstance(item.tags, str) else item.tags or []
        evidence = [item.evidence] if isinstance(item.evidence, str) else item.evidence or []
        rejected = [item.rejected] if isinstance(item.rejected, str) else item.rejected or []
        item.id, item.description = str(item.id), item.description or ""
        item.tags = [t.strip() for t in tags if t and t.strip()]
        item.evidence = [e for e in evidence if e and e.strip()]
        item.rejected = [r for r in rejected if r and r.strip()]
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


def _positive(*candidates: float) -> float:
    """The first usable spread: a background of identical values (a tiny roadmap whose items share no words) has
    none, and dividing by ~0 would make every score 0 or 1."""
    return next((float(c) for c in candidates if np.isfinite(c) and c > 1e-3), 1.0)


def _neighbours(queries: np.ndarray, pool: np.ndarray, k: int, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosines of each query's k nearest pool vectors, in row chunks: never an n x N matrix in memory."""
    idx = np.empty((len(queries), k), dtype=np.int64)
    sims = np.empty((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), chunk):
        block = queries[start:start + chunk] @ pool.T
        top = np.argpartition(block, -k, axis=1)[:, -k:]  # no negated copy: twice as fast on wide blocks
        idx[start:start + chunk], sims[start:start + chunk] = top, np.take_along_axis(block, top, axis=1)
    return idx, sims


class RoadmapMatcher:
    """fit() once per roadmap version; match() for single requests or batches of thousands.

    Defaults are generic, not tuned to one data set: 10 neighbours is a local neighbourhood, and the acceptance
    threshold comes from the data at fit time (target_oos_recall is the share of requests about topics missing
    from the roadmap that should be declined).
    """

    def __init__(self, *, lexical_weight: float = 0.5, neighbours: int = 10, target_oos_recall: float = 0.8,
                 min_pool: int = 50, smoothing: bool = True, lexical_background: bool = True,
                 self_training: float = 0.3, item_thresholds: bool = True):
        # Switches for the ablation (eval/README.md, "Matcher ablation"); the defaults are what earned a place there.
        self.lexical_weight = lexical_weight  # a matched rare term (SCIM, BAA, HubSpot) is worth ~0.25 of cosine
        self.neighbours = neighbours
        self.target_oos_recall = target_oos_recall
        self.min_pool = min_pool  # below this a pool is too small to say where the neighbours of a request are
        self.smoothing = smoothing
        self.lexical_background = lexical_background  # score pool statements with their words, as requests are
        self.self_training = self_training  # weight of the pool-trained classifier's log-probability (0: off)
        self.item_thresholds = item_thresholds  # items with linked evidence get their own line

    # ---- fit -------------------------------------------------------------------------------------------------
    def fit(self, items: Iterable[Any], embedder, pool_vectors: np.ndarray | None = None,
            pool_texts: Sequence[str] | None = None) -> "RoadmapMatcher":
        """Embed the items' views in one call and build the index and the calibration.

        pool_vectors: optional unlabeled customer statements (e.g. all stored statements), so that single requests
        get the same help a large batch gets from itself. pool_texts: their texts, so the background is scored
        exactly as requests are (exact terms included).
        """
        self.items = [RoadmapItem.coerce(i) for i in items]
        if not self.items:
            raise ValueError("fit() needs at least one roadmap item")
        if len({i.id for i in self.items}) != len(self.items):
            raise ValueError("roadmap item ids must be unique")
        self.embedder = embedder
        texts, owner, kinds = [], [], []
        for j, item in enumerate(self.items):
            # Per item: its title, its whole text, then each confirmed evidence statement (contiguous per item).
            full = ". ".join(filter(None, [item.title, item.description, ", ".join(item.tags)]))
            views = [(item.title, "title")] + ([(full, "description")] if full != item.title else [])
            for text, kind in views + [(e, "evidence") for e in dict.fromkeys(item.evidence)]:
                texts.append(text), owner.append(j), kinds.append(kind)
        self.view_texts, self.view_owner, self.view_kinds = texts, np.array(owner), kinds
        self.view_evidence = np.array([k == "evidence" for k in kinds])
        self.view_vectors = _normalise(embedder.embed(texts))  # one embedder call for every view
        self.bm25 = BM25([" ".join([i.title, i.description, " ".join(i.tags), " ".join(i.evidence)])
                          for i in self.items])
        self.anchors = self._anchors()
        self.pool = (_normalise(pool_vectors) if pool_vectors is not None and len(pool_vectors)
                     else np.zeros((0, self.view_vectors.shape[1]), np.float32))
        if pool_texts is not None and len(pool_texts) != len(self.pool):
            raise ValueError(f"{len(pool_texts)} pool texts for {len(self.pool)} pool vectors")
        self.pool_texts = list(pool_texts) if pool_texts is not None and self.lexical_background else None
        self.state = self._prepare(self.pool, self.pool_texts)
        self.classifier = self._self_train()
        rejected = [(j, text) for j, item in enumerate(self.items) for text in dict.fromkeys(item.rejected)]
        self.rejected_owner = np.array([j for j, _ in rejected], np.int64)
        self.rejected_vectors = (_normalise(embedder.embed([t for _, t in rejected])) if rejected
                                 else np.zeros((0, self.view_vectors.shape[1]), np.float32))
        return self

    def _anchors(self) -> np.ndarray:
        """One vector per item: the mean of its own views plus, equally weighted, the mean of its evidence."""
        anchors = np.zeros((len(self.items), self.view_vectors.shape[1]), np.float32)
        for j in range(len(self.items)):
            mine = self.view_owner == j
            anchors[j] = self.view_vectors[mine & ~self.view_evidence].mean(axis=0)
            if (mine & self.view_evidence).any():
                anchors[j] += self.view_vectors[mine & self.view_evidence].mean(axis=0)
        return _normalise(anchors)

    def _prepare(self, pool: np.ndarray, texts: list[str] | None = None) -> dict:
        """Everything that does not depend on one request: the pool's neighbourhoods and the calibration."""
        state = {"pool": pool if len(pool) >= self.min_pool else pool[:0],
                 "pool_texts": texts if texts is not None and len(pool) >= self.min_pool else None}
        if len(state["pool"]):
            # Each pool statement's own neighbourhood (it is its own nearest) serves the background in calibration.
            state["pool_near"] = self._neighbourhood(state["pool"], state)
        self._calibrate(state)
        return state

    def _neighbourhood(self, vectors: np.ndarray, state: dict) -> tuple[np.ndarray, np.ndarray]:
        # One more than `neighbours`: a pool statement finds itself first and still gets `neighbours` others.
        return _neighbours(vectors, state["pool"], min(self.neighbours + 1, len(state["pool"])))

    # ---- scoring ---------------------------------------------------------------------------------------------
    def _similarity(self, texts: Sequence[str] | None, vectors: np.ndarray, state: dict,
                    near: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """(n, items) raw relevance: best cosine to an item's views plus saturated BM25 when texts are given, or,
        where higher, the cosine of the request read with its pool neighbours to the item's anchor."""
        sims = vectors @ self.view_vectors.T
        dense = np.full((len(vectors), len(self.items)), -1.0, np.float32)
        # Views are grouped by item, so a per-item max is one reduceat over the group starts.
        starts = np.flatnonzero(np.r_[True, self.view_owner[1:] != self.view_owner[:-1]])
        dense[:, self.view_owner[starts]] = np.maximum.reduceat(sims, starts, axis=1)
        if texts is not None and self.lexical_weight:
            dense = dense + self.lexical_weight * self.bm25.saturated(texts)
        if self.smoothing and len(state["pool"]):
            # Lexical evidence lifts the request's own similarity; the smoothed reading is an alternative to it, not
            # a base to add terms to (adding them there too lowered every HINT3 figure: eval/README.md).
            idx = (near if near is not None else self._neighbourhood(vectors, state))[0]
            smoothed = _normalise(vectors + state["pool"][idx].mean(axis=1))
            dense = np.maximum(dense, smoothed @ self.anchors.T)
        return dense

    def _calibrate(self, state: dict) -> None:
        """A location, a scale and an acceptance threshold from texts known NOT to be about the item they are
        scored on.

        Negatives: each item's own views scored with that item left out (a request about a topic missing from the
        roadmap looks like that), and pool statements with their best item left out. The threshold is their target_oos_recall quantile, so about that share of
        out-of-roadmap requests is expected to be declined. The background is dense only: item texts share their
        domain's words far more than requests do, so an exact term in a request is evidence on top of it.
        """
        own = (np.arange(len(self.view_owner)), self.view_owner)
        stream = self._similarity(None, self.view_vectors, state)
        if len(state["pool"]):
            stream = np.vstack([stream, self._similarity(state["pool_texts"], state["pool"], state, state["pool_near"])])
        stream[own] = np.nan  # a view says nothing about its own item's background
        if np.isfinite(stream).any():
            # One location for all items: per-item centring lifted items with few, short views over the item a
            # request names.
            state["location"] = float(np.nanmedian(stream))
            spread = np.nanmedian(np.abs(stream - np.nanmedian(stream, axis=0)), axis=0)
            state["scale"] = _positive(np.nanmedian(spread), np.nanstd(stream))
        else:  # a lone item with nothing else to compare with
            state["location"], state["scale"] = 0.0, 1.0
        relevance = (stream - state["location"]) / state["scale"]
        n_views = len(self.view_owner)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a lone item's views: nothing else to score them on
            negatives = np.nanmax(relevance[:n_views], axis=1)
        # The item each negative landed on: a view on its best other item, a pool statement on its second best.
        landed = np.argmax(np.nan_to_num(relevance[:n_views], nan=-np.inf), axis=1)
        if relevance.shape[1] == 1:
            negatives = np.r_[negatives, relevance[n_views:].max(axis=1)]
            landed = np.r_[landed, np.zeros(len(relevance) - n_views, np.int64)]
        else:  # a pool statement may be about its best item, hardly about its second best
            second = np.argsort(relevance[n_views:], axis=1, kind="stable")[:, -2]
            negatives = np.r_[negatives, relevance[n_views:][np.arange(len(second)), second]]
            landed = np.r_[landed, second]
        finite = np.isfinite(negatives)
        negatives, landed = negatives[finite], landed[finite]
        if not len(negatives):  # a lone item and no pool: the location marks the line
            negatives, landed = np.zeros(1), np.zeros(1, np.int64)
        # A request exactly at the line is not accepted: ties there are texts with nothing in common with any item.
        threshold = float(np.quantile(negatives, self.target_oos_recall)) + 1e-6
        state["threshold"] = self._item_thresholds(threshold, negatives, landed)
        state["spread"] = _positive(np.std(negatives))

    def _item_thresholds(self, threshold: float, negatives: np.ndarray, landed: np.ndarray) -> float | np.ndarray:
        """Items with linked evidence get a line of their own: the same quantile of the negatives that landed on
        them, shrunk towards the global line as if the global one were ITEM_PRIOR more negatives. Evidence views
        are customer wording, so they lift everything near the item, inside the roadmap or not; the item's own
        negatives measure by how much. Items without evidence keep the global line (measured: per-item lines for
        title-only items cost hwu64 0.041 acc@R.8; eval/README.md)."""
        linked = [j for j, item in enumerate(self.items) if item.evidence]
        if not self.item_thresholds or not linked or len(self.items) < 2:
            return threshold
        lines = np.full(len(self.items), threshold)
        for j in linked:
            mine = negatives[landed == j]
            if len(mine):
                own = float(np.quantile(mine, self.target_oos_recall)) + 1e-6
                lines[j] = (len(mine) * own + ITEM_PRIOR * threshold) / (len(mine) + ITEM_PRIOR)
        return lines

    def scores(self, requests: Sequence[str], vectors: np.ndarray | None = None,
               transductive: bool | None = None) -> np.ndarray:
        """(n, items) calibrated scores in [0, 1]; 0.5 is the acceptance threshold, comparable across requests."""
        requests = list(requests)
        if vectors is None:
            vectors = self.embedder.embed(requests) if requests else np.zeros((0, self.anchors.shape[1]))
        vectors = _normalise(vectors)
        if len(vectors) != len(requests):
            raise ValueError(f"{len(vectors)} vectors for {len(requests)} requests")
        probs = self._base_scores(requests, vectors, transductive)
        if self.classifier is not None and len(requests):
            models, threshold, spread = self.classifier
            probs = expit((self._mixed(probs, self._class_probs(models, vectors)) - threshold) / spread)
        return self._veto_rejected(probs, vectors)

    def vetoed(self, vectors: np.ndarray) -> np.ndarray:
        """(n, items) True where an item is declined for a request because a person rejected a text like it."""
        out = np.zeros((len(vectors), len(self.items)), bool)
        if not len(self.rejected_vectors) or not len(vectors):
            return out
        near = _normalise(vectors) @ self.rejected_vectors.T
        for j in np.unique(self.rejected_owner):
            out[:, j] = near[:, self.rejected_owner == j].max(axis=1) >= REJECTED_NEAR
        return out

    def _veto_rejected(self, probs: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """An item is declined for a request within REJECTED_NEAR cosine of a text a person said is not about it (a
        rep's "not the right item"): its score is scaled below the line, so it still ranks but is not cited. Measured
        with simulated rejections on the public dev sets (eval/README.md, "Rejections")."""
        vetoed = self.vetoed(vectors)
        return np.where(vetoed, probs * VETOED, probs) if vetoed.any() else probs

    # ---- self-training on the pool -------------------------------------------------------------------------------
    def _self_train(self):
        """A linear classifier trained on the pool, labelled by the matcher itself; None without a usable pool.

        Per item, at most an equal share of the pool (pool size / items): the statements the matcher scores most
        confidently as that item, so a broad item cannot claim the whole pool. The mixed score is put back on the
        0.5-is-the-line scale by mapping the similarity streams' own line through the pool, with out-of-fold
        classifier probabilities (a classifier scores its own training rows too high). Measured on five dev sets in
        eval/README.md ("Matcher ablation").
        """
        pool, n_items = self.state["pool"], len(self.items)
        if not self.self_training or not len(pool) or n_items < 2:
            return None
        texts = self.state["pool_texts"]
        probs = self._base_scores(texts if texts is not None else None, pool, False)
        best, confidence = probs.argmax(axis=1), probs.max(axis=1)
        accepted = float((confidence >= 0.5).mean())
        if not 0 < accepted < 1:  # a pool the matcher wholly accepts (or declines) says nothing about the line
            return None
        share = max(3, len(pool) // n_items)
        chosen = np.concatenate([mine[np.argsort(-confidence[mine], kind="stable")[:share]]
                                 for mine in (np.flatnonzero(best == j) for j in range(n_items))])
        if not _trainable(best[chosen]):
            return None
        # One classifier on all chosen statements scores requests; two more, one per half of the pool, score the
        # other half (out of fold) for the calibration below. Scoring requests with the mean of the two halves
        # instead saved a fit but cost hwu64 0.012 acc@R.8 and took two sets out of the band (eval/README.md).
        models = [_fit_classifier(pool[chosen], best[chosen])]
        folds = np.arange(len(pool)) % 2
        out_of_fold = np.full(probs.shape, 1.0 / n_items, np.float32)
        for fold in (0, 1):
            train = chosen[folds[chosen] != fold]
            if _trainable(best[train]):
                out_of_fold[folds == fold] = self._class_probs([_fit_classifier(pool[train], best[train])],
                                                               pool[folds == fold])
        # Where the similarity streams' line (logit 0) falls on the mixed scale: a least-squares line through the
        # pool's (base, mixed) pairs, read at 0. It maps the line, and assumes nothing about how many requests are
        # about the roadmap (matching the pool's acceptance rate did, and broke on a pool of near-copies).
        mixed = self._mixed(probs, out_of_fold).max(axis=1)
        slope, threshold = np.polyfit(logit(np.clip(confidence, 1e-6, 1 - 1e-6)), mixed, 1)
        return models, float(threshold), _positive(np.std(mixed))

    def _class_probs(self, models: list, vectors: np.ndarray) -> np.ndarray:
        """(n, items) mean probabilities of the classifiers; an item the pool never spoke of gets the uninformed
        1/items."""
        out = np.zeros((len(vectors), len(self.items)), np.float32)
        for model in models:
            probs = np.full(out.shape, 1.0 / len(self.items), np.float32)
            probs[:, model.classes_] = model.predict_proba(vectors) * (len(model.classes_) / len(self.items))
            out += probs / len(models)
        return out

    def _mixed(self, probs: np.ndarray, class_probs: np.ndarray) -> np.ndarray:
        w = self.self_training
        return (1 - w) * logit(np.clip(probs, 1e-6, 1 - 1e-6)) + w * np.log(np.maximum(class_probs, 1e-6))

    def _base_scores(self, requests: list[str] | None, vectors: np.ndarray, transductive: bool | None) -> np.ndarray:
        """The calibrated scores of the similarity streams alone (before the self-trained classifier)."""
        state, near = self.state, None
        if transductive is None:  # a batch big enough to have structure of its own joins the pool
            transductive = len(vectors) >= self.min_pool
        if transductive and len(vectors):
            texts = self.pool_texts + list(requests) if self.pool_texts is not None and requests is not None else None
            state = self._prepare(np.vstack([self.pool, vectors]), texts)
            if len(state["pool"]):  # the requests are the pool's tail: their neighbourhoods are already known
                near = tuple(a[len(self.pool):] for a in state["pool_near"])
        z = (self._similarity(requests, vectors, state, near) - state["location"]) / state["scale"]
        return expit((z - state["threshold"]) / state["spread"])

    def match(self, requests: Sequence[str], top_k: int = 5, vectors: np.ndarray | None = None,
              transductive: bool | None = None) -> list[MatchResult]:
        """Ranked matches and the abstention decision per request; all requests are embedded in one call.

        transductive=None uses the batch itself as unlabeled pool when it has at least min_pool requests; pass
        False for results that do not depend on the other requests of the batch.
        """
        requests = list(requests)
        return self.results(requests, self.scores(requests, vectors, transductive), top_k)

    def results(self, requests: Sequence[str], probs: np.ndarray, top_k: int = 5) -> list[MatchResult]:
        """The MatchResults of `scores()`' rows: the top_k items ranked, and the abstention decision."""
        # A stable sort on the negated score keeps ties in roadmap order, so rankings are reproducible.
        if top_k == 1:  # the first of equal best scores, as the stable sort gives
            order = np.argmax(probs, axis=1)[:, None]
        elif top_k < probs.shape[1]:  # only the best few (argsort of every row costs more at 100k rows); items tied
            # with the last one kept may be another of the tied ones than a full sort keeps
            part = np.argpartition(-probs, top_k - 1, axis=1)[:, :top_k]
            part.sort(axis=1)  # roadmap order first, so the stable sort breaks ties as a full sort does
            order = np.take_along_axis(part, np.argsort(-np.take_along_axis(probs, part, axis=1), axis=1,
                                                        kind="stable"), axis=1)
        else:
            order = np.argsort(-probs, axis=1, kind="stable")
        results = []
        for row, request in enumerate(requests):
            best = int(order[row, 0])
            confidence = float(probs[row, best])
            accepted = confidence >= 0.5
            item = self.items[best]
            results.append(MatchResult(
                request=request,
                matches=[{"item_id": self.items[j].id, "score": shown_score(float(probs[row, j]))}
                         for j in order[row]],
                in_scope=accepted, confidence=confidence, item_id=item.id if accepted else None,
                verdict=verdict(item.status if accepted else None)))
        return results

    def explain(self, requests: Sequence[str], vectors: np.ndarray, item_ids: Sequence[str]) -> list[dict]:
        """Why a request points at an item: the item's text it is closest to, and the terms they share."""
        vectors = _normalise(vectors)
        index = {item.id: j for j, item in enumerate(self.items)}
        out = []
        for request, vector, item_id in zip(requests, vectors, item_ids):
            views = np.flatnonzero(self.view_owner == index[item_id])
            best = int(views[np.argmax(self.view_vectors[views] @ vector)])
            item = self.items[index[item_id]]
            shared = sorted(set(terms(request)) & set(terms(" ".join([item.title, item.description, *item.tags]))))
            out.append({"item_id": item_id, "closest_text": self.view_texts[best], "kind": self.view_kinds[best],
                        "cosine": round(float(self.view_vectors[best] @ vector), 4), "shared_terms": shared})
        return out


def _trainable(labels: np.ndarray) -> bool:
    """At least two classes and on average two rows per class: fewer is a lookup table, not a classifier."""
    classes = len(np.unique(labels))
    return classes >= 2 and len(labels) >= 2 * classes


def _fit_classifier(vectors: np.ndarray, labels: np.ndarray):
    """Multinomial logistic regression (scikit-learn, C=1), deterministic for the same rows."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    # One BLAS thread: these products are small, and on a busy 2-core machine a threaded BLAS made the fit 10x slower.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        # 30 L-BFGS iterations, not converged on purpose: the five dev sets score the same as at 500 (hwu64 acc@R.8
        # 0.426 vs 0.424, the others equal) and a 5,000-statement pool fits in a tenth of the time.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(max_iter=30).fit(vectors, labels)


def shown_score(score: float, places: int = 6) -> float:
    """A score rounded for output, never up to the 0.5 line when it is below it: a request at the line exactly
    (nothing in common with any item) scores 0.5 - 1e-7 and is declined, so it must not read as 0.5."""
    shown = round(score, places)
    return shown if score >= 0.5 or shown < 0.5 else 0.5 - 10 ** -places
