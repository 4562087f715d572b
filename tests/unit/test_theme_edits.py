"""A PM's theme edits (rename, merge, move, hide): recorded with who and when, and surviving re-runs."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from service.ingest.store import ingest_notes
from service.models import ThemeMembership
from service.themes.edits import ThemeEditError, edit_and_rerun
from service.themes.queries import latest_themes, theme_detail
from service.themes.run import RunOptions, run_themes

from .test_theme_determinism import TOPICS, _notes

SAMPLE = Path(__file__).resolve().parents[2] / "service" / "sample_data" / "notes.jsonl"


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


def test_a_run_over_one_account_leaves_the_full_runs_ids_and_edits_alone(svc):
    """A look at one account once gave every theme of the next full run a new id, and the pinned label was lost."""
    from service.ingest.store import load_paths
    from service.ingest.store import ingest as ingest_rows

    notes, errors = load_paths([str(SAMPLE)], 100_000)
    ingest_rows(svc, notes, errors, skip_invalid=False)
    first = run_themes(svc, RunOptions(use_llm=False))
    tid = first["themes"][0]["id"]
    edit_and_rerun(svc, "rename", "pm", theme_id=tid, label="Pinned label")
    full = _members(svc, run_themes(svc, RunOptions(use_llm=False))["run_id"])
    account = max(first["themes"][0]["account_names"])
    run_themes(svc, RunOptions(account=account, use_llm=False))
    again = run_themes(svc, RunOptions(use_llm=False))
    assert _members(svc, again["run_id"]) == full  # the same statements in the same theme ids
    theme = next(t for t in again["themes"] if t["id"] == tid)
    assert theme["label"] == "Pinned label" and theme["label_source"] == "pinned"


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


def test_a_move_of_many_unknown_statements_names_the_first_twenty(themed):
    svc, _ = themed
    with pytest.raises(ThemeEditError) as err:
        edit_and_rerun(svc, "move", "pm", statement_ids=list(range(10**6, 10**6 + 500)), target_id=None)
    assert err.value.status == 404
    assert str(err.value).endswith(f"{10**6 + 19} and 480 more")


def test_api_edits(app, svc):
    client = app.test_client()
    assert client.post("/api/v1/themes/1/rename", json={"label": "x"}).status_code in (404, 409)
    ingest_notes(svc, _notes(TOPICS))
    run_themes(svc, RunOptions(include_all=True, use_llm=False))
    tid = client.get("/api/v1/themes").get_json()["themes"][0]["id"]
    claimed = client.post(f"/api/v1/themes/{tid}/rename", json={"label": "Okta single sign-on", "by": "someone else"})
    assert claimed.status_code == 422 and claimed.get_json()["error"]["details"]["field"] == "by"  # not a field
    resp = client.post(f"/api/v1/themes/{tid}/rename", json={"label": "Okta single sign-on"})
    assert resp.status_code == 201 and resp.get_json()["edit"]["by"] == "token:test-admin"  # the token's name
    assert client.get(f"/api/v1/themes/{tid}").get_json()["label"] == "Okta single sign-on"
    bad = client.post(f"/api/v1/themes/{tid}/rename", json={"label": ""})
    assert bad.status_code == 422 and bad.get_json()["error"]["details"]["field"] == "label"
    assert client.post("/api/v1/themes/99999/hide", json={}).status_code == 404
    assert client.post("/api/v1/themes/move", json={"statement_ids": [1]}).status_code == 422


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


def _page_edit(client, tid, **form):
    return client.post(f"/themes/{tid}/edit", data=form)


def test_theme_page_edit_forms(app, svc):
    ingest_notes(svc, _notes(TOPICS))
    first = run_themes(svc, RunOptions(include_all=True, use_llm=False))
    a, b, c = (t["id"] for t in first["themes"][:3])
    pm = app.test_client(role="pm")
    page = pm.get(f"/themes/{a}").get_data(as_text=True)
    assert 'id="rename-form"' in page and 'id="merge-form"' in page and 'form="move-form"' in page
    viewer = app.test_client(role="viewer")
    assert 'id="rename-form"' not in viewer.get(f"/themes/{a}").get_data(as_text=True)
    assert _page_edit(viewer, a, action="hide").status_code == 403

    resp = _page_edit(pm, a, action="rename", label="  Okta  single sign-on ", by="mallory")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/themes/{a}?edited=rename#edit-h")
    with svc.db.session() as s:
        edit = theme_detail(s, a)["edits"][-1]
    assert edit["kind"] == "rename" and edit["label"] == "Okta single sign-on" and edit["by"] == "token:test-pm"
    assert "Okta single sign-on" in pm.get(f"/themes/{a}?edited=rename").get_data(as_text=True)

    members = [sid for sid, t in _members(svc, first["run_id"]).items() if t == b]
    moved = members[:1]
    assert _page_edit(pm, b, action="move", statement_ids=[str(moved[0])], to=str(c)).status_code == 303
    latest = run_themes(svc, RunOptions(include_all=True, use_llm=False))  # a later run keeps the move
    assert _members(svc, latest["run_id"])[moved[0]] == c

    resp = _page_edit(pm, b, action="merge", into=str(c))
    assert resp.status_code == 303 and resp.headers["Location"].startswith(f"/themes/{c}?edited=merge")
    assert b not in [t["id"] for t in run_themes(svc, RunOptions(include_all=True, use_llm=False))["themes"]]

    assert _page_edit(pm, c, action="hide").status_code == 303
    assert c in [t["id"] for t in app.test_client().get("/api/v1/themes").get_json()["hidden_themes"]]
    assert _page_edit(pm, c, action="unhide").status_code == 303
    assert c not in [t["id"] for t in app.test_client().get("/api/v1/themes").get_json()["hidden_themes"]]


def test_theme_page_edit_bad_input_is_a_clear_422_and_changes_nothing(app, svc):
    ingest_notes(svc, _notes(TOPICS))
    a = run_themes(svc, RunOptions(include_all=True, use_llm=False))["themes"][0]["id"]
    pm = app.test_client(role="pm")
    for form, words in [({"action": "rename", "label": ""}, "label"),
                        ({"action": "merge", "into": "99999"}, "no theme with id 99999"),
                        ({"action": "merge", "into": "x"}, "into must be a theme id"),
                        ({"action": "move", "to": "none"}, "Tick the statements"),
                        ({"action": "explode"}, "Unknown edit")]:
        resp = _page_edit(pm, a, **form)
        assert resp.status_code in (404, 422) and words in resp.get_data(as_text=True), form
    with svc.db.session() as s:
        assert theme_detail(s, a)["edits"] == []
    assert _page_edit(pm, 99999, action="hide").status_code == 404


def test_theme_page_edits_need_the_csrf_token(make_app):
    import re

    app = make_app(WTF_CSRF_ENABLED=True)
    svc = app.extensions["feedback"]
    ingest_notes(svc, _notes(TOPICS))
    a = run_themes(svc, RunOptions(include_all=True, use_llm=False))["themes"][0]["id"]
    client = app.test_client()
    assert _page_edit(client, a, action="hide").status_code == 400
    page = client.get(f"/themes/{a}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert _page_edit(client, a, action="hide", csrf_token=token).status_code == 303
