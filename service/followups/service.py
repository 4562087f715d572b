"""Follow-ups for one roadmap item: the accounts that asked for it, their own words, and a draft for each.

Accounts come from notes a person linked to the item and from statements whose Decision cites the item. They are
ordered by ARR (unknown last), then by how many times they asked. An account marked as told about the item's
current status is listed apart and gets no draft; a later move of the item puts it back in the list. An archived
item (no longer on the roadmap) still lists who asked, but gets no drafts and no new marks.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import locks
from ..accounts import canonical, stored_names
from ..models import Draft, FollowupTold, RoadmapItem, RoadmapStatusChange, utcnow
from ..erase import forget_drafts
from ..notes import NotFound
from ..roadmap import history
from ..roadmap.service import get_item
from . import asks as asks_mod
from .drafting import draft_for, item_basis

MAX_QUOTES = 5
MAX_ACCOUNT_CHARS = 200


class FollowupInputError(ValueError):
    """A follow-up request that cannot be served as given (the API answers 422, the CLI exits 2)."""


class ItemArchived(Exception):
    """The item is archived: no longer on the roadmap, so it has no status to tell anyone (the API answers 409)."""


def asking_accounts(services, item_id: str, since: date | None = None) -> dict[str, dict]:
    """account -> {"note_ids", "quotes", "score", "asks", "linked"} for every account that asked for the item.

    A statement without an account cannot be followed up, so it is left out. `since` keeps notes on or after it."""
    linked = asks_mod.linked_note_ids(services, item_id)
    start = datetime(since.year, since.month, since.day) if since else None
    out: dict[str, dict] = {}
    best_linked: dict[str, asks_mod.StatementAsk] = {}
    for st in asks_mod.statement_asks(services):
        if st.account is None or (start and st.at < start):
            continue
        if st.asks_for(item_id):
            _add(out, st, dict(st.cited)[item_id], linked=st.note_id in linked)
        elif st.note_id in linked:
            held = best_linked.get(st.note_id)
            if held is None or st.score_for(item_id) > held.score_for(item_id):
                best_linked[st.note_id] = st
    for note_id, st in best_linked.items():  # a linked note none of whose statements the Decision cites
        if not any(note_id in a["note_ids"] for a in out.values()):
            _add(out, st, st.score_for(item_id), linked=True)
    for a in out.values():
        a["quotes"].sort(key=lambda q: (-q["score"], q["date"] or "", q["note_id"]))
        a["asks"] = len(a["note_ids"])
        a["quotes"] = [{"note_id": q["note_id"], "text": q["text"], "date": q["date"], "score": round(q["score"], 4)}
                       for q in a["quotes"][:MAX_QUOTES]]
    return out


def _add(out: dict, st: asks_mod.StatementAsk, score: float, linked: bool) -> None:
    a = out.setdefault(st.account, {"note_ids": [], "quotes": [], "score": 0.0, "linked": False,
                                    "first_asked": None, "last_asked": None})
    if st.note_id not in a["note_ids"]:
        a["note_ids"].append(st.note_id)
    day = st.at.date().isoformat()
    a["quotes"].append({"note_id": st.note_id, "text": st.text, "date": day, "score": score})
    a["score"] = round(max(a["score"], score), 4)
    a["linked"] = a["linked"] or linked
    a["first_asked"] = min(filter(None, (a["first_asked"], day)))
    a["last_asked"] = max(filter(None, (a["last_asked"], day)))


def followups(services, item_id: str, since: date | None = None, drafts: bool = True) -> dict:
    """The follow-ups JSON: {"item_id", "title", "status", "release", "changed_at", "accounts", "told", ...}."""
    with services.db.session() as session:
        item = get_item(session, item_id)
        session.expunge(item)
        # An archived item is off the roadmap: its change is the archiving, and no draft states its last status (a
        # "planned for Q1 2027" the roadmap no longer holds would be a promise nobody made).
        last = history.last_status_change(session, item_id)
        change = (_archived(session, item_id) if item.archived else None) or last
        told = {t.account: t for t in _marks(session, item_id, item.status, last=last)}
        told_rows = [_told_dict(t) for t in told.values()]
    found = asking_accounts(services, item_id, since)
    facts = asks_mod.account_facts(services)
    rows = []
    for name, a in found.items():
        if name in told:
            continue
        row = {"account": name, "arr": facts.get(name, {}).get("arr"),
               "deal_stage": facts.get(name, {}).get("deal_stage"), **a}
        rows.append(row)
    rows.sort(key=lambda r: (r["arr"] is None, -(r["arr"] or 0), -r["asks"], r["account"]))
    for row in rows:
        row["draft"] = None
    if drafts:
        _draft_rows(services, item, rows)
    return {"item_id": item.id, "title": item.title, "status": item.status, "release": item.release,
            "archived": item.archived, "changed_at": change.changed_at.isoformat() if change else None,
            "change": history.change_dict(change) if change else None,
            "since": since.isoformat() if since else None, "accounts": rows,
            "told": sorted(told_rows, key=lambda t: t["account"])}


def add_drafts(services, item_id: str, rows: list[dict]) -> None:
    """A checked draft in each of `rows` (accounts of `followups(..., drafts=False)`), as followups() makes one for
    every account. What the drafts share is read once (drafting.item_basis), but each draft is still composed and
    checked (an LLM call when one is set up) and an item asked for all year has a hundred accounts: a page drafts the
    accounts it shows."""
    if not rows:
        return
    with services.db.session() as session:
        item = get_item(session, item_id)
        session.expunge(item)
    _draft_rows(services, item, rows)


def _draft_rows(services, item, rows: list[dict]) -> None:
    if item.archived:  # no draft states an archived item's last status (followups() says why)
        return
    basis = item_basis(services, item)  # once for every row: it was four queries per account
    for row in rows:
        row["draft"] = draft_for(basis, row["account"], row["quotes"])


def mark_told(services, item_id: str, account: str, told_by: str | None = None, note: str | None = None) -> dict:
    """Store that `account` was told about the item's current status; its draft is stored as a sent draft.

    Idempotent per (item, account, status): marking twice returns the first mark with "created": false."""
    return mark_told_many(services, item_id, [account], told_by, note)[0]


def mark_told_many(services, item_id: str, accounts: list, told_by: str | None = None,
                   note: str | None = None) -> list[dict]:
    """mark_told for several accounts, all or nothing: every account is checked (a name, and one that asked for the
    item) before any mark or draft is stored, and all are stored in one transaction. One dict per distinct account,
    in the order given."""
    bad = [a for a in accounts if not isinstance(a, str) or not a.strip() or len(a) > MAX_ACCOUNT_CHARS]
    if bad or not accounts:
        raise FollowupInputError(f"account must be a name of 1 to {MAX_ACCOUNT_CHARS} characters")
    with services.db.session() as session:
        # "ACME corp." marks the stored "Acme Corp" (service.accounts): the mark must match the listed account
        stored = stored_names(session, [a.strip() for a in accounts])
        names = list(dict.fromkeys(stored.get(a.strip(), a.strip()) for a in accounts))
        item = get_item(session, item_id)
        if item.archived:
            raise ItemArchived(f"{item_id} is archived: it is no longer on the roadmap, so there is no status to tell "
                               "anyone about; nothing was marked")
        status = item.status
        marked = {t.account: {**_told_dict(t), "created": False} for t in _marks(session, item_id, status, names)}
        session.expunge(item)
    pending = [a for a in names if a not in marked]
    if not pending:
        return [marked[a] for a in names]
    found = asking_accounts(services, item_id)
    missing = [a for a in pending if a not in found]
    if missing:
        who = ", ".join(repr(a) for a in missing)
        raise NotFound(f"account {who} has not asked for {item_id}; nothing was marked" if len(missing) == 1 else
                       f"accounts {who} have not asked for {item_id}; nothing was marked")
    basis = item_basis(services, item)
    drafts = {a: draft_for(basis, a, found[a]["quotes"]) for a in pending}
    try:
        with services.db.transaction() as session:
            # Concurrent marks of the same account take turns; one made while this one drafted is returned as is, so
            # a double click stores one mark, one sent draft and one audit entry, not one per click.
            locks.hold(session, "roadmap")
            meanwhile = {t.account: t for t in _marks(session, item_id, status, pending)}
            for account in pending:
                if account in meanwhile:
                    marked[account] = {**_told_dict(meanwhile[account]), "created": False}
                    continue
                told = _store_told(session, item, status, account, drafts[account], told_by, note)
                marked[account] = {**_told_dict(told), "created": True}
    except IntegrityError:  # a writer that did not take the lock won: read its mark back with the others
        return mark_told_many(services, item_id, names, told_by, note)
    return [marked[a] for a in names]


def unmark_told(services, item_id: str, account: str) -> dict:
    """Undo a "told" mark made by mistake: the account is listed again, and the draft stored as sent with the mark is
    deleted (it was not sent). NotFound when the item does not exist or the account holds no mark at its current
    status; FollowupInputError for an empty or over-long name."""
    if not isinstance(account, str) or not account.strip() or len(account) > MAX_ACCOUNT_CHARS:
        raise FollowupInputError(f"account must be a name of 1 to {MAX_ACCOUNT_CHARS} characters")
    with services.db.transaction() as session:
        name = canonical(session, account.strip())
        item = get_item(session, item_id)
        marks = _marks(session, item_id, item.status, [name])
        if not marks:
            raise NotFound(f"account {name!r} is not marked as told about {item_id} ({item.status}); nothing was "
                           "changed")
        out = {**_told_dict(marks[0]), "draft_deleted": False}
        gone = []
        for mark in marks:
            if mark.draft_id is not None and (draft := session.get(Draft, mark.draft_id)) is not None:
                session.delete(draft)
                gone.append(draft.id)
                out["draft_deleted"] = True
            session.delete(mark)
        session.flush()
        forget_drafts(session, gone)  # a "No" or "Yes" pressed on that draft went with it, as for any deleted draft
    return out


def told_items(session, account: str) -> set[str]:
    """The items `account` holds a "told" mark for that still holds (see _marks): what a brief counts as answered."""
    out = set()
    for item_id in set(session.scalars(select(FollowupTold.item_id).where(FollowupTold.account == account))):
        item = session.get(RoadmapItem, item_id)
        if item is not None and _marks(session, item_id, item.status, [account]):
            out.add(item_id)
    return out


_UNREAD = object()


def _marks(session, item_id: str, status: str, accounts: list | None = None, last=_UNREAD) -> list[FollowupTold]:
    """The marks that still hold: made at the item's current status and not before the change that set it. An item
    that moved away and back (shipped -> in progress -> shipped) makes an earlier "told" stale: the account is listed
    again, as the docs promise ("until the item moves again"). `last`: that change, when the caller read it already."""
    query = select(FollowupTold).where(FollowupTold.item_id == item_id, FollowupTold.status == status)
    if accounts is not None:
        query = query.where(FollowupTold.account.in_(accounts))
    change = history.last_status_change(session, item_id) if last is _UNREAD else last
    return [t for t in session.scalars(query) if change is None or t.told_at >= change.changed_at]


def _archived(session, item_id: str):
    """The history row that archived the item (the latest), or None when it was archived before history was kept."""
    return session.scalars(select(RoadmapStatusChange).where(RoadmapStatusChange.item_id == item_id,
                                                             RoadmapStatusChange.kind == "archived")
                           .order_by(RoadmapStatusChange.changed_at.desc(), RoadmapStatusChange.id.desc())).first()


def _store_told(session, item, status: str, account: str, draft: dict, told_by, note) -> FollowupTold:
    row = Draft(request_id=f"followup:{item.id}"[:200], question=f"Follow-up: {item.title}", account=account,
                audience="customer", verdict=draft["verdict"], item_ids=draft["cited_item_ids"],
                evidence=draft["evidence"], text=draft["text"], mode=draft["mode"],
                prompt_version=draft["prompt_version"], model=draft["model"], latency_ms=None,
                warnings=draft["warnings"], checks=draft["checks"],
                extra={"followup": {"item_id": item.id, "status": status}})
    session.add(row)
    session.flush()
    # One row per (item, account, status): a stale mark (the item moved away and back since) is renewed in place.
    told = session.scalars(select(FollowupTold).where(FollowupTold.item_id == item.id, FollowupTold.account == account,
                                                      FollowupTold.status == status)).first()
    if told is None:
        told = FollowupTold(item_id=item.id, account=account, status=status)
        session.add(told)
    told.told_at, told.told_by, told.draft_id, told.note = utcnow(), told_by or None, row.id, note
    session.flush()
    return told


def _told_dict(t: FollowupTold) -> dict:
    return {"item_id": t.item_id, "account": t.account, "status": t.status, "told_at": t.told_at.isoformat(),
            "told_by": t.told_by, "draft_id": t.draft_id, "note": t.note}


def parse_since(value) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value).strip()[:10]) if len(str(value).strip()) == 10 else _bad(value)
    except ValueError:
        return _bad(value)


def _bad(value):
    raise FollowupInputError(f"since must be a date like 2026-06-01, not {str(value)[:40]!r}")
