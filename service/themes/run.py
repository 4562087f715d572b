"""A theme run: select statements -> classify -> cluster (or assign) -> lineage -> label -> measure -> store."""
from __future__ import annotations

import hashlib
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..accounts import named
from ..models import Account, Note, Statement, ThemeRun
from ..vectorstore import STATEMENTS
from . import stages
from .continuation import LastVerdicts, incremental_labels, last_verdicts, previous_run, previous_state
from .edits import load_state
from .store_run import WRITE_CHUNK, store_run


class ThemeRunError(ValueError):
    """The run cannot start (bad window, nothing to cluster); the message says what to do, `field` which option
    (since, until, all) when one is to blame."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass
class RunOptions:
    since: datetime | None = None
    until: datetime | None = None
    account: str | None = None
    source: str | None = None
    include_all: bool = False  # cluster every statement, not only pains and requests
    incremental: bool = False
    min_mentions: int = 3
    min_accounts: int = 2
    trend_days: float | None = None
    use_llm: bool = True

    def filters(self) -> dict:
        return {k: v for k, v in (("account", self.account), ("source", self.source), ("all", self.include_all or None)) if v}


@dataclass
class Selected:
    statements: list[Statement] = field(default_factory=list)
    notes: dict[int, Note] = field(default_factory=dict)
    accounts: dict[int, str] = field(default_factory=dict)


def select_statements(session: Session, opts: RunOptions) -> Selected:
    when = Note.occurred_at
    q = select(Statement, Note).join(Note, Statement.note_id == Note.id).order_by(Statement.id)
    if opts.account:
        q = q.where(Note.account.has(named(opts.account)))
    if opts.source:
        q = q.where(Note.source == opts.source)
    if opts.since:
        q = q.where((when >= opts.since) | ((when.is_(None)) & (Note.ingested_at >= opts.since)))
    if opts.until:
        q = q.where((when <= opts.until) | ((when.is_(None)) & (Note.ingested_at <= opts.until)))
    sel = Selected()
    for st, note in session.execute(q):
        sel.statements.append(st)
        sel.notes[note.id] = note
    sel.accounts = dict(session.execute(select(Account.id, Account.name)).all())
    return sel


def _templates(sel: Selected) -> list[str]:
    """Each statement's text with its note's own account name masked (`context.without_account`): copies and pasted
    sentences are recognised as templates, so a header filled in with each account is one pasted sentence."""
    from .context import without_account

    return [without_account(st.text, sel.accounts.get(sel.notes[st.note_id].account_id)) for st in sel.statements]


def load_vectors(services, statements: list[Statement]) -> np.ndarray:
    """Vectors from the index, in the order of `statements`; a statement missing there is embedded again (the
    next ingest writes its vector back)."""
    ids = [f"s{s.id}" for s in statements]
    got_ids, vecs, _ = services.store.get(STATEMENTS, ids, metadatas=False)
    index = {i: row for row, i in enumerate(got_ids)}
    pos = np.fromiter((index.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))
    del index
    if len(vecs) == len(ids) and np.array_equal(pos, np.arange(len(ids))):
        out = vecs  # the usual case: every vector found, in order; no second copy
    else:
        out = np.zeros((len(ids), services.embedder.dim), dtype=np.float32)
        found = pos >= 0
        out[found] = vecs[pos[found]]
    missing = np.flatnonzero(pos < 0).tolist()
    if missing:
        fresh = services.embedder.embed([statements[r].text for r in missing])
        out[missing] = fresh
    return out


RUN_STEPS = 6  # select, vectors, classify, cluster, label and store, commit: what `progress` counts


RUN_LOCK = "themes.lock"  # under FEEDBACK_HOME: one theme run at a time per installation folder
# On PostgreSQL, runs on several hosts (workers, `feedback schedule`) take turns too: an advisory lock of this app's own,
# the same number in every process (as db.MIGRATION_LOCK_KEY).
HOSTS_LOCK_KEY = int.from_bytes(hashlib.sha256(b"feedback-service:theme-run").digest()[:8], "big", signed=True)


def run_themes(services, opts: RunOptions | None = None, progress=None) -> dict:
    """`progress(done, total)`, if given, is called after each of the RUN_STEPS steps (a job page shows it).

    Runs take turns (a file lock in FEEDBACK_HOME, shared by the CLI, the web server and workers on this host; on
    PostgreSQL also an advisory lock, for the hosts that share the database): two runs at once would both start
    from the same previous run, and the one that finished last would be the latest without the other's lineage or
    a PM's edit made in between. The second waits and starts from the first's result."""
    from filelock import FileLock

    opts = opts or RunOptions()
    if opts.since and opts.until and opts.since > opts.until:
        raise ThemeRunError(f"since ({opts.since:%Y-%m-%d}) is after until ({opts.until:%Y-%m-%d}); swap them or widen "
                            "the window", field="since")
    home = Path(services.config.FEEDBACK_HOME)
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / RUN_LOCK)), _hosts_take_turns(services.db.engine):
        return _run_themes(services, opts, progress)


@contextmanager
def _hosts_take_turns(engine):
    """PostgreSQL: hold the theme-run advisory lock for the run, on a connection of its own (the lock goes with the
    transaction, so a process that dies mid-run frees it). SQLite is one host's file: the file lock is enough."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": HOSTS_LOCK_KEY})
        yield


def _run_themes(services, opts: RunOptions, progress) -> dict:
    started = time.perf_counter()
    step = (lambda done: progress(done, RUN_STEPS)) if progress else (lambda done: None)
    with services.db.session() as session:
        sel = select_statements(session, opts)
        if not sel.statements:
            raise ThemeRunError("no statements match this selection; ingest notes first or widen the window")
        step(1)
        vectors = load_vectors(services, sel.statements)
        step(2)
        scores = stages.class_scores([s.text for s in sel.statements], vectors, services.embedder)
        kinds = stages.decide(scores)
        templates = _templates(sel)
        if not opts.include_all:
            for i in stages.pasted_context(templates, vectors, services.embedder):
                kinds[i] = "other"
        edits = load_state(session)
        prev_run = previous_run(session, opts)
        previous, prev_centroids, prev_threshold, prev_labels = previous_state(session, prev_run)
        incremental = opts.incremental and prev_run is not None
        verdict = last_verdicts(session, prev_run, sel, templates, opts, edits) if incremental else LastVerdicts()
        for i, st in enumerate(sel.statements):
            if st.id in edits.moved:  # a PM's move decides the statement's kind
                kinds[i] = "pain" if edits.resolve(edits.moved[st.id]) is not None else "other"
            elif incremental and previous.get(st.id) in prev_centroids:  # what the last run put in a theme stays
                kinds[i] = "pain"
            elif st.id in verdict.not_a_pain:
                kinds[i] = "other"
        keep = [i for i, k in enumerate(kinds) if opts.include_all or k == "pain"]
        # Kinds are written after clustering, not here: a write takes SQLite's lock until the commit, and the job's
        # progress writes (another connection) would be skipped for the whole clustering.
        if not keep:
            _set_kinds(sel.statements, kinds)
            session.commit()
            raise ThemeRunError(
                f"none of the {len(sel.statements)} selected statements reads as a pain or request; "
                "use --all to cluster every statement", field="all"
            )
        step(3)
        stmts = [sel.statements[i] for i in keep]
        vecs = vectors[keep]
        if incremental:
            labels, fixed = incremental_labels(stmts, vecs, previous, prev_centroids, prev_threshold,
                                                [s.id not in verdict.unassigned for s in stmts])
        else:
            prior = np.array([previous.get(s.id, -1) for s in stmts], dtype=np.int64) if previous else None
            labels, fixed = stages.cluster(vecs, prior=prior), {}
        if not opts.include_all:
            keep, labels = _adopt_close_calls(sel.statements, kinds, scores, vectors, keep, labels,
                                              verdict.not_a_pain)
            keep, labels = _drop_context_themes(services, sel.statements, kinds, vectors, keep, labels, edits,
                                                set(fixed), templates, previous)
            if not keep:
                session.commit()
                raise ThemeRunError(f"none of the {len(sel.statements)} selected statements reads as a pain or request "
                                    "(what there is reads as small talk or account context); use --all to cluster "
                                    "every statement", field="all")
            stmts, vecs = [sel.statements[i] for i in keep], vectors[keep]
        _set_kinds(sel.statements, kinds)
        labels = labels.copy()
        step(4)
        run = ThemeRun(mode="incremental" if opts.incremental and prev_run else "full", since=opts.since,
                       until=opts.until, filters=opts.filters(),
                       params={"min_mentions": opts.min_mentions, "min_accounts": opts.min_accounts})
        session.add(run)
        session.flush()
        result = store_run(services, session, run, sel, stmts, vecs, labels, fixed, previous, prev_centroids, opts,
                            prev_labels, edits)
        step(5)
        run.seconds = round(time.perf_counter() - started, 3)
        session.commit()
        step(6)
        result["seconds"] = run.seconds
        return result


def _adopt_close_calls(statements, kinds, scores, vectors, keep, labels,
                       settled=frozenset()) -> tuple[list[int], np.ndarray]:
    """Non-pain statements that sit inside a pain theme and were a close call become pains in that theme
    (`stages.adopt`); returns the grown `keep` (indices into `statements`) and its labels. `settled`: ids of
    statements whose verdict an incremental run keeps (`LastVerdicts.not_a_pain`), never adopted."""
    rest = [i for i, k in enumerate(kinds) if k != "pain" and statements[i].id not in settled]
    adopted = stages.adopt(scores[rest], vectors[rest], vectors[keep], labels)
    label_of = dict(zip(keep, labels.tolist()))
    for i, lab in zip(rest, adopted.tolist()):
        if lab >= 0:
            kinds[i], label_of[i] = "pain", lab
    _set_kinds(statements, kinds)
    keep = sorted(label_of)
    return keep, np.array([label_of[i] for i in keep], dtype=np.int64)


def _drop_context_themes(services, statements, kinds, vectors, keep, labels, edits, existing=frozenset(),
                         templates=None, members=None):
    """Clusters that are nearly all small talk or account context are not themes: their statements become
    "other". A cluster that is mostly one pasted sentence is not a theme either: the copies become "other" and
    the rest of its statements stay pains, unassigned. A PM's move into a theme overrules both.

    The existing themes an incremental run assigns to (`existing` labels; `members`: statement -> theme of the
    last run) passed these checks when they were found, so only the copy check looks at them again, as they now
    stand: the copies it finds there that joined in this run go, the theme's own statements stay.
    `templates`: the statements' texts as copies are told apart (`_templates`), default their own texts."""
    from .context import normalised

    members = members or {}
    texts = [(templates[i] if templates is not None else statements[i].text) for i in keep]
    context = set(stages.context_clusters(vectors[keep], labels, services.embedder)) - set(existing)
    copies = {c: t for c, t in stages.copy_clusters(texts, labels).items() if c not in context}
    if not context and not copies:
        return keep, labels
    labels = labels.copy()
    stay = []
    for row, (i, lab) in enumerate(zip(keep, labels.tolist())):
        copy = lab in copies and normalised(texts[row]) == copies[lab]
        if statements[i].id in edits.moved or (lab in existing and (statements[i].id in members or not copy)):
            stay.append(row)
        elif lab in context or copy:
            kinds[i] = "other"
        else:
            stay.append(row)
            if lab in copies:
                labels[row] = -1
    _set_kinds(statements, kinds)
    return [keep[r] for r in stay], labels[stay]




def _set_kinds(statements: list[Statement], kinds: list[str]) -> None:
    """Store each statement's kind with one UPDATE per kind and chunk, in the run's transaction.

    Setting the attribute on each ORM object made the unit of work flush one UPDATE per statement and hold its
    bookkeeping for all of them at once: at 100,000 statements that flush was the run's peak memory (about
    2.1 GB, eval/README.md). The objects get the new value as their committed state, so they agree with the
    database without being marked dirty."""
    changed: dict[str, list[Statement]] = {}
    for st, kind in zip(statements, kinds):
        if st.kind != kind:
            changed.setdefault(kind, []).append(st)
    if not changed:
        return
    session = Session.object_session(statements[0])
    for kind, group in changed.items():
        for start in range(0, len(group), WRITE_CHUNK):
            part = group[start:start + WRITE_CHUNK]
            session.execute(update(Statement).where(Statement.id.in_([st.id for st in part])).values(kind=kind),
                            execution_options={"synchronize_session": False})
            for st in part:
                set_committed_value(st, "kind", kind)
