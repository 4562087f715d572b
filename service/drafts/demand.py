"""How many accounts ask for the item a draft cites: the same figure however the question is worded.

Demand used to come from the statements most similar to the question, so "scim?" found 1 account and a long SCIM
question a theme of 19; one item, several answers. When the draft cites an item, its demand is the stored
statements the roadmap's Decision files under that item (accepted, best item), looked for among the statements
nearest each of the item's own texts (title, description, linked evidence), plus the notes a person linked to it:
the rule follow-ups use, over a bounded neighbourhood so a draft never decides every stored statement. Counted as
themes are counted (`themes.measure`): accounts, mentions, trend over the data's last 30 days, ARR.
"""
from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..models import Note, RoadmapLink, Statement
from ..models.base import utcnow
from ..roadmap import decision as decisions
from ..themes.measure import Mention, measure, parse_arr
from ..vectorstore import STATEMENTS
from .base import DraftItem
from .checks import status_claims

ITEM_NEIGHBOURS = 100  # statements nearest each of the item's texts whose Decision is read
TREND_DAYS = 30.0  # as a theme run without a window


def item_demand(services, item: DraftItem, account: str | None) -> dict | None:
    """{"label", "item_id", "accounts", "other_accounts", "mentions", "trend", "arr", "source": "item"} (zero counts
    when nothing stored asks for the item); None when the item is not on the fitted roadmap."""
    fitted = decisions.get_matcher(services)
    ids = [i.id for i in fitted.items] if fitted is not None else []
    if item.id not in ids:
        return None
    j = ids.index(item.id)
    queries = np.vstack([fitted.view_vectors[fitted.view_owner == j], fitted.anchors[j][None]])
    rows = services.store.query(STATEMENTS, queries, ITEM_NEIGHBOURS)  # a stopped index is a 503, not "no demand"
    near = sorted({int(sid[1:]) for found in rows for sid, _, _ in found if sid.startswith("s") and sid[1:].isdigit()})
    asking = _asking(services, item.id, near) if near else []
    with services.db.session() as session:
        statements = session.scalars(select(Statement).options(selectinload(Statement.note).selectinload(Note.account))
                                     .where(Statement.id.in_(asking))).all() if asking else []
        mentions = [_mention(st.id, st.note) for st in statements
                    if not any(kind == "instruction" for kind, _ in status_claims(st.text))]
        counted = {m.note_id for m in mentions}
        linked = session.scalars(select(Note).options(selectinload(Note.account)).join(
            RoadmapLink, RoadmapLink.note_id == Note.id).where(RoadmapLink.item_id == item.id)).all()
        mentions += [_mention(None, n) for n in linked if n.public_id not in counted]
        if not mentions:  # the item is cited, and no stored note asks for it yet: that is the figure
            return {"label": item.title, "item_id": item.id, "theme_id": None, "accounts": 0, "other_accounts": 0,
                    "mentions": 0, "trend": None, "arr": None, "source": "item"}
        figures = measure(mentions, _data_end(session), TREND_DAYS)
    others = [a for a in figures["account_names"] if a != account]
    return {"label": item.title, "item_id": item.id, "theme_id": None, "accounts": figures["accounts"],
            "other_accounts": len(others), "mentions": figures["mentions"], "trend": figures["trend"],
            "arr": figures["arr"], "source": "item"}


def _asking(services, item_id: str, statement_ids: list[int]) -> list[int]:
    """The statements whose Decision accepts the item as their best (evidence's rule, on stored vectors)."""
    from .evidence import _on_topic

    with services.db.session() as session:
        texts = session.execute(select(Statement.id, Statement.text).where(Statement.id.in_(statement_ids))).all()
    return [c["statement_id"] for c in _on_topic(services, [{"statement_id": sid, "text": text} for sid, text in texts],
                                                  [item_id])]


def _mention(statement_id: int | None, note: Note) -> Mention:
    return Mention(statement_id, note.public_id, note.account.name if note.account else None, note.source,
                   note.effective_at, parse_arr(note.meta))


def _data_end(session):
    """The data's last day that is not in the future (a mistyped 2062 must not move every trend), else today."""
    now = utcnow()
    latest = session.scalar(select(func.max(func.coalesce(Note.occurred_at, Note.ingested_at)))
                            .where(func.coalesce(Note.occurred_at, Note.ingested_at) <= now + timedelta(days=1)))
    return latest or now
