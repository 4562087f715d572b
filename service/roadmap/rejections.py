""""Not the right item": a draft's question or a customer statement that a person says is NOT about an item.

The matcher declines the item for requests that read as a rejected text (`matcher.REJECTED_NEAR`): the next rep who
asks the same question, or the next account whose note repeats the statement, does not get that item cited. A
rejection and a link of the same draft to the same item exclude each other: whichever was said last holds.
"""
from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .. import locks
from ..models import Draft, RoadmapLink, RoadmapRejection, Statement, row_number
from ..notes import NotFound


def rejection_dict(row: RoadmapRejection) -> dict:
    return {"item_id": row.item_id, "draft_id": row.draft_id, "statement_id": row.statement_id,
            "created_at": row.created_at.isoformat(), "created_by": row.created_by}


def reject(services, item_id: str, *, draft_id: int | None = None, statement_ids: list[int] | None = None,
           created_by: str | None = None) -> dict:
    """Reject a draft's question (and take back its link to the item, whoever made it), or statements, for an item.
    Idempotent. Returns {"rejections": [...], "created": n, "unlinked": bool}."""
    from .service import _check_draft, get_item

    if (draft_id is None) == (not statement_ids):
        raise ValueError("give a draft id or statement ids")
    with services.db.transaction() as session:
        locks.hold(session, "roadmap")  # as links: two identical rejections at once find each other's row
        get_item(session, item_id)
        unlinked = False
        if draft_id is not None:
            draft_id = _check_draft(session, draft_id)
            _check_names(session, item_id, draft_id)
            unlinked = session.execute(delete(RoadmapLink).where(RoadmapLink.item_id == item_id,
                                                                 RoadmapLink.draft_id == draft_id)).rowcount > 0
            targets = [("draft_id", draft_id)]
        else:
            found = set(session.scalars(select(Statement.id).where(Statement.id.in_(statement_ids))))
            if missing := [s for s in statement_ids if s not in found]:
                raise NotFound(f"no statement with id {missing[0]}")
            targets = [("statement_id", s) for s in dict.fromkeys(statement_ids)]
        rows, created = [], 0
        for column, value in targets:
            row = session.scalars(select(RoadmapRejection).where(RoadmapRejection.item_id == item_id,
                                                                 getattr(RoadmapRejection, column) == value)).first()
            if row is None:
                row = RoadmapRejection(item_id=item_id, created_by=created_by, **{column: value})
                session.add(row)
                created += 1
            rows.append(row)
        session.flush()
        return {"rejections": [rejection_dict(r) for r in rows], "created": created, "unlinked": unlinked}


def _check_names(session: Session, item_id: str, draft_id: int) -> None:
    """Only an item the draft cites, or a person linked it to, can be its wrong item (as the draft page offers No
    only for those): a rejection of any other item would decline it for questions no draft ever answered with it."""
    from .service import LinkError

    cited = session.get(Draft, draft_id).item_ids or []
    linked = session.scalar(select(RoadmapLink.id).where(RoadmapLink.item_id == item_id,
                                                         RoadmapLink.draft_id == draft_id))
    if item_id not in cited and linked is None:
        raise LinkError(f"draft {draft_id} does not cite {item_id} and is not linked to it; only an item a draft "
                        "cites (or was linked to) can be rejected for it")


def forget_draft_rejection(session: Session, item_id: str, draft_id: int) -> bool:
    """A "yes" after a "no": the link holds, the rejection goes (called by roadmap.service.link)."""
    return session.execute(delete(RoadmapRejection).where(RoadmapRejection.item_id == item_id,
                                                          RoadmapRejection.draft_id == draft_id)).rowcount > 0


def unreject(services, item_id: str, *, draft_id: int | None = None, statement_id: int | None = None) -> bool:
    """Take a rejection back. True when there was one."""
    column, value = ("draft_id", draft_id) if draft_id is not None else ("statement_id", statement_id)
    if row_number(value) is None:  # no row has it; PostgreSQL would refuse the comparison (a 500)
        return False
    with services.db.transaction() as session:
        locks.hold(session, "roadmap")
        gone = session.execute(delete(RoadmapRejection).where(RoadmapRejection.item_id == item_id,
                                                              getattr(RoadmapRejection, column) == value))
        return gone.rowcount > 0


def rejected_texts(session: Session) -> dict[str, list[str]]:
    """item id -> the texts rejected for it (a draft's question, a statement's text), oldest first."""
    rows = session.execute(select(RoadmapRejection.item_id, Draft.question, Statement.text)
                           .outerjoin(Draft, Draft.id == RoadmapRejection.draft_id)
                           .outerjoin(Statement, Statement.id == RoadmapRejection.statement_id)
                           .order_by(RoadmapRejection.id)).all()
    out: dict[str, list[str]] = {}
    for item_id, question, statement in rows:
        if question or statement:  # a rejected draft deleted since adds nothing
            out.setdefault(item_id, []).append(question or statement)
    return out


def drafts_rejected(session: Session, draft_id: int) -> set[str]:
    """The items this draft's question was rejected for."""
    return set(session.scalars(select(RoadmapRejection.item_id).where(RoadmapRejection.draft_id == draft_id)))
