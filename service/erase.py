"""Erasure: an account's notes and every derived copy go, and then the bytes go.

`erase_account` removes the account's notes, statements, vectors and the account row; deletes the drafts that
quote or concern it; redacts theme snapshots, themes and stored reports (re-rendered from the redacted data) and
rewrites or removes `reports/latest.*`. `compact` then makes deleted rows unrecoverable from the files: SQLite
VACUUM and a WAL checkpoint, and the embedded Chroma index rebuilt into a fresh folder that replaces the old one
(Chroma keeps deleted vectors in its write-ahead log and index files).

What counts as a copy: a dict carrying an erased note id, or any text holding the account name, an erased
statement, or a word that only the erased notes (or their authors and metadata) ever used.

The rows are committed before the files are compacted: when compacting fails, the erasure has still happened, and
`CompactionFailed` (an account) or a "not compacted" result (retention) says so and names the command that finishes
it (`feedback compact`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, select, text, update

from . import locks
from . import accounts
from .ingest.index_sync import _one_rebuild_at_a_time, repair
from .models import (Account, AccountAlias, Draft, Note, Report, Statement, Theme, ThemeEdit, ThemeEvent, ThemeRun,
                     ThemeSnapshot)
from .vectorstore import STATEMENTS, VectorStoreError, open_in_this_process

log = logging.getLogger(__name__)
REDACTED = "[erased]"
WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)
FINISH = "feedback compact"  # finishes an erasure whose compaction failed (service.cli.erase)


class EraseError(LookupError):
    pass


class CompactionFailed(VectorStoreError):
    """The rows are erased and committed, but the files were not compacted, so erased text may still be read from
    them. `erased` is what the erasure removed (the counts its callers log). A VectorStoreError, as the swap refused
    by Chroma always was: the API answers 503 (a dependency of the erasure failed, not the request)."""

    def __init__(self, erased: dict, cause: BaseException):
        self.erased, self.cause = erased, cause
        super().__init__(f"the rows were erased ({erased.get('notes', 0)} note(s), {erased.get('statements', 0)} "
                         f"statement(s)), but the files were not compacted: {not_compacted(cause)}")


def not_compacted(cause: BaseException) -> str:
    """Why compacting failed, and how to finish: one line for a terminal, a job row or an API error."""
    lines = str(cause).strip().splitlines()
    return (f"{type(cause).__name__}: {lines[0] if lines else 'no message'}; erased text may remain in the database "
            f"and vector files until `{FINISH}` runs (with no web server or worker serving the embedded store)")


@dataclass
class Erased:
    """What one account's erasure removes, and the test for a derived copy of it."""

    name: str | None  # the erased account's name; None when notes are erased by age
    other_names: list[str] = field(default_factory=list)  # names merged into it (service.accounts aliases)
    note_ids: set[str] = field(default_factory=set)  # public and internal ids, as text
    texts: list[str] = field(default_factory=list)  # statements and notes, lower-cased
    words: set[str] = field(default_factory=set)  # words only the erased data used

    def touches(self, value) -> bool:
        if isinstance(value, dict):
            if str(value.get("note_id", "")) in self.note_ids:
                return True
            return any(self.touches(v) for v in value.values())
        if isinstance(value, (list, tuple)):
            return any(self.touches(v) for v in value)
        if isinstance(value, str):
            low = value.lower()
            return (any(n.lower() in low for n in self.names()) or any(t in low for t in self.texts)
                    or bool(self.words.intersection(WORD.findall(low))))
        return False

    def names(self) -> list[str]:
        return ([self.name] if self.name is not None else []) + self.other_names

    def is_account(self, written: str | None) -> bool:
        """Does a name written on a draft or a mark mean the erased account ("ACME corp." for "Acme Corp")?"""
        return bool(written) and bool(self.name is not None) and (
            written in self.names() or accounts.account_key(written) in {accounts.account_key(n) for n in self.names()})

    def scrub(self, value):
        """value without the parts that touch the erased data (list items dropped, texts replaced)."""
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v) for v in value if not (isinstance(v, (dict, str)) and self.touches(v))]
        if isinstance(value, str) and self.touches(value):
            return REDACTED
        return value


def fingerprint(name: str) -> str:
    """How the audit log names an erased account: never the name itself."""
    return "sha256:" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]


def _words(*texts) -> set[str]:
    return {w for t in texts if t for w in WORD.findall(str(t).lower())}


def _collect(session, notes: list[Note], account: Account | None) -> tuple[Erased, list[int], list[int]]:
    note_pks = [n.id for n in notes]
    statements = []
    for part in range(0, len(note_pks), 500):
        statements += session.scalars(select(Statement).where(Statement.note_id.in_(note_pks[part:part + 500])))
    erased = Erased(account.name if account else None,
                    accounts.names_of(session, account)[1:] if account is not None else [])
    erased.note_ids = {n.public_id for n in notes} | {str(n.id) for n in notes}
    erased.texts = sorted({s.text.lower() for s in statements if len(s.text) >= 12}, key=len, reverse=True)
    own = _words(*erased.names(), *(n.text for n in notes), *(n.author for n in notes),
                 *(json.dumps(n.meta or {}, ensure_ascii=False) for n in notes))
    others = set()
    gone = set(note_pks)
    for row in session.execute(select(Note.id, Note.text, Note.author, Note.meta)):
        if row.id not in gone:
            others |= _words(row.text, row.author, json.dumps(row.meta or {}, ensure_ascii=False))
    others |= _words(*session.scalars(select(Account.name).where(Account.id != (account.id if account else -1))))
    erased.words = own - others
    return erased, note_pks, [s.id for s in statements]


def _redact_derived(session, erased: Erased) -> dict:
    counts = {"drafts_deleted": 0, "theme_snapshots_redacted": 0, "themes_redacted": 0, "reports_redacted": 0}
    for draft in session.scalars(select(Draft)):
        if erased.is_account(draft.account) or erased.touches(
                [draft.question, draft.text, draft.evidence, draft.extra, draft.checks, draft.warnings]
                + [[f.edited_text, f.comment] for f in draft.feedback]):
            session.delete(draft)
            forget_drafts(session, [draft.id])
            counts["drafts_deleted"] += 1
    if erased.name is not None:  # "told about an item" marks name the account (issue 17)
        from .models import FollowupTold

        for mark in session.scalars(select(FollowupTold)).all():
            if erased.is_account(mark.account):
                session.delete(mark)
    for snap in session.scalars(select(ThemeSnapshot)):
        fields = ("label", "keywords", "account_names", "quotes", "note_ids")
        if any(erased.touches(getattr(snap, f)) for f in fields):
            for f in fields:
                setattr(snap, f, erased.scrub(getattr(snap, f)))
            counts["theme_snapshots_redacted"] += 1
    for theme in session.scalars(select(Theme)):
        if erased.touches(theme.label):
            theme.label = REDACTED
            counts["themes_redacted"] += 1
    for edit in session.scalars(select(ThemeEdit).where(ThemeEdit.label.is_not(None))):
        if erased.touches(edit.label):  # a pinned label: every later run would show it again
            edit.label = REDACTED
    for event in session.scalars(select(ThemeEvent)):
        if erased.touches(event.detail or ""):
            event.detail = REDACTED
    for run in session.scalars(select(ThemeRun)):
        if erased.touches(run.filters):
            run.filters = erased.scrub(run.filters)
    for report in session.scalars(select(Report)):
        if erased.touches([report.data, report.html, report.markdown]):
            _rerender(report, erased.scrub(report.data))
            counts["reports_redacted"] += 1
    return counts


def _rerender(report: Report, data: dict) -> None:
    from .reports.render import render_html, render_markdown

    report.data, report.html, report.markdown = data, render_html(data), render_markdown(data)


def account_exists(services, name: str) -> bool:
    """Checked before an erasure is queued, so a wrong name is an error now rather than a failed job later."""
    with services.db.session() as session:
        return session.scalar(select(Account.id).where(Account.name == name)) is not None


def no_such_account(services, name: str) -> str:
    """The error for a name no account has exactly: an erasure names its account exactly, and a spelling of a stored
    account ("acme corp" for "Acme Corp", service.accounts) is named as a hint, never erased."""
    with services.db.session() as session:
        return _no_such_account(session, name)


def _no_such_account(session, name: str) -> str:
    return accounts.no_such_account(session, name)


def erase_account(services, name: str, *, compact_files: bool = True) -> dict:
    """Erase an account by its exact name. EraseError when there is no such account."""
    with services.db.transaction() as session:
        locks.hold(session, "ingest")  # no ingest may add to the account while it is erased
        account = session.scalar(select(Account).where(Account.name == name))
        if account is None:
            raise EraseError(_no_such_account(session, name))
        notes = list(session.scalars(select(Note).where(Note.account_id == account.id)))
        result = {"account": fingerprint(name)} | _erase_notes(services, session, notes, account)
        session.execute(delete(AccountAlias).where(AccountAlias.account_id == account.id))  # its merged names
        session.delete(account)
    result["report_files"] = refresh_report_files(services)
    if compact_files:
        try:
            result["compacted"] = compact(services)
        except Exception as exc:
            raise CompactionFailed(result, exc) from exc
    return result


def erase_older_than(services, days: int, *, now=None, compact_files: bool = True) -> dict:
    """Retention (FEEDBACK_RETENTION_DAYS): erase notes whose date (else ingest time) is older than `days` days,
    with every derived copy, as an account erasure does. A compaction that fails does not raise: `compacted` then
    says "not compacted: why; how to finish", as it does when a server holds the store (reports.schedule). The
    nightly job runs this unattended; raising would cost the night's report, and its retry would find nothing left
    to erase and log nothing."""
    from datetime import timedelta

    from sqlalchemy import func

    from .models import utcnow

    cutoff = (now or utcnow()) - timedelta(days=days)
    with services.db.transaction() as session:
        locks.hold(session, "ingest")
        notes = list(session.scalars(select(Note).where(func.coalesce(Note.occurred_at, Note.ingested_at) < cutoff)))
        if not notes:
            return {"notes": 0, "cutoff": cutoff.isoformat(timespec="seconds")}
        result = {"cutoff": cutoff.isoformat(timespec="seconds")} | _erase_notes(services, session, notes, None)
    result["report_files"] = refresh_report_files(services)
    if compact_files:
        try:
            result["compacted"] = compact(services)
        except Exception as exc:
            result["compacted"] = f"not compacted: {not_compacted(exc)}"
            log.warning("retention: %s", result["compacted"])
    return result


def _erase_notes(services, session, notes: list[Note], account: Account | None) -> dict:
    erased, note_pks, statement_ids = _collect(session, notes, account)
    result = {"notes": len(note_pks), "statements": len(statement_ids)} | _redact_derived(session, erased)
    for part in range(0, len(note_pks), 500):
        session.execute(delete(Note).where(Note.id.in_(note_pks[part:part + 500])))
    session.flush()
    services.store.delete(STATEMENTS, [f"s{i}" for i in statement_ids])
    return result


def _delete_row(services, model, row_id: int, what: str) -> None:
    with services.db.transaction() as session:
        row = session.get(model, row_id)
        if row is None:
            raise EraseError(f"no {what} with id {row_id}")
        session.delete(row)


def delete_draft(services, draft_id: int) -> None:
    """The draft, its ratings (cascade), the roadmap links made from it and the "told" marks' pointers to it: they keep
    only the draft's number, and SQLite gives the newest draft's number out again, so a later draft would become the
    item's evidence, or the account's sent follow-up, in its place."""
    with services.db.transaction() as session:
        row = session.get(Draft, draft_id)
        if row is None:
            raise EraseError(f"no draft with id {draft_id}")
        session.delete(row)
        forget_drafts(session, [draft_id])


def forget_drafts(session, draft_ids: list[int]) -> None:
    """What points at deleted drafts by number only: links and rejections made from them go; a "told" mark stays,
    without its draft."""
    from .models import FollowupTold, RoadmapLink, RoadmapRejection

    if draft_ids:
        session.execute(delete(RoadmapLink).where(RoadmapLink.kind == "draft", RoadmapLink.draft_id.in_(draft_ids)))
        session.execute(delete(RoadmapRejection).where(RoadmapRejection.draft_id.in_(draft_ids)))
        session.execute(update(FollowupTold).where(FollowupTold.draft_id.in_(draft_ids)).values(draft_id=None))


def delete_report(services, report_id: int) -> None:
    _delete_row(services, Report, report_id, "report")
    refresh_report_files(services)


def refresh_report_files(services) -> str:
    """reports/latest.* show the newest stored report, or are removed when none is left."""
    from .reports.store import write_files

    folder = Path(services.config.FEEDBACK_HOME) / "reports"
    with services.db.session() as session:
        newest = session.scalars(select(Report).order_by(Report.updated_at.desc(), Report.id.desc())).first()
    if newest is not None:
        write_files(services, newest, folder)
        return "rewritten"
    for path in folder.glob("latest.*"):
        path.unlink()
    return "removed"


def compact(services) -> dict:
    """Make deleted rows unrecoverable: VACUUM and checkpoint SQLite, rebuild the embedded Chroma folder."""
    done = {}
    engine = services.db.engine
    if engine.dialect.name == "sqlite":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        done["sqlite"] = "vacuumed"
    elif engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM FULL"))
        done["postgresql"] = "vacuum full"
    done["vectors"] = rebuild_vector_folder(services)
    return done


def rebuild_vector_folder(services) -> str:
    """Copy every live vector into a fresh Chroma folder, built by a child process, and swap it in; then make the
    fresh folder match SQL for what changed meanwhile (`reconcile_index`). A Chroma server keeps its own files.

    Why reconcile after the swap rather than hold the ingest lock from the export to the swap: that lock is SQLite's
    write lock, and a rebuild can take a minute, past the busy timeout every other writer (an ingest, a note
    delete, a job's progress) would fail on. Writers go on instead, and what they changed in the folder being
    replaced (vectors added to it, or deleted from it after the export) is found by comparing id sets and repaired
    under the lock, which takes moments."""
    if services.config.CHROMA_URL:
        return "server: deleted vectors are left to the server's own compaction"
    collections = _rebuild_and_swap(services)
    done = f"rebuilt {collections} collection(s) in a fresh folder"
    raced = reconcile_index(services)
    if raced["embedded"] or raced["orphans_removed"]:
        done += (f"; reconciled with changes made during the rebuild: {raced['embedded']} vector(s) added, "
                 f"{raced['orphans_removed']} removed")
    return done


@_one_rebuild_at_a_time  # two compactions share the .rebuild and .export folders, and a reindex the collections
def _rebuild_and_swap(services) -> int:
    """The child leaves the HNSW files complete (service.vector_rebuild): this process, which held the erased text,
    then loads them as they are instead of rebuilding them and writing them anew with bytes of its memory."""
    import numpy as np

    config = services.config
    old = services.store
    names = old.collection_names()
    path = Path(config.CHROMA_PATH)
    fresh_path, export = path.with_name(path.name + ".rebuild"), path.with_name(path.name + ".export")
    for folder in (fresh_path, export):
        shutil.rmtree(folder, ignore_errors=True)
    export.mkdir(parents=True)
    try:
        for name in names:
            ids, vectors, metas = old.get(name)
            np.save(export / f"{name}.npy", np.asarray(vectors, dtype=np.float32))
            (export / f"{name}.json").write_text(json.dumps({"ids": ids, "metadatas": metas}), encoding="utf-8")
        build_in_child(export, fresh_path, config.CHROMA_COLLECTION_PREFIX, old.embedder_name)
    except BaseException:
        shutil.rmtree(fresh_path, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(export, ignore_errors=True)
    with services.store_closed():  # no thread of this process opens the folder until the fresh one is in place
        old.close()
        if open_in_this_process(str(path)):
            # Another client of this process (a second store on the folder, left open) keeps Chroma's system for
            # it alive: swapped, the service's next client would get that system back, bound to the old files.
            shutil.rmtree(fresh_path, ignore_errors=True)
            raise VectorStoreError(f"the vector folder {path} was not compacted: another Chroma client of this "
                                   "process still has it open; compact again once it is closed")
        retired = path.with_name(path.name + ".retired")
        shutil.rmtree(retired, ignore_errors=True)
        path.rename(retired)
        fresh_path.rename(path)
        shutil.rmtree(retired)
    return len(names)


def build_in_child(export: Path, fresh_path: Path, prefix: str, embedder_name: str | None) -> None:
    """Build the fresh folder from the export in a child process (service.vector_rebuild says why a child)."""
    import subprocess
    import sys

    try:
        subprocess.run([sys.executable, "-m", "service.vector_rebuild", str(export), str(fresh_path), prefix,
                        *([embedder_name] if embedder_name else [])],
                       check=True, capture_output=True, timeout=3600, cwd=str(Path(__file__).resolve().parents[1]))
    except subprocess.CalledProcessError as exc:  # its traceback is in stderr: the last line says what failed
        lines = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise VectorStoreError(f"the child process building the fresh vector folder {fresh_path} failed with exit "
                               f"code {exc.returncode}: {lines[-1] if lines else 'no message'}") from None


def reconcile_index(services) -> dict:
    """Make the statement index match SQL: embed and add the statements it lacks (an ingest that wrote its vectors
    to the folder a compaction replaced), delete the vectors of statements SQL no longer has (deleted after the
    export). Under the ingest lock, so an ingest that has written vectors but not yet committed its statements is
    waited for rather than taken for orphans. When nothing raced it only compares the two id sets (ids without
    vectors: a set difference at 100,000 statements) and writes nothing."""
    with services.db.transaction() as session:
        locks.hold(session, "ingest")
        return repair(services, session)
