"""Search across all feedback: every stored statement about a query, verbatim, with its account, date, source,
note and theme; the CLI (`feedback search`), the API (GET /api/v1/search) and the /search page call `search`.

Two rankings of the stored statements, fused:
- dense: the query embedded once by the service's embedder, its nearest statements in the vector index (the
  filters applied by the index's metadata where it has them, then checked again in SQL, the source of truth);
- lexical: statements whose text holds the query's content words (`service.text`'s words, stop words and stemmer),
  found in SQL with bound LIKE patterns, ranked by `service.text.BM25` over those candidates. The small embedder
  blurs product names ("SCIM", "Okta"); an exact word does not.
- hybrid: both fused by reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR 2009) with their k = 60, not
  tuned here.

Every result is listed; one whose cosine to the query does not stand out from the query's cosines to a sample of the
store's own statements (`relevance_floor`) is marked weakly related ("related": false), and "total_related": 0 says
no statement is about the query. Hiding those results cost in-scope recall on the dev sets; marking them was right
on each (eval/README.md, "Search: a relevance floor").

The ranking functions (`lexical_ranking`, `dense_ranking`, `fuse`) and the floor (`relevance_floor`) are pure:
eval/bench_search.py measures them on in-memory vectors, and RANKING, the default, is the one it chose: dense
(eval/README.md, "Search (hybrid retrieval)"). The others stay a caller's choice (`ranking=`, `--ranking`).
"""
from __future__ import annotations

import os
import re
import threading
from datetime import date, datetime, time
from typing import Hashable, Sequence

import numpy as np
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import selectinload

from .accounts import named, names_of, no_such_account
from .ingest.validate import text_problem
from .models import Account, Note, Statement, ThemeMembership, ThemeSnapshot
from .models.notes import SOURCE_KINDS
from .notes import parse_filter_date
from .text import BM25, STOP_WORDS, stem, terms, words
from .vectorstore import STATEMENTS

MAX_QUERY_CHARS = 500
MAX_ACCOUNT_CHARS = 200
MAX_LIMIT = 100
MAX_OFFSET = 10_000  # more than the candidates any query has (DENSE_CANDIDATES + LEXICAL_CANDIDATES)
DEFAULT_LIMIT = 20
DENSE_CANDIDATES = 200  # nearest statements asked of the index; the filters are applied by the index itself
LEXICAL_CANDIDATES = 1000  # statements holding the most query words, newest first, that BM25 ranks
RRF_K = 60  # Cormack et al. 2009's constant; not tuned on our data
RANKINGS = ("hybrid", "dense", "lexical")
# The default, chosen by eval/bench_search.py: the hybrid lost to dense-only on all four public dev sets (by 0.007 to
# 0.042 in mean p@10 and MRR; eval/README.md, "Search (hybrid retrieval)"), so dense ranks unless a caller asks for
# "hybrid" (exact product names the small embedder blurs) or "lexical".
RANKING = "dense"
MIN_FRAGMENT = 3  # a LIKE fragment shorter than this is the word itself ("ui", "sso")
# Each LIKE word is a scan of every statement: over 100,000 statements in SQLite, 2 words took 0.16 s, 8 words 0.48 s,
# 67 words (a 500-character query) 5.4 s. Only the first words pick candidates; BM25 ranks them by all of the words.
# A cost bound, not fitted: on the dev sets it moved lexical and hybrid p@10 and MRR by at most 0.006 (eval/README.md).
MAX_LIKE_WORDS = 8
_ANY_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script
# The relevance floor (eval/README.md, "Search: a relevance floor"): a statement is related to the query when its
# cosine stands out from the query's cosines to a sample of the store's own statements. Hiding the rest cost in-scope
# recall@10 on every HINT3 set (0.03 to 0.20), so nothing is hidden: results under the floor are marked weakly related.
FLOOR_SAMPLE = 1000  # stored statements, evenly spaced by id, that tell a query's typical similarity
FLOOR_Z = 3.5  # Iglewicz and Hoaglin's (1993) modified z-score cut-off for an outlier; published, not tuned here
MIN_FLOOR_SAMPLE = 30  # with fewer stored statements "typical" means little: no floor (a guard, not measured)


class SearchError(ValueError):
    """Bad search input: `field` is the parameter ("query", "limit", "offset", "since", "until", "source",
    "ranking", "account"), `reason` what it takes. Callers name the field as their users spell it (q, --since)."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason

    def named(self, names: dict[str, str]) -> str:
        return f"{names.get(self.field, self.field)}: {self.reason}"


# ---- the pure ranking part (also measured by eval/bench_search.py) ---------------------------------------------
def latin_words(query: str) -> str:
    """The query without its words holding a letter outside a-z: `service.text` reads "Müller" as "m" and "ller"
    (its words are ASCII), so such a word cannot be looked for word by word, and its pieces would find "seller"."""
    return " ".join(w for w in _ANY_WORD.findall(query) if w.isascii())


def foreign_words(query: str) -> list[str]:
    """The query's words that `latin_words` leaves out, each once."""
    return list(dict.fromkeys(w for w in _ANY_WORD.findall(query) if not w.isascii()))


def content_words(query: str) -> list[str]:
    """The query's words that count: lower-cased, no stop words or one-letter words, each once (as `terms` reads
    text, before stemming), of `latin_words` only."""
    return list(dict.fromkeys(w for w in words(latin_words(query)) if w not in STOP_WORDS and len(w) > 1))


def like_fragments(query: str) -> list[str]:
    """What a statement's lower-cased text must contain to be a lexical candidate, one fragment per content word
    (the first MAX_LIKE_WORDS): the part the word shares with its stem ("duplicates" and "duplic": "duplic", which
    "duplicated" holds too; "company" and "compani": "compan"), or the word itself when that part is shorter than
    MIN_FRAGMENT."""
    out = []
    for word in content_words(query)[:MAX_LIKE_WORDS]:
        fragment = os.path.commonprefix([word, stem(word)])
        out.append(fragment if len(fragment) >= min(MIN_FRAGMENT, len(word)) else word)
    return list(dict.fromkeys(out))


def like_score(fragments: Sequence[str], text: str) -> int:
    """The candidate order the SQL query sorts by, in Python (the bench's corpus has no database): one point per
    fragment inside the text, one more where it starts a word (after a space, or the text's start)."""
    lower = text.lower()
    return sum((f in lower) + (lower.startswith(f) or f" {f}" in lower) for f in fragments)


def lexical_ranking(query: str, texts: Sequence[str]) -> list[tuple[int, float]]:
    """(index into texts, BM25 score) of the texts holding at least one query term, best first; ties keep the
    texts' order (the candidates come newest first). BM25's statistics are those of these candidates; the query's
    words are its `latin_words`."""
    query = latin_words(query)
    if not texts or not terms(query):
        return []
    scores = BM25(list(texts)).score([query])[0]
    order = sorted((i for i in range(len(texts)) if scores[i] > 0), key=lambda i: (-float(scores[i]), i))
    return [(i, float(scores[i])) for i in order]


def dense_ranking(query_vector: np.ndarray, vectors: np.ndarray, k: int = DENSE_CANDIDATES) -> list[tuple[int, float]]:
    """(index, cosine) of the k vectors nearest the query, best first: what the vector index answers, in memory."""
    if not len(vectors):
        return []
    sims = _unit(vectors) @ _unit(query_vector[None, :])[0]
    top = np.argsort(-sims, kind="stable")[:k]
    return [(int(i), float(sims[i])) for i in top]


def rrf(rankings: Sequence[Sequence[Hashable]], k: int = RRF_K) -> dict[Hashable, float]:
    """Reciprocal rank fusion: each key scores the sum over rankings of 1 / (k + its rank), ranks from 1."""
    fused: dict[Hashable, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return fused


def fuse(dense: Sequence[Hashable], lexical: Sequence[Hashable],
         ranking: str = RANKING) -> list[tuple[Hashable, float]]:
    """The final order of (key, score): RRF of both rankings (hybrid), or either one alone (its RRF score, so the
    score means the same). Ties: the dense order, then the lexical order."""
    if ranking not in RANKINGS:
        raise ValueError(f"ranking must be one of {', '.join(RANKINGS)}")
    used = {"hybrid": [dense, lexical], "dense": [dense], "lexical": [lexical]}[ranking]
    scores = rrf(used)
    position = {key: n for n, key in enumerate(dict.fromkeys([*dense, *lexical]))}
    return sorted(scores.items(), key=lambda kv: (-kv[1], position[kv[0]]))


def matched_terms(query: str, text: str) -> list[str]:
    """The query's content words found in the text (by stem: "duplicates" finds "duplicate")."""
    found = set(terms(text))
    return [w for w in content_words(query) if stem(w) in found]


# ---- the relevance floor (also measured by eval/bench_search.py) ------------------------------------------------
def sample_positions(n: int, k: int = FLOOR_SAMPLE) -> np.ndarray:
    """k positions evenly spaced over n things (all of them when n <= k): the stored statements, in id order, whose
    similarity to a query says what is typical for it."""
    if n <= 0:
        return np.zeros(0, dtype=int)
    return np.unique(np.linspace(0, n - 1, min(k, n)).round().astype(int))


def relevance_floor(query_vector: np.ndarray, sample_vectors: np.ndarray) -> float | None:
    """The cosine a statement needs to stand out from the query's typical similarity to stored statements: the
    median of its cosines to the sampled statements plus FLOOR_Z robust standard deviations (a modified z-score,
    Iglewicz and Hoaglin 1993: the MAD / 0.6745; the mean absolute deviation / 0.7979 when the MAD is 0; the median
    itself when every cosine is the same). None when fewer than MIN_FLOOR_SAMPLE statements are sampled."""
    if len(sample_vectors) < MIN_FLOOR_SAMPLE:
        return None
    return robust_floor(_unit(sample_vectors) @ _unit(np.asarray(query_vector)[None, :])[0])


def robust_floor(sims: np.ndarray) -> float:
    """The value above which a cosine is an outlier among `sims`: median + FLOOR_Z robust standard deviations."""
    median = float(np.median(sims))
    spread = np.abs(np.asarray(sims) - median)
    sigma = float(np.median(spread)) / 0.6745 or float(np.mean(spread)) / 0.7979
    return median + FLOOR_Z * sigma


def is_related(similarity: float | None, floor: float | None) -> bool | None:
    """Is a statement of this cosine to the query about it: above the floor (an outlier, strictly). None when either
    is unknown (lexical ranking, a small store, a statement missing from the index)."""
    if similarity is None or floor is None:
        return None
    return bool(similarity > floor)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


# ---- input ------------------------------------------------------------------------------------------------------
def checked_query(query) -> str:
    if not isinstance(query, str) or not query.strip():
        raise SearchError("query", "type some words to search for")
    query = query.strip()
    if len(query) > MAX_QUERY_CHARS:
        raise SearchError("query", f"at most {MAX_QUERY_CHARS} characters, not {len(query):,}")
    if problem := text_problem(query, "the query"):
        raise SearchError("query", problem)
    if not any(c.isalnum() for c in query):  # "?!" has no meaning to rank by: its "nearest" statements are noise
        raise SearchError("query", f"type some words to search for: {query[:40]!r} has no letter or digit")
    return query


def _whole(value, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SearchError(field, f"a whole number from {low:,} to {high:,}, not {str(value)[:40]!r}")
    return value


def _day(value, field: str) -> datetime | None:
    """since/until as the notes list reads them: a plain day for `until` means the whole day."""
    if isinstance(value, datetime) or value is None:
        return value
    if isinstance(value, date):
        return datetime.combine(value, time.max if field == "until" else time.min)
    try:
        return parse_filter_date(value, field, end_of_day=field == "until")
    except ValueError as exc:
        raise SearchError(field, str(exc).removeprefix(f"{field}: ")) from None


# ---- the service ------------------------------------------------------------------------------------------------
def search(svc, query: str, *, account: str | None = None, since=None, until=None, source: str | None = None,
           limit: int = DEFAULT_LIMIT, offset: int = 0, ranking: str = RANKING) -> dict:
    """Statements about `query`, best first: {"query", "results", "total_candidates", "limit", "offset", "ranking",
    "notices", "floor", "total_related"}. Each result: statement_id, note_id (public), account, date, source, text
    (verbatim), score (fused), similarity (cosine to the query), related (`is_related`: above the floor), matched_terms
    and theme ({"id", "label"} in the latest theme run, or None). `floor` is the cosine a statement needs to be
    related (None: lexical ranking, or too few stored statements), `total_related` how many of the statements ranked
    by meaning clear it (0: no statement is about the query; the nearest are still listed, as weakly related).
    An empty index or no hit is an empty list; an account nobody stored is too, with a notice naming the nearest
    stored name. Bad input raises SearchError naming the field."""
    query = checked_query(query)
    limit, offset = _whole(limit, "limit", 1, MAX_LIMIT), _whole(offset, "offset", 0, MAX_OFFSET)
    since, until = _day(since, "since"), _day(until, "until")
    if since and until and since > until:
        raise SearchError("since", f"{since.date().isoformat()} is after until ({until.date().isoformat()})")
    if ranking not in RANKINGS:
        raise SearchError("ranking", f"one of {', '.join(RANKINGS)}, not {str(ranking)[:40]!r}")
    if source is not None and source not in SOURCE_KINDS:
        raise SearchError("source", f"one of {', '.join(SOURCE_KINDS)}, not {str(source)[:40]!r}")
    account = account.strip() if isinstance(account, str) and account.strip() else None
    if account and len(account) > MAX_ACCOUNT_CHARS:  # no stored name is longer (accounts.name)
        raise SearchError("account", f"at most {MAX_ACCOUNT_CHARS} characters, not {len(account):,}")
    answer = {"query": query, "results": [], "total_candidates": 0, "limit": limit, "offset": offset,
              "ranking": ranking, "notices": lexical_notices(query, ranking), "floor": None, "total_related": None}
    qvec = np.asarray(svc.embedder.embed([query])[0], dtype=np.float32) if ranking != "lexical" else None
    with svc.db.session() as session:
        names = None
        if account:  # every account the name means, as the SQL filter (`accounts.named`) reads it
            found = session.scalars(select(Account).where(named(account))).all()
            if not found:
                answer["notices"].append(no_such_account(session, account))
                return answer
            names = [name for one in found for name in names_of(session, one)]
        conditions = _conditions(account, since, until, source)
        lexical = _lexical(session, query, conditions) if ranking != "dense" else []
        dense = _dense(svc, session, qvec, conditions, _where(names, since, until, source)) if qvec is not None else {}
        fused = fuse(list(dense), lexical, ranking)
        page = fused[offset:offset + limit]
        rows = _rows(session, [sid for sid, _ in page])
        themes = _themes(session, [sid for sid, _ in page])
        floor = relevance_floor(qvec, FLOOR_SAMPLES.vectors(svc, session)) if qvec is not None else None
    missing = [sid for sid, _ in page if sid not in dense]
    sims = {**dense, **(_similarities(svc, qvec, missing) if qvec is not None and missing else {})}
    answer["total_candidates"] = len(fused)
    if floor is not None:
        # counted among the statements ranked by meaning: one only the lexical ranking found is not among the
        # nearest that pass the filters, so it is no nearer than they are
        answer["floor"] = round(floor, 4)
        answer["total_related"] = sum(1 for sim in dense.values() if is_related(sim, floor))
    answer["results"] = [_result(rows[sid], score, sims.get(sid), query, themes.get(sid), floor)
                         for sid, score in page if sid in rows]
    return answer


def lexical_notices(query: str, ranking: str) -> list[str]:
    """What the lexical ranking could not look for: no word at all (only stop words, or only words with letters
    outside a-z), some words of another script, or words past the first MAX_LIKE_WORDS."""
    if ranking == "dense":
        return []
    found, foreign = content_words(query), foreign_words(query)
    alone = "lexical ranking" if ranking == "lexical" else "ranked by meaning only"
    shown = ", ".join(foreign[:5])
    if not found:
        why = (f"only words of the letters a-z and digits can be looked for word by word, not {shown}" if foreign
               else "it has only stop words")
        return [f"no word of {query[:60]!r} to look for: {why} ({alone})"]
    out = []
    if foreign:
        out.append(f"not looked for word by word: {shown} (only words of the letters a-z and digits can be)")
    if len(found) > MAX_LIKE_WORDS:
        rest = found[MAX_LIKE_WORDS:]
        named = ", ".join(rest[:5]) + (", ..." if len(rest) > 5 else "")
        out.append(f"only the first {MAX_LIKE_WORDS} words picked statements holding them ({named} did not); all of "
                   f"them ranked those statements")
    return out


class FloorSamples:
    """The vectors the floor is computed from: the statements at `sample_positions` of every statement id, per
    database and embedder, kept until a statement is added (a higher id: ids are never reused) or a sampled one is
    gone (an erased statement's vector is not kept past the next search). Checking costs two indexed queries (2 ms
    at 100,000 statements, where counting them took 7 ms); reading a new sample, every id and 1,000 vectors."""

    def __init__(self, stores: int = 8):
        self.stores = stores
        self._kept: dict[tuple, tuple[int | None, list[int], np.ndarray]] = {}
        self._lock = threading.Lock()

    def vectors(self, svc, session) -> np.ndarray:
        store = (str(session.get_bind().url), svc.embedder.name)
        top = session.scalar(select(func.max(Statement.id)))
        kept = self._kept.get(store)
        # an empty sample of a store with statements is read again: its index may have been filled since
        fresh = kept is not None and kept[0] == top and (kept[1] or top is None)
        if fresh and _alive(session, kept[1]) == len(kept[1]):
            return kept[2]
        ids = session.scalars(select(Statement.id).order_by(Statement.id)).all()
        found, vectors, _ = svc.store.get(STATEMENTS, [f"s{ids[i]}" for i in sample_positions(len(ids))],
                                          metadatas=False)
        sampled = [int(f[1:]) for f in found]
        with self._lock:
            if store not in self._kept and len(self._kept) >= self.stores:
                self._kept.clear()
            self._kept[store] = (top, sampled, vectors)
        return vectors


def _alive(session, ids: list[int]) -> int:
    if not ids:
        return 0
    return session.scalar(select(func.count()).select_from(Statement).where(Statement.id.in_(ids)))


FLOOR_SAMPLES = FloorSamples()


def _conditions(account, since, until, source) -> list:
    """The filters as SQL conditions on Statement joined to Note: the account by any spelling (`accounts.named`, as
    `notes list --account`), the note's effective date (its date, else when it was stored), the source."""
    when = func.coalesce(Note.occurred_at, Note.ingested_at)
    out = []
    if account:
        out.append(Note.account.has(named(account)))
    if since:
        out.append(when >= since)
    if until:
        out.append(when <= until)
    if source:
        out.append(Note.source == source)
    return out


def _where(names: list[str] | None, since, until, source) -> dict | None:
    """The same filters on the index's metadata (service.ingest.index_sync.statement_metadata), so its nearest
    statements are those that pass them. The dates a day wider: `ts` was written in the ingesting process's time
    zone; SQL decides the exact window."""
    parts: list[dict] = []
    if names:
        parts.append({"account": {"$in": list(names)}})
    if since:
        parts.append({"ts": {"$gte": int(since.timestamp()) - 86_400}})
    if until:
        parts.append({"ts": {"$lte": int(min(until, datetime(9999, 12, 30)).timestamp()) + 86_400}})
    if source:
        parts.append({"source": source})
    return None if not parts else parts[0] if len(parts) == 1 else {"$and": parts}


def _escape_like(fragment: str) -> str:
    return fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _lexical(session, query: str, conditions: list) -> list[int]:
    """Statement ids ranked by BM25 among the LEXICAL_CANDIDATES statements that hold the most query words (newest
    first among equals). Every word is a bound parameter with its LIKE wildcards escaped."""
    fragments = like_fragments(query)
    if not fragments:
        return []
    text = func.lower(Statement.text)
    inside = [text.like(f"%{_escape_like(f)}%", escape="\\") for f in fragments]
    starts = [or_(text.like(f"{_escape_like(f)}%", escape="\\"), text.like(f"% {_escape_like(f)}%", escape="\\"))
              for f in fragments]
    points = sum((case((c, 1), else_=0) for c in inside + starts), start=0)
    when = func.coalesce(Note.occurred_at, Note.ingested_at)
    rows = session.execute(
        select(Statement.id, Statement.text).join(Note, Note.id == Statement.note_id)
        .where(or_(*inside), *conditions)
        .order_by(points.desc(), when.desc(), Statement.id.desc()).limit(LEXICAL_CANDIDATES)).all()
    return [rows[i][0] for i, _ in lexical_ranking(query, [t for _, t in rows])]


def _dense(svc, session, qvec: np.ndarray, conditions: list, where: dict | None) -> dict[int, float]:
    """statement id -> cosine of the nearest statements that pass the filters, nearest first. The index answers
    with its copy of the metadata; SQL keeps only statements that still exist and pass the filters there."""
    hits = svc.store.query(STATEMENTS, qvec[None, :], DENSE_CANDIDATES, where=where)[0]
    sims = {int(i[1:]): float(s) for i, s, _ in hits if i.startswith("s") and i[1:].isdigit()}
    if not sims:
        return {}
    kept = set(session.scalars(select(Statement.id).join(Note, Note.id == Statement.note_id)
                               .where(Statement.id.in_(list(sims)), *conditions)))
    return {sid: sim for sid, sim in sims.items() if sid in kept}


def _rows(session, ids: list[int]) -> dict[int, tuple[Statement, Note]]:
    if not ids:
        return {}
    found = session.execute(select(Statement, Note).join(Note, Note.id == Statement.note_id)
                            .options(selectinload(Note.account)).where(Statement.id.in_(ids))).all()
    return {st.id: (st, note) for st, note in found}


def _themes(session, ids: list[int]) -> dict[int, dict]:
    """statement id -> {"id", "label"} of its theme in the latest theme run (a hidden theme is no theme here)."""
    try:
        from .themes.queries import latest_run
    except ImportError:  # themes not installed: no theme for any statement
        return {}
    run = latest_run(session) if ids else None
    if run is None:
        return {}
    rows = session.execute(
        select(ThemeMembership.statement_id, ThemeSnapshot.theme_id, ThemeSnapshot.label, ThemeSnapshot.status)
        .join(ThemeSnapshot, and_(ThemeSnapshot.run_id == ThemeMembership.run_id,
                                  ThemeSnapshot.theme_id == ThemeMembership.theme_id))
        .where(ThemeMembership.run_id == run.id, ThemeMembership.statement_id.in_(ids))).all()
    return {sid: {"id": tid, "label": label} for sid, tid, label, status in rows if status != "hidden"}


def _similarities(svc, qvec: np.ndarray, ids: list[int]) -> dict[int, float]:
    """Cosine to the query of statements only the lexical ranking found (their vectors read from the index)."""
    found, vectors, _ = svc.store.get(STATEMENTS, [f"s{i}" for i in ids], metadatas=False)
    if not len(found):
        return {}
    sims = _unit(vectors) @ _unit(qvec[None, :])[0]
    return {int(f[1:]): float(s) for f, s in zip(found, sims)}


def _result(row: tuple[Statement, Note], score: float, similarity: float | None, query: str, theme,
            floor: float | None) -> dict:
    statement, note = row
    return {
        "statement_id": statement.id, "note_id": note.public_id,
        "account": note.account.name if note.account else None,
        "date": note.effective_at.isoformat(), "source": note.source, "text": statement.text,
        "score": round(score, 6), "similarity": None if similarity is None else round(similarity, 4),
        "related": is_related(similarity, floor),
        "matched_terms": matched_terms(query, statement.text), "theme": theme,
    }

