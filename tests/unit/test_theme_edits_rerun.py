"""Edits and checks that must hold over later runs (issue 14): a PM's merge holds for every statement the merged
theme had, and an incremental run judges new statements as a full run does. Each test failed before its fix."""
from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from service import create_app
from service.config import TestConfig
from service.ingest.store import ingest_notes
from service.ingest.validate import NoteInput
from service.models import Statement, ThemeEdit, ThemeMembership
from service.themes import store_run as run_module
from service.themes import stages
from service.themes.edits import edit_and_rerun
from service.themes.run import RunOptions, run_themes

from .test_theme_edits import themed  # noqa: F401 - the fixture: three or more themes of the determinism topics


def _members(svc, run_id) -> dict[int, int | None]:
    with svc.db.session() as s:
        return dict(s.execute(select(ThemeMembership.statement_id, ThemeMembership.theme_id)
                              .where(ThemeMembership.run_id == run_id)).all())


def _kinds(svc) -> dict[int, str]:
    with svc.db.session() as s:
        return dict(s.execute(select(Statement.id, Statement.kind)).all())


def _labels(result) -> dict[int, str]:
    return {t["id"]: t["label"] for t in result["themes"]}


# --- a merge holds per statement -------------------------------------------------------------------------------

def _rerun(svc):
    return run_themes(svc, RunOptions(include_all=True, use_llm=False))


def _drift(monkeypatch, sids, beside: int) -> None:
    """From now on the clusterer puts the statements `sids` in the cluster of statement `beside`, as it put some of
    a merged theme's statements in a third theme's cluster on the bundled sample. Applied where a run hands its
    clusters to lineage, so everything after (edits, labels, storage) is the run's own."""
    real = run_module.match_previous

    def drifted(labels, statement_ids, *args, **kwargs):
        row = {sid: i for i, sid in enumerate(statement_ids)}
        for sid in sids:
            labels[row[sid]] = labels[row[beside]]
        return real(labels, statement_ids, *args, **kwargs)

    monkeypatch.setattr(run_module, "match_previous", drifted)


def _three_themes(svc, result):
    a, b, c = (t["id"] for t in result["themes"][:3])
    members = _members(svc, result["run_id"])
    return a, b, c, {t: sorted(sid for sid, th in members.items() if th == t) for t in (a, b, c)}


def test_a_merge_holds_for_statements_the_clusterer_later_puts_in_another_theme(themed, monkeypatch):
    """The merge was replayed on whole clusters only: statements of the merged theme that a later run clustered
    with a third theme went to that theme (on the sample its label changed), though the PM had merged them."""
    svc, first = themed
    a, b, c, of = _three_themes(svc, first)
    edit_and_rerun(svc, "merge", "pm", theme_id=a, target_id=b)
    _drift(monkeypatch, of[a][:2], beside=of[c][0])
    runs = [_rerun(svc), _rerun(svc)]
    for result in runs:
        members = _members(svc, result["run_id"])
        assert {members[sid] for sid in of[a] + of[b]} == {b}
        assert sorted(sid for sid, t in members.items() if t == c) == of[c]
    assert _members(svc, runs[0]["run_id"]) == _members(svc, runs[1]["run_id"])
    assert _labels(runs[0]) == _labels(runs[1])


def test_a_later_edit_of_a_merged_statement_wins_over_the_merge(themed, monkeypatch):
    svc, first = themed
    a, b, c, of = _three_themes(svc, first)
    edit_and_rerun(svc, "merge", "pm", theme_id=a, target_id=b)
    edit_and_rerun(svc, "move", "pm", statement_ids=of[a][:1], target_id=None)
    edit_and_rerun(svc, "move", "pm", statement_ids=of[a][1:2], target_id=c)
    _drift(monkeypatch, of[a][2:3], beside=of[c][0])
    members = _members(svc, _rerun(svc)["run_id"])
    assert members.get(of[a][0]) is None and members[of[a][1]] == c
    assert {members[sid] for sid in of[a][2:]} == {b}


def test_a_merge_stored_without_its_statements_still_merges_the_clusters(themed, monkeypatch):
    """A merge row without statement ids (none is written so now, but a row is data) keeps the cluster-level
    replay: the merged theme's cluster goes to the target, the statements the clusterer put elsewhere stay there."""
    svc, first = themed
    a, b, c, of = _three_themes(svc, first)
    edit_and_rerun(svc, "merge", "pm", theme_id=a, target_id=b)
    with svc.db.session() as s:
        s.scalars(select(ThemeEdit).where(ThemeEdit.kind == "merge")).one().statement_ids = []
        s.commit()
    _drift(monkeypatch, of[a][:1], beside=of[c][0])
    result = _rerun(svc)
    members = _members(svc, result["run_id"])
    assert members[of[a][0]] == c and {members[sid] for sid in of[a][1:]} == {b}
    assert a not in _labels(result)


# --- an incremental run judges new statements as a full run does ------------------------------------------------

DIM = 16
BOILERPLATE = "Their data team is two people plus a contractor."
TOPIC_WORDS = {0: "exports time out", 1: "okta sign-on fails", 2: "android app crashes"}


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def _axis(*weights) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    for i, w in weights:
        v[i] += w
    return v


def _layout() -> dict[str, np.ndarray]:
    """Three tight themes on axes 0-2; a pasted sentence between the first two (so the theme made of both by a
    merge draws it in) with three statements of its own kind beside it; everything else on axis 15."""
    rng = np.random.default_rng(0)
    out = {}
    for axis, words in TOPIC_WORDS.items():
        for i in range(10):
            noise = np.zeros(DIM, dtype=np.float32)
            noise[8:14] = rng.normal(scale=0.1, size=6)
            out[f"The {words}, case {i}."] = _unit(_axis((axis, 1.0)) + noise)
    out[BOILERPLATE] = _unit(_axis((0, 0.6), (1, 0.6), (3, 0.5)))
    for k in range(3):
        out[f"Another statement of that kind, number {k}."] = _unit(out[BOILERPLATE] + _axis((5 + k, 0.25)))
    out["Mobile crash reports go to the wrong team."] = _unit(_axis((2, 1.0), (4, 0.75)))
    return out


class Designed:
    """Vectors laid out by hand, so a test decides which statements sit together."""

    name, dim = "designed-16", DIM

    def __init__(self):
        self.layout = _layout()

    def embed(self, texts):
        rows = [self.layout.get(t, _unit(_axis((15, 1.0)))) for t in texts]
        return np.stack(rows) if rows else np.zeros((0, DIM), dtype=np.float32)


@pytest.fixture
def designed(tmp_path, monkeypatch):
    # Every statement reads as a pain and nothing as context, so the copy check alone decides what leaves: the
    # classifier and the context model would judge hand-made vectors arbitrarily.
    monkeypatch.setattr(stages, "decide", lambda scores: ["pain"] * len(scores))
    monkeypatch.setattr(stages, "pasted_context", lambda texts, vectors, embedder: [])
    monkeypatch.setattr(stages, "context_clusters", lambda vectors, labels, embedder: [])
    app = create_app(TestConfig(tmp_path / "home"), embedder=Designed())
    svc = app.extensions["feedback"]
    texts = list(svc.embedder.layout)
    notes = [NoteInput(text=t, external_id=f"t{i}", account=f"Account {i % 3}")
             for i, t in enumerate(t for t in texts if t.startswith("The "))]
    notes += [NoteInput(text=BOILERPLATE, external_id=f"b{i}", account=f"Account {i}") for i in range(6)]
    notes += [NoteInput(text=t, external_id=f"m{i}", account=f"Account {i}")
              for i, t in enumerate(t for t in texts if t.startswith("Another"))]
    ingest_notes(svc, notes)
    first = run_themes(svc, RunOptions(use_llm=False))
    ids = {_topic(svc, first, axis): axis for axis in TOPIC_WORDS}
    assert len(ids) == 3 and _copies_kept(svc, first["run_id"]) == set()  # the pasted sentence is no theme
    by_axis = {axis: tid for tid, axis in ids.items()}
    merged = edit_and_rerun(svc, "merge", "pm", theme_id=by_axis[1], target_id=by_axis[0])["run"]
    yield svc, merged, by_axis
    svc.close()


def _topic(svc, result, axis: int) -> int:
    """The theme of the statements on one axis."""
    members = _members(svc, result["run_id"])
    with svc.db.session() as s:
        sids = s.scalars(select(Statement.id).where(Statement.text.like(f"The {TOPIC_WORDS[axis]},%"))).all()
    return members[sids[0]]


def _copies_kept(svc, run_id) -> set:
    with svc.db.session() as s:
        sids = s.scalars(select(Statement.id).where(Statement.text == BOILERPLATE)).all()
    members = _members(svc, run_id)
    return {members[sid] for sid in sids if sid in members}


def _incremental(svc):
    return run_themes(svc, RunOptions(use_llm=False, incremental=True))


def _full(svc):
    return run_themes(svc, RunOptions(use_llm=False))


def test_an_incremental_run_after_a_merge_adds_no_pasted_copies_and_makes_no_theme_of_what_they_left(designed):
    """The merged theme's centre drew in the copies the full run had dropped and their neighbours it had left
    unassigned: the incremental run gave them to it (its label could change), the next full run took them out."""
    svc, merged, _ = designed
    kinds = _kinds(svc)
    inc = _incremental(svc)
    assert _copies_kept(svc, inc["run_id"]) == set()
    assert _members(svc, inc["run_id"]) == _members(svc, merged["run_id"])
    assert _labels(inc) == _labels(merged) and _kinds(svc) == kinds
    full = _full(svc)
    assert _members(svc, full["run_id"]) == _members(svc, inc["run_id"])
    assert _labels(full) == _labels(inc) and _kinds(svc) == kinds


def test_new_copies_of_a_dropped_sentence_stay_out_and_new_pains_still_join_their_theme(designed):
    svc, merged, by_axis = designed
    ingest_notes(svc, [NoteInput(text=BOILERPLATE, external_id=f"nb{i}", account=f"New account {i}") for i in range(3)]
                 + [NoteInput(text="The exports time out, case 0.", external_id="n-export", account="New account 9")])
    inc = _incremental(svc)
    assert _copies_kept(svc, inc["run_id"]) == set()
    with svc.db.session() as s:
        fresh = s.scalar(select(Statement.id).join(Statement.note).where(Statement.note.has(external_id="n-export")))
    assert _members(svc, inc["run_id"])[fresh] == by_axis[0]
    kinds = _kinds(svc)
    full = _full(svc)
    assert _copies_kept(svc, full["run_id"]) == set() and _kinds(svc) == kinds
    assert _members(svc, full["run_id"]) == _members(svc, inc["run_id"])


def test_a_new_sentence_pasted_into_an_existing_theme_is_checked_like_a_full_runs_cluster(designed):
    """New statements that joined an existing theme by its centre skipped the copy check: eleven pastes of one new
    sentence joined a theme of ten, and only the next full run, which clusters them on their own, dropped them."""
    svc, merged, by_axis = designed
    pasted = "Mobile crash reports go to the wrong team."
    ingest_notes(svc, [NoteInput(text=pasted, external_id=f"np{i}", account=f"New account {i}") for i in range(11)])
    inc = _incremental(svc)
    mobile = by_axis[2]
    assert _members(svc, inc["run_id"]) == _members(svc, merged["run_id"])  # the copies went, the theme stayed
    assert _labels(inc)[mobile] == _labels(merged)[mobile]
    kinds = _kinds(svc)
    full = _full(svc)
    assert _members(svc, full["run_id"]) == _members(svc, inc["run_id"]) and _kinds(svc) == kinds
