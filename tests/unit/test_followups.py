"""Close the loop: status history on import, follow-ups for an item (who asked, their own words, a checked draft
each, "told"), the account brief, the report's moved section, and access. Planted notes make sure no account's
follow-up or brief ever carries another account's words."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROADMAP = json.loads((ROOT / "service" / "sample_data" / "roadmap.json").read_text())
SHIPPED = copy.deepcopy(ROADMAP)
for _i in SHIPPED:
    if _i["id"] == "RM-104":
        _i.update(status="shipped", release="2026.11")
# Each account's words carry a marker only it uses, so a leak of one account's quote into another's is visible.
NOTES = [
    {"id": "f-1", "account": "Acme Logistics", "source": "call", "date": "2026-10-01", "arr": 90000,
     "deal_stage": "renewal",
     "text": "Acme needs SCIM user provisioning so Okta creates and removes users automatically, marker alpha."},
    {"id": "f-2", "account": "Velo Commerce", "source": "call", "date": "2026-10-02", "arr": 120000,
     "deal_stage": "expansion",
     "text": "Velo procurement requires SCIM 2.0 user and group provisioning from Okta, marker bravo."},
    {"id": "f-3", "account": "Velo Commerce", "source": "email", "date": "2026-10-20",
     "text": "Velo asked again about SCIM user provisioning and deprovisioning for groups, marker charlie."},
    {"id": "f-4", "account": "Kestrel Freight", "source": "ticket", "date": "2026-10-05",
     "text": "Kestrel wants SCIM provisioning of users and groups from Azure AD, marker delta."},
    {"id": "f-5", "account": "Bluefin Payments", "source": "call", "date": "2026-10-03", "arr": 150000,
     "text": "Bluefin needs a native Snowflake connector with write-back for their warehouse, marker echo."},
]
MARKERS = {"Acme Logistics": {"alpha"}, "Velo Commerce": {"bravo", "charlie"}, "Kestrel Freight": {"delta"},
           "Bluefin Payments": {"echo"}}


def seed(svc, notes=NOTES):
    from service.ingest.readers import RawRow
    from service.ingest.store import ingest, validate_rows
    from service.roadmap.service import import_items

    import_items(svc, ROADMAP, source="roadmap.json")
    rows, errors = validate_rows([RawRow(n, i) for i, n in enumerate(notes, 1)], "test", 100_000)
    assert not errors
    ingest(svc, rows, errors, skip_invalid=False)


def ship(svc):
    from service.roadmap.service import import_items

    return import_items(svc, SHIPPED, source="roadmap_update.json")


@pytest.fixture
def seeded(app, svc):
    seed(svc)
    ship(svc)
    return app.test_client()


def _markers(text: str) -> set[str]:
    return set(re.findall(r"marker (\w+)", text))


# ---- history ----------------------------------------------------------------------------------------------------
def test_import_records_status_and_release_changes_with_time_and_source(svc):
    from service.roadmap.history import item_history
    from service.roadmap.service import import_items

    seed(svc)
    assert [c["kind"] for c in item_history(svc, "RM-104")] == ["created"]
    import_items(svc, ROADMAP, source="again.json")  # unchanged: nothing recorded
    ship(svc)
    changes = item_history(svc, "RM-104")
    assert [(c["kind"], c["old_status"], c["new_status"], c["new_release"], c["source"]) for c in changes] == [
        ("created", None, "in_progress", "Q1 2027", "roadmap.json"),
        ("changed", "in_progress", "shipped", "2026.11", "roadmap_update.json")]
    assert changes[1]["changed_at"] >= changes[0]["changed_at"]
    assert [c["kind"] for c in item_history(svc, "RM-101")] == ["created"]  # a title-only edit is no history
    import_items(svc, [i for i in SHIPPED if i["id"] != "RM-125"], sync=True, source="sync.json")
    assert item_history(svc, "RM-125")[-1]["kind"] == "archived"
    import_items(svc, SHIPPED, source="back.json")
    assert item_history(svc, "RM-125")[-1]["kind"] == "restored"


def test_a_failed_import_records_no_history(svc):
    from service.ingest.errors import IngestError
    from service.roadmap.history import item_history
    from service.roadmap.service import import_items

    seed(svc)
    bad = copy.deepcopy(SHIPPED) + [{"id": "RM-999", "title": "x", "status": "nonsense"}]
    with pytest.raises(IngestError):
        import_items(svc, bad, source="bad.json")
    assert [c["kind"] for c in item_history(svc, "RM-104")] == ["created"]


def test_history_api(seeded):
    r = seeded.get("/api/v1/roadmap/items/RM-104/history")
    assert r.status_code == 200 and r.get_json()["changes"][-1]["new_status"] == "shipped"
    assert seeded.get("/api/v1/roadmap/items/NOPE/history").status_code == 404


def test_history_cli(run_cli, tmp_path):
    roadmap, later = tmp_path / "roadmap.json", tmp_path / "later.json"
    roadmap.write_text(json.dumps(ROADMAP))
    later.write_text(json.dumps(SHIPPED))
    assert run_cli("roadmap", "import", str(roadmap)).exit_code == 0
    assert run_cli("roadmap", "import", str(later)).exit_code == 0
    out = run_cli("roadmap", "history", "RM-104")
    assert out.exit_code == 0 and "in_progress (Q1 2027) -> shipped (2026.11)  [later.json]" in out.output
    data = json.loads(run_cli("roadmap", "history", "RM-104", "--json").output)
    assert [c["source"] for c in data["changes"]] == ["roadmap.json", "later.json"]
    missing = run_cli("roadmap", "history", "NOPE")
    assert missing.exit_code == 1 and "no roadmap item" in missing.output and "Traceback" not in missing.output


# ---- follow-ups ---------------------------------------------------------------------------------------------------
def test_followups_json_contract_order_and_grounded_drafts(seeded):
    r = seeded.get("/api/v1/roadmap/items/RM-104/followups")
    assert r.status_code == 200
    data = r.get_json()
    assert {"item_id", "status", "changed_at", "accounts"} <= set(data)
    assert data["item_id"] == "RM-104" and data["status"] == "shipped" and data["changed_at"]
    names = [a["account"] for a in data["accounts"]]
    assert {"Acme Logistics", "Velo Commerce", "Kestrel Freight"} <= set(names)
    assert "Bluefin Payments" not in names  # asked for Snowflake, not SCIM
    assert names.index("Velo Commerce") < names.index("Acme Logistics") < names.index("Kestrel Freight")  # ARR
    for a in data["accounts"]:
        assert {"account", "note_ids", "quotes", "score", "draft"} <= set(a)
        assert {"text", "verdict", "cited_item_ids", "checks"} <= set(a["draft"])
        d = a["draft"]
        assert d["verdict"] == "available" and d["cited_item_ids"] == ["RM-104"] and d["checks"]["passed"], d
        assert "2026.11" in d["text"]  # the release the roadmap gives, and no other date
        own = MARKERS[a["account"]]
        assert _markers(" ".join(q["text"] for q in a["quotes"])) <= own
        assert _markers(d["text"]) <= own, (a["account"], d["text"])
        assert all(q["note_id"] in a["note_ids"] for q in a["quotes"])
    velo = data["accounts"][names.index("Velo Commerce")]
    assert velo["asks"] == 2 and velo["arr"] == 120000 and velo["deal_stage"] == "expansion"


def test_release_is_stated_only_where_the_roadmap_gives_one(app, svc):
    from service.followups.service import followups
    from service.roadmap.service import import_items

    seed(svc)
    undated = copy.deepcopy(SHIPPED)
    for i in undated:
        if i["id"] == "RM-104":
            i.update(status="in_progress", release="")
    import_items(svc, undated, source="undated.json")
    for a in followups(svc, "RM-104")["accounts"]:
        assert a["draft"]["verdict"] == "in_progress" and a["draft"]["checks"]["passed"]
        assert not re.search(r"\b(?:Q[1-4]|20\d\d)\b", a["draft"]["text"].replace("SCIM 2.0", ""))


def test_since_and_bad_input(seeded):
    data = seeded.get("/api/v1/roadmap/items/RM-104/followups?since=2026-10-04&drafts=false").get_json()
    names = {a["account"] for a in data["accounts"]}
    assert "Acme Logistics" not in names and "Kestrel Freight" in names
    assert all(a["draft"] is None for a in data["accounts"])
    bad = seeded.get("/api/v1/roadmap/items/RM-104/followups?since=yesterday")
    assert bad.status_code == 400 and "since" in bad.get_json()["error"]["message"]
    assert seeded.get("/api/v1/roadmap/items/NOPE/followups").status_code == 404


def test_marking_told_is_stored_shown_and_excluded_next_time(seeded, svc):
    r = seeded.post("/api/v1/roadmap/items/RM-104/followups/told", json={"account": "Velo Commerce"})
    assert r.status_code == 201, r.get_json()
    mark = r.get_json()  # who told them is the caller's token, never a field of the body
    assert mark["status"] == "shipped" and mark["told_by"] == "token:test-admin" and mark["draft_id"]
    again = seeded.post("/api/v1/roadmap/items/RM-104/followups/told", json={"account": "Velo Commerce"})
    assert again.status_code == 200 and again.get_json()["created"] is False
    data = seeded.get("/api/v1/roadmap/items/RM-104/followups").get_json()
    assert "Velo Commerce" not in [a["account"] for a in data["accounts"]]
    assert [t["account"] for t in data["told"]] == ["Velo Commerce"]
    stored = seeded.get(f"/api/v1/drafts/{mark['draft_id']}").get_json()
    assert stored["account"] == "Velo Commerce" and stored["cited_item_ids"] == ["RM-104"]
    assert _markers(stored["text"]) <= MARKERS["Velo Commerce"]
    # bad input: a clear error, nothing stored
    assert seeded.post("/api/v1/roadmap/items/RM-104/followups/told", json={"account": ""}).status_code == 422
    assert seeded.post("/api/v1/roadmap/items/RM-104/followups/told", json={"account": 5}).status_code == 422
    assert seeded.post("/api/v1/roadmap/items/RM-104/followups/told", json=[1]).status_code == 422
    nobody = seeded.post("/api/v1/roadmap/items/RM-104/followups/told", json={"account": "Bluefin Payments"})
    assert nobody.status_code == 404 and "has not asked" in nobody.get_json()["error"]["message"]


def test_a_later_move_puts_a_told_account_back(seeded, svc):
    from service.followups.service import followups
    from service.roadmap.service import import_items

    seeded.post("/api/v1/roadmap/items/RM-104/followups/told", json={"account": "Acme Logistics"})
    assert "Acme Logistics" not in [a["account"] for a in followups(svc, "RM-104", drafts=False)["accounts"]]
    import_items(svc, ROADMAP, source="rollback.json")  # back to in progress: a new status to tell them about
    assert "Acme Logistics" in [a["account"] for a in followups(svc, "RM-104", drafts=False)["accounts"]]


def test_followups_cli(run_cli, tmp_path):
    notes, roadmap, later = tmp_path / "notes.jsonl", tmp_path / "roadmap.json", tmp_path / "later.json"
    notes.write_text("\n".join(json.dumps(n) for n in NOTES))
    roadmap.write_text(json.dumps(ROADMAP))
    later.write_text(json.dumps(SHIPPED))
    for args in (("ingest", str(notes)), ("roadmap", "import", str(roadmap)), ("roadmap", "import", str(later))):
        assert run_cli(*args).exit_code == 0
    out = run_cli("followups", "RM-104")
    assert out.exit_code == 0 and "RM-104 SCIM 2.0 user and group provisioning: shipped (2026.11)" in out.output
    assert "== Velo Commerce (ARR 120,000, expansion; asked 2x" in out.output
    data = json.loads(run_cli("followups", "RM-104", "--json").output)
    assert data["accounts"][0]["account"] == "Velo Commerce"
    told = run_cli("followups", "RM-104", "--told", "Velo Commerce", "--by", "sam")
    assert told.exit_code == 0 and "Velo Commerce: told about RM-104 (shipped)" in told.output
    listed = json.loads(run_cli("followups", "RM-104", "--json").output)["accounts"]
    assert "Velo Commerce" not in [a["account"] for a in listed]
    for args, code in ((("followups", "NOPE"), 1), (("followups", "RM-104", "--since", "soon"), 2),
                       (("followups", "RM-104", "--told", "Bluefin Payments"), 1)):
        res = run_cli(*args)
        assert res.exit_code == code and res.output.startswith("error: ") and "Traceback" not in res.output


# ---- brief --------------------------------------------------------------------------------------------------------
def test_brief_is_grounded_in_the_accounts_own_words(seeded, svc):
    r = seeded.get("/api/v1/accounts/Velo Commerce/brief?since=2026-01-01")
    assert r.status_code == 200
    b = r.get_json()
    assert b["account"] == "Velo Commerce" and b["arr"] == 120000
    scim = [p for p in b["pains"] if p["decision"].get("item_id") == "RM-104"]
    assert scim and scim[0]["decision"]["verdict"] == "available" and scim[0]["decision"]["release"] == "2026.11"
    assert scim[0]["first_heard"] == "2026-10-02" and scim[0]["last_heard"] == "2026-10-20"
    assert any(m["item_id"] == "RM-104" and m["asked_by_account"] for m in b["moved"])
    everything = json.dumps(b)
    assert _markers(everything) <= MARKERS["Velo Commerce"]
    for other in ("Acme Logistics", "Kestrel Freight", "Bluefin Payments"):
        assert other not in everything
    assert b["checks"]["passed"], b["checks"]
    assert [p["answered"] for p in scim] == [False]
    seeded.post("/api/v1/roadmap/items/RM-104/followups/told", json={"account": "Velo Commerce"})
    after = seeded.get("/api/v1/accounts/Velo Commerce/brief").get_json()
    assert [p["answered"] for p in after["pains"] if p["decision"].get("item_id") == "RM-104"] == [True]
    assert any(d["followup"] and d["cited_item_ids"] == ["RM-104"] for d in after["drafts"])
    assert seeded.get("/api/v1/accounts/Nobody/brief").status_code == 404
    assert seeded.get("/api/v1/accounts/Velo Commerce/brief?since=x").status_code == 400


def test_brief_cli(run_cli, tmp_path):
    notes = tmp_path / "notes.jsonl"
    notes.write_text("\n".join(json.dumps(n) for n in NOTES))
    roadmap = tmp_path / "roadmap.json"
    roadmap.write_text(json.dumps(ROADMAP))
    assert run_cli("ingest", str(notes)).exit_code == 0 and run_cli("roadmap", "import", str(roadmap)).exit_code == 0
    out = run_cli("brief", "Acme Logistics")
    assert out.exit_code == 0 and "Acme Logistics (ARR 90,000, renewal)" in out.output and "marker alpha" in out.output
    assert "marker bravo" not in out.output
    assert json.loads(run_cli("brief", "Acme Logistics", "--json").output)["account"] == "Acme Logistics"
    missing = run_cli("brief", "Nobody")
    assert missing.exit_code == 1 and "no account named" in missing.output


# ---- report -------------------------------------------------------------------------------------------------------
def _today():
    """The status change a test makes happens now: a report of a past day stops at its end and would not list it."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).date()


def test_report_lists_items_moved_since_the_last_report(seeded, svc):
    from service.reports.deliver import build_payload
    from service.reports.store import create_report

    first = create_report(svc, "7d", _today())
    moved = first.data["moved"]
    assert [(m["item_id"], m["old_status"], m["new_status"]) for m in moved] == [("RM-104", "in_progress", "shipped")]
    assert moved[0]["accounts"] >= 3 and moved[0]["followups"] == "/roadmap/items/RM-104/followups"
    section = next(b for b in build_payload(first.data)["blocks"] if "Moved since the last report" in str(b))
    body = section["text"]["text"].split("\n", 1)[1]
    assert body.count("\n") == 1  # two lines
    assert "in progress -> shipped" in body and "accounts asked" in body and "/roadmap/items/RM-104/followups" in body
    assert "RM-104" in first.markdown and "follow-ups" in first.html
    second = create_report(svc, "1d", _today())  # nothing moved since the first report
    assert second.data["moved"] == [] and "No roadmap item changed status." in second.markdown


# ---- pages and access ---------------------------------------------------------------------------------------------
def test_pages_show_followups_told_button_and_brief(app, seeded):
    page = seeded.get("/roadmap/items/RM-104/followups")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Mark as told" in html and "Velo Commerce" in html and "Moved from in progress to shipped" in html
    assert seeded.post("/roadmap/items/RM-104/followups/told", data={"account": "Velo Commerce"}).status_code == 303
    html = seeded.get("/roadmap/items/RM-104/followups").get_data(as_text=True)
    assert "Already told" in html
    brief = seeded.get("/accounts/Velo Commerce/brief")
    assert brief.status_code == 200 and "marker bravo" in brief.get_data(as_text=True)
    assert "marker alpha" not in brief.get_data(as_text=True)
    assert seeded.get("/roadmap/items/NOPE/followups").status_code == 404
    assert seeded.get("/accounts/Nobody/brief").status_code == 404
    assert "follow-ups" in seeded.get("/roadmap").get_data(as_text=True)


@pytest.mark.parametrize("role,status", [("viewer", 403), ("sales", 200), ("pm", 200)])
def test_sales_and_above_see_followups_and_briefs(app, svc, role, status):
    seed(svc)
    client = app.test_client(role=role)
    for path in ("/api/v1/roadmap/items/RM-104/followups?drafts=false", "/api/v1/accounts/Acme Logistics/brief",
                 "/roadmap/items/RM-104/followups", "/accounts/Acme Logistics/brief"):
        assert client.get(path).status_code == status, (role, path)
    assert app.test_client(anonymous=True).get("/api/v1/roadmap/items/RM-104/followups").status_code == 401


def test_untrusted_text_in_notes_is_escaped_on_the_pages(app, svc):
    seed(svc, NOTES + [{"id": "f-9", "account": "Acme Logistics", "source": "call",
                        "text": "<script>alert(1)</script> Acme also needs SCIM user provisioning from Okta."}])
    html = app.test_client().get("/accounts/Acme Logistics/brief").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html


def test_an_llm_follow_up_that_quotes_another_account_is_replaced_by_the_template(make_app, fake_openai):
    from service.followups.service import followups

    app = make_app(OPENAI_BASE_URL=fake_openai.base_url, LLM_MODEL="fake-model", LLM_TIMEOUT=0.5,
                   LLM_BACKOFF_BASE=0.01)
    svc = app.extensions["feedback"]
    seed(svc)
    ship(svc)
    stolen = "Velo procurement requires SCIM 2.0 user and group provisioning from Okta, marker bravo."

    def answer(body):
        data = json.loads(body["messages"][1]["content"].split("<data>")[1].split("</data>")[0])
        text = (f'Good news: SCIM 2.0 user and group provisioning is available today. As you said, "{stolen}" '
                "It has been part of the product since our 2026.11 release, and I can set up a short walkthrough.")
        return {"content": json.dumps({"text": text, "cited_item_ids": [i["id"] for i in data["items"]],
                                       "quotes": [stolen]})}

    fake_openai.set_script([answer] * 20)
    found = followups(svc, "RM-104")
    acme = next(a for a in found["accounts"] if a["account"] == "Acme Logistics")
    assert acme["draft"]["mode"] == "grounded-template" and acme["draft"]["checks"]["passed"]
    assert any("failed the checks" in w for w in acme["draft"]["warnings"])
    assert _markers(acme["draft"]["text"]) <= MARKERS["Acme Logistics"]
    prompts = [r["json"]["messages"][-1]["content"] for r in fake_openai.chat_requests]
    acme_prompts = [p for p in prompts if "marker alpha" in p]
    assert acme_prompts and not any("marker bravo" in p or "marker delta" in p for p in acme_prompts)


def test_erasing_an_account_removes_its_told_marks(seeded, svc):
    from sqlalchemy import select

    from service.erase import erase_account
    from service.models import FollowupTold

    told = seeded.post("/api/v1/roadmap/items/RM-104/followups/told", json={"account": "Acme Logistics"})
    assert told.status_code == 201
    erase_account(svc, "Acme Logistics", compact_files=False)
    with svc.db.session() as session:
        assert session.scalars(select(FollowupTold.account)).all() == []
    assert "Acme Logistics" not in json.dumps(seeded.get("/api/v1/roadmap/items/RM-104/followups").get_json())


def test_a_brief_without_a_roadmap_still_lists_the_accounts_words(app, svc):
    from service.ingest.readers import RawRow
    from service.ingest.store import ingest, validate_rows
    from service.themes.run import RunOptions, run_themes

    rows, errors = validate_rows([RawRow(n, i) for i, n in enumerate(NOTES, 1)], "test", 100_000)
    ingest(svc, rows, errors, skip_invalid=False)
    run_themes(svc, RunOptions(include_all=True, min_mentions=1, min_accounts=1))
    b = app.test_client().get("/api/v1/accounts/Velo Commerce/brief").get_json()
    assert b["account"] == "Velo Commerce" and b["notes"] == 2 and b["checks"]["passed"]
    assert b["pains"] and all(p["decision"]["verdict"] == "not_on_roadmap" for p in b["pains"])
    assert "marker bravo" in json.dumps(b)


@pytest.mark.parametrize("reads_as_context, listed", [(1.0, False), (0.0, True)])
def test_a_reps_pasted_line_is_no_accounts_ask(app, svc, monkeypatch, reads_as_context, listed):
    """A sentence pasted into three notes that reads as context is a rep's boilerplate, as the theme run says: it
    names no account as asking for an item. Repeated words that read as a pain still count."""
    import numpy as np

    from service.themes import context

    pasted = "Follow up on SCIM user provisioning from Okta next Tuesday."
    notes = NOTES + [{"id": f"p-{n}", "account": name, "source": "call", "date": "2026-10-0" + str(n + 6),
                      "text": pasted} for n, name in enumerate(("Orbit Foods", "Tern Air", "Quill Bank"))]
    seed(svc, notes)
    ship(svc)
    real = context.context_probability
    monkeypatch.setattr(context, "context_probability", lambda vectors, embedder: np.where(
        np.isclose(vectors @ svc.embedder.embed([pasted])[0], 1.0, atol=1e-4), reads_as_context,
        real(vectors, embedder)))
    found = app.test_client().get("/api/v1/roadmap/items/RM-104/followups").get_json()["accounts"]
    names = {a["account"] for a in found}
    assert {"Acme Logistics", "Velo Commerce", "Kestrel Freight"} <= names
    assert ({"Orbit Foods", "Tern Air", "Quill Bank"} <= names) is listed
    assert listed or not {"Orbit Foods", "Tern Air", "Quill Bank"} & names
