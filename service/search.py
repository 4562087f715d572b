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

The ranking functions (`lexical_ranking`, `dense_ranking`, `fuse`) are pure: eval/bench_search.py measures them on
in-memory vectors, and RANKING, the default, is the one it chose: dense (eval/README.md, "Search (hybrid
retrieval)"). The others stay a caller's choice (`ranking=`, `--ranking`).
"""
from __future__ import annotations

import os
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


class SearchError(ValueError):
    """Bad search input: `field` is the parameter ("query", "limit", "offset", "since", "until", "source",
    "ranking", "account"), `reason` what it takes. Callers name the field as their users spell it (q, --since)."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason

    def named(self, names: dict[str, str]) -> str:
        return f"{names.get(self.field, self.field)}: {self.reason}"


# ---- the pure ranking part (also measured by eval/bench_search.py) ---------------------------------------------
def content_words(query: str) -> list[str]:
    """The query's words that count: lower-cased, no stop words or one-letter words, each once (as `terms` reads
    text, before stemming)."""
    return list(dict.fromkeys(w for w in words(query) if w not in STOP_WORDS and len(w) > 1))


def like_fragments(query: str) -> list[str]:
    """What a statement's lower-cased text must contain to be a lexical candidate, one fragment per content word:
    the part the word shares with its stem ("duplicates" and "duplic": "duplic", which "duplicated" holds too;
    "company" and "compani": "compan"), or the word itself when that part is shorter than MIN_FRAGMENT."""
    out = []
    for word in content_words(query):
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
    texts' order (the candidates come newest first). BM25's statistics are those of these candidates."""
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
    "notices"}. Each result: statement_id, note_id (public), account, date, source, text (verbatim), score (fused),
    similarity (cosine to the query), matched_terms and theme ({"id", "label"} in the latest theme run, or None).
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
              "ranking": ranking, "notices": []}
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
    missing = [sid for sid, _ in page if sid not in dense]
    sims = {**dense, **(_similarities(svc, qvec, missing) if qvec is not None and missing else {})}
    answer["total_candidates"] = len(fused)
    answer["results"] = [_result(rows[sid], score, sims.get(sid), query, themes.get(sid))
                         for sid, score in page if sid in rows]
    return answer


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


def _result(row: tuple[Statement, Note], score: float, similarity: float | None, query: str, theme) -> dict:
    statement, note = row
    return {
        "statement_id": statement.id, "note_id": note.public_id,
        "account": note.account.name if note.account else None,
        "date": note.effective_at.isoformat(), "source": note.source, "text": statement.text,
        "score": round(score, 6), "similarity": None if similarity is None else round(similarity, 4),
        "matched_terms": matched_terms(query, statement.text), "theme": theme,
    }
