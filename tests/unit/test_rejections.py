""""Not the right item": a rep's No on a draft is stored as a rejection, and the matcher then declines that item for
questions that read as the rejected one. Before, No only removed a link: the next identical question cited the item
again."""
from __future__ import annotations

import json

import numpy as np

from service.auth.audit import entries
from service.erase import delete_draft
from service.roadmap import decision, service
from service.roadmap.matcher import REJECTED_NEAR, RoadmapMatcher
from service.roadmap.rejections import reject, rejected_texts

from .test_confirm_item import ITEMS, _draft


def _cited(svc, question: str) -> list[str]:
    return [r.item_id for r in decision.decide(svc, [{"id": "q", "text": question}])[0].cited]


def test_the_matcher_declines_an_item_for_a_request_that_reads_as_a_text_rejected_for_it(svc):
    rejected = "Background CSV exports of large tables?"
    plain = RoadmapMatcher().fit(ITEMS, svc.embedder)
    told = RoadmapMatcher().fit([dict(i, rejected=[rejected] if i["id"] == "EXP" else []) for i in ITEMS], svc.embedder)
    requests = [rejected, "Column lineage for a KPI, please"]
    before, after = plain.scores(requests), told.scores(requests)
    exp = [i["id"] for i in ITEMS].index("EXP")
    assert before[0, exp] >= 0.5 and after[0, exp] < 0.5  # the same question: EXP is declined
    assert np.allclose(after[0, exp], before[0, exp] * 0.49)  # scaled below the line, still ranked
    assert np.allclose(after[1], before[1])  # a question unlike the rejected one is untouched
    near = told.rejected_vectors @ told.embedder.embed([rejected])[0]
    assert near.max() >= REJECTED_NEAR


def test_no_on_a_draft_page_stops_the_item_being_cited_for_the_same_question_and_yes_takes_it_back(app, svc):
    service.import_items(svc, ITEMS)
    question = "Background CSV exports of large tables?"
    d = _draft(svc, question)
    assert d["cited_item_ids"] == ["EXP"]
    client = app.test_client()
    no = client.post(f"/ask/{d['draft_id']}/confirm", data={"item_id": "EXP", "answer": "no"})
    assert no.status_code == 303 and "saved=rejected" in no.headers["Location"]
    with svc.db.session() as session:
        assert rejected_texts(session) == {"EXP": [question]}
    assert "EXP" not in _cited(svc, question)  # the next rep asking the same gets no EXP answer
    assert "EXP" not in _draft(svc, question)["cited_item_ids"]
    page = client.get(f"/ask/{d['draft_id']}").get_data(as_text=True)
    assert "Marked as not the right item" in page
    assert [e["action"] for e in entries(svc.db, action="roadmap_reject")] == ["roadmap_reject"]

    yes = client.post(f"/ask/{d['draft_id']}/confirm", data={"item_id": "EXP", "answer": "yes"})
    assert yes.status_code == 303
    with svc.db.session() as session:
        assert rejected_texts(session) == {}  # whichever was said last holds
    assert [ln["draft_id"] for ln in service.item_detail(svc, "EXP")["links"]] == [d["draft_id"]]
    assert _cited(svc, question) == ["EXP"]


def test_the_api_rejects_and_takes_back_and_names_what_is_wrong(app, svc):
    service.import_items(svc, ITEMS)
    d = _draft(svc, "Okta login for everyone?")
    client = app.test_client()
    url = "/api/v1/roadmap/items/SSO/rejections"
    first = client.post(url, json={"draft_id": d["draft_id"]})
    assert first.status_code == 201 and first.get_json()["created"] is True
    assert first.get_json()["created_by"] == "token:test-admin"
    assert client.post(url, json={"draft_id": d["draft_id"]}).status_code == 200  # idempotent
    assert client.post(url, json={"draft_id": 424242}).status_code == 404
    assert client.post("/api/v1/roadmap/items/NOPE/rejections", json={"draft_id": d["draft_id"]}).status_code == 404
    assert client.post(url, json={}).status_code == 422
    assert client.post(url, json={"draft_id": "x"}).status_code == 422
    assert client.delete(url, json={"draft_id": d["draft_id"]}).status_code == 200
    assert client.delete(url, json={"draft_id": d["draft_id"]}).status_code == 404
    assert [e["action"] for e in entries(svc.db)][:2] == ["roadmap_unreject", "roadmap_reject"]


def test_a_rejection_goes_with_its_draft_and_its_item(svc):
    service.import_items(svc, ITEMS)
    d = _draft(svc, "Okta login for everyone?")
    reject(svc, "SSO", draft_id=d["draft_id"])
    delete_draft(svc, d["draft_id"])
    with svc.db.session() as session:
        assert rejected_texts(session) == {}
    other = _draft(svc, "Column lineage?")
    reject(svc, "LIN", draft_id=other["draft_id"])
    service.import_items(svc, [i for i in ITEMS if i["id"] != "LIN"], sync=True, prune=True)
    with svc.db.session() as session:
        assert rejected_texts(session) == {}


def test_the_cli_json_of_match_reflects_a_rejection(app, svc):
    # feedback match reads the same Decision: the rejected item is still listed with --min-score 0, below the line
    service.import_items(svc, ITEMS)
    question = "Background CSV exports of large tables?"
    reject(svc, "EXP", draft_id=_draft(svc, question)["draft_id"])
    (result,) = service.match_requests(svc, [{"id": "q", "text": question}], min_score=0.0)
    exp = next(m for m in result["matches"] if m["item_id"] == "EXP")
    assert exp["score"] < 0.5 and json.dumps(result)


# ---- follow-ups: "not asking for this" -----------------------------------------------------------------------------
PASTED = "Most of their reporting still runs off spreadsheets, and they want Snowflake write-back."


def _accounts(client, item_id: str) -> list[str]:
    body = client.get(f"/api/v1/roadmap/items/{item_id}/followups?drafts=false").get_json()
    return [a["account"] for a in body["accounts"]]


def test_not_asking_on_the_follow_ups_page_drops_the_account_and_near_copies_in_other_accounts(app, svc):
    # the walkthrough's case: one line pasted into several accounts' notes, matched to an item it is not about
    from .test_followups import NOTES, seed

    extra = [{"id": f"p-{n}", "account": a, "source": "call", "date": f"2026-10-1{n}", "text": PASTED}
             for n, a in enumerate(("Acme Logistics", "Kestrel Freight"))]
    seed(svc, NOTES + extra)
    client = app.test_client()
    listed = _accounts(client, "RM-105")
    assert {"Acme Logistics", "Kestrel Freight", "Bluefin Payments"} <= set(listed)
    page = client.get("/roadmap/items/RM-105/followups").get_data(as_text=True)
    assert "Not asking for this" in page
    done = client.post("/roadmap/items/RM-105/followups/not-asking", data={"account": " Acme Logistics "})
    assert done.status_code == 303 and "rejected=Acme+Logistics" in done.headers["Location"]
    after = _accounts(client, "RM-105")
    assert "Acme Logistics" not in after and "Kestrel Freight" not in after  # its copy of the line went too
    assert "Bluefin Payments" in after  # an account with its own words stays
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Acme Logistics's quotes no longer count as asks for RM-105" in shown
    forged = client.get("/roadmap/items/RM-105/followups?rejected=Velo+Commerce").get_data(as_text=True)
    assert "quotes no longer count" not in forged  # the address names an account; only a stored rejection shows
    (entry,) = entries(svc.db, action="roadmap_reject")
    assert entry["details"]["account"].startswith("sha256:")  # never the account's name in the log
    again = client.post("/api/v1/roadmap/items/RM-105/followups/not-asking", json={"account": "Acme Logistics"})
    assert again.status_code == 404  # nothing of Acme is matched to RM-105 any more

    undo = client.delete("/api/v1/roadmap/items/RM-105/followups/not-asking", json={"account": "Acme Logistics"})
    assert undo.status_code == 200 and undo.get_json()["taken_back"] == 1
    assert {"Acme Logistics", "Kestrel Freight"} <= set(_accounts(client, "RM-105"))
    assert client.delete("/api/v1/roadmap/items/RM-105/followups/not-asking",
                         json={"account": "Acme Logistics"}).status_code == 404


def test_not_asking_names_what_is_wrong(app, svc):
    from .test_followups import seed

    seed(svc)
    client = app.test_client()
    url = "/api/v1/roadmap/items/RM-104/followups/not-asking"
    assert client.post(url, json={"account": "Nobody Inc"}).status_code == 404
    assert client.post(url, json={"account": "  "}).status_code == 422
    assert client.post(url, json={}).status_code == 422
    assert client.post("/api/v1/roadmap/items/NOPE/followups/not-asking",
                       json={"account": "Acme Logistics"}).status_code == 404
    ok = client.post(url, json={"account": "Acme Logistics"})
    assert ok.status_code == 201 and ok.get_json()["rejected"] >= 1 and ok.get_json()["account"] == "Acme Logistics"


def test_after_a_no_the_next_best_item_is_cited_with_a_warning_to_check_it(svc):
    # found by the roadmap walkthrough: once the CSV export was refused, drafts cited the Excel export confidently
    items = ITEMS + [{"id": "XLS", "title": "Background Excel exports", "status": "planned",
                      "description": "Large Excel exports run as jobs."}]
    service.import_items(svc, items)
    question = "Background CSV exports of large tables?"
    d = _draft(svc, question)
    before = decision.decide(svc, [{"id": "q", "text": question}])[0]
    assert [r.item_id for r in before.cited] == ["EXP"] and before.ranked[1].item_id == "XLS"
    assert not any("marked as not the right item" in w for w in before.warnings)
    reject(svc, "EXP", draft_id=d["draft_id"])
    after = decision.decide(svc, [{"id": "q", "text": question}])[0]
    assert [r.item_id for r in after.cited] == ["XLS"]
    assert decision.AFTER_REJECTION.format(rejected="EXP", cited="XLS") in after.warnings
    drafted = _draft(svc, question)
    assert any("EXP was marked as not the right item" in w for w in drafted["warnings"])  # the rep sees it
    other = decision.decide(svc, [{"id": "q", "text": "Column lineage for a KPI?"}])[0]
    assert not any("marked as not the right item" in w for w in other.warnings)  # unlike the rejected question


def test_the_cli_rejects_and_takes_back_as_the_api_does(run_cli, cli_env, make_app):
    app = make_app(DATABASE_URL=f"sqlite:///{cli_env / 'feedback.db'}")
    svc = app.extensions["feedback"]
    service.import_items(svc, ITEMS)
    d = _draft(svc, "Okta login for everyone?")
    cited = d["cited_item_ids"][0]
    done = run_cli("roadmap", "reject", cited, "--draft", str(d["draft_id"]), "--json")
    assert done.exit_code == 0 and json.loads(done.stdout)["created"] is True
    assert "already rejected" in run_cli("roadmap", "reject", cited, "--draft", str(d["draft_id"])).stdout
    assert f"rejected draft {d['draft_id']} (not about this item" in run_cli("roadmap", "show", cited).stdout
    other = next(i["id"] for i in ITEMS if i["id"] != cited)
    wrong = run_cli("roadmap", "reject", other, "--draft", str(d["draft_id"]))
    assert wrong.exit_code == 1 and "does not cite" in wrong.output  # only an item the draft cites
    assert run_cli("roadmap", "reject", cited).exit_code == 2  # --draft is required
    undo = run_cli("roadmap", "reject", cited, "--draft", str(d["draft_id"]), "--undo")
    assert undo.exit_code == 0 and "no longer rejected" in undo.stdout
    assert run_cli("roadmap", "reject", cited, "--draft", str(d["draft_id"]), "--undo").exit_code == 1
    actions = [e["action"] for e in json.loads(run_cli("audit", "--json").stdout)["entries"]]
    assert actions[:2] == ["roadmap_unreject", "roadmap_reject"]


# ---- the theme page's "No" -----------------------------------------------------------------------------------------
def test_no_on_a_theme_page_stops_the_item_covering_the_theme_and_a_link_cannot_be_refused_there(app):
    from tests.unit.test_reports import seed

    seed(app, with_drafts=False)
    svc, client = app.extensions["feedback"], app.test_client()
    matched = {t["theme_id"]: t["items"] for t in service.coverage(svc)["themes"]}
    theme_id, item_id = next((tid, i["item_id"]) for tid, items in matched.items() for i in items
                             if i["via"] == "match")
    page = client.get(f"/themes/{theme_id}").get_data(as_text=True)
    assert f'aria-label="No: {item_id} does not address this theme"' in page
    no = client.post(f"/themes/{theme_id}/confirm", data={"item_id": item_id, "answer": "no"})
    assert no.status_code == 303 and f"rejected={item_id}" in no.headers["Location"]
    after = {t["theme_id"]: t["items"] for t in service.coverage(svc)["themes"]}[theme_id]
    assert item_id not in [i["item_id"] for i in after]  # coverage no longer votes it in
    assert f"Noted: {item_id} does not address this theme" in client.get(no.headers["Location"]).get_data(as_text=True)
    (entry,) = entries(svc.db, action="roadmap_reject")
    assert entry["details"]["theme_id"] == theme_id and entry["details"]["via"] == "theme page"
    with svc.db.session() as session:
        assert rejected_texts(session).get(item_id)  # the theme's statements matched to it

    linked_theme, linked_item = next((tid, i["item_id"]) for tid, items in
                                     {t["theme_id"]: t["items"] for t in service.coverage(svc)["themes"]}.items()
                                     for i in items if i["via"] == "match")
    assert client.post(f"/themes/{linked_theme}/confirm", data={"item_id": linked_item, "answer": "yes"}
                       ).status_code == 303
    refused = client.post(f"/themes/{linked_theme}/confirm", data={"item_id": linked_item, "answer": "no"})
    assert refused.status_code == 409 and "A person linked this theme" in refused.get_data(as_text=True)


def test_an_items_detail_lists_its_rejections_by_id_without_their_text(app, svc, run_cli, cli_env):
    service.import_items(svc, ITEMS)
    d = _draft(svc, "Background CSV exports of large tables?")
    reject(svc, "EXP", draft_id=d["draft_id"], created_by="user:rep@example.com")
    detail = app.test_client().get("/api/v1/roadmap/items/EXP").get_json()
    assert [(r["draft_id"], r["created_by"]) for r in detail["rejections"]] == [(d["draft_id"], "user:rep@example.com")]
    assert "Background CSV exports of large tables?" not in json.dumps(detail["rejections"])  # a viewer reads this


def test_undoing_a_told_mark_takes_the_rejections_of_its_draft_along(svc):
    # found in review: the draft stored with the mark was deleted, its rejection stayed behind, pointing at nothing
    from service.followups.service import mark_told, unmark_told

    from .test_followups import seed, ship

    seed(svc)
    ship(svc)
    mark = mark_told(svc, "RM-104", "Velo Commerce", told_by="pm")
    reject(svc, "RM-104", draft_id=mark["draft_id"])
    assert unmark_told(svc, "RM-104", "Velo Commerce")["draft_deleted"]
    with svc.db.session() as session:
        assert rejected_texts(session) == {}
    assert service.item_detail(svc, "RM-104")["rejections"] == []
