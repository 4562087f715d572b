"""A PM's edits of the themes: rename (the label is pinned), merge, move statements, hide.

Edits are stored (who and when) and replayed by every theme run after clustering and lineage, so they
survive re-runs: the run is the one place where themes are decided, and an edit is one more input to it.
Recording an edit re-runs the themes with the latest run's options; on unchanged data the partition is
identical (see cluster.cluster), so the edit is the only change a PM sees.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import locks
from ..models import Job, Statement, Theme, ThemeEdit, ThemeMembership, ThemeRun, ThemeSnapshot

EDIT_KINDS = ("rename", "merge", "move", "hide", "unhide")
MAX_LABEL_CHARS = 120
MAX_ID = 2**63 - 1  # SQL's INTEGER: a larger id cannot name a row (and the driver raises OverflowError on it)


class ThemeEditError(ValueError):
    """An edit that cannot be made; `field` names the input at fault, `status` the HTTP status to answer."""

    def __init__(self, message: str, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.field = field
        self.status = status


@dataclass
class EditState:
    """All edits replayed in order: what a run must apply."""

    pinned: dict[int, str] = field(default_factory=dict)  # theme -> label
    merged: dict[int, int] = field(default_factory=dict)  # theme -> theme it was merged into
    # (members of both themes then, into): a later run that splits the two apart again, or gives the target's id
    # to the merged theme's statements, still finds both halves' theme
    merged_statements: list[tuple[frozenset, int]] = field(default_factory=list)
    # statement -> theme, None: not a pain. A move's statements, and the statements a merged theme held when the PM
    # merged it: the clusterer may later put some of them in a third theme's cluster, and the merge must still
    # hold for them. The later edit wins (a statement moved out after the merge stays out).
    moved: dict[int, int | None] = field(default_factory=dict)
    hidden: set[int] = field(default_factory=set)

    def resolve(self, theme_id: int | None) -> int | None:
        """The theme a theme now lives in, following merges (a chain a -> b -> c ends at c)."""
        seen = set()
        while theme_id in self.merged and theme_id not in seen:
            seen.add(theme_id)
            theme_id = self.merged[theme_id]
        return theme_id

    def __bool__(self) -> bool:
        return bool(self.pinned or self.merged or self.moved or self.hidden)


def load_state(session: Session) -> EditState:
    state = EditState()
    # In the order the edits were stored (the id; a clock set back cannot reorder them): a later edit overrides an
    # earlier one, e.g. a move of a statement out of a theme after the merge that brought it there
    for e in session.scalars(select(ThemeEdit).order_by(ThemeEdit.id)):
        if e.kind == "rename":
            state.pinned[e.theme_id] = e.label
        elif e.kind == "merge":
            state.merged[e.theme_id] = e.target_id
            state.merged_statements.append((frozenset(e.statement_ids or []) | _members_before(session, e),
                                            e.target_id))
            for sid in e.statement_ids or []:  # none on a merge stored without them: the cluster-level merge alone
                state.moved[int(sid)] = e.target_id
        elif e.kind == "move":
            for sid in e.statement_ids:
                state.moved[int(sid)] = e.target_id
        elif e.kind == "hide":
            state.hidden.add(e.theme_id)
        elif e.kind == "unhide":
            state.hidden.discard(e.theme_id)
    return state


def _members_before(session: Session, edit: ThemeEdit) -> frozenset:
    """The statements the merge's target held in the last run before the merge."""
    run_id = session.scalar(select(func.max(ThemeRun.id)).where(ThemeRun.created_at <= edit.created_at))
    if run_id is None:
        return frozenset()
    return frozenset(session.scalars(select(ThemeMembership.statement_id).where(
        ThemeMembership.run_id == run_id, ThemeMembership.theme_id == edit.target_id)))


def edit_json(e: ThemeEdit) -> dict:
    return {"id": e.id, "kind": e.kind, "by": e.author, "at": e.created_at.isoformat(), "theme_id": e.theme_id,
            "target_id": e.target_id, "statement_ids": list(e.statement_ids or []), "label": e.label}


def history(session: Session, theme_id: int) -> list[dict]:
    """Edits that name a theme, oldest first."""
    rows = session.scalars(select(ThemeEdit).where((ThemeEdit.theme_id == theme_id) | (ThemeEdit.target_id == theme_id))
                           .order_by(ThemeEdit.id))
    return [edit_json(e) for e in rows]


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _theme(session: Session, theme_id, name: str) -> int:
    if not _is_id(theme_id):
        raise ThemeEditError(f"{name} must be a theme id (an integer from 1 to {MAX_ID}), got {str(theme_id)[:40]}",
                             name)
    if session.get(Theme, theme_id) is None:
        raise ThemeEditError(f"no theme with id {theme_id}", name, status=404)
    return theme_id


def record(session: Session, kind: str, by: str, *, theme_id=None, target_id=None, statement_ids=(),
           label: str | None = None) -> ThemeEdit:
    """Validate and store one edit (not committed)."""
    if kind not in EDIT_KINDS:
        raise ThemeEditError(f"unknown edit {kind!r}; use one of {', '.join(EDIT_KINDS)}", "kind")
    by = (by or "").strip()
    if not by:
        raise ThemeEditError("say who makes the edit ('by')", "by")
    edit = ThemeEdit(kind=kind, author=by[:200], statement_ids=[])
    if kind == "move":
        ids = list(statement_ids or [])
        if not ids or not all(_is_id(i) for i in ids):
            raise ThemeEditError(f"give the ids of the statements to move (integers from 1 to {MAX_ID})",
                                 "statement_ids")
        found = set(session.scalars(select(Statement.id).where(Statement.id.in_(ids))))
        missing = sorted(set(ids) - found)
        if missing:  # the first few, so a long list of wrong ids does not come back whole
            shown = ", ".join(map(str, missing[:20])) + (f" and {len(missing) - 20:,} more" if len(missing) > 20 else "")
            raise ThemeEditError(f"no statement with id {shown}", "statement_ids", status=404)
        edit.statement_ids = sorted(set(ids))
        edit.target_id = None if target_id is None else _theme(session, target_id, "to")
    else:
        edit.theme_id = _theme(session, theme_id, "theme_id")
    state = load_state(session)
    home = state.resolve(edit.theme_id)
    if kind in ("rename", "hide", "unhide") and home != edit.theme_id:
        raise ThemeEditError(f"theme {theme_id} was merged into theme {home}; {kind} theme {home} instead",
                             "theme_id", status=409)
    if kind == "hide" and theme_id in state.hidden:
        raise ThemeEditError(f"theme {theme_id} is hidden already", "theme_id", status=409)
    if kind == "unhide" and theme_id not in state.hidden:
        raise ThemeEditError(f"theme {theme_id} is not hidden", "theme_id", status=409)
    if kind == "rename":
        edit.label = _label(label)
        if (other := _theme_labelled(session, edit.label, theme_id)) is not None:
            raise ThemeEditError(f"theme {other[0]} is labelled {other[1]!r} already; choose another label or merge "
                                 f"the two themes", "label", status=409)
    if kind == "merge":
        edit.target_id = _theme(session, target_id, "into")
        if edit.target_id == edit.theme_id:  # bad input whatever the state, not a conflict
            raise ThemeEditError(f"a theme cannot be merged into itself (theme {theme_id})", "into")
        if (problem := _merged_already(state, edit.theme_id, edit.target_id)) is not None:
            raise ThemeEditError(problem, "into", status=409)
        if home != edit.theme_id:  # merging it again elsewhere would split it from the theme that holds it now
            raise ThemeEditError(f"theme {theme_id} was merged into theme {home}; merge theme {home} instead",
                                 "theme_id", status=409)
        # The merged theme's statements as of now: a later run that finds them as a cluster of its own (which
        # lineage may then call a new theme) still puts them into the target.
        last = session.scalar(select(ThemeMembership.run_id).order_by(ThemeMembership.run_id.desc()).limit(1))
        edit.statement_ids = sorted(session.scalars(select(ThemeMembership.statement_id).where(
            ThemeMembership.run_id == last, ThemeMembership.theme_id == theme_id)))
    session.add(edit)
    session.flush()
    return edit


def _label(label) -> str:
    """The label on one line (runs of white space become one space), with something to see and nothing that
    would act on a terminal (escape sequences) or hide in a page (zero-width characters only)."""
    text = " ".join(str(label or "").split())
    if not text or len(text) > MAX_LABEL_CHARS:
        raise ThemeEditError(f"the label must be 1 to {MAX_LABEL_CHARS} characters on one line", "label")
    for n, ch in enumerate(text, 1):
        if unicodedata.category(ch) == "Cc":
            raise ThemeEditError(f"the label contains a control character (U+{ord(ch):04X}, character {n})", "label")
    if all(ch.isspace() or unicodedata.category(ch) in ("Cf", "Zs", "Mn", "Me") for ch in text):
        raise ThemeEditError("the label has no visible characters", "label")
    return text


def _theme_labelled(session: Session, label: str, theme_id: int) -> tuple[int, str] | None:
    """Another theme of the latest run that already shows this label (ignoring case) and its label, else None."""
    run_id = session.scalar(select(func.max(ThemeSnapshot.run_id)))
    row = session.execute(select(ThemeSnapshot.theme_id, ThemeSnapshot.label).where(
        ThemeSnapshot.run_id == run_id, ThemeSnapshot.theme_id != theme_id,
        func.lower(ThemeSnapshot.label) == label.lower()).limit(1)).first()
    return tuple(row) if row else None


def _merged_already(state: EditState, theme_id: int, target_id: int) -> str | None:
    """Why merging theme_id into target_id changes nothing (they already live in one theme), else None."""
    home = state.resolve(theme_id)
    if home != state.resolve(target_id):
        return None
    if home == target_id:
        return f"theme {theme_id} is already part of theme {target_id}"
    if home == theme_id:
        return f"theme {target_id} is already part of theme {theme_id}"
    return f"themes {theme_id} and {target_id} are both part of theme {home} already"


def notices(session: Session, edit: ThemeEdit) -> list[str]:
    """What an edit does beyond what it says, for the person who made it."""
    state = load_state(session)
    if edit.kind == "merge" and (home := state.resolve(edit.target_id)) in state.hidden:
        return [f"theme {home} is hidden, so theme {edit.theme_id} is hidden with it now "
                f"(unhide theme {home} to show both)"]
    return []


def edit_and_rerun(services, kind: str, by: str, **fields) -> dict:
    """Record an edit, then re-run the themes with the latest run's options so every page shows it."""
    from .run import RunOptions, run_themes

    with services.db.session() as session:
        # Edits take turns from their check to their commit: two merges at once (7 into 27, 27 into 7) both passed the
        # check and were both stored, each theme pointing at the other.
        locks.hold(session, "themes")
        last = session.scalars(select(ThemeRun).order_by(ThemeRun.id.desc()).limit(1)).first()
        if last is None:
            raise ThemeEditError("no theme run yet: run `feedback themes run` first", status=409)
        # A run in progress read the edits when it started: finishing after this edit's re-run, it would be the
        # latest run and show the themes without the edit.
        # (A queued run reads them when it starts, this edit included.)
        running = session.scalar(select(Job.id).where(Job.kind == "themes", Job.status == "running").limit(1))
        if running is not None:
            raise ThemeEditError(f"a theme run is in progress (job {running}); make the edit when it has finished",
                                 status=409)
        edit = record(session, kind, by, **fields)
        session.commit()
        out, told = edit_json(edit), notices(session, edit)
        filters, params = dict(last.filters or {}), dict(last.params or {})
        opts = RunOptions(since=last.since, until=last.until, account=filters.get("account"),
                          source=filters.get("source"), include_all=bool(filters.get("all")),
                          min_mentions=params.get("min_mentions", 3), min_accounts=params.get("min_accounts", 2),
                          use_llm=last.labeller == "llm")
    try:
        run = run_themes(services, opts)
    except BaseException:  # an edit no run can show (it left nothing to cluster) is not kept half-done
        with services.db.session() as session:
            if (stored := session.get(ThemeEdit, out["id"])) is not None:
                session.delete(stored)
                session.commit()
        raise
    return {"edit": out, "notices": told, "run": run}


def apply_to_clusters(state: EditState, labels, theme_of: dict[int, int | None], statement_ids: list[int]):
    """Merges and moves on one run's cluster labels, in place; returns the clusters merged away.

    Merges first, cluster by cluster (a statement that arrives later and lands in a merged theme's cluster follows
    the merge), then statement by statement (`EditState.moved`: moves and the statements each merge took along).
    `labels[i]` is the cluster of `statement_ids[i]`, `theme_of` maps cluster -> theme id (None: new)."""
    cluster_of = {}
    for c, t in sorted(theme_of.items()):
        if t is not None:
            cluster_of.setdefault(t, c)
    gone = []
    for c, t in sorted(theme_of.items()):
        home = state.resolve(t) if t is not None else _merged_home(state, labels, c, statement_ids)
        if home is None or home == t:
            continue
        if home in cluster_of and cluster_of[home] != c:
            labels[labels == c] = cluster_of[home]
            gone.append(c)
        else:
            theme_of[c] = home
            cluster_of[home] = c
    for i, sid in enumerate(statement_ids):
        if sid in state.moved:
            target = state.resolve(state.moved[sid])
            labels[i] = -1 if target is None else cluster_of.get(target, labels[i])
    return gone


def _merged_home(state: EditState, labels, c: int, statement_ids: list[int]) -> int | None:
    """The theme a new cluster belongs in when most of its statements were once merged into it."""
    members = {statement_ids[i] for i in range(len(statement_ids)) if labels[i] == c}
    for sids, into in state.merged_statements:
        if members and len(members & sids) * 2 > len(members):
            return state.resolve(into)
    return None


def stamp(when: datetime | None) -> str | None:
    return when.isoformat() if when else None
