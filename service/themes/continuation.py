"""What a theme run continues from: the previous run over the same selection, its memberships, centres and labels,
the verdicts an incremental run keeps, and the labels of statements that are new since then."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Theme, ThemeMembership, ThemeRun, ThemeSnapshot
from . import stages
from .edits import EditState

if TYPE_CHECKING:
    from .run import RunOptions, Selected


def previous_run(session: Session, opts: RunOptions | None = None) -> ThemeRun | None:
    """The run this one continues: the latest over the same selection (window, account, source, --all), else the
    latest over every note, else the latest. A run over one account or one window holds part of the themes; a full
    run that continued from it gave every theme a new id, and the PM's edits (tied to ids) came apart with them."""
    from .run import RunOptions

    opts = opts or RunOptions()
    wanted = (opts.since, opts.until, opts.filters())
    runs = session.execute(select(ThemeRun.id, ThemeRun.since, ThemeRun.until, ThemeRun.filters)
                           .order_by(ThemeRun.id.desc())).all()
    if not runs:
        return None
    same = next((r.id for r in runs if (r.since, r.until, r.filters or {}) == wanted), None)
    whole = next((r.id for r in runs if (r.since, r.until, r.filters or {}) == (None, None, {})), None)
    return session.get(ThemeRun, same or whole or runs[0].id)


def previous_state(session: Session, run: ThemeRun | None):
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
class LastVerdicts:
    """What the run an incremental run continues from decided about statements it left out of every theme."""

    unassigned: set[int] = field(default_factory=set)  # kept as pains, in no theme
    not_a_pain: set[int] = field(default_factory=set)  # "other" (by the classifier, pasted context, copy, context)


def last_verdicts(session: Session, run: ThemeRun, sel: Selected, templates: list[str], opts: RunOptions,
                   edits: EditState) -> LastVerdicts:
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
    out = LastVerdicts(unassigned={sid for sid, theme in rows if theme is None})
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


def incremental_labels(stmts, vecs, previous, prev_centroids, threshold, new=None):
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


def kept_labels(clusters, members, stmts, theme_of, previous, prev_labels) -> dict[int, stages.Labelled]:
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
