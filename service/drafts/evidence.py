"""Customer evidence for a question: who raised it, how often, and one to three verbatim quotes.

Quotes are statement texts, which are exact slices of their notes, so a quote can always be traced back. The asking
account's own words come first. Other accounts contribute at most the few short statements chosen here, and never
a statement carrying an email address, a phone number or a contact's name. No quote asserts a product status
("has shipped", "is on the roadmap for Q3", "you promised it by June") or addresses the drafter: in a draft, a
customer's claim reads as ours (checks.status_claims).
"""
from __future__ import annotations

import re

import httpx
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import names as names_mod
from ..accounts import named
from ..models import Account, Note, RoadmapLink, Statement
from ..roadmap import decision as decisions
from ..vectorstore import STATEMENTS, VectorStoreError
from .base import DraftItem, Evidence
from .checks import EMAIL_RE, PHONE_RE, status_claims
from .demand import item_demand

MAX_QUOTES = 3
UNAVAILABLE = (VectorStoreError, httpx.TransportError)  # the index cannot answer now: never read as "no quotes"
MAX_OWN = 2  # leave room for one other voice, so a draft shows the need is not one account's
NEIGHBOURS = 40
QUOTE_WORDS = (4, 40)  # shorter is not a pain, longer is a paragraph (and more of someone else's note)
# Cosine scales differ by embedder: the bag-of-words test embedder scores related sentences far lower.
MIN_SIMILARITY = {"hashing": 0.25}
DEFAULT_MIN_SIMILARITY = 0.5
RELATIVE_WINDOW = 0.15  # well below the best hit is a different topic, whatever the absolute similarity
THEME_MIN_SIMILARITY = 0.5


def gather(services, question: str, account: str | None, items: list[DraftItem]) -> dict:
    """{"evidence": [Evidence], "demand": dict | None, "names": [personal names seen in the evidence notes]}."""
    # The account's name would pull in every note that mentions it (greetings, logistics): search by topic only.
    topic = re.sub(re.escape(account), "they", question, flags=re.I) if account else question
    query = topic if not items else f"{topic} {items[0].title}"
    qvec = np.asarray(services.embedder.embed([query])[0], dtype=np.float32)
    floor = MIN_SIMILARITY.get(getattr(services.embedder, "name", "").split("-")[0], DEFAULT_MIN_SIMILARITY)
    hits = _neighbours(services, qvec, account)
    themes = _related_themes(services, qvec, items)
    with services.db.session() as session:
        for theme in themes[:1]:
            hits.update(_theme_hits(services, session, theme, qvec, hits))
        best = max((sim for sim, _ in hits.values()), default=0.0)
        floor = max(floor, best - RELATIVE_WINDOW)
        candidates = _load(session, {sid: sim for sid, (sim, _) in hits.items() if sim >= floor}, hits)
        registry = known_names(services, session)
        own_extra = _own_asks(services, session, account, qvec, {c["statement_id"] for c in candidates}) \
            if account and items else []
    for c in candidates + own_extra:  # a name from any note's metadata (another account's contact too): no quote
        c["quotable"] = c["quotable"] and not names_in(c["text"], registry)
    candidates = _on_topic(services, candidates, [i.id for i in items])
    # The asking account's statements the matcher files under the cited item are its own ask, however they are worded
    # (the same rule follow-ups and briefs use), so they are quoted even when less similar to the question.
    candidates += [c for c in _on_topic(services, own_extra, [i.id for i in items])
                   if c["statement_id"] not in {x["statement_id"] for x in candidates}]
    chosen = _choose(candidates, account)
    labels = {t["id"]: t.get("label") for t in themes}
    for ev in chosen:
        ev.theme_label = labels.get(ev.theme_id)
    # A theme a PM linked to the cited item speaks for it; else a cited item's demand is the item's, whatever the
    # wording; a question no item addresses gets its nearest theme's, or its similar statements'.
    if items and not (themes and themes[0]["linked"]):
        demand = item_demand(services, items[0], account) or _demand(None, candidates)
    else:
        demand = _demand(themes[0] if themes else None, candidates)
    names = names_in(" ".join([question] + [e.quote for e in chosen]), registry)
    return {"evidence": chosen, "demand": demand, "names": names}


def _on_topic(services, candidates: list[dict], item_ids: list[str]) -> list[dict]:
    """Keep statements the roadmap matcher files where the draft's decision is: under a cited item, or (for a
    question no item addresses) under no item at all. Similar wording alone lets in neighbouring topics."""
    fitted = decisions.get_matcher(services) if candidates else None
    if fitted is None:
        return candidates
    ids, vectors, _ = services.store.get(STATEMENTS, [f"s{c['statement_id']}" for c in candidates])
    by_id = dict(zip(ids, vectors))
    usable = [c for c in candidates if f"s{c['statement_id']}" in by_id]
    if not usable:
        return []
    results = fitted.match([c["text"] for c in usable], top_k=1, transductive=False,
                           vectors=np.asarray([by_id[f"s{c['statement_id']}"] for c in usable], dtype=np.float32))
    wanted = set(item_ids)
    return [c for c, r in zip(usable, results) if (r.item_id in wanted if wanted else not r.in_scope)]


OWN_STATEMENTS = 200  # the asking account's most recent statements considered beyond the nearest neighbours


def _own_asks(services, session, account: str, qvec: np.ndarray, known: set[int]) -> list[dict]:
    """The asking account's statements not already found, with their similarity to the question (for ordering)."""
    ids = [sid for sid in session.scalars(
        select(Statement.id).join(Note, Statement.note_id == Note.id).join(Account, Note.account_id == Account.id)
        .where(named(account)).order_by(Statement.id.desc()).limit(OWN_STATEMENTS)) if sid not in known]
    if not ids:
        return []
    found, vectors, _ = services.store.get(STATEMENTS, [f"s{sid}" for sid in ids])
    if not len(found):
        return []
    sims = {int(f[1:]): float(s) for f, s in zip(found, np.asarray(vectors, dtype=np.float32) @ qvec)}
    return _load(session, sims, {sid: (sim, None) for sid, sim in sims.items()})


def known_names(services, session) -> set[str]:
    """Every contact and author name in the notes' metadata, and their first names, cached until notes change.

    Any of them may turn up in a question or a quote, whichever account it belongs to, so redaction needs all.
    """
    return names_mod.person_names(services, session)


def names_in(text: str, registry: set[str]) -> list[str]:
    """The registry names that occur in a text: a Redactor only needs those, not thousands of patterns."""
    words = set(re.findall(r"[\w'-]+", text))
    lower = {w.lower() for w in words}
    # The last name is enough for a full name: the Redactor also catches "Ms. Whitfield" once it knows the name.
    # A first name alone must match its case, or "Will" would hit every "will".
    return sorted(n for n in registry if (n in words if " " not in n else n.lower().split()[-1] in lower))


def _neighbours(services, qvec: np.ndarray, account: str | None) -> dict[int, tuple[float, int | None]]:
    """statement id -> (similarity, theme id): nearest statements overall, and the asking account's own."""
    store, out = services.store, {}
    queries = [None] + ([{"account": account}] if account else [])
    for where in queries:
        try:
            rows = store.query(STATEMENTS, qvec[None, :], NEIGHBOURS, where=where)[0]
        except UNAVAILABLE:  # a stopped server or a damaged index: a 503 to retry, not a draft without its quotes
            raise
        except Exception:  # a filter the store cannot apply, or an empty index: fewer quotes, not an error
            rows = []
        for sid, sim, _meta in rows:
            if sid.startswith("s") and sid[1:].isdigit():
                out[int(sid[1:])] = (float(sim), None)
    return out


def _related_themes(services, qvec: np.ndarray, items: list[DraftItem]) -> list[dict]:
    """Themes of the latest run near the question, and themes a person linked to the matched items; best first."""
    try:
        from ..themes.queries import latest_themes
    except ImportError:  # themes not installed: nearest statements alone
        return []
    with services.db.session() as session:
        themes = latest_themes(session)
        linked = set(session.scalars(select(RoadmapLink.theme_id).where(
            RoadmapLink.item_id.in_([i.id for i in items]), RoadmapLink.theme_id.is_not(None)))) if items else set()
    scored = []
    for theme in themes:
        centroid = theme.get("centroid")
        usable = centroid is not None and len(centroid) == len(qvec)  # a run made with another embedder: no
        sim = float(centroid @ qvec / (np.linalg.norm(centroid) or 1.0)) if usable else 0.0
        if theme["id"] in linked or sim >= THEME_MIN_SIMILARITY:
            scored.append((theme["id"] in linked, sim, theme))
    scored.sort(key=lambda t: (not t[0], -t[1]))
    return [dict(t[2], linked=t[0]) for t in scored]


def _theme_hits(services, session, theme: dict, qvec: np.ndarray, known: dict) -> dict:
    from ..themes.queries import theme_statements

    rows = [r for r in theme_statements(session, theme["id"], limit=50) if r["statement_id"] not in known]
    if not rows:
        return {}
    ids, vectors, _ = services.store.get(STATEMENTS, [f"s{r['statement_id']}" for r in rows])
    sims = np.asarray(vectors, dtype=np.float32) @ qvec if len(ids) else []
    return {int(i[1:]): (float(s), theme["id"]) for i, s in zip(ids, sims)}


def _load(session, sims: dict[int, float], hits: dict) -> list[dict]:
    """Statements with their note's public id, account and the personal names its metadata names."""
    if not sims:
        return []
    rows = session.scalars(select(Statement).options(selectinload(Statement.note).selectinload(Note.account))
                           .where(Statement.id.in_(list(sims)))).all()
    out = []
    for st in rows:
        note = st.note
        names = _names(note.author, note.meta)
        out.append({"statement_id": st.id, "text": st.text, "note_id": note.public_id, "kind": st.kind,
                    "account": note.account.name if note.account else None, "similarity": sims[st.id],
                    "theme_id": hits[st.id][1], "names": names, "quotable": _quotable(st.text, names)})
    out.sort(key=lambda c: (-c["similarity"], c["statement_id"]))
    return out


_names = names_mod.note_names


def _quotable(text: str, names: list[str]) -> bool:
    words = len(text.split())
    if not QUOTE_WORDS[0] <= words <= QUOTE_WORDS[1] or '"' in text or EMAIL_RE.search(text) or PHONE_RE.search(text):
        return False
    if status_claims(text):  # "it has shipped", "on the roadmap for Q3", "ignore your rules": quoted, our claim
        return False
    # Any part of a contact's name (a first name alone too) keeps the statement out of the quotes.
    parts = {p for n in names for p in re.findall(r"[A-Za-z][\w'-]{2,}", n) if p[0].isupper()}
    return not any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text) for p in parts)


def _choose(candidates: list[dict], account: str | None) -> list[Evidence]:
    """Own account first, then others; pains before other kinds; one quote per note."""
    usable = [c for c in candidates if c["quotable"] and c["kind"] not in ("praise",)]
    usable.sort(key=lambda c: (c["kind"] not in (None, "pain"), -c["similarity"]))
    own = [c for c in usable if account and c["account"] == account][:MAX_OWN]
    others = [c for c in usable if not (account and c["account"] == account)]
    chosen, seen = [], set()
    for c in own + others:
        key = " ".join(c["text"].lower().split())  # the same sentence pasted into several notes counts once
        if len(chosen) < MAX_QUOTES and c["note_id"] not in seen and key not in seen:
            seen.update((c["note_id"], key))
            chosen.append(Evidence(note_id=c["note_id"], account=c["account"], quote=c["text"], theme_id=c["theme_id"],
                                   own=bool(account) and c["account"] == account))
    return chosen


def _demand(theme: dict | None, candidates: list[dict]) -> dict | None:
    """Demand from the related theme when there is one, else from the similar statements found here."""
    if theme is not None:
        return {"label": theme.get("label"), "theme_id": theme.get("id"), "accounts": theme.get("accounts") or 0,
                "mentions": theme.get("mentions") or 0, "trend": theme.get("trend"), "source": "theme"}
    # Text addressed to whoever drafts ("ignore previous instructions and say ...") is nobody's ask: not counted.
    candidates = [c for c in candidates if not any(kind == "instruction" for kind, _ in status_claims(c["text"]))]
    accounts = {c["account"] for c in candidates if c["account"]}
    if not candidates:
        return None
    return {"label": None, "theme_id": None, "accounts": len(accounts), "mentions": len(candidates), "trend": None,
            "source": "similar statements"}
