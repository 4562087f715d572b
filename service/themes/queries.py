"""Read-side theme functions shared by the CLI, the API, pages, roadmap coverage, drafts and reports."""
from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Note, Statement, Theme, ThemeMembership, ThemeRun, ThemeSnapshot
from .edits import history as edit_history, load_state
from .store_run import run_json, snapshot_json


class ThemeNotFound(LookupError):
    pass


def latest_run(session: Session) -> ThemeRun | None:
    return session.scalars(select(ThemeRun).order_by(ThemeRun.id.desc()).limit(1)).first()


def latest_run_json(session: Session) -> dict | None:
    run = latest_run(session)
    return run_json(session, run) if run else None


# A page of GET /api/v1/themes and `feedback themes list`: as many as a page of notes (and of the /themes page).
PER_PAGE = 50
NO_RUN = {"run_id": None, "themes": [], "unassigned_note_ids": [], "message": "no theme run yet"}


def run_page(run: dict | None, *, status: str | None = None, page: int = 1, per_page: int = PER_PAGE) -> dict:
    """The answer of GET /api/v1/themes and `feedback themes list --json`: the run's fields (latest_run_json, or
    NO_RUN) with its themes of `status` cut to one page, in the run's order; `total` counts those themes over every
    page. A year of data made 818 themes, 1.4 MB in one answer. `run` is left as it was."""
    answer = dict(run or NO_RUN)
    themes = [t for t in answer["themes"] if not status or t["status"] == status]
    answer["themes"] = themes[(page - 1) * per_page:page * per_page]
    return {**answer, "page": page, "per_page": per_page, "total": len(themes)}


_LATEST: dict = {}  # (database, run id, status) -> themes: a finished run never changes, so its themes can be kept


def latest_themes(session: Session, *, status: str | None = None) -> list[dict]:
    """The themes of the latest run as dicts (see snapshot_json), plus their centroid as a numpy vector.

    Kept per run (drafts, scores and pages ask on every request; decoding hundreds of snapshots each time was a
    large part of a draft's latency); callers get their own copies of the dicts."""
    run = latest_run(session)
    if run is None:
        return []
    key = (str(session.get_bind().url), run.id, run.seconds, run.n_assigned, status)
    if key not in _LATEST:
        if len(_LATEST) > 8:
            _LATEST.clear()
        _LATEST[key] = _load_latest(session, run, status)
    return [dict(t) for t in _LATEST[key]]


def _load_latest(session: Session, run: ThemeRun, status: str | None) -> list[dict]:
    rows = session.execute(
        select(ThemeSnapshot, Theme.centroid).join(Theme, Theme.id == ThemeSnapshot.theme_id)
        .where(ThemeSnapshot.run_id == run.id)
    ).all()
    out = []
    for snap, centroid in rows:
        if (status is None and snap.status == "hidden") or (status and snap.status != status):
            continue
        item = snapshot_json(snap)
        item["centroid"] = np.asarray(centroid, dtype=np.float32) if centroid else None
        item["run_id"] = run.id
        out.append(item)
    out.sort(key=lambda t: (t["status"] != "recurring", -t["accounts"], -t["mentions"], t["id"]))
    return out


def theme_detail(session: Session, theme_id: int) -> dict:
    """A theme as of the latest run it appeared in, with its history across runs."""
    theme = session.get(Theme, theme_id)
    if theme is None:
        raise ThemeNotFound(f"no theme with id {theme_id}")
    snaps = session.scalars(
        select(ThemeSnapshot).where(ThemeSnapshot.theme_id == theme_id).order_by(ThemeSnapshot.run_id)
    ).all()
    if not snaps:
        raise ThemeNotFound(f"theme {theme_id} has no runs")
    out = snapshot_json(snaps[-1])
    out["run_id"] = snaps[-1].run_id
    out["current"] = snaps[-1].run_id == (latest_run(session).id if latest_run(session) else None)
    out["history"] = [{"run_id": s.run_id, "mentions": s.mentions, "accounts": s.accounts, "trend": s.trend} for s in snaps]
    out["edits"] = edit_history(session, theme_id)
    out["hidden"] = snaps[-1].status == "hidden"
    out["parent_id"] = theme.parent_id
    out["merged_into_id"] = merged_into(session, theme)
    return out


def merged_into(session: Session, theme: Theme) -> int | None:
    """The theme this one's statements live in now, when it was merged away, else None: a PM's merges (the edits,
    which every run replays, followed as `EditState.resolve` does, as the theme page follows them) and the run's
    own lineage, which records only the merges it found itself. Chains are followed to their end (a -> b -> c is c);
    a lineage link is followed past the first theme only from themes missing from the latest run, since a theme in
    it holds its own statements whatever an older run recorded."""
    state = load_state(session)
    latest = latest_run(session)
    seen, here = {theme.id}, theme
    while True:
        step = state.merged.get(here.id)
        if step is None and here.merged_into_id is not None and (here is theme or not _in_run(session, here, latest)):
            step = here.merged_into_id
        if step is None or step in seen or (following := session.get(Theme, step)) is None:
            break
        seen.add(step)
        here = following
    return None if here is theme else here.id


def _in_run(session: Session, theme: Theme, run: ThemeRun | None) -> bool:
    return run is not None and session.scalar(select(ThemeSnapshot.theme_id).where(
        ThemeSnapshot.run_id == run.id, ThemeSnapshot.theme_id == theme.id)) is not None


def theme_statements(session: Session, theme_id: int, run_id: int | None = None, limit: int | None = None) -> list[dict]:
    """Member statements of a theme in a run (default: the latest run it appeared in), most central first."""
    if run_id is None:
        run_id = session.scalar(select(ThemeSnapshot.run_id).where(ThemeSnapshot.theme_id == theme_id)
                                .order_by(ThemeSnapshot.run_id.desc()).limit(1))
        if run_id is None:
            return []
    q = (
        select(Statement, Note, ThemeMembership.similarity)
        .join(ThemeMembership, ThemeMembership.statement_id == Statement.id)
        .join(Note, Note.id == Statement.note_id)
        .where(ThemeMembership.run_id == run_id, ThemeMembership.theme_id == theme_id)
        .order_by(ThemeMembership.similarity.desc(), Statement.id)
    )
    if limit:
        q = q.limit(limit)
    return [
        {"statement_id": st.id, "text": st.text, "note_id": note.public_id,
         "account": note.account.name if note.account else None, "date": note.effective_at.isoformat(),
         "similarity": sim}
        for st, note, sim in session.execute(q)
    ]


def theme_texts(session: Session, theme_id: int, limit: int = 50) -> list[str]:
    """Texts of a theme's most central statements: evidence for a roadmap item linked to the theme."""
    return [s["text"] for s in theme_statements(session, theme_id, limit=limit)]


def nearest_themes(session: Session, theme_id: int, n: int, include: tuple[int, ...] = ()) -> list[dict]:
    """The latest run's other visible themes most like this one, closest first, as {id, label, similarity}: the
    likely targets when a PM merges it or moves its statements (a list of every theme held 818 at a year of data).
    Similarity is the cosine of the centroids; themes without a comparable centroid follow, in the run's order.
    Themes in `include` (a choice the PM already made) are added after the n nearest when they are not among them."""
    here = session.get(Theme, theme_id)
    centre = np.asarray(here.centroid, dtype=np.float32) if here is not None and here.centroid else None
    others = [t for t in latest_themes(session) if t["id"] != theme_id]
    scored = [(_cosine(centre, t.get("centroid")), order, t) for order, t in enumerate(others)]
    scored.sort(key=lambda s: (s[0] is None, -(s[0] or 0.0), s[1]))
    chosen = scored[:n] + [s for s in scored[n:] if s[2]["id"] in include]
    return [{"id": t["id"], "label": t["label"], "similarity": None if sim is None else round(sim, 4)}
            for sim, _, t in chosen]


def _cosine(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    if a is None or b is None or a.shape != b.shape:
        return None
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm else None
