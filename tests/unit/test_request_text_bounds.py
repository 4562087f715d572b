"""Total text per request is bounded so no in-limit request outlives the worker timeout (issue 15, point 8):
large ingests (API and paste page) go to a job, match and pasted-text summaries answer 413 naming the field.
The bounds come from eval/bench_request_text.py; these tests check behaviour, not timing."""
from __future__ import annotations

import time

from service.api.roadmap import MAX_MATCH_CHARS, MAX_MATCH_REQUESTS
from service.api.themes import MAX_SUMMARIZE_CHARS
from tests.unit.test_drafts_api import seed
from .jobpages import follow_job


def test_match_total_text_over_the_bound_is_413_naming_the_field(app, svc):
    seed(svc)
    client = app.test_client()
    per = MAX_MATCH_CHARS // 10
    at_bound = ["x" * (per - 1) + " " for _ in range(10)]
    assert client.post("/api/v1/match", json=at_bound).status_code == 200
    over = at_bound[:-1] + ["y" * (per + 1)]
    resp = client.post("/api/v1/match", json=over)
    assert resp.status_code == 413
    error = resp.get_json()["error"]
    assert error["details"] == {"field": "text", "limit": MAX_MATCH_CHARS, "chars": MAX_MATCH_CHARS + 1}
    assert f"{MAX_MATCH_CHARS:,}" in error["message"] and "split them" in error["message"]
    assert MAX_MATCH_REQUESTS * 20 == MAX_MATCH_CHARS  # 1,000 requests of 20 characters: the benchmarked case


def test_summarize_total_text_over_the_bound_is_413(client):
    resp = client.post("/api/v1/themes/summarize", json={"texts": ["z" * (MAX_SUMMARIZE_CHARS // 2 + 1)] * 2})
    assert resp.status_code == 413
    error = resp.get_json()["error"]
    assert error["details"] == {"field": "texts", "limit": MAX_SUMMARIZE_CHARS}
    assert "POST /api/v1/notes" in error["message"]


def test_draft_question_over_its_bound_is_422(client):
    resp = client.post("/api/v1/drafts", json={"question": "q" * 4001})
    assert resp.status_code == 422 and "the limit is 4,000" in resp.get_json()["error"]["message"]


def test_large_paste_goes_to_a_job_and_is_stored(make_app):
    app = make_app(ASYNC_INGEST_CHARS=2_000)
    client = app.test_client()
    text = "\n---\n".join(f"Note {i}: exports time out on the large workspace every Monday. " * 10 for i in range(5))
    resp = client.post("/", data={"text": text, "source": "call"})
    assert resp.status_code == 303 and "/jobs/" in resp.headers["Location"]  # its page shows the progress
    follow_job(client, resp)
    assert client.get("/api/v1/stats").get_json()["notes"] == 5
    small = client.post("/", data={"text": "Exports time out on Mondays.", "source": "call"})
    assert small.status_code == 200  # under the threshold: stored in the request, as before


def test_paste_over_the_summary_bound_is_stored_without_an_instant_summary(client):
    text = ("Exports time out on the large workspace every Monday morning. " * 700)[:MAX_SUMMARIZE_CHARS + 10]
    resp = client.post("/", data={"text": text, "source": "call"})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert f"over {MAX_SUMMARIZE_CHARS:,} characters, too long to summarise at once" in html
    assert client.get("/api/v1/stats").get_json()["notes"] == 1
