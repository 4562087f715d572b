"""A PM's theme edits (rename, merge, move, hide): recorded with who and when, and surviving re-runs."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from service.ingest.store import ingest_notes
from service.models import ThemeMembership
from service.themes.edits import ThemeEditError, edit_and_rerun
from service.themes.queries import latest_themes, theme_detail
from service.themes.run import RunOptions, run_themes

from .test_theme_determinism import TOPICS, _notes


@pytest.fixture
def themed(svc):
    ingest_notes(svc, _notes(TOPICS))
    result = run_themes(svc, RunOptions(include_all=True, use_llm=False))
    assert len(result["themes"]) >= 3
    return svc, result


def _members(svc, run_id):
    with svc.db.session() as s:
        return dict(s.execute(select(ThemeMembership.statement_id, ThemeMembership.theme_id)
                              .where(ThemeMembership.run_id == run_id)).all())


def _rerun(svc):
    return run_themes(svc, RunOptions(include_all=True, use_llm=False))


def test_rename_pins_the_label_and_records_who_and_when(themed):
    svc, first = themed
    tid = first["themes"][0]["id"]
    out = edit_and_rerun(svc, "rename", "pm@example.com", theme_id=tid, label="  Exports  time out ")
    assert out["edit"]["by"] == "pm@example.com" and out["edit"]["at"] and out["edit"]["label"] == "Exports time out"
    for run in (out["run"], _rerun(svc)):
        theme = next(t for t in run["themes"] if t["id"] == tid)
        assert theme["label"] == "Exports time out" and theme["label_source"] == "pinned"
    with svc.db.session() as s:
        assert [e["kind"] for e in theme_detail(s, tid)["edits"]] == ["rename"]


def test_merge_keeps_the_two_themes_together_across_runs(themed):
    svc, first = themed
    a, b = first["themes"][0]["id"], first["themes"][1]["id"]
    before = _members(svc, first["run_id"])
    moved = {sid for sid, t in before.items() if t == a}
    out = edit_and_rerun(svc, "merge", "pm", theme_id=a, target_id=b)
    for run in (out["run"], _rerun(svc), _rerun(svc)):
        ids = [t["id"] for t in run["themes"]]
        assert a not in ids and b in ids
        members = _members(svc, run["run_id"])
        assert all(members[sid] == b for sid in moved)
    with pytest.raises(ThemeEditError):
        edit_and_rerun(svc, "merge", "pm", theme_id=a, target_id=b)  # already merged: 409


def test_move_statements_to_another_theme_or_out_of_themes(themed):
    svc, first = themed
    a, b = first["themes"][0]["id"], first["themes"][1]["id"]
    members = _members(svc, first["run_id"])
    in_a = sorted(sid for sid, t in members.items() if t == a)
    edit_and_rerun(svc, "move", "pm", statement_ids=in_a[:1], target_id=b)
    edit_and_rerun(svc, "move", "pm", statement_ids=in_a[1:2], target_id=None)
    for _ in range(2):
        run = _rerun(svc)
        after = _members(svc, run["run_id"])
        assert after[in_a[0]] == b
        assert after.get(in_a[1]) is None


def test_hide_removes_a_theme_from_lists_until_shown_again(themed):
    svc, first = themed
    tid = first["themes"][0]["id"]
    out = edit_and_rerun(svc, "hide", "pm", theme_id=tid)
    assert tid not in [t["id"] for t in out["run"]["themes"]]
    assert {"id": tid, "label": first["themes"][0]["label"]} in out["run"]["hidden_themes"]
    run = _rerun(svc)
    assert tid not in [t["id"] for t in run["themes"]]
    with svc.db.session() as s:
        assert tid not in [t["id"] for t in latest_themes(s)]
    shown = edit_and_rerun(svc, "unhide", "pm", theme_id=tid)["run"]
    assert tid in [t["id"] for t in shown["themes"]]


def test_bad_edits_name_the_field(themed):
    svc, first = themed
    tid = first["themes"][0]["id"]
    cases = [(dict(kind="rename", by="pm", theme_id=tid, label=""), "label"),
             (dict(kind="rename", by="", theme_id=tid, label="x"), "by"),
             (dict(kind="merge", by="pm", theme_id=tid, target_id=99999), "into"),
             (dict(kind="move", by="pm", statement_ids=[99999], target_id=None), "statement_ids"),
             (dict(kind="hide", by="pm", theme_id="one"), "theme_id")]
    for fields, name in cases:
        kind, by = fields.pop("kind"), fields.pop("by")
        with pytest.raises(ThemeEditError) as err:
            edit_and_rerun(svc, kind, by, **fields)
        assert err.value.field == name


def test_api_edits(app, svc):
    client = app.test_client()
    assert client.post("/api/v1/themes/1/rename", json={"label": "x", "by": "pm"}).status_code in (404, 409)
    ingest_notes(svc, _notes(TOPICS))
    run_themes(svc, RunOptions(include_all=True, use_llm=False))
    tid = client.get("/api/v1/themes").get_json()["themes"][0]["id"]
    resp = client.post(f"/api/v1/themes/{tid}/rename", json={"label": "Okta single sign-on", "by": "pm"})
    assert resp.status_code == 201 and resp.get_json()["edit"]["by"] == "pm"
    assert client.get(f"/api/v1/themes/{tid}").get_json()["label"] == "Okta single sign-on"
    bad = client.post(f"/api/v1/themes/{tid}/rename", json={"label": "", "by": "pm"})
    assert bad.status_code == 422 and bad.get_json()["error"]["details"]["field"] == "label"
    assert client.post("/api/v1/themes/99999/hide", json={"by": "pm"}).status_code == 404
    assert client.post("/api/v1/themes/move", json={"statement_ids": [1], "by": "pm"}).status_code == 422


def test_cli_edits(run_cli):
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "data" / "notes.jsonl"
    assert run_cli("ingest", str(data)).exit_code == 0
    assert run_cli("themes", "run", "--all", "--no-llm").exit_code == 0
    import json

    tid = json.loads(run_cli("themes", "list", "--json").output)["themes"][0]["id"]
    out = run_cli("themes", "rename", str(tid), "Renamed by a PM", "--by", "ana", "--json")
    assert out.exit_code == 0 and json.loads(out.output)["edit"]["by"] == "ana"
    assert "Renamed by a PM" in run_cli("themes", "show", str(tid)).output
    assert run_cli("themes", "move", "1").exit_code == 2  # neither --to nor --not-a-pain
    assert run_cli("themes", "hide", "99999").exit_code == 1


def test_theme_page_lists_edits_with_who_and_when(themed, app):
    svc, first = themed
    tid = first["themes"][0]["id"]
    edit_and_rerun(svc, "rename", "ana", theme_id=tid, label="Okta single sign-on")
    html = app.test_client().get(f"/themes/{tid}").get_data(as_text=True)
    assert "Okta single sign-on" in html and "by ana" in html
