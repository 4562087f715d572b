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
