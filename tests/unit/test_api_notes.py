"""The JSON API: ingestion with the same validation and atomicity, listing, errors, size limits, OpenAPI."""
from __future__ import annotations

import json

from ..conftest import DATA


def _notes():
    return [json.loads(line) for line in (DATA / "notes.jsonl").read_text().splitlines()]


def _error(resp, status):
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    return body["error"]


def test_post_list_then_get_and_filter(client):
    resp = client.post("/api/v1/notes", json=_notes())
    assert resp.status_code == 201 and resp.get_json()["created"] == 3
    assert client.post("/api/v1/notes", json=_notes()).get_json()["unchanged"] == 3
    listed = client.get("/api/v1/notes?account=Acme Logistics").get_json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == "t-1"
    assert client.get("/api/v1/notes?source=interview").get_json()["total"] == 1
    assert client.get("/api/v1/notes?since=2026-10-02&until=2026-10-03").get_json()["total"] == 1
    page = client.get("/api/v1/notes?per_page=2&page=2").get_json()
    assert page["total"] == 3 and len(page["items"]) == 1
    one = client.get("/api/v1/notes/t-2").get_json()
    assert one["account"] == "Brightwater Health" and one["statements"][0]["start"] == 0
    for st in one["statements"]:
        assert one["text"][st["start"]:st["end"]] == st["text"]


def test_post_single_object(client):
    resp = client.post("/api/v1/notes", json={"text": "Dashboards are slow. Please fix.", "account": "Zeta"})
    assert resp.status_code == 201
    note_id = resp.get_json()["note_ids"][0]
    assert client.get(f"/api/v1/notes/{note_id}").get_json()["account"] == "Zeta"


def test_invalid_row_rejects_the_request_whole(client):
    body = _notes() + [{"id": "x", "text": ""}, {"id": "y", "text": "ok", "date": "soonish"}]
    err = _error(client.post("/api/v1/notes", json=body), 422)
    assert [(e["line"], e["field"]) for e in err["details"]["errors"]] == [(4, "text"), (5, "date")]
    assert client.get("/api/v1/stats").get_json()["notes"] == 0
    ok = client.post("/api/v1/notes?skip_invalid=true", json=body).get_json()
    assert ok["created"] == 3 and len(ok["rejected"]) == 2


def test_a_date_far_ahead_is_422_unless_allowed(client):
    from datetime import datetime, timedelta

    ahead = (datetime.now() + timedelta(days=30)).date().isoformat()
    note = [{"id": "f-1", "text": "Exports time out.", "account": "Acme", "date": ahead}]
    resp = client.post("/api/v1/notes", json=note)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"]["errors"][0]["field"] == "date"
    assert client.get("/api/v1/notes/f-1").status_code == 404  # nothing stored
    assert client.post("/api/v1/notes?allow_future=true", json=note).status_code == 201


def test_bad_json_and_bad_params(client):
    err = _error(client.post("/api/v1/notes", data="{nope", content_type="application/json"), 400)
    assert err["code"] == "bad_request"
    _error(client.get("/api/v1/notes?per_page=1000"), 400)
    _error(client.get("/api/v1/notes?since=whenever"), 400)
    _error(client.get("/api/v1/notes?source=pigeon"), 400)
    _error(client.get("/api/v1/notes/missing"), 404)
    _error(client.delete("/api/v1/notes/missing"), 404)
    _error(client.get("/api/v1/nothing-here"), 404)


def test_oversized_request_gets_413(make_app):
    app = make_app(MAX_CONTENT_LENGTH=10_000)
    client = app.test_client()
    err = _error(client.post("/api/v1/notes", json={"text": "x" * 20_000}), 413)
    assert "limit" in err["message"]
    app2 = make_app(MAX_NOTES_PER_REQUEST=2)
    _error(app2.test_client().post("/api/v1/notes", json=_notes()), 413)


def test_text_over_100k_chars_is_422(client):
    err = _error(client.post("/api/v1/notes", json={"text": "y" * 100_001}), 422)
    assert "100,000" in err["details"]["errors"][0]["reason"]


def test_delete_and_stats(client):
    client.post("/api/v1/notes", json=_notes())
    before = client.get("/api/v1/stats").get_json()
    assert client.delete("/api/v1/notes/t-1").status_code == 200
    after = client.get("/api/v1/stats").get_json()
    assert after["notes"] == before["notes"] - 1 and after["vectors"] == after["statements"]


def test_healthz_and_openapi(client):
    assert client.get("/healthz").get_json()["status"] == "ok"
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/notes", "/api/v1/notes/{note_id}", "/api/v1/stats"} <= set(spec["paths"])
    assert "post" in spec["paths"]["/api/v1/notes"]
