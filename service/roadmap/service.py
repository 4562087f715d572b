"""Roadmap orchestration shared by the CLI, the API and drafts: import, links, matching, scores and coverage."""
from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import threading

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from .. import locks
from .. import names
from ..models import Account, Note, RoadmapItem, RoadmapLink, Statement
from ..notes import NotFound, find_note
from ..untrusted import sanitize_question
from ..vectorstore import STATEMENTS
from . import asked, importer, lexical, matcher as matcher_mod, scoring

try:  # themes are optional: without them theme links add no evidence and coverage lists no themes
    from ..themes import queries as theme_queries
    from ..themes.measure import parse_arr
except ImportError:  # pragma: no cover - depends on which features are installed
    theme_queries = parse_arr = None

ITEM_FIELDS = ("title", "description", "status", "release", "goal", "reach", "impact", "confidence", "effort",
               "score", "tags", "url", "workaround", "extra")
EVIDENCE_MARGIN = 0.1  # a linked note's statements within this cosine of its best one count as evidence
THEME_EVIDENCE = 20  # most central statements of a linked theme used as evidence
POOL_MAX = 5000  # customer statements given to the matcher as its unlabeled background
QUOTES_PER_THEME = 5
TREND_ORDER = ("growing", "new", "stable", "fading")
_fit_lock = threading.Lock()


class LinkError(ValueError):
    """A link request that names no target, or two."""


def item_dict(item: RoadmapItem, *, links: bool = False) -> dict:
    out = {"id": item.id, **{f: getattr(item, f) for f in ITEM_FIELDS}, "archived": item.archived,
           "created_at": item.created_at.isoformat(), "updated_at": item.updated_at.isoformat()}
    if links:
        out["links"] = [link_dict(link) for link in item.links]
    return out


def link_dict(link: RoadmapLink) -> dict:
    return {"item_id": link.item_id, "kind": link.kind, "note_id": link.note.public_id if link.note else None,
            "theme_id": link.theme_id, "created_at": link.created_at.isoformat(), "created_by": link.created_by}


def load_items(session: Session, include_archived: bool = False, status: str | None = None) -> list[RoadmapItem]:
    # Links, their notes, statements and accounts in four queries, not one per link.
    note = selectinload(RoadmapItem.links).selectinload(RoadmapLink.note)
    query = select(RoadmapItem).options(note.selectinload(Note.statements), note.selectinload(Note.account))
    query = query.order_by(RoadmapItem.id)
    if not include_archived:
        query = query.where(RoadmapItem.archived.is_(False))
    if status:
        query = query.where(RoadmapItem.status == status)
    return list(session.scalars(query))


def get_item(session: Session, item_id: str) -> RoadmapItem:
    item = session.get(RoadmapItem, item_id)
    if item is None:
        raise NotFound(f"no roadmap item with id {item_id!r}")
    return item


# ---- import ---------------------------------------------------------------------------------------------------
def import_items(services, rows, prune: bool = False, source: str = "request", column_map: dict | None = None,
                 sync: bool = False) -> dict:
    """Validate every row, then upsert all in one transaction. Raises IngestError (nothing stored) on any bad row.
    rows: (line, dict) pairs or plain dicts. Items missing from the input are only listed in `would_archive`;
    with sync they are archived, with prune (a sync that deletes) deleted with their links."""
    rows = [r if isinstance(r, tuple) else (i, r) for i, r in enumerate(rows, start=1)]
    items = importer.validate(rows, source, column_map)
    report = {"created": 0, "updated": 0, "unchanged": 0, "archived": 0, "deleted": 0, "item_ids": [],
              "would_archive": []}
    with services.db.transaction() as session:
        locks.hold(session, "roadmap")  # racing imports take turns instead of colliding on new ids
        existing = {i.id: i for i in session.scalars(select(RoadmapItem))}
        for data in items:
            report[_upsert(session, existing.pop(data["id"], None), data)] += 1
            report["item_ids"].append(data["id"])
        for stale in existing.values():
            if prune:
                session.delete(stale)  # its links go with it (cascade)
                report["deleted"] += 1
            elif stale.archived:
                continue
            elif sync:
                stale.archived = True
                report["archived"] += 1
            else:
                report["would_archive"].append(stale.id)  # a partial file never archives by surprise
    return report


def _upsert(session: Session, item: RoadmapItem | None, data: dict) -> str:
    if item is None:
        session.add(RoadmapItem(id=data["id"], **{f: data[f] for f in ITEM_FIELDS}))
        return "created"
    if not item.archived and all(getattr(item, f) == data[f] for f in ITEM_FIELDS):
        return "unchanged"
    for f in ITEM_FIELDS:
        setattr(item, f, data[f])
    item.archived = False  # back in the export: back on the roadmap
    return "updated"


# ---- links ----------------------------------------------------------------------------------------------------
def link(services, item_id: str, note_id: str | None = None, theme_id: int | None = None,
         created_by: str | None = None) -> dict:
    """Say that a note (public id) or a theme is about an item. Idempotent: an existing link is returned as is."""
    if (note_id is None) == (theme_id is None):
        raise LinkError("give exactly one of a note id or a theme id")
    with services.db.transaction() as session:
        get_item(session, item_id)
        note = find_note(session, str(note_id)) if note_id is not None else None
        if theme_id is not None:
            theme_id = _check_theme(session, theme_id)
        target = (RoadmapLink.note_id == note.id) if note else (RoadmapLink.theme_id == theme_id)
        row = session.scalars(select(RoadmapLink).where(RoadmapLink.item_id == item_id, target)).first()
        created = row is None
        if created:
            row = RoadmapLink(item_id=item_id, kind="note" if note else "theme", note=note, theme_id=theme_id,
                              created_by=created_by)
            session.add(row)
            session.flush()
        return {**link_dict(row), "created": created}


def _check_theme(session: Session, theme_id) -> int:
    if isinstance(theme_id, bool) or not str(theme_id).strip().isdigit():
        raise LinkError(f"a theme id is a whole number, not {theme_id!r}")
    if theme_queries is None:  # nothing to check against; the link has no foreign key anyway
        return int(theme_id)
    try:
        return theme_queries.theme_detail(session, int(theme_id))["id"]
    except theme_queries.ThemeNotFound as exc:
        raise NotFound(str(exc)) from None


# ---- matching -------------------------------------------------------------------------------------------------
def get_matcher(services):
    """The matcher fitted on the current items and their evidence; refitted only when either changed.

    A few counts decide whether anything changed (items, links, notes, statements, the theme run); only then are
    the items and their evidence loaded and hashed, so an unchanged roadmap costs a draft a few small queries."""
    with services.db.session() as session:
        state = (_state_key(session), services.embedder.name)
    cached = getattr(services, "_roadmap_matcher", None)
    if cached and cached[2] == state:
        return cached[1]
    with services.db.session() as session:
        items = load_items(session)
        evidence = {i.id: _raw_evidence(session, i) for i in items}
    if not items:
        return None
    data = [[i.id, i.title, i.description, i.tags, i.status] for i in items]
    key = hashlib.sha256(json.dumps([data, evidence, list(state[0][6:8]), services.embedder.name],
                                    default=str).encode()).hexdigest()
    with _fit_lock:
        cached = getattr(services, "_roadmap_matcher", None)
        if cached and cached[0] == key:
            services._roadmap_matcher = (key, cached[1], state)
            return cached[1]
        specs = [_spec(i, evidence[i.id], services.embedder) for i in items]
        with services.db.session() as session:  # an even sample of customer statements as unlabeled background
            ids = list(session.scalars(select(Statement.id).order_by(Statement.id)))
        ids = ids[:: max(1, math.ceil(len(ids) / POOL_MAX))]
        pool = services.store.get(STATEMENTS, [f"s{i}" for i in ids])[1] if ids else None
        if pool is not None and (pool.ndim != 2 or pool.shape[1] != services.embedder.dim):
            pool = None  # an index built by another model: no background rather than a crash
        fitted = matcher_mod.RoadmapMatcher().fit(specs, services.embedder, pool_vectors=pool)
        services._roadmap_matcher = (key, fitted, state)
        return fitted


def _raw_evidence(session: Session, item: RoadmapItem) -> list[tuple[str, list[str]]]:
    """Per link, its candidate texts: a note's statements, or a theme's most central statements."""
    groups = []
    for ln in item.links:
        if ln.kind == "note":
            groups.append(("note", [s.text for s in ln.note.statements]))
        elif theme_queries is not None:
            groups.append(("theme", theme_queries.theme_texts(session, ln.theme_id, limit=THEME_EVIDENCE)))
    return groups


def _spec(item: RoadmapItem, groups: list[tuple[str, list[str]]], embedder) -> dict:
    # A theme's member statements are all about it; a note's only where they are closest to the item.
    evidence = [t for kind, texts in groups
                for t in (texts if kind == "theme" else _note_evidence(embedder, item, texts))]
    return {"id": item.id, "title": item.title, "description": item.description, "tags": item.tags or [],
            "status": item.status, "evidence": list(dict.fromkeys(evidence))}


def _note_evidence(embedder, item: RoadmapItem, texts: list[str]) -> list[str]:
    """A note often covers several topics; only its statements closest to the item are evidence for it."""
    if len(texts) <= 1:
        return texts
    vectors = embedder.embed([f"{item.title}. {item.description}"] + texts)
    sims = vectors[1:] @ vectors[0]
    return [t for t, s in zip(texts, sims) if s >= sims.max() - EVIDENCE_MARGIN]


def match_requests(services, requests: list[dict], top_k: int = 5, min_score: float = 0.5) -> list[dict]:
    """[{"id", "verdict", "matches": [{"item_id", "title", "status", "score"}]}] per request, in input order.
    Matches below min_score (the matcher accepts at 0.5) are left out: a not_on_roadmap answer cites no item."""
    fitted = get_matcher(services)
    if fitted is None or not requests:
        return [{"id": r["id"], "verdict": matcher_mod.NOT_ON_ROADMAP, "matches": []} for r in requests]
    by_id = {i.id: i for i in fitted.items}
    results = fitted.match(_topics(services, fitted, [r["text"] for r in requests]), top_k=top_k, transductive=False)
    out = []
    for req, res in zip(requests, results):
        ranked, verdict = _asked_first(req["text"], res.matches, by_id), res.verdict
        if res.in_scope and ranked[0]["item_id"] != res.item_id:
            verdict = matcher_mod.verdict(by_id[ranked[0]["item_id"]].status)
        out.append({"id": req["id"], "verdict": verdict,
                    "matches": [{"item_id": m["item_id"], "title": by_id[m["item_id"]].title,
                                 "status": by_id[m["item_id"]].status, "score": round(m["score"], 4)}
                                for m in ranked if m["score"] >= min_score]})
    return out


def _topics(services, fitted, texts: list[str]) -> list[str]:
    """The requests without instruction-like sentences and without the names of known contacts and accounts.

    "Tessa at Harbor & Pine loved the new editor preview" is about the editor, yet the names pulled it toward every
    note that mentions that account and below the cut."""
    keep = getattr(fitted, "_item_words", None)
    if keep is None:  # the roadmap's own words ("Okta", "Salesforce") are never taken out as a name
        keep = fitted._item_words = frozenset(
            w for i in fitted.items for w in re.findall(r"\w+", f"{i.title} {i.description} {' '.join(i.tags)}".lower()))
    with services.db.session() as session:
        finder = names.name_finder(services, session, keep, lexical.packaged_vocabulary())
    # Instruction-like sentences are not part of a request's topic either (the drafts drop them the same way).
    return [names.without_names(sanitize_question(t)[0], finder) for t in texts]


def _asked_first(text: str, matches: list[dict], by_id: dict) -> list[dict]:
    """The two best matches, when both are accepted and the request names each, in the order it names them: "CSV
    and Excel" is answered about CSV first, whichever of the pair scores higher."""
    top = [m for m in matches[:2] if m["score"] >= 0.5]
    if len(top) < 2:
        return matches
    order = asked.in_asked_order(text, [asked.own_terms(by_id[m["item_id"]].title, by_id[m["item_id"]].tags)
                                        for m in top])
    return matches if order is None or order == [0, 1] else [top[1], top[0], *matches[2:]]


# ---- demand, scores, coverage ---------------------------------------------------------------------------------
def _demand(item: RoadmapItem, themes: list[dict], arr_by_account: dict[str, float]) -> dict:
    """Mentions, distinct accounts, their ARR and the strongest trend behind an item's linked notes and these themes."""
    rows = [ln.note for ln in item.links if ln.note]
    theme_notes = {n for t in themes for n in t.get("note_ids") or []}
    accounts = {n.account.name for n in rows if n.account} | {a for t in themes for a in t.get("account_names") or []}
    trends = [t.get("trend") for t in themes if t.get("trend") in TREND_ORDER]
    arr = [arr_by_account[a] for a in accounts if a in arr_by_account]
    return {"mentions": sum(t.get("mentions") or t.get("size") or 0 for t in themes)
            + sum(1 for n in rows if n.public_id not in theme_notes),
            "accounts": len(accounts), "account_names": sorted(accounts), "arr": float(sum(arr)) if arr else None,
            "trend": min(trends, key=TREND_ORDER.index) if trends else None}


def _arr_by_account(session: Session) -> dict[str, float]:
    """Each account's ARR as stated by its most recent note that states one (notes carry it in their metadata)."""
    if parse_arr is None:
        return {}
    rows = session.execute(
        select(Account.name, Note.meta).join(Note, Note.account_id == Account.id)
        .order_by(func.coalesce(Note.occurred_at, Note.ingested_at), Note.id)
    ).all()
    out: dict[str, float] = {}
    for name, meta in rows:  # oldest first, so later notes overwrite earlier figures
        if (arr := parse_arr(meta)) is not None:
            out[name] = arr
    return out


def _state_key(session: Session) -> tuple:
    """Changes whenever notes, roadmap items, links or the latest theme run change: the inputs of scores()."""
    # One round trip: every draft asks this two or three times.
    parts = [func.count(Note.id), func.max(Note.updated_at), func.count(RoadmapItem.id),
             func.max(RoadmapItem.updated_at), func.count(RoadmapLink.id), func.max(RoadmapLink.id),
             func.count(Statement.id), func.max(Statement.id)]
    if theme_queries is not None:
        from ..models import ThemeRun

        parts.append(func.max(ThemeRun.id))
    return tuple(session.execute(select(*(select(p).scalar_subquery() for p in parts))).one())


def scores(services) -> dict:
    """Every current item's score with its inputs and reason, best first (unscored items last).

    Cached until its inputs change: a draft asks for the scores on every request, and ARR per account reads every
    note's metadata (half a second at 100,000 statements)."""
    settings = scoring.settings_from(services.config)
    with services.db.session() as session:
        key = (_state_key(session), repr(settings))
        cached = getattr(services, "_roadmap_scores", None)
        if cached and cached[0] == key:
            return copy.deepcopy(cached[1])
        items, arr = load_items(session), _arr_by_account(session)
        themes = {t["id"]: t for t in (theme_queries.latest_themes(session) if theme_queries else [])}
        demand = {i.id: _demand(i, [themes[ln.theme_id] for ln in i.links if ln.theme_id in themes], arr)
                  for i in items}
    out = scoring.score_items(items, demand, settings)
    out.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0), r["item_id"]))
    result = {"method": settings.method, "weights": settings.weights, "items": out}
    services._roadmap_scores = (key, result)
    return copy.deepcopy(result)


def item_detail(services, item_id: str) -> dict:
    with services.db.session() as session:
        data = item_dict(get_item(session, item_id), links=True)
    ranked = {r["item_id"]: r for r in scores(services)["items"]}
    found = ranked.get(item_id) or {"score": None, "method": None, "inputs": {}, "reason": "archived: not scored"}
    return {**data, "scoring": {k: found.get(k) for k in ("score", "method", "inputs", "reason")}}


def coverage(services) -> dict:
    """Which items address each theme of the latest run, the demand behind each item, and the unaddressed gaps."""
    with services.db.session() as session:
        items, arr = load_items(session), _arr_by_account(session)
        themes = theme_queries.latest_themes(session) if theme_queries else None
        note = None if themes else ("no theme run yet: run `feedback themes run` first" if themes == []
                                    else "themes are not available in this installation")
        themes, by_id = themes or [], {i.id: i for i in items}
        addressed = _addresses(services, items, themes)
        item_rows = []
        for i in items:
            mine = [t for t in themes if i.id in addressed[t["id"]]]
            item_rows.append({"item_id": i.id, "title": i.title, "status": i.status,
                              "theme_ids": [t["id"] for t in mine], "demand": _demand(i, mine, arr)})
    item_rows.sort(key=lambda r: (-r["demand"]["accounts"], -r["demand"]["mentions"], r["item_id"]))
    theme_rows = [{"theme_id": t["id"], **{k: t.get(k) for k in ("label", "status", "size", "accounts", "trend", "arr")},
                   "items": [{"item_id": k, "title": by_id[k].title, "status": by_id[k].status, **v}
                             for k, v in addressed[t["id"]].items()]} for t in themes]
    gaps = sorted(({k: v for k, v in r.items() if k != "items"} for r in theme_rows
                   if not r["items"] and (r["status"] or "recurring") == "recurring"),
                  key=lambda r: (-(r["accounts"] or 0), -(r["size"] or 0), r["theme_id"]))
    return {"themes": theme_rows, "items": item_rows, "gaps": gaps, "note": note}


def _addresses(services, items, themes: list[dict]) -> dict[int, dict[str, dict]]:
    """theme id -> {item id: {"via", "score"}}: explicit links, plus items the matcher picks for a third of the
    theme's texts (its label and top quotes), so one stray quote does not make an item cover a theme."""
    out: dict[int, dict[str, dict]] = {t["id"]: {} for t in themes}
    for ln in (ln for i in items for ln in i.links if ln.theme_id in out):
        out[ln.theme_id][ln.item_id] = {"via": "link", "score": None}
    pairs = [(t["id"], text) for t in themes
             for text in [t["label"]] + [q["text"] for q in (t.get("quotes") or [])[:QUOTES_PER_THEME]]]
    owners, texts = [p[0] for p in pairs], [p[1] for p in pairs]
    if not texts or not items:
        return out
    votes: dict[tuple, list[float]] = {}
    for owner, (in_scope, item_id, confidence) in zip(owners, _theme_matches(services, texts)):
        if in_scope:
            votes.setdefault((owner, item_id), []).append(confidence)
    for (theme_id, item_id), hits in votes.items():
        needed = max(1, math.ceil(owners.count(theme_id) / 3))
        if len(hits) >= needed and item_id not in out[theme_id]:
            out[theme_id][item_id] = {"via": "match", "score": round(sum(hits) / len(hits), 4)}
    return out


def _theme_matches(services, texts: list[str]) -> list[tuple[bool, str | None, float]]:
    """The matcher's decision per theme text, cached until the matcher or the texts change: the roadmap and
    reports pages ask for coverage on every view, and embedding the same labels and quotes each time is most of it."""
    fitted = get_matcher(services)
    fit_key = services._roadmap_matcher[0]  # the hash of items, evidence and corpus the matcher was fitted on
    key = (fit_key, hashlib.sha256("\x1f".join(texts).encode()).hexdigest())
    cached = getattr(services, "_theme_matches", None)
    if cached and cached[0] == key:
        return cached[1]
    found = [(r.in_scope, r.item_id, r.confidence) for r in fitted.match(texts, top_k=1, transductive=False)]
    services._theme_matches = (key, found)
    return found
