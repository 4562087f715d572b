"""Read-side note functions shared by the CLI and the API."""
from __future__ import annotations

import json
import re
from datetime import datetime, time

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session, selectinload

from . import locks
from .accounts import named
from .ingest.validate import parse_date
from .models import Account, Note, Statement, ThemeSnapshot, row_number
from .vectorstore import STATEMENTS


class NotFound(LookupError):
    pass


def note_dict(note: Note, *, statements: bool = False) -> dict:
    out = {
        "id": note.public_id,
        "internal_id": note.id,
        "external_id": note.external_id,
        "account": note.account.name if note.account else None,
        "source": note.source,
        "author": note.author,
        "date": note.occurred_at.isoformat() if note.occurred_at else None,
        "ingested_at": note.ingested_at.isoformat(),
        "metadata": note.meta or {},
        "text": note.text,
    }
    if statements:
        out["statements"] = [
            {"id": s.id, "ordinal": s.ordinal, "start": s.start, "end": s.end, "text": s.text,
             "speaker": s.speaker, "kind": s.kind}
            for s in note.statements
        ]
    return out


def find_note(session: Session, note_id: str) -> Note:
    """Look a note up by its external id, or by its internal id when it had none."""
    note = session.scalars(
        select(Note).options(selectinload(Note.statements), selectinload(Note.account)).where(Note.external_id == note_id)
    ).first()
    if note is None and (number := row_number(note_id)) is not None:
        note = session.get(Note, number)
        if note is not None and note.external_id and note.external_id != note_id:
            note = None  # an internal id only names notes that have no external id
    if note is None:
        raise NotFound(f"no note with id {note_id!r}")
    return note


def existing_note_ids(session: Session, note_ids) -> set[str]:
    """Which of these public ids still name a note (as find_note reads them), in one query: stored drafts and reports
    keep the ids of notes deleted since, and their pages must not link those."""
    wanted = {str(n) for n in note_ids if n is not None}
    numbers = {number for n in wanted if (number := row_number(n)) is not None}
    if not wanted:
        return set()
    rows = session.execute(select(Note.id, Note.external_id).where(
        Note.external_id.in_(wanted) | (Note.id.in_(numbers) & Note.external_id.is_(None)))).all()
    return {ext if ext is not None else str(pk) for pk, ext in rows}


def parse_filter_date(value: str | None, name: str, end_of_day: bool = False) -> datetime | None:
    """A filter's date. `end_of_day` (an "until"): a plain day means the whole day, as the pages' date pickers do,
    so "--until 2026-11-30" holds notes of 30 November 15:00 too (it meant midnight, and the last day was cut)."""
    if value in (None, ""):
        return None
    try:
        parsed = parse_date(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if end_of_day and isinstance(value, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
        return datetime.combine(parsed.date(), time.max)
    return parsed


def list_notes(session: Session, *, account=None, source=None, since=None, until=None, page=1, per_page=50):
    query = select(Note).options(selectinload(Note.account))
    count = select(func.count(Note.id))
    conditions = []
    if account:
        conditions.append(Note.account.has(named(account)))
    if source:
        conditions.append(Note.source == source)
    when = func.coalesce(Note.occurred_at, Note.ingested_at)
    if since:
        conditions.append(when >= since)
    if until:
        conditions.append(when <= until)
    for cond in conditions:
        query, count = query.where(cond), count.where(cond)
    total = session.scalar(count) or 0
    rows = session.scalars(query.order_by(when.desc(), Note.id.desc()).offset((page - 1) * per_page).limit(per_page)).all()
    return rows, total


def stats(services, *, with_vectors: bool = True) -> dict:
    with services.db.session() as session:
        out = {
            "notes": session.scalar(select(func.count(Note.id))) or 0,
            "statements": session.scalar(select(func.count(Statement.id))) or 0,
            "accounts": session.scalar(select(func.count(Account.id))) or 0,
        }
        out["by_source"] = dict(session.execute(select(Note.source, func.count(Note.id)).group_by(Note.source)).all())
    if with_vectors:
        out["vectors"] = services.store.count(STATEMENTS)
    out["vector_store"] = "server" if services.config.CHROMA_URL else "embedded"
    out["embedding_model"] = services.config.EMBEDDING_MODEL or "all-MiniLM-L6-v2"
    out["embedder"] = services.embedder_name
    return out


def list_accounts(session: Session) -> list[dict]:
    rows = session.execute(
        select(Account.name, func.count(Note.id), func.max(func.coalesce(Note.occurred_at, Note.ingested_at)))
        .outerjoin(Note, Note.account_id == Account.id)
        .group_by(Account.id)
        .order_by(Account.name)
    ).all()
    return [{"name": n, "notes": c, "last_note_at": last.isoformat() if last else None} for n, c, last in rows]



def delete_note_by_id(services, note_id: str) -> None:
    """Delete a note, its statements and their vectors, and its quotes in the stored themes. Roadmap links and theme
    memberships go with it by foreign key; the themes' snapshots hold its public id and text as JSON, so the theme
    pages went on quoting the deleted text and linking to a 404.

    Under the ingest lock, as erasure is: an ingest racing it (PostgreSQL lets both run) must not re-embed or link
    statements of this note while they are deleted."""
    with services.db.session() as session:
        locks.hold(session, "ingest")  # first: a SQLite transaction that read first cannot wait for the lock
        note = find_note(session, note_id)
        public_id = note.public_id
        vector_ids = [f"s{s.id}" for s in note.statements]
        session.delete(note)
        _forget_in_snapshots(session, public_id)
        session.flush()
        services.store.delete(STATEMENTS, vector_ids)
        session.commit()


def _forget_in_snapshots(session: Session, public_id: str) -> None:
    """Drop a deleted note's quotes and id from every theme snapshot that names it. The JSON's text finds the
    candidates (the id is stored as json.dumps writes it); the lists themselves decide."""
    named = cast(ThemeSnapshot.note_ids, Text).contains(json.dumps(public_id), autoescape=True)
    for snap in session.scalars(select(ThemeSnapshot).where(named)):
        if public_id in (snap.note_ids or []):
            snap.note_ids = [n for n in snap.note_ids if n != public_id]
            snap.quotes = [q for q in snap.quotes or [] if not (isinstance(q, dict) and q.get("note_id") == public_id)]
