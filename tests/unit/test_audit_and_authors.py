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
    assert "Is this the right item? (Yes links this question" in page
    assert answer("no").status_code == 303 and len(_log(app, "roadmap_unlink")) == 1  # nothing left to remove


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
