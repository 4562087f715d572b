"""Who did what: every change the docs say is logged is in the audit log, from the API, the pages and the CLI, and
each is credited the one way (token:NAME, user:EMAIL, cli:LOGIN). Also the error texts and docs that name options
a caller has (or does not have)."""
from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

from service.auth.audit import cli_actor, entries
from service.roadmap import service as roadmap
from tests.unit.test_auth import _signed_in
from tests.unit.test_confirm_item import ITEMS, _draft

DOCS = Path(__file__).resolve().parents[2] / "docs"
FUTURE = (date.today() + timedelta(days=30)).isoformat()


def _log(app, action=None):
    return entries(app.extensions["feedback"].db, action=action)


def _cli_log(run_cli, *args):
    return json.loads(run_cli("audit", "--json", *args).stdout)["entries"]


# ---- sign-in ----------------------------------------------------------------------------------------------------
def test_signing_in_with_the_one_time_link_or_the_form_is_logged_without_the_secret(app):
    client, code = _signed_in(app, role="pm", email="pat@example.com")
    (entry,) = _log(app, "sign_in")
    assert entry["actor"] == "user:pat@example.com" and entry["details"] == {"via": "one-time link"}
    form = app.test_client(anonymous=True).post("/sign-in", data={"secret": "wrong", "next": "/"})
    assert form.status_code == 401 and len(_log(app, "sign_in")) == 1  # a refused secret signs no one in
    from tests.conftest import api_token

    token = api_token(app, "viewer")
    app.test_client(anonymous=True).post("/sign-in", data={"secret": token, "next": "/"})
    assert _log(app, "sign_in")[0]["actor"] == "token:test-viewer"
    assert _log(app, "sign_in")[0]["details"] == {"via": "form (API token)"}
    assert code not in json.dumps(_log(app)) and token not in json.dumps(_log(app))


# ---- pages: links are the signed-in person's, logged, and "No" takes back "Yes" --------------------------------
def test_a_theme_page_link_is_credited_to_the_signed_in_person_and_logged(app):
    from tests.unit.test_reports import seed

    seed(app, with_drafts=False)
    svc = app.extensions["feedback"]
    client, _ = _signed_in(app, role="pm", email="pat@example.com")
    matched = {t["theme_id"]: t["items"] for t in roadmap.coverage(svc)["themes"]}
    theme_id, item_id = next((tid, i["item_id"]) for tid, items in matched.items() for i in items
                             if i["via"] == "match")
    assert client.post(f"/themes/{theme_id}/confirm", data={"item_id": item_id, "answer": "yes"}).status_code == 303
    link = next(ln for ln in roadmap.item_detail(svc, item_id)["links"] if ln["theme_id"] == theme_id)
    assert link["created_by"] == "user:pat@example.com"
    entry = _log(app, "roadmap_link")[0]
    assert entry["actor"] == "user:pat@example.com" and entry["target"] == f"item_id={item_id}"
    assert entry["details"] == {"theme_id": theme_id, "via": "theme page"}


def test_a_draft_page_yes_links_as_the_signed_in_person_and_no_removes_that_link(app):
    svc = app.extensions["feedback"]
    roadmap.import_items(svc, ITEMS)
    d = _draft(svc, "Background CSV exports of large tables?")
    client, _ = _signed_in(app, role="sales", email="rep@example.com")
    answer = lambda a: client.post(f"/ask/{d['draft_id']}/confirm", data={"item_id": "EXP", "answer": a})  # noqa: E731

    assert answer("yes").status_code == 303
    assert [ln["created_by"] for ln in roadmap.item_detail(svc, "EXP")["links"]] == ["user:rep@example.com"]
    assert "(No removes the link)" in client.get(f"/ask/{d['draft_id']}").get_data(as_text=True)
    assert answer("yes").status_code == 303 and len(_log(app, "roadmap_link")) == 1  # already linked: no new entry
    assert answer("no").status_code == 303
    assert roadmap.item_detail(svc, "EXP")["links"] == []
    (unlink,) = _log(app, "roadmap_unlink")
    assert unlink["actor"] == "user:rep@example.com" and unlink["details"] == {"draft_id": d["draft_id"],
                                                                                "via": "draft page"}
    page = client.get(f"/ask/{d['draft_id']}").get_data(as_text=True)
    assert "Marked as not the right item" in page and "(Yes takes that back and links it)" in page
    (rejection,) = _log(app, "roadmap_reject")
    assert rejection["actor"] == "user:rep@example.com"
    assert answer("no").status_code == 303 and len(_log(app, "roadmap_unlink")) == 1  # nothing left to remove
    assert len(_log(app, "roadmap_reject")) == 1  # already rejected: no new entry


# ---- CLI: the commands security.md lists are logged as cli:LOGIN -------------------------------------------------
def test_cli_changes_are_logged_as_the_login_name(run_cli, tmp_path, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "ops")
    notes = tmp_path / "notes.jsonl"
    notes.write_text("\n".join(json.dumps({"id": f"n{i}", "text": f"CSV exports time out for team {i}.",
                                           "account": f"Acme {i % 3}"}) for i in range(6)) + "\n")
    roadmap_file = tmp_path / "roadmap.json"
    roadmap_file.write_text(json.dumps(ITEMS))
    assert run_cli("ingest", str(notes)).exit_code == 0
    assert run_cli("ingest", str(notes), "--background").exit_code == 0
    assert run_cli("notes", "delete", "n5").exit_code == 0
    assert run_cli("roadmap", "import", str(roadmap_file)).exit_code == 0
    assert run_cli("roadmap", "link", "EXP", "--note", "n1").exit_code == 0
    assert run_cli("roadmap", "link", "EXP", "--note", "n2", "--by", "ana").exit_code == 0
    run = run_cli("themes", "run", "--all", "--min-mentions", "1", "--min-accounts", "1", "--json")
    assert run.exit_code == 0, run.output
    assert run_cli("report", "--since", "7d", "--out", str(tmp_path / "r.md")).exit_code == 0

    log = _cli_log(run_cli)
    assert [e["action"] for e in reversed(log)] == ["ingest", "ingest", "note_delete", "roadmap_import",
                                                    "roadmap_link", "roadmap_link", "themes_run", "report_build"]
    assert {e["actor"] for e in log} == {"cli:ops"}
    by_action = {}
    for e in reversed(log):
        by_action.setdefault(e["action"], []).append(e)
    assert by_action["ingest"][1]["details"]["background"] is True and by_action["ingest"][1]["details"]["job_id"]
    assert [e["details"]["created_by"] for e in by_action["roadmap_link"]] == ["cli:ops", "ana"]
    links = {ln["note_id"]: ln["created_by"] for ln in json.loads(run_cli("roadmap", "show", "EXP", "--json").stdout)
             ["links"]}
    assert links == {"n1": "cli:ops", "n2": "ana"}  # the link's author is the same name the log uses
    assert by_action["themes_run"][0]["target"] == f"run_id={json.loads(run.stdout)['run_id']}"


def test_cli_theme_edits_default_to_the_same_cli_name(run_cli, monkeypatch):
    from service.cli.themes import _by

    monkeypatch.setattr("getpass.getuser", lambda: "ops")
    assert _by(None) == cli_actor() == "cli:ops" and _by("ana") == "ana"


def test_audit_filtered_to_an_action_with_no_entries_says_so(run_cli):
    assert run_cli("audit").stdout.strip() == "the audit log is empty"
    assert run_cli("tokens", "create", "--name", "ci", "--role", "viewer").exit_code == 0
    out = run_cli("audit", "--action", "ingest")
    assert out.exit_code == 0 and out.stdout.strip() == "no entries for action 'ingest'"


# ---- the future-date error names the caller's own way out -------------------------------------------------------
def test_a_future_date_error_names_the_option_of_the_caller(app, run_cli, tmp_path):
    path = tmp_path / "n.jsonl"
    path.write_text(json.dumps({"text": "Exports time out.", "date": FUTURE}) + "\n")
    cli = run_cli("ingest", str(path))
    assert cli.exit_code == 1 and "fix the date, or use --allow-future if it is right" in cli.stderr

    api = app.test_client().post("/api/v1/notes", json={"text": "Exports time out.", "date": FUTURE})
    (row,) = api.get_json()["error"]["details"]["errors"]
    assert api.status_code == 422 and row["field"] == "date"
    assert row["reason"].endswith("fix the date, or use ?allow_future=true if it is right")

    page = app.test_client().post("/", data={"text": "Exports time out.", "source": "other", "date": FUTURE})
    text = page.get_data(as_text=True)
    assert page.status_code == 422 and "is in the future (more than a day from now); check the date" in text
    assert "allow-future" not in text and "allow_future" not in text  # the page has no such option

    summary = app.test_client().post("/api/v1/themes/summarize", json={"text": "Exports time out.", "date": FUTURE})
    assert summary.status_code == 422
    assert summary.get_json()["error"]["details"]["errors"][0]["reason"].endswith("; check the date")


# ---- 422s name their field where there is one ---------------------------------------------------------------------
def test_single_field_422s_name_the_field(app):
    client = app.test_client()
    long_question = client.post("/api/v1/drafts", json={"question": "Do you export CSV? " * 250})
    assert long_question.status_code == 422 and long_question.get_json()["error"]["details"]["field"] == "question"
    rating = client.post("/api/v1/drafts/1/feedback", json={"rating": 9})
    assert rating.status_code in (404, 422)
    hook = client.post("/api/v1/reports", json={"since": "1d", "webhook": "https://hooks.example.com/x"})
    assert hook.status_code == 422 and hook.get_json()["error"]["details"]["field"] == "webhook"
    as_of = client.post("/api/v1/reports", json={"since": "1d", "as_of": "tomorrowish"})
    assert as_of.status_code == 422 and as_of.get_json()["error"]["details"]["field"] == "as_of"
    prune = client.post("/api/v1/roadmap/items?prune=true", json=ITEMS)
    assert prune.status_code == 422 and prune.get_json()["error"]["details"]["field"] == "prune"
    empty = client.post("/api/v1/match", json=[])
    assert empty.status_code == 422 and empty.get_json()["error"]["details"]["field"] == "body"
    assert client.post("/api/v1/roadmap/items", json=ITEMS).status_code == 201
    both = client.post("/api/v1/roadmap/items/EXP/links", json={"note_id": "n1", "theme_id": 1})
    assert both.status_code == 422 and both.get_json()["error"]["details"]["field"] == "body"


def test_a_rated_draft_422_names_the_rating_field(app, svc):
    roadmap.import_items(svc, ITEMS)
    d = _draft(svc, "Background CSV exports of large tables?")
    resp = app.test_client().post(f"/api/v1/drafts/{d['draft_id']}/feedback", json={"rating": 9})
    assert resp.status_code == 422 and resp.get_json()["error"]["details"]["field"] == "rating"


def test_note_row_errors_have_the_shape_api_md_describes(app):
    resp = app.test_client().post("/api/v1/notes", json=[{"text": "fine"}, {"text": "", "account": "Acme"}])
    details = resp.get_json()["error"]["details"]
    assert resp.status_code == 422 and "field" not in details
    assert details["errors"] == [{"source": "request", "line": 2, "field": "text", "reason": details["errors"][0]
                                  ["reason"]}]
    items = app.test_client().post("/api/v1/roadmap/items", json=[ITEMS[0], 5]).get_json()["error"]["details"]
    assert "field" not in items and items["errors"] == [{"source": "request", "line": 2, "field": None,
                                                          "reason": "each item must be an object"}]
    doc = " ".join((DOCS / "api.md").read_text().split())
    assert "A 422 about rows has no `details.field`, only `details.errors`" in doc
    assert "`{source, line, field, reason}` for notes (`POST /notes`;" in doc and ") and roadmap items (" in doc


# ---- docs ---------------------------------------------------------------------------------------------------------
def test_close_the_loop_documents_the_told_body_the_api_accepts(app, svc):
    from service.api.followups import ToldIn

    doc = (DOCS / "close-the-loop.md").read_text()
    body = re.search(r"followups/told` with `\{([^}]*)\}`", doc).group(1)
    fields = {f.strip().strip('"') for f in body.split(",")}
    assert fields <= set(ToldIn._declared_fields) and "account" in fields
    for page in DOCS.glob("*.md"):  # no doc example sends an author: the caller is the author
        text = page.read_text()
        assert not re.search(r'\{[^}\n]*"(?:by|created_by|told_by)"\s*[:,}]', text), page.name
    refused = app.test_client().post("/api/v1/roadmap/items/RM-1/followups/told", json={"account": "A", "by": "x"})
    assert refused.status_code == 422


def test_eval_md_lists_every_suite_the_cli_offers():
    from service.cli.eval import eval_cmd

    choices = next(p for p in eval_cmd.params if p.name == "suite").type.choices
    listed = re.search(r"--suite ([a-z|]+)\]", (DOCS / "eval.md").read_text()).group(1).split("|")
    assert sorted(listed) == sorted(choices)


# ---- CLI ingest: a path problem is not an invalid row ---------------------------------------------------------------
def test_a_missing_path_or_empty_folder_does_not_suggest_skip_invalid(run_cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for target in (tmp_path / "missing.txt", empty):
        out = run_cli("ingest", str(target))
        assert out.exit_code == 1 and "--skip-invalid" not in out.stderr and "invalid row" not in out.stderr
        assert "1 path(s) with nothing to ingest; nothing was stored" in out.stderr
    good = tmp_path / "n.jsonl"
    good.write_text('{"text": "Exports time out."}\n{"text": ""}\n')
    mixed = run_cli("ingest", str(good), str(tmp_path / "missing.txt"))
    assert "1 invalid row(s) and 1 path(s) with nothing to ingest; nothing was stored (use --skip-invalid" in mixed.stderr
