"""Roadmap orchestration shared by the CLI, the API and drafts: import, links, matching, scores and coverage."""
from __future__ import annotations

import copy
import math
from collections import Counter

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from .. import locks
from ..models import Account, Note, RoadmapItem, RoadmapLink, RoadmapRejection, Statement, row_number
from ..notes import NotFound, find_note
from . import decision as decision_mod, history, importer, scoring

try:  # themes are optional: without them theme links add no evidence and coverage lists no themes
    from ..themes import queries as theme_queries
    from ..themes.measure import parse_arr
except ImportError:  # pragma: no cover - depends on which features are installed
    theme_queries = parse_arr = None

ITEM_FIELDS = ("title", "description", "status", "release", "goal", "reach", "impact", "confidence", "effort",
               "score", "tags", "url", "workaround", "extra")
QUOTES_PER_THEME = 5
TREND_ORDER = ("growing", "new", "stable", "fading")


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
            "theme_id": link.theme_id, "draft_id": link.draft_id, "created_at": link.created_at.isoformat(),
            "created_by": link.created_by}


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
            before = existing.pop(data["id"], None)
            history.record(session, before, data, source)  # before the upsert changes the row it reads
            report[_upsert(session, before, data)] += 1
            report["item_ids"].append(data["id"])
        for stale in existing.values():
            if prune:
                history.record(session, stale, None, source, kind="deleted")
                session.delete(stale)  # its links go with it (cascade)
                report["deleted"] += 1
            elif stale.archived:
                continue
            elif sync:
                history.record(session, stale, None, source, kind="archived")
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
         created_by: str | None = None, draft_id: int | None = None) -> dict:
    """Say that a note (public id), a theme or a draft's question is about an item. Idempotent: an existing link is
    returned as is. A linked text becomes evidence for the item the next time the matcher is fitted. `unrejected`:
    the draft had been rejected for the item, and no longer is."""
    if sum(x is not None for x in (note_id, theme_id, draft_id)) != 1:
        raise LinkError("give exactly one of a note id, a theme id or a draft id")
    with services.db.transaction() as session:
        locks.hold(session, "roadmap")  # two requests for the same link take turns: the second finds the first's row
        get_item(session, item_id)
        note = find_note(session, str(note_id)) if note_id is not None else None
        if theme_id is not None:
            theme_id = _check_theme(session, theme_id)
        if draft_id is not None:
            draft_id = _check_draft(session, draft_id)
        target = (RoadmapLink.note_id == note.id if note else RoadmapLink.theme_id == theme_id
                  if theme_id is not None else RoadmapLink.draft_id == draft_id)
        row = session.scalars(select(RoadmapLink).where(RoadmapLink.item_id == item_id, target)).first()
        unrejected = False
        if draft_id is not None:  # "yes" after "no": whichever was said last holds
            from .rejections import forget_draft_rejection

            unrejected = forget_draft_rejection(session, item_id, draft_id)
        created = row is None
        if created:
            kind = "note" if note else "theme" if theme_id is not None else "draft"
            row = RoadmapLink(item_id=item_id, kind=kind, note=note, theme_id=theme_id, draft_id=draft_id,
                              created_by=created_by)
            session.add(row)
            session.flush()
        return {**link_dict(row), "created": created, "unrejected": unrejected}


def unlink(services, item_id: str, note_id: str | None = None, theme_id: int | None = None,
           draft_id: int | None = None) -> bool:
    """Take back a link a person made by mistake: the text stops counting as evidence for the item (the matcher is
    fitted again). True when there was one; NotFound for an unknown item, note, theme or draft id."""
    if sum(x is not None for x in (note_id, theme_id, draft_id)) != 1:
        raise LinkError("give exactly one of a note id, a theme id or a draft id")
    with services.db.transaction() as session:
        locks.hold(session, "roadmap")
        get_item(session, item_id)
        if note_id is not None:
            target = RoadmapLink.note_id == find_note(session, str(note_id)).id
        elif theme_id is not None:
            if (number := row_number(theme_id)) is None:
                raise LinkError(f"a theme id is a whole number, not {theme_id!r}")
            target = RoadmapLink.theme_id == number
        else:
            if (number := row_number(draft_id)) is None:
                raise LinkError(f"a draft id is a whole number, not {draft_id!r}")
            target = RoadmapLink.draft_id == number
        return session.execute(delete(RoadmapLink).where(RoadmapLink.item_id == item_id, target)).rowcount > 0


def _check_draft(session: Session, draft_id) -> int:
    from ..models import Draft

    if isinstance(draft_id, bool) or not (str(draft_id).strip().isascii() and str(draft_id).strip().isdigit()):
        raise LinkError(f"a draft id is a whole number, not {draft_id!r}")
    number = row_number(draft_id)  # None beyond any row id (PostgreSQL would refuse the query: a 500)
    if number is None or session.get(Draft, number) is None:
        raise NotFound(f"no draft with id {draft_id!r}")
    return number


def _check_theme(session: Session, theme_id) -> int:
    if isinstance(theme_id, bool) or not (str(theme_id).strip().isascii() and str(theme_id).strip().isdigit()):
        raise LinkError(f"a theme id is a whole number, not {theme_id!r}")
    if (number := row_number(theme_id)) is None:  # beyond any row id (PostgreSQL would refuse the query: a 500)
        raise NotFound(f"no theme with id {theme_id!r}")
    if theme_queries is None:  # nothing to check against; the link has no foreign key anyway
        return number
    try:
        return theme_queries.theme_detail(session, number)["id"]
    except theme_queries.ThemeNotFound as exc:
        raise NotFound(str(exc)) from None


# ---- matching -------------------------------------------------------------------------------------------------
def match_requests(services, requests: list[dict], min_score: float = decision_mod.ACCEPTED) -> list[dict]:
    """[{"id", "verdict", "matches": [{"item_id", "title", "status", "score"}]}] per request, in input order.
    Matches below min_score (the matcher accepts at 0.5) are left out: a not_on_roadmap answer cites no item;
    with min_score 0 every item is listed, best first."""
    return [d.match_dict(min_score) for d in decision_mod.decide(services, requests)]


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


def state_key(session: Session) -> tuple:
    """Changes whenever notes, roadmap items, links, rejections or the latest theme run change: the inputs of
    scores() and of the matcher."""
    # One round trip: every draft asks this two or three times. Counts and highest ids alone miss a row taken back
    # and another added (SQLite gives the highest id out again: "no" on draft 2 taken back, then "no" on draft 3, is
    # the same count and id), so the roadmap write lock's turns count every link, rejection and import as well.
    parts = [func.count(Note.id), func.max(Note.updated_at), func.count(RoadmapItem.id),
             func.max(RoadmapItem.updated_at), func.count(RoadmapLink.id), func.max(RoadmapLink.id),
             func.count(Statement.id), func.max(Statement.id), func.count(RoadmapRejection.id),
             func.max(RoadmapRejection.id), locks.turns("roadmap")]
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
        key = (state_key(session), repr(settings))
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
    from .rejections import rejection_dict

    with services.db.session() as session:
        data = item_dict(get_item(session, item_id), links=True)
        # ids only, no text: this answer is a viewer's, and the rejected questions and statements are customers' words
        data["rejections"] = [rejection_dict(r) for r in session.scalars(
            select(RoadmapRejection).where(RoadmapRejection.item_id == item_id).order_by(RoadmapRejection.id))]
    try:
        ranked = {r["item_id"]: r for r in scores(services)["items"]}
    except ValueError as exc:  # FEEDBACK_SCORING misconfigured: the item still shows, unscored, saying why
        ranked = {item_id: {"score": None, "method": None, "inputs": {}, "reason": f"not scored: {exc}"}}
    found = ranked.get(item_id) or {"score": None, "method": None, "inputs": {}, "reason": "archived: not scored"}
    return {**data, "scoring": {k: found.get(k) for k in ("score", "method", "inputs", "reason")}}


DECLINED = "not_planned"  # an item the roadmap decided not to build addresses a pain but does not cover it


def coverage(services) -> dict:
    """Which items address each theme of the latest run, the demand behind each item, and the gaps: recurring themes
    no item covers. An item marked not_planned still addresses its themes (they list it), but does not cover them: a
    declined pain customers keep raising stays a gap, naming the item that declined it (`declined`). A gap also names
    the items that were the matcher's best for some of its texts but for fewer than a third (`near`), so a theme whose
    texts split across items does not read as one nothing on the roadmap is near."""
    with services.db.session() as session:
        items, arr = load_items(session), _arr_by_account(session)
        themes = theme_queries.latest_themes(session) if theme_queries else None
        note = None if themes else ("no theme run yet: run `feedback themes run` first" if themes == []
                                    else "themes are not available in this installation")
        themes, by_id = themes or [], {i.id: i for i in items}
        addressed, votes = _addresses(services, items, themes)
        item_rows = []
        for i in items:
            mine = [t for t in themes if i.id in addressed[t["id"]]]
            item_rows.append({"item_id": i.id, "title": i.title, "status": i.status,
                              "theme_ids": [t["id"] for t in mine], "demand": _demand(i, mine, arr)})
    item_rows.sort(key=lambda r: (-r["demand"]["accounts"], -r["demand"]["mentions"], r["item_id"]))
    theme_rows = [{"theme_id": t["id"], **{k: t.get(k) for k in ("label", "status", "size", "accounts", "trend", "arr")},
                   "items": [{"item_id": k, "title": by_id[k].title, "status": by_id[k].status, **v}
                             for k, v in addressed[t["id"]].items()]} for t in themes]
    gaps = sorted((_gap(r, votes[r["theme_id"]], by_id) for r in theme_rows
                   if (r["status"] or "recurring") == "recurring"
                   and all(i["status"] == DECLINED for i in r["items"])),
                  key=lambda r: (-(r["accounts"] or 0), -(r["size"] or 0), r["theme_id"]))
    return {"themes": theme_rows, "items": item_rows, "gaps": gaps, "note": note}


def _gap(row: dict, votes: tuple[int, dict[str, int]], by_id: dict) -> dict:
    """A gap: the theme row without its items, plus the items that declined it and those near it (best for at least
    one of its texts, too few to address it), most texts first."""
    texts, best = votes
    addressing = {i["item_id"] for i in row["items"]}
    near = sorted((k for k in best if k not in addressing), key=lambda k: (-best[k], k))
    return {**{k: v for k, v in row.items() if k != "items"},
            "declined": [{"item_id": i["item_id"], "title": i["title"]} for i in row["items"]],
            "near": [{"item_id": k, "title": by_id[k].title, "status": by_id[k].status, "matched": best[k],
                      "of": texts} for k in near]}


def gap_reasons(gap: dict) -> list[str]:
    """What a gap's `declined` and `near` say, in words, for the report and the CLI (plain text: each escapes it for
    its own format). Empty for a gap nothing is near (and for a report stored before these fields)."""
    out = []
    if gap.get("declined"):
        out.append("decided not to build: " + ", ".join(f"{d['item_id']} {d['title']}" for d in gap["declined"]))
    near = gap.get("near") or []
    if near:
        texts = f"of the {near[0]['of']} texts compared (the label and top quotes)"
        status = {n["item_id"]: (n.get("status") or "").replace("_", " ") for n in near}
        if len({n["matched"] for n in near}) == 1:
            each = "each the best match" if len(near) > 1 else "the best match"
            names = ", ".join(f"{n['item_id']} {n['title']} ({status[n['item_id']]})" for n in near)
            out.append(f"partly near {names}: {each} for {near[0]['matched']} {texts}")
        else:
            out.append("partly near " + ", ".join(f"{n['item_id']} {n['title']} ({status[n['item_id']]}, best match "
                                                  f"for {n['matched']})" for n in near) + f" {texts}")
    return out


def _addresses(services, items, themes: list[dict]) -> tuple[dict[int, dict[str, dict]], dict[int, tuple]]:
    """theme id -> {item id: {"via", "score"}}: explicit links, plus items the matcher picks for a third of the
    theme's texts (its label and top quotes), so one stray quote does not make an item cover a theme. Also, per theme,
    (how many texts were compared, {item id: how many of them it was the best in-scope item for})."""
    out: dict[int, dict[str, dict]] = {t["id"]: {} for t in themes}
    for ln in (ln for i in items for ln in i.links if ln.theme_id in out):
        out[ln.theme_id][ln.item_id] = {"via": "link", "score": None}
    pairs = [(t["id"], text) for t in themes
             for text in [t["label"]] + [q["text"] for q in (t.get("quotes") or [])[:QUOTES_PER_THEME]]]
    owners, texts = [p[0] for p in pairs], [p[1] for p in pairs]
    counts = Counter(owners)
    tally = {t["id"]: (counts[t["id"]], {}) for t in themes}
    if not texts or not items:
        return out, tally
    votes: dict[tuple, list[float]] = {}
    for owner, found in zip(owners, decision_mod.decide_texts(services, texts)):
        if found.best is not None:
            votes.setdefault((owner, found.best.item_id), []).append(found.best.score)
    for (theme_id, item_id), hits in votes.items():
        tally[theme_id][1][item_id] = len(hits)
        needed = max(1, math.ceil(tally[theme_id][0] / 3))
        if len(hits) >= needed and item_id not in out[theme_id]:
            out[theme_id][item_id] = {"via": "match", "score": round(sum(hits) / len(hits), 4)}
    return out, tally
