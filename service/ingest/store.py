"""The one ingest path behind the CLI and the API: validate -> dedupe -> split -> embed -> store.

SQL and the vector index change together: the SQL transaction commits only after the vectors are written,
and a failure on either side leaves what was stored before untouched.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from .. import locks
from ..accounts import account_key, stored_names
from ..models import Account, Note, Statement, row_number
from ..vectorstore import STATEMENTS
from .errors import IngestError, RowError
from .index_sync import reindex, repair_if_needed, statement_metadata, write_intent, writer_died  # noqa: F401 (reindex: re-exported)
from .readers import ReaderError, RawRow, expand_paths, read_bytes, sniff_suffix
from .split import split_statements, split_with_speakers
from .validate import NoteInput, validate_row

Progress = Callable[[int], None]
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
    accounts_filed: dict[str, str] = field(default_factory=dict)  # a spelling as written -> the account it filed under

    def as_dict(self) -> dict:
        return {
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "statements_embedded": self.statements, "note_ids": self.note_ids,
            "rejected": [e.as_dict() for e in self.rejected],
            "accounts_filed": [{"written": w, "account": a} for w, a in sorted(self.accounts_filed.items())],
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
            valid, invalid = load_bytes(raw, source, suffix, max_chars, allow_future=allow_future,
                                        future_hint=future_hint)
        except ReaderError as exc:
            errors.extend(exc.errors)
            continue
        except OSError as exc:  # a folder without read permission, a file that vanished, ...
            errors.append(RowError(source, None, None, f"cannot read it: {exc.strerror or exc}"))
            continue
        notes.extend(valid)
        errors.extend(invalid)
    return notes, errors


def load_bytes(raw: bytes, source: str, suffix: str, max_chars: int, *, defaults: dict | None = None,
               allow_future: bool = True, future_hint: str | None = None,
               budget=None) -> tuple[list[NoteInput], list[RowError]]:
    """One input's valid notes and its rows' errors, in line order: a file named on the command line, standard input
    or a file uploaded over HTTP (service.ingest.uploads). ReaderError when it cannot be read at all.

    `defaults` fill the fields a row leaves out or blank (the paste page's account, source and date); what a row
    says itself, in its front matter, column or key, wins. `budget`: what the documents of one upload may still
    take together (service.ingest.documents.Budget; None: each file on its own limits)."""
    rows, row_errors = read_bytes(raw, source, suffix, budget)
    if defaults:
        rows = [with_defaults(row, defaults) for row in rows]
    valid, invalid = validate_rows(rows, source, max_chars, allow_future=allow_future, future_hint=future_hint)
    return valid, sorted(row_errors + invalid, key=lambda e: e.line or 0)


def with_defaults(row: RawRow, defaults: dict) -> RawRow:
    """The row with each default for a field it does not give: missing, null or only white space."""
    given = {k: v for k, v in row.data.items() if v is not None and not (isinstance(v, str) and not v.strip())}
    missing = {k: v for k, v in defaults.items() if v is not None and k not in given}
    if not missing:
        return row
    return RawRow({**row.data, **missing}, row.line, speakers=row.speakers, default_source=row.default_source)


def _segments(note: NoteInput | Note, speakers: bool):
    return split_with_speakers(note.text) if speakers else split_statements(note.text)


def _file_accounts(session: Session, notes: list[NoteInput], report: IngestReport | None = None) -> None:
    """Each note's account as stored: a spelling of a stored account ("ACME corp." for "Acme Corp") takes its name,
    and spellings of a new one take the batch's first (`service.accounts`). Noted in the report when it differs."""
    for item in notes:
        if item.account and item.written_account is None:
            item.written_account = item.account
    stored = stored_names(session, {n.written_account for n in notes if n.account})
    first: dict[str, str] = {}
    for item in notes:
        if item.account:
            item.account = stored.get(item.written_account) or first.setdefault(account_key(item.written_account),
                                                                                item.written_account)
    if report is not None:  # made again under the lock: an account another ingest stored meanwhile counts
        report.accounts_filed = {n.written_account: n.account for n in notes
                                 if n.account and n.account != n.written_account}


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
    return row_number(note_id) is not None


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
            repair_if_needed(services, session, crashed=writer_died(intent))
            fresh, stale_ids = _plan(session, notes, report, segments)
            texts, ids, metas = _insert_statements(session, fresh)
            write_intent(intent)  # a kill -9 from here to the commit leaves it: the next ingest repairs
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
        _file_accounts(session, notes)  # the report's accounts_filed is made under the lock (_plan)
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


def _plan(session: Session, notes: list[NoteInput], report: IngestReport, segments: dict[int, list] | None = None):
    """Decide per input: unchanged, update or create. Returns (note, account, segments) rows and stale vector ids."""
    _file_accounts(session, notes, report)  # again under the lock: an account another ingest stored meanwhile
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
