"""A theme run: select statements -> classify -> cluster (or assign) -> lineage -> label -> measure -> store."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..models import Account, Note, Statement, Theme, ThemeEvent, ThemeMembership, ThemeRun, ThemeSnapshot
from ..models.base import utcnow
from ..vectorstore import STATEMENTS
from . import stages
from .edits import EditState, apply_to_clusters, load_state
from .lineage import match_previous
from .measure import Mention, measure, parse_arr


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
        q = q.where(Note.account.has(Account.name == opts.account))
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


def run_themes(services, opts: RunOptions | None = None, progress=None) -> dict:
    """`progress(done, total)`, if given, is called after each of the RUN_STEPS steps (a job page shows it).

    Runs take turns (a file lock in FEEDBACK_HOME, shared by the CLI, the web server and workers on this host): two
    runs at once would both start from the same previous run, and the one that finished last would be the latest
    without the other's lineage or a PM's edit made in between. The second waits and starts from the first's
    result."""
    from filelock import FileLock

    opts = opts or RunOptions()
    if opts.since and opts.until and opts.since > opts.until:
        raise ThemeRunError(f"since ({opts.since:%Y-%m-%d}) is after until ({opts.until:%Y-%m-%d}); swap them or widen "
                            "the window", field="since")
    home = Path(services.config.FEEDBACK_HOME)
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / RUN_LOCK)):
        return _run_themes(services, opts, progress)


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
        prev_run = _previous_run(session, opts)
        previous, prev_centroids, prev_threshold, prev_labels = _previous_state(session, prev_run)
        incremental = opts.incremental and prev_run is not None
        verdict = _last_verdicts(session, prev_run, sel, templates, opts, edits) if incremental else _LastVerdicts()
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
            labels, fixed = _incremental_labels(stmts, vecs, previous, prev_centroids, prev_threshold,
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
        result = _store_run(services, session, run, sel, stmts, vecs, labels, fixed, previous, prev_centroids, opts,
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
    statements whose verdict an incremental run keeps (`_LastVerdicts.not_a_pain`), never adopted."""
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


# Statements per UPDATE of kinds and per insert of memberships (well under SQLite's 32,766 bound parameters).
_WRITE_CHUNK = 5000


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
        for start in range(0, len(group), _WRITE_CHUNK):
            part = group[start:start + _WRITE_CHUNK]
            session.execute(update(Statement).where(Statement.id.in_([st.id for st in part])).values(kind=kind),
                            execution_options={"synchronize_session": False})
            for st in part:
                set_committed_value(st, "kind", kind)


def _previous_run(session: Session, opts: RunOptions | None = None) -> ThemeRun | None:
    """The run this one continues: the latest over the same selection (window, account, source, --all), else the
    latest over every note, else the latest. A run over one account or one window holds part of the themes; a full
    run that continued from it gave every theme a new id, and the PM's edits (tied to ids) came apart with them."""
    opts = opts or RunOptions()
    wanted = (opts.since, opts.until, opts.filters())
    runs = session.execute(select(ThemeRun.id, ThemeRun.since, ThemeRun.until, ThemeRun.filters)
                           .order_by(ThemeRun.id.desc())).all()
    if not runs:
        return None
    same = next((r.id for r in runs if (r.since, r.until, r.filters or {}) == wanted), None)
    whole = next((r.id for r in runs if (r.since, r.until, r.filters or {}) == (None, None, {})), None)
    return session.get(ThemeRun, same or whole or runs[0].id)


def _previous_state(session: Session, run: ThemeRun | None):
    if run is None:
        return {}, {}, None, {}
    previous = dict(session.execute(
        select(ThemeMembership.statement_id, ThemeMembership.theme_id)
        .where(ThemeMembership.run_id == run.id, ThemeMembership.theme_id.is_not(None))
    ).all())
    themes = session.scalars(
        select(Theme).join(ThemeSnapshot, ThemeSnapshot.theme_id == Theme.id).where(ThemeSnapshot.run_id == run.id)
    ).all()
    centroids = {t.id: np.asarray(t.centroid, dtype=np.float32) for t in themes if t.centroid}
    snaps = session.scalars(select(ThemeSnapshot).where(ThemeSnapshot.run_id == run.id)).all()
    labels = {s.theme_id: stages.Labelled(s.label, list(s.keywords or []), [], s.label_source) for s in snaps}
    return previous, centroids, (run.params or {}).get("assign_threshold"), labels


@dataclass
class _LastVerdicts:
    """What the run an incremental run continues from decided about statements it left out of every theme."""

    unassigned: set[int] = field(default_factory=set)  # kept as pains, in no theme
    not_a_pain: set[int] = field(default_factory=set)  # "other" (by the classifier, pasted context, copy, context)


def _last_verdicts(session: Session, run: ThemeRun, sel: Selected, templates: list[str], opts: RunOptions,
                   edits: EditState) -> _LastVerdicts:
    """The verdicts an incremental run keeps, so that it judges only the statements that are new since `run`.

    Judged again, a statement the last run dropped as a copy (a sentence pasted into many notes) read as a pain
    and joined the nearest theme's centre, where no check looks; its unassigned neighbours, clustered without it,
    formed a theme of their own; the next full run undid both. A statement's stored kind is the verdict of the
    last run that judged it (None: never judged), so "other" outside `run`'s themes stays "other". A new statement
    that repeats a sentence judged so (account names masked, as the copy check compares them) gets the same
    verdict, as a full run judges a sentence's copies together. A PM's move overrules all of this (`_run_themes`)
    and speaks for the statement moved, not for its copies."""
    from .context import normalised

    rows = session.execute(select(ThemeMembership.statement_id, ThemeMembership.theme_id)
                           .where(ThemeMembership.run_id == run.id)).all()
    out = _LastVerdicts(unassigned={sid for sid, theme in rows if theme is None})
    if opts.include_all:  # every statement is clustered: no verdict to keep but "in no theme"
        return out
    kept = {sid for sid, _ in rows}
    dropped, pains, new = set(), set(), []
    for st, text in zip(sel.statements, templates):
        if st.id in edits.moved:
            continue
        if st.id in kept:
            pains.add(normalised(text))
        elif st.kind == "other":
            out.not_a_pain.add(st.id)
            dropped.add(normalised(text))
        else:  # never judged, or judged by a run over another selection: `run` did not see it
            new.append((st.id, normalised(text)))
    dropped -= pains  # a sentence some copy of which the last run kept is not judged by its other copies
    out.not_a_pain.update(sid for sid, key in new if key in dropped)
    return out


def _incremental_labels(stmts, vecs, previous, prev_centroids, threshold, new=None):
    """Known statements keep their theme; new ones join the nearest theme when close enough; the rest cluster.

    `new[i]`: the last run did not leave `stmts[i]` unassigned. A statement it left unassigned joins no theme's
    centre (a full run on the same statements leaves it out again) and makes a new theme only together with a new
    statement."""
    new = [True] * len(stmts) if new is None else new
    theme_ids = sorted(prev_centroids)
    centroid_matrix = np.stack([prev_centroids[t] for t in theme_ids]) if theme_ids else np.zeros((0, vecs.shape[1]))
    threshold = threshold if threshold is not None else stages.default_assign_threshold()
    labels = np.full(len(stmts), -1, dtype=np.int64)
    fixed: dict[int, int] = {}  # label -> theme id for labels that stand for existing themes
    for k, t in enumerate(theme_ids):
        fixed[k] = t
    rest = []
    assigned = stages.assign(vecs, centroid_matrix, threshold) if theme_ids else np.full(len(stmts), -1)
    for i, st in enumerate(stmts):
        if st.id in previous and previous[st.id] in prev_centroids:
            labels[i] = theme_ids.index(previous[st.id])
        elif assigned[i] >= 0 and new[i]:
            labels[i] = assigned[i]
        else:
            rest.append(i)
    if len(rest) >= 2:
        sub = stages.cluster(vecs[rest])
        with_new = {lab for i, lab in zip(rest, sub.tolist()) if lab >= 0 and new[i]}
        offset = len(theme_ids)
        for i, lab in zip(rest, sub.tolist()):
            labels[i] = offset + lab if lab in with_new else -1
    return labels, fixed


def _kept_labels(clusters, members, stmts, theme_of, previous, prev_labels) -> dict[int, stages.Labelled]:
    """Clusters that continue a theme with exactly the same statements keep its label and keywords: a label
    must not change because other themes moved (c-TF-IDF weighs a theme against its neighbours)."""
    before: dict[int, set[int]] = {}
    for sid, theme_id in previous.items():
        before.setdefault(theme_id, set()).add(sid)
    kept = {}
    for c in clusters:
        theme_id = theme_of.get(c)
        if theme_id in prev_labels and before.get(theme_id) == {stmts[i].id for i in members[c]}:
            kept[c] = prev_labels[theme_id]
    return kept


def _store_run(services, session, run, sel, stmts, vecs, labels, fixed, previous, prev_centroids, opts,
               prev_labels=None, edits: EditState | None = None) -> dict:
    clusters = sorted({int(l) for l in labels if l >= 0})
    members = {c: [i for i, l in enumerate(labels) if l == c] for c in clusters}
    centroids = {c: _unit(vecs[members[c]].mean(axis=0)) for c in clusters}
    if fixed:
        theme_of = {c: fixed.get(c) for c in clusters}
        lineage_events = []
    else:
        lineage = match_previous(labels, [s.id for s in stmts], previous, centroids, prev_centroids)
        theme_of = dict(lineage.cluster_to_theme)
        lineage_events = [("merged", old, [into]) for old, into in sorted(lineage.merged.items())]
        lineage_events += [("retired", old, []) for old in lineage.retired]
    if edits:  # a PM's merges and moves, then the clusters as they now stand
        apply_to_clusters(edits, labels, theme_of, [s.id for s in stmts])
        clusters = sorted({int(l) for l in labels if l >= 0})
        members = {c: [i for i, l in enumerate(labels) if l == c] for c in clusters}
        centroids = {c: _unit(vecs[members[c]].mean(axis=0)) for c in clusters}
        theme_of = {c: theme_of.get(c) for c in clusters}
    window_end, window_days = _window(sel, stmts, opts)
    mention_of = [_mention(sel, st) for st in stmts]
    texts = [s.text for s in stmts]
    snapshots = []
    all_labels = stages.label_clusters([[texts[i] for i in members[c]] for c in clusters],
                                       [vecs[members[c]] for c in clusters], services=services, use_llm=opts.use_llm)
    for c, old in _kept_labels(clusters, members, stmts, theme_of, previous, prev_labels or {}).items():
        fresh = all_labels[clusters.index(c)]
        fresh.label, fresh.keywords, fresh.source = old.label, old.keywords, old.source
    for c, labelled in zip(clusters, all_labels):
        if edits and theme_of.get(c) in edits.pinned:
            labelled.label, labelled.source = edits.pinned[theme_of[c]], "pinned"
    for c, labelled in zip(clusters, all_labels):
        idx = members[c]
        theme_id = theme_of.get(c)
        if theme_id is None:
            theme = Theme(created_run_id=run.id, last_run_id=run.id, label=labelled.label,
                          centroid=centroids[c].tolist(), parent_id=None if fixed else lineage.split_from.get(c))
            session.add(theme)
            session.flush()
            theme_id = theme.id
            kind = "split" if theme.parent_id else "new"
            session.add(ThemeEvent(run_id=run.id, kind=kind, theme_id=theme_id,
                                   other_ids=[theme.parent_id] if theme.parent_id else []))
        else:
            theme = session.get(Theme, theme_id)
            theme.last_run_id, theme.label, theme.centroid = run.id, labelled.label, centroids[c].tolist()
            session.add(ThemeEvent(run_id=run.id, kind="continued", theme_id=theme_id, other_ids=[]))
        theme_of[c] = theme_id
        figures = measure([mention_of[i] for i in idx], window_end, window_days)
        recurring = figures["mentions"] >= opts.min_mentions and figures["accounts"] >= opts.min_accounts
        quotes = [{"note_id": mention_of[idx[r]].note_id, "account": mention_of[idx[r]].account, "text": texts[idx[r]],
                   "statement_id": stmts[idx[r]].id} for r in labelled.representatives]
        note_ids = sorted({mention_of[i].note_id for i in idx}, key=_natural)
        snapshots.append(ThemeSnapshot(
            run_id=run.id, theme_id=theme_id, label=labelled.label, keywords=labelled.keywords,
            status="hidden" if edits and theme_id in edits.hidden else "recurring" if recurring else "emerging",
            quotes=quotes, note_ids=note_ids,
            label_source=labelled.source, **{k: v for k, v in figures.items()},
        ))
    for kind, old, others in lineage_events:
        session.add(ThemeEvent(run_id=run.id, kind=kind, theme_id=old, other_ids=others))
        if kind == "merged":
            session.get(Theme, old).merged_into_id = others[0]
    session.add_all(snapshots)
    for start in range(0, len(stmts), _WRITE_CHUNK):  # in chunks, not one list of every row
        session.bulk_insert_mappings(ThemeMembership, [
            {"run_id": run.id, "statement_id": st.id, "theme_id": theme_of.get(int(l)) if l >= 0 else None,
             "similarity": float(np.dot(vecs[i], centroids[int(l)])) if l >= 0 else None}
            for i, st, l in zip(range(start, len(stmts)), stmts[start:start + _WRITE_CHUNK],
                                labels[start:start + _WRITE_CHUNK].tolist())
        ])
    run.n_statements = len(stmts)
    run.n_assigned = int((labels >= 0).sum())
    run.params = dict(run.params, assign_threshold=stages.assign_threshold(vecs, labels, centroids))
    run.labeller = "llm" if any(s.label_source == "llm" for s in snapshots) else "offline"
    session.flush()
    return run_json(session, run)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n if n else v).astype(np.float32)


def _natural(note_id: str):
    return (0, int(note_id), "") if note_id.isascii() and note_id.isdigit() else (1, 0, note_id)


def _mention(sel: Selected, st: Statement) -> Mention:
    note = sel.notes[st.note_id]
    return Mention(st.id, note.public_id, sel.accounts.get(note.account_id), note.source, note.effective_at,
                   parse_arr(note.meta))


def _window(sel: Selected, stmts, opts) -> tuple[datetime, float]:
    """Trend compares the window with the one before it; without a window, the last 30 days of the data.

    The data's last day is its latest date that is not in the future: one note mistyped as 2062 would otherwise
    move every theme's window there (and every trend with it). With nothing but future dates, today."""
    now = utcnow()
    dates = (sel.notes[s.note_id].effective_at for s in stmts or sel.statements)
    latest = max((d for d in dates if d <= now + timedelta(days=1)), default=now)
    end = opts.until or latest
    if opts.trend_days:
        return end, float(opts.trend_days)
    if opts.since:
        return end, max(1.0, (end - opts.since) / timedelta(days=1))
    return end, 30.0


def snapshot_json(snap: ThemeSnapshot) -> dict:
    return {
        "id": snap.theme_id, "label": snap.label, "keywords": snap.keywords, "status": snap.status,
        "size": snap.mentions, "mentions": snap.mentions, "accounts": snap.accounts,
        "account_names": snap.account_names, "trend": snap.trend, "trend_counts": snap.trend_counts,
        "trend_window": _trend_window(snap.trend_counts),
        "sources": snap.sources, "first_seen": snap.first_seen.isoformat() if snap.first_seen else None,
        "last_seen": snap.last_seen.isoformat() if snap.last_seen else None, "arr": snap.arr,
        "timeline": snap.timeline, "label_source": snap.label_source,
        "quotes": [{k: q[k] for k in ("note_id", "account", "text")} for q in snap.quotes],
        "note_ids": snap.note_ids,
    }


def _trend_window(counts: dict | None) -> str | None:
    from datetime import date

    from .measure import window_text

    if not counts or not counts.get("window_end"):
        return None  # a snapshot stored before windows were recorded
    return window_text(date.fromisoformat(counts["window_end"]), counts["window_days"])


def run_json(session: Session, run: ThemeRun) -> dict:
    snaps = session.scalars(select(ThemeSnapshot).where(ThemeSnapshot.run_id == run.id)).all()
    hidden = [{"id": s.theme_id, "label": s.label} for s in sorted(snaps, key=lambda s: s.theme_id) if s.status == "hidden"]
    snaps = sorted((s for s in snaps if s.status != "hidden"),
                   key=lambda s: (s.status != "recurring", -s.accounts, -s.mentions, s.theme_id))
    assigned_notes = {n for s in snaps for n in s.note_ids}
    unassigned = session.execute(
        select(Note.id, Note.external_id).join(Statement, Statement.note_id == Note.id)
        .join(ThemeMembership, ThemeMembership.statement_id == Statement.id)
        .where(ThemeMembership.run_id == run.id, ThemeMembership.theme_id.is_(None))
    ).all()
    unassigned_ids = sorted({ext or str(i) for i, ext in unassigned} - assigned_notes, key=_natural)
    events = session.scalars(select(ThemeEvent).where(ThemeEvent.run_id == run.id, ThemeEvent.kind.in_(("split", "merged", "retired")))).all()
    windows = sorted({t["trend_window"] for t in (snapshot_json(s) for s in snaps[:1]) if t["trend_window"]})
    return {
        "run_id": run.id, "created_at": run.created_at.isoformat(), "mode": run.mode,
        "trend_window": windows[0] if windows else None,
        "statements": run.n_statements, "assigned": run.n_assigned,
        "unassigned_rate": round(1 - run.n_assigned / run.n_statements, 4) if run.n_statements else 0.0,
        "themes": [snapshot_json(s) for s in snaps],
        "hidden_themes": hidden,
        "unassigned_note_ids": unassigned_ids,
        "lineage": [{"kind": e.kind, "theme_id": e.theme_id, "other_ids": e.other_ids} for e in events],
    }
