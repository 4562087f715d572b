"""The one ingest path behind the CLI and the API: validate -> dedupe -> split -> embed -> store.

SQL and the vector index change together: the SQL transaction commits only after the vectors are written,
and a failure on either side leaves what was stored before untouched.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from dataclasses import dataclass, field
from typing import Callable, Iterable

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from .. import locks
from ..models import Account, Note, Statement
from ..vectorstore import STATEMENTS
from .errors import IngestError, RowError
from .readers import ReaderError, RawRow, expand_paths, read_bytes, sniff_suffix
from .split import split_statements, split_with_speakers
from .validate import NoteInput, validate_row

Progress = Callable[[int], None]
log = logging.getLogger(__name__)
INTENT_FILE = "ingest.intent"  # in FEEDBACK_HOME while an ingest writes vectors it has not committed
# A note dated further ahead than this is a typo (2062 for 2026) until the caller says otherwise: one such date would
# otherwise sit at the top of every list and anchor every "last 30 days".
FUTURE_GRACE = timedelta(days=1)


@dataclass
class IngestReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    statements: int = 0
    note_ids: list[str] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "statements_embedded": self.statements, "note_ids": self.note_ids,
            "rejected": [e.as_dict() for e in self.rejected],
        }


def validate_rows(rows: Iterable[RawRow], source: str, max_chars: int, *, allow_future: bool = True,
                  future_hint: str | None = None) -> tuple[list[NoteInput], list[RowError]]:
    """Validated notes and every row's errors. With allow_future=False a date more than FUTURE_GRACE ahead of now is
    an error on the row's date field; `future_hint` is how this caller accepts such a date anyway ("--allow-future",
    "?allow_future=true"), named in the error, or None where there is no such option (the pages)."""
    notes, errors = [], []
    latest = datetime.now(timezone.utc).replace(tzinfo=None) + FUTURE_GRACE
    for row in rows:
        note, errs = validate_row(
            row.data, source, row.line, default_source=row.default_source, max_chars=max_chars, speakers=row.speakers
        )
        if note and not allow_future and note.occurred_at and note.occurred_at > latest:
            note, errs = None, [RowError(source, row.line, "date", future_date(note.occurred_at, future_hint))]
        if note:
            notes.append(note)
        errors.extend(errs)
    return notes, errors


def future_date(when: datetime, hint: str | None) -> str:
    fix = f"fix the date, or use {hint} if it is right" if hint else "check the date"
    return f"{when.date().isoformat()} is in the future (more than a day from now); {fix}"


def load_paths(paths: list[str], max_chars: int, stdin=None, *, stdin_format: str | None = None,
               allow_future: bool = True, future_hint: str | None = None) -> tuple[list[NoteInput], list[RowError]]:
    """Read and validate every input; returns the valid notes and all errors with file and line.

    Standard input is read as `stdin_format` (csv, jsonl, txt, ...) when given, else as its first bytes suggest."""
    notes: list[NoteInput] = []
    files, errors = expand_paths(paths)
    for path in files:
        source = "stdin" if path == "-" else str(path)
        try:
            if path == "-":
                raw = (stdin.read() if stdin is not None else b"")
                raw = raw.encode() if isinstance(raw, str) else raw
                suffix = f".{stdin_format}" if stdin_format else sniff_suffix(raw, source)
            else:
                suffix = path.suffix
                if not path.exists():
                    errors.append(RowError(source, None, None, "no such file or folder"))
                    continue
                raw = path.read_bytes()
            rows, row_errors = read_bytes(raw, source, suffix)
        except ReaderError as exc:
            errors.extend(exc.errors)
            continue
        except OSError as exc:  # a folder without read permission, a file that vanished, ...
            errors.append(RowError(source, None, None, f"cannot read it: {exc.strerror or exc}"))
            continue
        valid, invalid = validate_rows(rows, source, max_chars, allow_future=allow_future, future_hint=future_hint)
        notes.extend(valid)
        errors.extend(sorted(row_errors + invalid, key=lambda e: e.line or 0))
    return notes, errors


def _segments(note: NoteInput | Note, speakers: bool):
    return split_with_speakers(note.text) if speakers else split_statements(note.text)


def _account_ids(session: Session, names: set[str]) -> dict[str, int]:
    found = dict(session.execute(select(Account.name, Account.id).where(Account.name.in_(names))).all()) if names else {}
    for name in sorted(names - found.keys()):
        account = Account(name=name)
        session.add(account)
        session.flush()
        found[name] = account.id
    return found


def _chunks(items: list, size: int = 500):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _existing(session: Session, notes: list[NoteInput], account_ids: dict[str, int]):
    ext_ids = [n.external_id for n in notes if n.external_id]
    by_ext: dict[str, Note] = {}
    for part in _chunks(ext_ids):
        by_ext.update({n.external_id: n for n in session.scalars(select(Note).where(Note.external_id.in_(part)))})
    # A note stored without an id is shown (and found) by its internal number: an id equal to that number names
    # that note, so it updates it instead of adding a second note with the same visible id.
    numbers = {int(i): i for i in ext_ids if i not in by_ext and _internal_number(i)}
    for part in _chunks(list(numbers)):
        by_ext.update({numbers[n.id]: n for n in session.scalars(
            select(Note).where(Note.id.in_(part), Note.external_id.is_(None)))})
    hashes = [n.norm_hash for n in notes]
    by_norm: set[tuple[int | None, str]] = set()
    for part in _chunks(hashes):
        by_norm.update(session.execute(select(Note.account_id, Note.norm_hash).where(Note.norm_hash.in_(part))).all())
    return by_ext, by_norm


def _internal_number(note_id: str) -> bool:
    """Whether an id could be a note's internal number (as notes.find_note reads one)."""
    return note_id.isascii() and note_id.isdigit() and len(note_id) <= 18


def _renumber_clashes(session: Session, created: list[Note]) -> dict[int, Note]:
    """New notes without an id are shown by their internal number; where another note already has that number as
    its external id, the new note is stored again under the next number. Returns {id(old note): its replacement}.

    The replacement is inserted before the first copy is deleted, so neither SQLite nor a sequence hands the number
    out again at once."""
    replaced: dict[int, Note] = {}
    current = {id(n): n for n in created if n.external_id is None}
    while current:
        by_number = {str(n.id): key for key, n in current.items()}
        taken = set()
        for part in _chunks(list(by_number)):
            taken.update(session.scalars(select(Note.external_id).where(Note.external_id.in_(part))))
        if not taken:
            break
        nxt = {}
        for number in taken:
            key = by_number[number]
            old = current[key]
            new = Note()
            for column in ("external_id", "text", "account_id", "source", "author", "occurred_at", "meta",
                           "content_hash", "norm_hash"):
                setattr(new, column, getattr(old, column))
            session.add(new)
            session.flush()
            session.delete(old)
            session.flush()
            replaced[key], nxt[key] = new, new
        current = nxt
    return replaced


def statement_metadata(note: Note, account_name: str | None) -> dict:
    when = note.effective_at
    return {
        "note_id": note.id,
        "account": account_name or "",
        "source": note.source,
        "date": when.strftime("%Y-%m-%d"),
        "ts": int(when.timestamp()),
    }


def ingest_notes(services, notes: list[NoteInput], progress: Progress | None = None) -> IngestReport:
    """Store validated notes; dedupe by external id, then by normalised text within an account.

    The texts are known before the ingest lock is taken, so they are embedded first, outside it: racing ingests
    (note posts, batch jobs) wait for each other only while they check for duplicates and write, not while the
    model runs. Under the lock the plan is made again from what is stored then, so a race still gives one note
    per text or id; a statement text nobody embedded ahead (a note changed meanwhile) is embedded there.
    """
    report = IngestReport()
    segments = {id(item): _segments(item, item.speakers) for item in notes}
    known = embed_ahead(services, _maybe_fresh(services, notes, segments), progress)
    intent = Path(services.config.FEEDBACK_HOME) / INTENT_FILE
    with services.db.session() as session:
        try:
            locks.hold(session, "ingest")  # racing ingests take turns: one note per text or id, never an error
            repair_if_needed(services, session, crashed=_writer_died(intent))
            fresh, stale_ids = _plan(session, notes, report, segments)
            texts, ids, metas = _insert_statements(session, fresh)
            _write_intent(intent)  # a kill -9 from here to the commit leaves it: the next ingest repairs
            written = write_vectors(services, texts, ids, metas, progress, known=known)
            services.store.delete(STATEMENTS, stale_ids)
            try:
                session.commit()
            except Exception:
                services.store.delete(STATEMENTS, written)
                raise
            report.statements = len(ids)
        except BaseException:
            session.rollback()
            raise
        finally:
            intent.unlink(missing_ok=True)
    return report


def _maybe_fresh(services, notes: list[NoteInput], segments: dict[int, list]) -> list[str]:
    """The statement texts an ingest will probably store: those of notes that are not already stored unchanged.

    Read without the lock, so only a forecast (the plan under the lock decides); it keeps a re-ingest of a file
    from embedding what it will not store."""
    latest = {n.external_id: n for n in notes if n.external_id}
    with services.db.session() as session:
        names = {n.account for n in notes if n.account}
        account_ids = dict(session.execute(select(Account.name, Account.id).where(Account.name.in_(names))).all()) \
            if names else {}
        by_ext, by_norm = _existing(session, notes, account_ids)
        seen: set[tuple[str | None, str]] = set()
        texts: list[str] = []
        for item in notes:
            if item.external_id and latest[item.external_id] is not item:
                continue
            account_id = account_ids.get(item.account) if item.account else None
            existing = by_ext.get(item.external_id) if item.external_id else None
            if existing is not None:
                if _same(existing, item, account_id):
                    continue
            else:
                stored = (account_id, item.norm_hash) in by_norm and (account_id is not None or not item.account)
                if stored or (item.account, item.norm_hash) in seen:  # (a new account has nothing stored yet)
                    continue
                seen.add((item.account, item.norm_hash))
            texts += [seg.text for seg in segments[id(item)]]
    return texts


@dataclass
class Embedded:
    """Vectors by text: `vectors[index[text]]`."""
    index: dict[str, int]
    vectors: np.ndarray

    def rows(self, texts: list[str]) -> np.ndarray:
        return self.vectors[[self.index[t] for t in texts]]


def embed_ahead(services, texts: list[str], progress: Progress | None = None, chunk: int = 2048) -> Embedded:
    """Each distinct text embedded once, in length order (little padding per batch): call notes repeat
    themselves ("Thanks for the time today."). Progress counts statements, copies included."""
    copies: dict[str, int] = {}
    for text in texts:
        copies[text] = copies.get(text, 0) + 1
    distinct = sorted(copies, key=len)
    vectors = np.empty((len(distinct), services.embedder.dim), dtype=np.float32)
    for start in range(0, len(distinct), chunk):
        part = distinct[start : start + chunk]
        vectors[start : start + len(part)] = services.embedder.embed(part)
        if progress:
            progress(sum(copies[t] for t in part))
    return Embedded({t: i for i, t in enumerate(distinct)}, vectors)


def _writer_died(intent: Path) -> bool:
    """Did the ingest that left the intent file die? Not when its process lives: an ingest of this process (or of
    another one) removes its intent just after its commit has released the lock, so a racing ingest can see it.
    Reading that as a crash copied the whole index aside once per racing request (`repair_aside`)."""
    from ..index_guard import _alive

    try:
        text = intent.read_text().strip()
    except FileNotFoundError:
        return False
    return not (text.isdigit() and _alive(int(text)))


def _write_intent(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        handle.write(str(os.getpid()))
        handle.flush()
        os.fsync(handle.fileno())


def _plan(session: Session, notes: list[NoteInput], report: IngestReport, segments: dict[int, list] | None = None):
    """Decide per input: unchanged, update or create. Returns (note, account, segments) rows and stale vector ids."""
    account_ids = _account_ids(session, {n.account for n in notes if n.account})
    by_ext, by_norm = _existing(session, notes, account_ids)
    seen_norm: set[tuple[int | None, str]] = set()
    fresh: list[tuple[Note, str | None, list]] = []
    created: list[Note] = []
    updated_ids: list[int] = []
    latest = {n.external_id: n for n in notes if n.external_id}  # the last row for an id wins
    segments = segments if segments is not None else {id(n): _segments(n, n.speakers) for n in notes}
    for item in notes:
        if item.external_id and latest[item.external_id] is not item:
            continue
        account_id = account_ids.get(item.account) if item.account else None
        key = (account_id, item.norm_hash)
        existing = by_ext.get(item.external_id) if item.external_id else None
        if existing is not None:
            report.note_ids.append(existing.public_id)
            if _same(existing, item, account_id):
                report.unchanged += 1
                continue
            _apply(existing, item, account_id)
            updated_ids.append(existing.id)
            fresh.append((existing, item.account, segments[id(item)]))
            report.updated += 1
            continue
        if key in by_norm or key in seen_norm:
            report.unchanged += 1
            continue
        seen_norm.add(key)
        note = Note()
        _apply(note, item, account_id)
        session.add(note)
        created.append(note)
        fresh.append((note, item.account, segments[id(item)]))
        report.created += 1
    stale_ids: list[str] = []
    for part in _chunks(updated_ids):
        stale_ids += [f"s{i}" for i in session.scalars(select(Statement.id).where(Statement.note_id.in_(part)))]
        session.execute(delete(Statement).where(Statement.note_id.in_(part)))
    session.flush()
    replaced = _renumber_clashes(session, created)
    if replaced:
        created = [replaced.get(id(n), n) for n in created]
        fresh = [(replaced.get(id(n), n), account, segs) for n, account, segs in fresh]
    report.note_ids += [note.public_id for note in created]
    return fresh, stale_ids


def _insert_statements(session: Session, fresh) -> tuple[list[str], list[str], list[dict]]:
    """One bulk INSERT ... RETURNING for every new statement (the ORM's per-note lazy loads cost seconds)."""
    rows, metas = [], []
    for note, account_name, segments in fresh:
        meta = statement_metadata(note, account_name)
        for i, seg in enumerate(segments):
            rows.append({"note_id": note.id, "ordinal": i, "start": seg.start, "end": seg.end, "text": seg.text,
                         "speaker": seg.speaker})
            metas.append(meta)
    if not rows:
        return [], [], []
    new_ids = session.scalars(insert(Statement).returning(Statement.id, sort_by_parameter_order=True), rows).all()
    return [r["text"] for r in rows], [f"s{i}" for i in new_ids], metas


def write_vectors(services, texts, ids, metas, progress: Progress | None = None, chunk: int = 5000,
                  known: Embedded | None = None) -> list[str]:
    """Write one vector per statement to the index, taking those embedded ahead (`known`) and embedding the rest.

    Returns the ids written; on failure the ones already written are removed again.
    """
    if not texts:
        return []
    missing = [t for t in texts if known is None or t not in known.index]
    if missing:
        extra = embed_ahead(services, missing, progress)
        if known is not None:
            offset = len(known.vectors)
            known = Embedded({**known.index, **{t: offset + i for t, i in extra.index.items()}},
                             np.concatenate([known.vectors, extra.vectors]))
        else:
            known = extra
    written: list[str] = []
    try:
        for start in range(0, len(texts), chunk):
            part = slice(start, start + chunk)
            written += _add(services.store, ids[part], known.rows(texts[part]), metas[part])
    except BaseException:
        services.store.delete(STATEMENTS, written)
        raise
    return written


def _add(store, ids, vectors, metas) -> list[str]:
    # upsert, not add: a killed ingest can leave vectors under ids that SQL hands out again after its rollback,
    # and add() would silently keep those stale vectors (other text, other account)
    store.upsert(STATEMENTS, ids, vectors, metas)
    return ids


def _same(note: Note, item: NoteInput, account_id: int | None) -> bool:
    return (
        note.content_hash == item.content_hash and note.account_id == account_id and note.source == item.source
        and note.author == item.author and note.occurred_at == item.occurred_at and (note.meta or {}) == item.meta
    )


def _apply(note: Note, item: NoteInput, account_id: int | None) -> None:
    note.external_id = item.external_id
    note.text = item.text
    note.account_id = account_id
    note.source = item.source
    note.author = item.author
    note.occurred_at = item.occurred_at
    note.meta = item.meta
    note.content_hash = item.content_hash
    note.norm_hash = item.norm_hash


def ingest(services, notes: list[NoteInput], errors: list[RowError], *, skip_invalid: bool, progress=None) -> IngestReport:
    """Atomic by default: any invalid row rejects the whole input and nothing is stored."""
    if errors and not skip_invalid:
        raise IngestError(errors)
    report = ingest_notes(services, notes, progress) if notes else IngestReport()
    report.rejected = errors
    return report



def repair_if_needed(services, session: Session, crashed: bool = False) -> dict | None:
    """After a crash: with an ingest's intent file left behind in the embedded folder, copy the index aside without
    its orphans (`repair_aside`); with a Chroma server, or vectors and statements differing in number, remove the orphan vectors and embed what is
    missing in place. Two counts when nothing is wrong; run under the ingest lock."""
    from sqlalchemy import func

    from ..vectorstore import IndexDamagedError

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
    for part in _chunks(missing, 2048):
        rows = session.execute(select(Statement, Note, Account.name).join(Note, Statement.note_id == Note.id)
                               .outerjoin(Account, Note.account_id == Account.id).where(Statement.id.in_(part))).all()
        services.store.upsert(STATEMENTS, [f"s{st.id}" for st, _, _ in rows],
                              services.embedder.embed([st.text for st, _, _ in rows]),
                              [statement_metadata(note, name) for _, note, name in rows])
    return {"orphans_removed": len(orphans), "embedded": len(missing)}


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
