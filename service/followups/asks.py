"""Which customer statements ask for which roadmap item: the Decision of every stored statement, cached.

A statement asks for an item when the roadmap's Decision for it cites the item (score >= 0.5); a note a person
linked to an item asks for it whatever its statements score. Nothing here ranks items or decides a verdict.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..models import Account, Note, RoadmapLink, Statement
from ..roadmap import decision as decisions
from ..themes.measure import parse_arr

# Items a statement's Decision ranks as Ranked objects: what is cited comes from the first two (two_asks); every
# item's score stays readable through StatementAsk.ranked.
TOP_K = 5
_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # services -> (key, [StatementAsk])
_lock = threading.Lock()


@dataclass(frozen=True)
class StatementAsk:
    statement_id: int
    text: str
    note_id: str  # the note's public id
    account: str | None
    at: datetime  # when the note was taken (else ingested)
    kind: str | None  # pain | praise | other (set by theme runs)
    cited: tuple  # ((item_id, score), ...) the Decision cites for this statement
    ranked: Mapping  # item_id -> calibrated score, every item

    def score_for(self, item_id: str) -> float:
        return float(self.ranked.get(item_id, 0.0))

    def asks_for(self, item_id: str) -> bool:
        """Does this statement ask for the item? Only when its Decision cites the item. Looser and stricter rules
        (any accepted item, a runner-up within a margin, a higher line per account, leaving out context or what is
        not a pain) were measured by `python -m eval.bench_followups` and none helped on two dev sets without
        hurting another (eval/README.md, "Follow-ups")."""
        return any(cited == item_id for cited, _ in self.cited)


def statement_asks(services) -> list[StatementAsk]:
    """Every stored statement with its Decision; recomputed only when the notes or the fitted matcher change."""
    fitted = decisions.get_matcher(services)
    with services.db.session() as session:
        state = session.execute(select(func.count(Statement.id), func.max(Statement.id),
                                       select(func.max(Note.updated_at)).scalar_subquery())).one()
        key = (getattr(services, "_roadmap_matcher", (None,))[0] if fitted is not None else None, tuple(state))
        with _lock:
            cached = _cache.get(services)
        if cached and cached[0] == key:
            return cached[1]
        rows = session.scalars(select(Statement).options(selectinload(Statement.note).selectinload(Note.account))
                               .order_by(Statement.id)).all()
        facts = [(s.id, s.text, s.note.public_id, s.note.account.name if s.note.account else None,
                  s.note.effective_at, s.kind) for s in rows]
    # Without a roadmap every statement is still listed (a brief shows pains), with nothing cited.
    # The statements' vectors come from the index (embedding 60,000 statements again took two minutes), and every
    # item's score is kept in one array rather than as a Ranked object per item and statement.
    vectors = _stored_vectors(services, facts) if fitted and facts else None
    requests = [{"id": str(f[0]), "text": f[1]} for f in facts]
    table: list = []
    found = (decisions.decide(services, requests, vectors=vectors, top_k=TOP_K, scores_out=table) if fitted
             else [None] * len(facts))
    for i in _boilerplate(services, facts, vectors):  # a rep's pasted line asks for nothing ("Let's sync next Tuesday")
        found[i] = None
    out = [StatementAsk(statement_id=f[0], text=f[1], note_id=f[2], account=f[3], at=f[4], kind=f[5],
                        cited=tuple((r.item_id, r.score) for r in d.cited) if d else (),
                        ranked=table[0].row(k) if d and table else {})
           for k, (f, d) in enumerate(zip(facts, found))]
    with _lock:
        _cache[services] = (key, out)
    return out


def _stored_vectors(services, facts):
    from types import SimpleNamespace

    from ..themes.run import load_vectors

    return load_vectors(services, [SimpleNamespace(id=f[0], text=f[1]) for f in facts])


def _boilerplate(services, facts, vectors=None) -> list[int]:
    """Statements that are one sentence pasted into several notes (account names masked) and read as context: the
    theme run's rule for a rep's boilerplate (`themes.context.pasted_context`), so the same lines that never form a
    theme never count as an account's ask either. Only repeated sentences are read, and only those whose account
    name was masked are embedded again (the others' vectors, when given, are the index's)."""
    from collections import Counter

    import numpy as np

    from ..themes.context import PASTED_MIN, normalised, pasted_context, without_account

    masked = [without_account(f[1], f[3]) for f in facts]
    counts = Counter(normalised(t) for t in masked)
    repeated = [i for i, t in enumerate(masked) if counts[normalised(t)] >= PASTED_MIN]
    if not repeated:
        return []
    texts = [masked[i] for i in repeated]
    if vectors is None:
        rows = np.asarray(services.embedder.embed(texts), dtype=np.float32)
    else:
        rows = np.array(vectors[repeated], dtype=np.float32)
        changed = [j for j, i in enumerate(repeated) if masked[i] != facts[i][1]]
        if changed:
            rows[changed] = services.embedder.embed([texts[j] for j in changed])
    return [repeated[j] for j in pasted_context(texts, rows, services.embedder)]


def linked_note_ids(services, item_id: str) -> set[str]:
    """Public ids of the notes a person linked to the item."""
    with services.db.session() as session:
        notes = session.scalars(select(Note).join(RoadmapLink, RoadmapLink.note_id == Note.id)
                                .where(RoadmapLink.item_id == item_id)).all()
        return {n.public_id for n in notes}


def account_facts(services) -> dict[str, dict]:
    """account -> {"arr", "deal_stage"} as stated by its most recent note that states each (notes' metadata)."""
    with services.db.session() as session:
        rows = session.execute(select(Note.meta, Note.occurred_at, Note.ingested_at, Note.id, Note.account_id)
                               .where(Note.account_id.is_not(None))).all()
        names = dict(session.execute(select(Account.id, Account.name)).all())
    out: dict[str, dict] = {}
    for meta, occurred, ingested, _id, account_id in sorted(rows, key=lambda r: (r[1] or r[2], r[3])):
        facts = out.setdefault(names[account_id], {"arr": None, "deal_stage": None})
        if (arr := parse_arr(meta)) is not None:
            facts["arr"] = arr
        stage = (meta or {}).get("deal_stage")
        if isinstance(stage, str) and stage.strip():
            facts["deal_stage"] = stage.strip()[:100]
    return out
