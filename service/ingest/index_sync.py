"""Keeping the vector index in step with SQL, the source of truth: the intent file an ingest leaves while it writes
vectors it has not committed, the repair after a writer was killed, and the full rebuild (`feedback reindex`)."""
from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Callable

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Account, Note, Statement
from ..vectorstore import STATEMENTS, IndexDamagedError

Progress = Callable[[int], None]
log = logging.getLogger(__name__)


def statement_metadata(note: Note, account_name: str | None) -> dict:
    when = note.effective_at
    return {
        "note_id": note.id,
        "account": account_name or "",
        "source": note.source,
        "date": when.strftime("%Y-%m-%d"),
        "ts": int(when.timestamp()),
    }


def writer_died(intent: Path) -> bool:
    """Did the ingest that left the intent file die? Not when its process lives: an ingest of this process (or of
    another one) removes its intent just after its commit has released the lock, so a racing ingest can see it.
    Reading that as a crash copied the whole index aside once per racing request (`repair_aside`)."""
    from ..index_guard import _alive

    try:
        text = intent.read_text().strip()
    except FileNotFoundError:
        return False
    return not (text.isdigit() and _alive(int(text)))


def write_intent(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        handle.write(str(os.getpid()))
        handle.flush()
        os.fsync(handle.fileno())


def repair_if_needed(services, session: Session, crashed: bool = False) -> dict | None:
    """After a crash: with an ingest's intent file left behind in the embedded folder, copy the index aside without
    its orphans (`repair_aside`); with a Chroma server, or vectors and statements differing in number, remove the orphan vectors and embed what is
    missing in place. Two counts when nothing is wrong; run under the ingest lock."""
    try:
        if crashed and not services.config.CHROMA_URL:
            # A writer died inside Chroma's write to the embedded folder: never write to that collection again
            # (`repair_aside`). A `chroma run` server owns its files; a killed client cannot leave them half-written.
            return repair_aside(services)
        if not crashed and services.store.count(STATEMENTS) == (session.scalar(select(func.count(Statement.id))) or 0):
            return None
        return repair(services, session)
    except Exception as exc:
        if not crashed and not isinstance(exc, IndexDamagedError):
            raise
        # A kill -9 mid-write can leave Chroma's segment unable to replay its log, so that every later read and
        # write fails ("Failed to apply logs to the hnsw segment writer", chroma-core/chroma#7678); SQL is the
        # source of truth, so rebuild the index from it into a new collection and swap, as `feedback reindex` does.
        log.warning("the vector index could not be repaired (%s); rebuilding it from SQL", exc)
        return {"rebuilt": reindex(services)}


def repair(services, session: Session) -> dict:
    """Make the index match SQL: delete vectors of no statement, embed statements without a vector."""
    known = {f"s{i}" for i in session.scalars(select(Statement.id))}
    indexed = set(services.store.ids(STATEMENTS))
    orphans = sorted(indexed - known)
    services.store.delete(STATEMENTS, orphans)
    missing = sorted(int(i[1:]) for i in known - indexed)
    for start in range(0, len(missing), 2048):
        part = missing[start : start + 2048]
        rows = session.execute(select(Statement, Note, Account.name).join(Note, Statement.note_id == Note.id)
                               .outerjoin(Account, Note.account_id == Account.id).where(Statement.id.in_(part))).all()
        services.store.upsert(STATEMENTS, [f"s{st.id}" for st, _, _ in rows],
                              services.embedder.embed([st.text for st, _, _ in rows]),
                              [statement_metadata(note, name) for _, note, name in rows])
    return {"orphans_removed": len(orphans), "embedded": len(missing)}


def _one_rebuild_at_a_time(build):
    """Rebuilds share the collection they build into (`statements_rebuild`) and each starts by emptying it: two at
    once (two reindex jobs on the server's pool) emptied each other's and one failed on the swap. A file lock in
    FEEDBACK_HOME makes them take turns, across threads and the processes of one home; ingests do not wait."""
    @functools.wraps(build)
    def one_at_a_time(services, *args, **kwargs):
        from filelock import FileLock

        home = Path(services.config.FEEDBACK_HOME)
        home.mkdir(parents=True, exist_ok=True)
        with FileLock(str(home / "rebuild.lock")):
            return build(services, *args, **kwargs)

    return one_at_a_time


@_one_rebuild_at_a_time
def repair_aside(services, batch: int = 4096) -> dict:
    """Make the index match SQL after a writer was killed inside Chroma's write, without writing to the collection
    it was writing: a new collection gets the old one's vectors of statements SQL still holds (read back, not
    embedded again) and the missing ones embedded, then replaces it, as `reindex` does.

    Why not delete the orphans in place (`repair`): a kill -9 mid-write can leave the collection's files in a
    state that reads fine (the probe of `index_guard` passes) yet crashes the next write with SIGSEGV, which no
    except catches (seen once in the kill test on a loaded machine: the next ingest died with signal 11)."""
    store = services.store
    building = f"{STATEMENTS}_rebuild"
    store.reset(building)
    copied = embedded = 0
    with services.db.session() as session:
        last_id = 0
        while True:
            rows = session.execute(
                select(Statement, Note, Account.name).join(Note, Statement.note_id == Note.id)
                .outerjoin(Account, Note.account_id == Account.id)
                .where(Statement.id > last_id).order_by(Statement.id).limit(batch)
            ).all()
            if not rows:
                break
            ids = [f"s{st.id}" for st, _, _ in rows]
            found_ids, found, _ = store.get(STATEMENTS, ids, metadatas=False)
            have = dict(zip(found_ids, range(len(found_ids))))
            lacking = [k for k, i in enumerate(ids) if i not in have]
            vectors = np.empty((len(ids), services.embedder.dim), np.float32)
            for k, i in enumerate(ids):
                if i in have:
                    vectors[k] = found[have[i]]
            if lacking:
                vectors[lacking] = services.embedder.embed([rows[k][0].text for k in lacking])
            store.add(building, ids, vectors, [statement_metadata(note, name) for _, note, name in rows])
            copied += len(ids) - len(lacking)
            embedded += len(lacking)
            last_id = rows[-1][0].id
    store.count(building)  # exists even when SQL holds no statement
    store.rename(building, STATEMENTS)
    return {"copied": copied, "embedded": embedded}


@_one_rebuild_at_a_time
def reindex(services, progress: Progress | None = None, batch: int = 4096) -> int:
    """Rebuild the statement collection from SQL, the source of truth, into a new collection that replaces the old
    one only when complete: a killed reindex leaves the old index in place."""
    store = services.store
    building = f"{STATEMENTS}_rebuild"
    store.reset(building)
    total = 0
    with services.db.session() as session:
        last_id = 0
        while True:
            rows = session.execute(
                select(Statement, Note, Account.name)
                .join(Note, Statement.note_id == Note.id)
                .outerjoin(Account, Note.account_id == Account.id)
                .where(Statement.id > last_id)
                .order_by(Statement.id)
                .limit(batch)
            ).all()
            if not rows:
                break
            vectors = services.embedder.embed([st.text for st, _, _ in rows])
            store.add(
                building, [f"s{st.id}" for st, _, _ in rows], vectors,
                [statement_metadata(note, name) for _, note, name in rows],
            )
            total += len(rows)
            last_id = rows[-1][0].id
            if progress:
                progress(len(rows))
    store.count(building)  # exists even when SQL holds no statement
    store.rename(building, STATEMENTS)
    return total
