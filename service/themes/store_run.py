"""Storing a theme run: themes (new, continued, split), their snapshots with figures, quotes and labels, lineage
events and memberships; and the run as JSON."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Note, Statement, Theme, ThemeEvent, ThemeMembership, ThemeRun, ThemeSnapshot
from ..models.base import utcnow
from . import stages
from .continuation import kept_labels
from .edits import EditState, apply_to_clusters
from .lineage import match_previous
from .measure import Mention, measure, parse_arr

if TYPE_CHECKING:
    from .run import Selected

# Statements per UPDATE of kinds and per insert of memberships (well under SQLite's 32,766 bound parameters).
WRITE_CHUNK = 5000


def store_run(services, session, run, sel, stmts, vecs, labels, fixed, previous, prev_centroids, opts,
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
    for c, old in kept_labels(clusters, members, stmts, theme_of, previous, prev_labels or {}).items():
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
    for start in range(0, len(stmts), WRITE_CHUNK):  # in chunks, not one list of every row
        session.bulk_insert_mappings(ThemeMembership, [
            {"run_id": run.id, "statement_id": st.id, "theme_id": theme_of.get(int(l)) if l >= 0 else None,
             "similarity": float(np.dot(vecs[i], centroids[int(l)])) if l >= 0 else None}
            for i, st, l in zip(range(start, len(stmts)), stmts[start:start + WRITE_CHUNK],
                                labels[start:start + WRITE_CHUNK].tolist())
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
