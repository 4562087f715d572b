"""'Is this the right item?': a yes on the ask page or the theme page is stored as a link, and the matcher learns."""
from __future__ import annotations

from service.roadmap import decision, service

ITEMS = [
    {"id": "EXP", "title": "Background CSV exports", "status": "shipped", "description": "Large exports run as jobs."},
    {"id": "SSO", "title": "SAML single sign-on", "status": "shipped", "description": "Login with Okta."},
    {"id": "LIN", "title": "Column lineage", "status": "planned", "description": "Trace a metric to its columns."},
]


def _draft(svc, question: str) -> dict:
    from service.drafts.pipeline import create_draft

    return create_draft(svc, question, audience="internal")


def test_a_confirmed_draft_becomes_evidence_for_its_item(app, svc):
    service.import_items(svc, ITEMS)
    question = "where does this kpi number come from"
    before = decision.decide(svc, [{"id": "q", "text": question}])[0]
    score_before = next(r.score for r in before.ranked if r.item_id == "LIN")
    d = _draft(svc, "where does this kpi number come from, column by column")
    link = service.link(svc, "LIN", draft_id=d["draft_id"], created_by="test")
    assert link["kind"] == "draft" and link["draft_id"] == d["draft_id"] and link["created"]
    assert service.link(svc, "LIN", draft_id=d["draft_id"])["created"] is False  # idempotent
    assert decision.get_matcher(svc).items[[i.id for i in decision.get_matcher(svc).items].index("LIN")].evidence == [
        "where does this kpi number come from, column by column"]
    after = decision.decide(svc, [{"id": "q", "text": question}])[0]
    assert next(r.score for r in after.ranked if r.item_id == "LIN") > score_before
    assert after.ranked[0].item_id == "LIN"


def test_ask_page_confirms_or_rejects_a_cited_item(app, svc):
    service.import_items(svc, ITEMS)
    d = _draft(svc, "Background CSV exports of large tables?")
    client = app.test_client()
    assert d["cited_item_ids"] == ["EXP"]
    wrong = client.post(f"/ask/{d['draft_id']}/confirm", data={"item_id": "SSO", "answer": "yes"})
    assert wrong.status_code == 422 and "not cited" in wrong.get_data(as_text=True)
    yes = client.post(f"/ask/{d['draft_id']}/confirm", data={"item_id": "EXP", "answer": "yes"})
    assert yes.status_code == 303 and "saved=confirmed" in yes.headers["Location"]
    links = service.item_detail(svc, "EXP")["links"]
    assert [(ln["kind"], ln["draft_id"], ln["created_by"]) for ln in links] == [("draft", d["draft_id"],
                                                                                 "token:test-admin")]
    assert "(No removes the link)" in client.get(f"/ask/{d['draft_id']}").get_data(as_text=True)
    no = client.post(f"/ask/{d['draft_id']}/confirm", data={"item_id": "EXP", "answer": "no"})
    assert no.status_code == 303 and service.item_detail(svc, "EXP")["links"] == []  # no takes the yes back
    page = client.get(f"/ask/{d['draft_id']}").get_data(as_text=True)
    assert "Marked as not the right item" in page and "not the right item: EXP" in page  # rejected: test_rejections
    assert client.post("/ask/999999/confirm", data={"item_id": "EXP", "answer": "yes"}).status_code == 404


def test_api_links_a_draft(app, svc):
    service.import_items(svc, ITEMS)
    d = _draft(svc, "Okta login for everyone?")
    client = app.test_client()
    r = client.post("/api/v1/roadmap/items/SSO/links", json={"draft_id": d["draft_id"]})
    assert r.status_code == 201 and r.get_json()["kind"] == "draft"
    assert client.post("/api/v1/roadmap/items/SSO/links", json={"draft_id": 424242}).status_code == 404
    assert client.post("/api/v1/roadmap/items/SSO/links", json={"draft_id": d["draft_id"], "theme_id": 1}).status_code == 422


def test_theme_page_confirms_a_matched_item(app):
    from tests.unit.test_reports import seed

    ids = seed(app, with_drafts=False)
    svc, client = app.extensions["feedback"], app.test_client()
    theme_id = ids["CSV export times out"]
    assert client.post(f"/themes/{theme_id}/confirm", data={"item_id": "DARK", "answer": "yes"}).status_code == 422
    matched = {t["theme_id"]: t["items"] for t in service.coverage(svc)["themes"]}
    picked = next((tid, i["item_id"]) for tid, items in matched.items() for i in items if i["via"] == "match")
    r = client.post(f"/themes/{picked[0]}/confirm", data={"item_id": picked[1], "answer": "yes"})
    assert r.status_code == 303
    after = {t["theme_id"]: t["items"] for t in service.coverage(svc)["themes"]}[picked[0]]
    assert {"item_id": picked[1], "via": "link"}.items() <= next(i for i in after if i["item_id"] == picked[1]).items()


def test_a_one_item_roadmap_answers_match_drafts_and_coverage(app, svc):
    """A roadmap of one item once made match, drafts and coverage answer 500 (an empty calibration background)."""
    from service.ingest.store import ingest
    from service.ingest.validate import NoteInput

    ingest(svc, [NoteInput(text=f"Statement {n} about csv exports and dashboards.", account=f"A{n % 7}")
                 for n in range(80)], [], skip_invalid=False)
    client = app.test_client()
    assert client.post("/api/v1/roadmap/items", json=[{"id": "RM-1", "title": "CSV export", "status": "planned"}]
                       ).status_code == 201
    assert client.post("/api/v1/themes/run", json={"all": True}).status_code in (200, 201)
    match = client.post("/api/v1/match", json=["csv export please", "catering for the offsite"])
    assert match.status_code == 200 and len(match.get_json()["results"]) == 2
    assert client.post("/api/v1/drafts", json={"question": "Can we export to CSV?"}).status_code == 201
    assert client.get("/api/v1/roadmap/coverage").status_code == 200
