"""Theme edits under bad input and over several runs: each test failed before its fix."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.ingest.store import ingest_notes
from service.models import Job, ThemeEdit, ThemeMembership
from service.themes.edits import ThemeEditError, edit_and_rerun
from service.themes.run import RunOptions, ThemeRunError, run_themes

from .test_theme_determinism import TOPICS, _notes


@pytest.fixture
def themed(svc):
    ingest_notes(svc, _notes(TOPICS))
    result = run_themes(svc, RunOptions(include_all=True, use_llm=False))
    return svc, result


def _members(svc, run_id):
    with svc.db.session() as s:
        return dict(s.execute(select(ThemeMembership.statement_id, ThemeMembership.theme_id)
                              .where(ThemeMembership.run_id == run_id)).all())


def _edits(svc) -> int:
    with svc.db.session() as s:
        return s.scalar(select(func.count(ThemeEdit.id)))


def _refused(svc, kind, **fields) -> ThemeEditError:
    before = _edits(svc)
    with pytest.raises(ThemeEditError) as info:
        edit_and_rerun(svc, kind, "pm", **fields)
    assert _edits(svc) == before  # nothing stored
    return info.value


def test_the_target_of_a_merge_keeps_its_own_statements_and_id_over_later_runs(themed):
    """The second run after a merge gave the target's id to the merged theme's statements and made the target's
    own statements a new theme (which then showed up though the target was hidden, without its pinned label)."""
    svc, first = themed
    a, b = first["themes"][0]["id"], first["themes"][1]["id"]
    before = _members(svc, first["run_id"])
    both = {sid for sid, t in before.items() if t in (a, b)}
    edit_and_rerun(svc, "merge", "pm", theme_id=a, target_id=b)
    for _ in range(2):
        run = run_themes(svc, RunOptions(include_all=True, use_llm=False))
        members = _members(svc, run["run_id"])
        assert {members[sid] for sid in both} == {b}
        assert len(run["themes"]) == len(first["themes"]) - 1


def test_merging_a_theme_into_itself_is_bad_input_not_a_conflict(themed):
    svc, first = themed
    a = first["themes"][0]["id"]
    err = _refused(svc, "merge", theme_id=a, target_id=a)
    assert (err.status, err.field) == (422, "into") and "into itself" in str(err)


def test_a_merged_theme_cannot_be_merged_again_elsewhere(themed):
    svc, first = themed
    a, b, c = (t["id"] for t in first["themes"][:3])
    edit_and_rerun(svc, "merge", "pm", theme_id=a, target_id=b)
    err = _refused(svc, "merge", theme_id=a, target_id=c)
    assert (err.status, err.field) == (409, "theme_id") and f"merge theme {b} instead" in str(err)
    assert "already part of" in str(_refused(svc, "merge", theme_id=a, target_id=b))


def test_hiding_twice_or_showing_a_shown_theme_is_a_conflict(themed):
    svc, first = themed
    a = first["themes"][0]["id"]
    err = _refused(svc, "unhide", theme_id=a)
    assert (err.status, err.field) == (409, "theme_id") and "not hidden" in str(err)
    edit_and_rerun(svc, "hide", "pm", theme_id=a)
    err = _refused(svc, "hide", theme_id=a)
    assert err.status == 409 and "hidden already" in str(err)


def test_a_label_another_theme_shows_is_refused(themed):
    svc, first = themed
    (a, _), (b, label_b) = ((t["id"], t["label"]) for t in first["themes"][:2])
    err = _refused(svc, "rename", theme_id=a, label=f"  {label_b.upper()} ")
    assert (err.status, err.field) == (409, "label") and f"theme {b} is labelled {label_b!r}" in str(err)


@pytest.mark.parametrize("label, words", [("\u200b\u200b", "no visible characters"),
                                          ("red \x1b[31m alert", "control character (U+001B, character 5)")])
def test_invisible_or_terminal_control_labels_are_refused(themed, label, words):
    svc, first = themed
    err = _refused(svc, "rename", theme_id=first["themes"][0]["id"], label=label)
    assert (err.status, err.field) == (422, "label") and words in str(err)


def test_an_edit_while_a_theme_run_job_is_running_is_a_conflict(themed):
    """The job read the edits when it started; finishing after the edit's re-run, it hid the edit."""
    svc, first = themed
    with svc.db.session() as s:
        s.add(Job(id="j" * 32, kind="themes", status="running", payload={}))
        s.commit()
    err = _refused(svc, "rename", theme_id=first["themes"][0]["id"], label="Later")
    assert err.status == 409 and "job " + "j" * 32 in str(err)


def test_an_edit_whose_re_run_fails_is_not_kept(themed, monkeypatch):
    svc, first = themed

    def failing(*args, **kwargs):
        raise ThemeRunError("nothing to cluster", field="all")

    monkeypatch.setattr("service.themes.run.run_themes", failing)
    with pytest.raises(ThemeRunError):
        edit_and_rerun(svc, "hide", "pm", theme_id=first["themes"][0]["id"])
    assert _edits(svc) == 0


def test_cli_bad_input_exits_2_and_not_found_or_conflict_exits_1(run_cli):
    data = Path(__file__).resolve().parents[1] / "data" / "notes.jsonl"
    assert run_cli("ingest", str(data)).exit_code == 0
    assert run_cli("themes", "run", "--all", "--no-llm").exit_code == 0
    tid = json.loads(run_cli("themes", "list", "--json").output)["themes"][0]["id"]
    for args, code, words in [(("rename", str(tid), "  "), 2, "label: the label must be"),
                              (("merge", str(tid), "--into", str(tid)), 2, "into: a theme cannot be merged"),
                              (("hide", "99999"), 1, "theme_id: no theme with id 99999"),
                              (("hide", str(tid), "--undo"), 1, f"theme {tid} is not hidden")]:
        result = run_cli("themes", *args)
        assert (result.exit_code, words in result.stderr) == (code, True), (args, result.stderr)
