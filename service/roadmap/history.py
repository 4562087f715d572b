"""The roadmap's status history: every import or edit records each item's status and release changes.

Recorded in the import's own transaction, so an import that fails records nothing and one that succeeds cannot
lose its history. Reading it answers "what moved since DATE" for follow-ups, briefs and the nightly report.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import RoadmapItem, RoadmapStatusChange, utcnow
from ..notes import NotFound

MAX_SOURCE = 500
# Kinds that can change an item's status: an archived item can come back in the export with a new one ("restored
# planned -> shipped" is a move its askers must hear about, like any "changed").
MOVES = ("changed", "restored")


def record(session: Session, item: RoadmapItem | None, data: dict | None, source: str | None,
           kind: str | None = None, at: datetime | None = None) -> RoadmapStatusChange | None:
    """Add a history row when an item appears, changes status or release, is archived, restored or deleted.

    item: the stored row before the change (None when new); data: the validated values after it (None when
    deleted). Changes to other fields (title, description...) are not status history and record nothing."""
    old_status, old_release = (item.status, item.release) if item is not None else (None, None)
    new_status, new_release = (data["status"], data.get("release")) if data is not None else (old_status, old_release)
    if kind is None:
        if item is None:
            kind = "created"
        elif item.archived:
            kind = "restored"
        elif (old_status, old_release) != (new_status, new_release):
            kind = "changed"
        else:
            return None
    row = RoadmapStatusChange(item_id=(item.id if item is not None else data["id"]), kind=kind,
                              old_status=old_status, new_status=new_status if kind != "deleted" else None,
                              old_release=old_release, new_release=new_release if kind != "deleted" else None,
                              changed_at=at or utcnow(), source=(source or "")[:MAX_SOURCE] or None)
    session.add(row)
    return row


def change_dict(row: RoadmapStatusChange) -> dict:
    return {"id": row.id, "item_id": row.item_id, "kind": row.kind, "old_status": row.old_status,
            "new_status": row.new_status, "old_release": row.old_release, "new_release": row.new_release,
            "changed_at": row.changed_at.isoformat(), "source": row.source}


def item_history(services, item_id: str) -> list[dict]:
    """Every recorded change of one item, oldest first. NotFound when the item never existed."""
    with services.db.session() as session:
        rows = list(session.scalars(select(RoadmapStatusChange).where(RoadmapStatusChange.item_id == item_id)
                                    .order_by(RoadmapStatusChange.changed_at, RoadmapStatusChange.id)))
        if not rows and session.get(RoadmapItem, item_id) is None:
            raise NotFound(f"no roadmap item with id {item_id!r}")
        return [change_dict(r) for r in rows]


def last_status_change(session: Session, item_id: str) -> RoadmapStatusChange | None:
    """The latest change that set the item's current status (its creation when it never moved)."""
    rows = session.scalars(select(RoadmapStatusChange).where(RoadmapStatusChange.item_id == item_id)
                           .order_by(RoadmapStatusChange.changed_at.desc(), RoadmapStatusChange.id.desc())).all()
    moved = [r for r in rows if r.kind in MOVES and r.old_status != r.new_status]
    return moved[0] if moved else (rows[-1] if rows else None)


def moved_since(session: Session, since: datetime, until: datetime | None = None) -> list[dict]:
    """Items whose status changed after `since` (and before `until`): one row per item, from its first old status
    in the window to its current one; an item that moved and moved back is left out."""
    query = select(RoadmapStatusChange).where(RoadmapStatusChange.kind.in_(MOVES),
                                              RoadmapStatusChange.changed_at > since)
    if until is not None:
        query = query.where(RoadmapStatusChange.changed_at < until)
    rows = session.scalars(query.order_by(RoadmapStatusChange.changed_at, RoadmapStatusChange.id)).all()
    first: dict[str, RoadmapStatusChange] = {}
    last: dict[str, RoadmapStatusChange] = {}
    for r in rows:
        if r.old_status == r.new_status:
            continue  # a release change alone is not a move
        first.setdefault(r.item_id, r)
        last[r.item_id] = r
    out = []
    for item_id, start in first.items():
        end = last[item_id]
        if start.old_status == end.new_status:
            continue
        item = session.get(RoadmapItem, item_id)
        out.append({"item_id": item_id, "title": item.title if item is not None else None,
                    "old_status": start.old_status, "new_status": end.new_status,
                    "release": item.release if item is not None else end.new_release,
                    "changed_at": end.changed_at.isoformat()})
    out.sort(key=lambda r: (r["changed_at"], r["item_id"]), reverse=True)
    return out
