"""Statements a person says are not about an item: an account's on the follow-ups page ("Not asking for this") or a
theme's on the theme page ("No" next to a matched item). Each is a rejection of the statements whose Decision cites
the item (service/roadmap/rejections.py), so they, and close copies of them in other notes, stop counting as asks
for it and stop voting for it in coverage."""
from __future__ import annotations

from sqlalchemy import select

from .. import locks
from ..accounts import canonical
from ..notes import NotFound
from ..roadmap.service import get_item
from . import asks as asks_mod
from .service import FollowupInputError


def not_asking(services, item_id: str, account: str, by: str | None = None) -> dict:
    """A person says this account's quotes are not about the item (a rep's boilerplate matched as an ask, or a pain
    of another item): the statements whose Decision cites the item are rejected for it, so they, and every other
    account's near copies of them (matcher.REJECTED_NEAR), stop counting as asks for it. A note a person linked to the
    item still counts: that link is theirs to take back. Returns {"account", "rejected": n, "statements": [...]}."""
    from ..roadmap.rejections import reject

    name = (account or "").strip()
    if not name:
        raise FollowupInputError("account is required")
    with services.db.session() as session:
        get_item(session, item_id)
        name = canonical(session, name)
    ids = [st.statement_id for st in asks_mod.statement_asks(services) if st.account == name and st.asks_for(item_id)]
    if not ids:
        raise NotFound(f"no statement of {name!r} is matched to {item_id}; nothing to reject (a note linked by a "
                       "person is taken back on the item's links)")
    done = reject(services, item_id, statement_ids=ids, created_by=by)
    return {"item_id": item_id, "account": name, "rejected": done["created"],
            "statements": [r["statement_id"] for r in done["rejections"]]}


def _statements_of(name: str):
    from ..models import Account, Note, Statement

    return (select(Statement.id).join(Note, Note.id == Statement.note_id).join(Account, Account.id == Note.account_id)
            .where(Account.name == name))


def rejected_for(services, item_id: str, account: str) -> bool:
    """Has a person said this account's quotes are not about the item (not_asking)?"""
    from ..models import RoadmapRejection

    with services.db.session() as session:
        return session.scalar(select(RoadmapRejection.id).where(
            RoadmapRejection.item_id == item_id,
            RoadmapRejection.statement_id.in_(_statements_of((account or "").strip()))).limit(1)) is not None


def theme_rejected(services, item_id: str, statement_ids: list[int]) -> bool:
    """Is any of these (a theme's) statements rejected for the item (theme_not_about)?"""
    from ..models import RoadmapRejection

    with services.db.session() as session:
        return session.scalar(select(RoadmapRejection.id).where(
            RoadmapRejection.item_id == item_id, RoadmapRejection.statement_id.in_(statement_ids)).limit(1)) is not None


def theme_not_about(services, item_id: str, statement_ids: list[int], by: str | None = None) -> dict:
    """A PM's "No" to "is this the right item?" on a theme page: the theme's statements whose Decision cites the item
    are rejected for it, so the theme's quotes (and its label, when it is one of them) stop voting for the item in
    coverage, and their accounts stop counting as asks for it. Returns {"rejected": n, "statements": [...]}."""
    from ..roadmap.rejections import reject

    mine = set(statement_ids)
    ids = [st.statement_id for st in asks_mod.statement_asks(services)
           if st.statement_id in mine and st.asks_for(item_id)]
    if not ids:
        return {"rejected": 0, "statements": []}
    done = reject(services, item_id, statement_ids=ids, created_by=by)
    return {"rejected": done["created"], "statements": [r["statement_id"] for r in done["rejections"]]}


def asking_again(services, item_id: str, account: str) -> dict:
    """Undo not_asking: the rejections of this account's statements for the item go."""
    from sqlalchemy import delete

    from ..models import RoadmapRejection

    name = (account or "").strip()
    if not name:
        raise FollowupInputError("account is required")
    with services.db.transaction() as session:
        locks.hold(session, "roadmap")
        get_item(session, item_id)
        gone = session.execute(delete(RoadmapRejection).where(RoadmapRejection.item_id == item_id,
                                                              RoadmapRejection.statement_id.in_(_statements_of(name))))
        if not gone.rowcount:
            raise NotFound(f"nothing of {name!r} is rejected for {item_id}")
        return {"item_id": item_id, "account": name, "taken_back": gone.rowcount}
