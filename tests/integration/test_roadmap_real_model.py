"""The bundled roadmap with the packaged model: customer wording lands on the right items, off-topic requests abstain."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.model

SAMPLES = Path(__file__).resolve().parents[2] / "service" / "sample_data"
REQUESTS = [
    ("snow", "we would love to push our results back into Snowflake", "RM-105", "in_progress"),
    ("eu", "our legal team needs all data stored in the EU", "RM-116", "under_consideration"),
    ("dash", "dashboards take forever to load every monday morning", "RM-110", "in_progress"),
    ("sso", "do you support logging in with Azure AD", "RM-103", "available"),
]
OFF_TOPIC = [("coffee", "the coffee machine in the office is broken")]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from service import create_app
    from service.config import TestConfig

    app = create_app(TestConfig(tmp_path_factory.mktemp("home"), EMBEDDING_MODEL=None))
    client = app.test_client()
    roadmap = json.loads((SAMPLES / "roadmap.json").read_text())
    assert client.post("/api/v1/roadmap/items", json=roadmap).status_code == 201
    # All the sample notes: their statements are the matcher's unlabeled background, as in a real installation
    # (with a fraction of them its acceptance line moves and borderline requests abstain).
    notes = [json.loads(line) for line in (SAMPLES / "notes.jsonl").read_text().splitlines() if line.strip()]
    assert client.post("/api/v1/notes", json=notes).status_code == 201
    yield client
    app.extensions["feedback"].close()


def test_customer_wording_lands_on_the_right_items(client):
    body = [{"id": rid, "text": text} for rid, text, _, _ in REQUESTS + [(*o, None, None) for o in OFF_TOPIC]]
    results = {r["id"]: r for r in client.post("/api/v1/match", json=body).get_json()["results"]}
    for rid, text, item_id, verdict in REQUESTS:
        got = results[rid]
        assert got["matches"] and got["matches"][0]["item_id"] == item_id, (text, got)
        assert got["verdict"] == verdict, (text, got)
    for rid, text in OFF_TOPIC:
        assert results[rid]["verdict"] == "not_on_roadmap" and results[rid]["matches"] == [], results[rid]


def test_scores_rank_the_bundled_roadmap_with_reasons(client):
    data = client.get("/api/v1/roadmap/scores").get_json()
    scored = [r for r in data["items"] if r["score"] is not None]
    assert len(scored) == len(data["items"]) and scored == sorted(scored, key=lambda r: -r["score"])
    assert all("for the items in development" in r["reason"] for r in scored)


def test_a_draft_warns_the_rep_about_a_second_ask_it_leaves_unanswered(client):
    """Two asks in two sentences: the draft answers the Excel one and, before, said nothing of phone support."""
    two = "Is there a way to export to Excel? Also, do you offer phone support for enterprise customers?"
    got = client.post("/api/v1/drafts", json={"question": two}).get_json()
    assert got["cited_item_ids"][:1] == ["RM-102"], got
    assert any(w.startswith('this draft does not answer part of the question, "Also, do you offer phone support')
               for w in got["warnings"]), got["warnings"]
    one = client.post("/api/v1/drafts", json={"question": "Is there a way to export to Excel?"}).get_json()
    assert not any("part of the question" in w for w in one["warnings"]), one["warnings"]
