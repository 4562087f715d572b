"""Defects a QA pass found in the API, one regression test each: authors come from the caller, strings are strings,
booleans are booleans, bodies are JSON (or a clear 400/413/415), ids fit a URL segment, figures stay finite, the
Markdown report shows labels as text, and the OpenAPI document describes what the API does."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from service.ingest.store import ingest_notes
from service.models import Note, RoadmapItem, RoadmapLink, ThemeEdit
from service.themes.run import RunOptions, run_themes

from .test_followups import seed, ship
from .test_theme_determinism import TOPICS, _notes

ITEMS = [{"id": "RM-1", "title": "CSV export for large reports", "status": "in progress"},
         {"id": "RM-2", "title": "Okta single sign-on", "status": "planned"}]
HOSTILE_LABEL = "[x](javascript:alert(1)) *bold*"


def strict_json(resp):
    """The body parsed the way a strict client parses it: Infinity and NaN are not JSON."""
    def refuse(name):
        raise ValueError(f"{name} in the response")
    return json.loads(resp.get_data(as_text=True), parse_constant=refuse)


def count(svc, model) -> int:
    with svc.db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture(scope="module")
def themed(tmp_path_factory):
    """Notes in three topics, each account stating an ARR so large that a theme's sum overflows (as notes stored
    before ingest bounded ARR can), two roadmap items and a theme run."""
    from service import create_app
    from service.config import TestConfig

    app = create_app(TestConfig(tmp_path_factory.mktemp("qa")))
    svc = app.extensions["feedback"]
    notes = _notes(TOPICS)
    for note in notes:
        note.meta = {"arr": 1.7e308}
    ingest_notes(svc, notes)
    assert app.test_client().post("/api/v1/roadmap/items", json=ITEMS).status_code == 201
    run_themes(svc, RunOptions(include_all=True, use_llm=False))
    yield app
    svc.close()


@pytest.fixture
def followed(app, svc):
    """The follow-ups fixture of test_followups: RM-104 shipped, Velo Commerce asked for it."""
    seed(svc)
    ship(svc)
    return app.test_client()


def _theme_id(client) -> int:
    return strict_json(client.get("/api/v1/themes"))["themes"][0]["id"]


# 1 -------------------------------------------------------------------------------------------------------------
def test_a_link_records_the_caller_and_refuses_a_claimed_author(followed, svc):
    bad = followed.post("/api/v1/roadmap/items/RM-104/links", json={"note_id": "f-1", "created_by": {"x": 1}})
    assert bad.status_code == 422 and bad.get_json()["error"]["details"]["field"] == "created_by"
    assert followed.post("/api/v1/roadmap/items/RM-104/links",
                         json={"note_id": "f-1", "created_by": "x" * 60_000}).status_code == 422
    assert count(svc, RoadmapLink) == 0  # nothing stored by a refused request
    ok = followed.post("/api/v1/roadmap/items/RM-104/links", json={"note_id": "f-1"})
    assert ok.status_code == 201 and ok.get_json()["created_by"] == "token:test-admin"
    assert followed.post("/api/v1/roadmap/items/RM-104/links", json={"note_id": 1}).status_code == 422


# 2 -------------------------------------------------------------------------------------------------------------
def test_told_records_the_caller_and_bounds_the_note(followed):
    url = "/api/v1/roadmap/items/RM-104/followups/told"
    claimed = followed.post(url, json={"account": "Velo Commerce", "by": "someone else"})
    assert claimed.status_code == 422 and claimed.get_json()["error"]["details"]["field"] == "by"
    long = followed.post(url, json={"account": "Velo Commerce", "note": "x" * 2001})
    assert long.status_code == 422 and long.get_json()["error"]["details"]["field"] == "note"
    assert "2,000" in long.get_json()["error"]["message"]
    assert strict_json(followed.get("/api/v1/roadmap/items/RM-104/followups?drafts=false"))["told"] == []
    mark = followed.post(url, json={"account": "Velo Commerce", "note": "told on the renewal call"})
    assert mark.status_code == 201 and mark.get_json()["told_by"] == "token:test-admin"


# 3 -------------------------------------------------------------------------------------------------------------
def test_ingest_bounds_arr_naming_field_and_row(client, svc):
    resp = client.post("/api/v1/notes", json=[{"text": "Exports are slow.", "arr": 120000},
                                              {"text": "Exports time out.", "arr": 1.7e308},
                                              {"text": "SSO please.", "ARR": -5}, {"text": "Odd.", "arr": "1e308"}])
    assert resp.status_code == 422
    errors = resp.get_json()["error"]["details"]["errors"]
    assert [(e["line"], e["field"]) for e in errors] == [(2, "arr"), (3, "ARR"), (4, "arr")]
    assert count(svc, Note) == 0  # atomic: the good row was not stored either
    assert client.post("/api/v1/notes", json={"text": "Big customer.", "arr": "$1,200,000"}).status_code == 201


def test_json_answers_never_hold_infinity(themed):
    client = themed.test_client()
    themes = strict_json(client.get("/api/v1/themes"))["themes"]
    assert themes and all(t["arr"] is None for t in themes)  # an overflowed sum is no figure: null
    assert strict_json(client.get("/api/v1/roadmap/coverage")) is not None
    page = client.get(f"/themes/{themes[0]['id']}").get_data(as_text=True)
    assert "$inf" not in page and "ARR $nan" not in page


# 4 -------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path,body,field", [
    ("/api/v1/themes/summarize", {"text": "Exports time out.", "store": "false"}, "store"),
    ("/api/v1/themes/run", {"incremental": "no", "all": "false"}, "incremental"),
    ("/api/v1/themes/run", {"all": 1}, "all"),
    ("/api/v1/themes/{tid}/hide", {"hidden": "false"}, "hidden"),
])
def test_booleans_must_be_json_booleans(themed, path, body, field):
    client = themed.test_client()
    tid = _theme_id(client)
    svc = themed.extensions["feedback"]
    notes, edits = count(svc, Note), count(svc, ThemeEdit)
    resp = client.post(path.format(tid=tid), json=body)
    assert resp.status_code == 422, resp.get_json()
    error = resp.get_json()["error"]
    assert field in {e["field"] for e in error["details"]["errors"]} and "true or false" in error["message"]
    assert (count(svc, Note), count(svc, ThemeEdit)) == (notes, edits)  # nothing stored, hidden or run
    assert tid in [t["id"] for t in strict_json(client.get("/api/v1/themes"))["themes"]]


# 5 -------------------------------------------------------------------------------------------------------------
def test_strings_must_be_strings_never_a_repr(themed):
    client = themed.test_client()
    tid = _theme_id(client)
    label = strict_json(client.get(f"/api/v1/themes/{tid}"))["label"]
    for value in (["a"], True, {"a": 1}, 5):
        resp = client.post(f"/api/v1/themes/{tid}/rename", json={"label": value})
        assert resp.status_code == 422 and resp.get_json()["error"]["message"].endswith("label must be a string")
    assert strict_json(client.get(f"/api/v1/themes/{tid}"))["label"] == label
    items = client.post("/api/v1/roadmap/items",
                        json=[{"id": "T-2", "title": ["x"], "status": "planned", "workaround": {"a": 1}}])
    assert items.status_code == 422
    assert {e["field"] for e in items.get_json()["error"]["details"]["errors"]} == {"title", "workaround"}
    with themed.extensions["feedback"].db.session() as session:
        assert session.get(RoadmapItem, "T-2") is None
    match = client.post("/api/v1/match", json=[{"id": {"a": 1}, "text": "SCIM"}])
    assert match.status_code == 422 and match.get_json()["error"]["details"]["errors"][0]["field"] == "id"
    ok = client.post("/api/v1/match", json=[{"id": "q1", "text": "Okta SSO"}, {"id": 7, "text": "CSV export"}])
    assert [r["id"] for r in ok.get_json()["results"]] == ["q1", "7"]


# 6 and 9 -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/themes/run", "/api/v1/notes", "/api/v1/reports"])
def test_malformed_json_is_a_400_that_says_so(client, path):
    resp = client.post(path, data=b'{"min_mentions": 0', content_type="application/json")
    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error["code"] == "bad_request" and error["message"].startswith("the body is not valid JSON")
    assert "line 1, column" in error["message"] and "browser (or proxy)" not in error["message"]


@pytest.mark.parametrize("path", ["/api/v1/themes/run", "/api/v1/notes", "/api/v1/reports"])
def test_a_body_that_is_not_json_is_a_415(client, svc, path):
    resp = client.post(path, data=b'{"since": "7d", "text": "x"}', content_type="text/plain")
    assert resp.status_code == 415
    assert "application/json" in resp.get_json()["error"]["message"]
    assert count(svc, Note) == 0 and client.get("/api/v1/reports").get_json()["total"] == 0  # nothing built


def test_a_chunked_body_over_the_limit_is_a_413(client, svc):
    body = b'{"text": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    resp = client.post("/api/v1/notes", input_stream=io.BytesIO(body), content_type="application/json",
                       headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "payload_too_large"
    small = b'{"text": "A chunked note about exports.", "id": "c-1"}'
    resp = client.post("/api/v1/notes", input_stream=io.BytesIO(small), content_type="application/json",
                       headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert resp.status_code == 201 and count(svc, Note) == 1


def test_bad_bodies_from_strangers_are_401_first(app):
    stranger = app.test_client(anonymous=True)
    assert stranger.post("/api/v1/notes", data=b"{bad", content_type="application/json").status_code == 401
    assert stranger.post("/api/v1/notes", data=b"x", content_type="text/plain").status_code == 401


# 7 -------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("note_id", ["../../etc/passwd", "a/b", "..", "tab\there", "nul\x00"])
def test_note_ids_must_fit_a_url_segment(client, svc, note_id):
    resp = client.post("/api/v1/notes", json=[{"text": "Fine note.", "id": "ok-1"}, {"text": "x y", "id": note_id}])
    assert resp.status_code == 422
    error = resp.get_json()["error"]["details"]["errors"][0]
    assert (error["line"], error["field"]) == (2, "id")
    assert count(svc, Note) == 0


def test_roadmap_ids_must_fit_a_url_segment(client, svc):
    resp = client.post("/api/v1/roadmap/items", json=[{"id": "X/1", "title": "Slash", "status": "planned"}])
    assert resp.status_code == 422 and resp.get_json()["error"]["details"]["errors"][0]["field"] == "id"
    assert count(svc, RoadmapItem) == 0


def test_links_encode_a_slash_in_a_stored_id(client, svc):
    from service.ingest.validate import NoteInput

    ingest_notes(svc, [NoteInput(text="An old note stored before ids were checked.", external_id="../../etc/passwd")])
    api = client.get("/api/v1/notes/..%2F..%2Fetc%2Fpasswd")
    assert api.status_code == 200 and api.get_json()["id"] == "../../etc/passwd"  # still reachable
    page = client.get("/notes/..%2F..%2Fetc%2Fpasswd").get_data(as_text=True)
    assert 'href="/api/v1/notes/..%2F..%2Fetc%2Fpasswd"' in page and 'href="/api/v1/notes/../' not in page
    with client.application.test_request_context():
        from flask import url_for

        assert url_for("pages.note", note_id="../../etc/passwd") == "/notes/..%2F..%2Fetc%2Fpasswd"
        assert url_for("closeloop.followups", item_id="X/1") == "/roadmap/items/X%2F1/followups"


# 8 -------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["5", "-0.1", "nan", "NaN", "inf", "1e400", "x"])
def test_min_score_must_be_from_0_to_1(themed, value):
    resp = themed.test_client().post(f"/api/v1/match?min_score={value}", json=["Okta SSO"])
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["details"]["field"] == "min_score" and "0 to 1" in error["message"]


# 10 ------------------------------------------------------------------------------------------------------------
def test_control_characters_are_refused_in_every_string_field(themed):
    client = themed.test_client()
    tid = _theme_id(client)
    label = strict_json(client.get(f"/api/v1/themes/{tid}"))["label"]
    for bad in ("a\x00b", "a\x07b", "a\x1bb"):
        resp = client.post(f"/api/v1/themes/{tid}/rename", json={"label": bad})
        assert resp.status_code == 422 and resp.get_json()["error"]["details"]["field"] == "label"
        items = client.post("/api/v1/roadmap/items", json=[{"id": f"N{bad}", "title": f"T{bad}", "status": "planned"}])
        assert {e["field"] for e in items.get_json()["error"]["details"]["errors"]} == {"id", "title"}
        notes = client.post("/api/v1/notes", json={"text": f"Slow {bad} exports", "account": "Acme"})
        assert notes.status_code == 422 and notes.get_json()["error"]["details"]["errors"][0]["field"] == "text"
    assert strict_json(client.get(f"/api/v1/themes/{tid}"))["label"] == label
    assert client.post("/api/v1/notes", json={"text": "Tabs\tand\nlines are fine.", "id": "ok-tab"}).status_code == 201


def test_a_feedback_comment_with_nul_is_refused(client):
    resp = client.post("/api/v1/drafts/1/feedback", json={"rating": "up", "comment": "ok\x00"})
    assert resp.status_code == 422 and resp.get_json()["error"]["details"]["field"] == "comment"


# 11 ------------------------------------------------------------------------------------------------------------
def test_bad_query_values_and_paths_get_the_right_status(followed):
    themes = followed.get("/api/v1/themes?status=bogus")
    assert themes.status_code == 400 and themes.get_json()["error"]["details"]["allowed"] == ["recurring", "emerging"]
    since = followed.get("/api/v1/roadmap/items/RM-104/followups?since=0001-01-01&drafts=false")
    assert since.status_code == 400 and "1900 to 2200" in since.get_json()["error"]["message"]
    assert followed.get("/accounts/Velo%20Commerce/brief?since=0001-01-01").status_code == 422  # the page says so
    assert followed.delete("/api/v1/drafts/abc").status_code == 404
    assert followed.delete("/api/v1/drafts/999").status_code == 404


def test_the_report_list_total_counts_every_report(client):
    for as_of in ("2026-11-01", "2026-11-02"):
        assert client.post("/api/v1/reports", json={"since": "1d", "as_of": as_of}).status_code == 201
    page = client.get("/api/v1/reports?limit=1&offset=1").get_json()
    assert len(page["reports"]) == 1 and page["total"] == 2


# 12 ------------------------------------------------------------------------------------------------------------
def test_a_huge_move_is_refused_briefly(themed):
    client = themed.test_client()
    resp = client.post("/api/v1/themes/move", json={"statement_ids": list(range(10**6, 10**6 + 200_000)), "to": None})
    assert resp.status_code == 422 and len(resp.get_data()) < 2000
    assert resp.get_json()["error"]["details"]["field"] == "statement_ids"
    assert "1,000" in resp.get_json()["error"]["message"]


# 13 ------------------------------------------------------------------------------------------------------------
def test_report_markdown_shows_a_hostile_label_as_text(themed):
    from markdown_it import MarkdownIt

    client = themed.test_client()
    tid = _theme_id(client)
    assert client.post(f"/api/v1/themes/{tid}/rename", json={"label": HOSTILE_LABEL}).status_code == 201
    report = client.post("/api/v1/reports", json={"since": "30d"}).get_json()
    markdown = client.get(f"/api/v1/reports/{report['id']}?formats=true").get_json()["markdown"]
    assert "\\[x\\]\\(javascript:alert\\(1\\)\\) \\*bold\\*" in markdown
    html = MarkdownIt("commonmark").render(markdown)
    assert "<a " not in html and "<em>bold</em>" not in html and "<strong>bold" not in html
    assert "[x](javascript:alert(1)) *bold*" in html  # shown exactly as the PM typed it


# 14 ------------------------------------------------------------------------------------------------------------
def test_the_openapi_document_matches_behaviour(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert {"bearer": []} in spec["security"] and spec["paths"]["/healthz"]["get"]["security"] == []
    error = spec["components"]["schemas"]["HTTPError"]
    assert set(error["properties"]["error"]["properties"]) == {"code", "message", "details"}
    paths = spec["paths"]
    notes = paths["/api/v1/notes"]["post"]
    assert {"401", "403", "400", "413", "415", "422"} <= set(notes["responses"])
    for path in ("/api/v1/match", "/api/v1/roadmap/items"):
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert {"array"} <= {choice.get("type") for choice in body["oneOf"]}
    run = paths["/api/v1/themes/run"]["post"]
    assert run["requestBody"] and "201" in run["responses"] and "200" not in run["responses"]
    assert "201" in paths["/api/v1/themes/move"]["post"]["responses"]
    for path in ("/api/v1/themes/{theme_id}/rename", "/api/v1/themes/{theme_id}/merge",
                 "/api/v1/themes/{theme_id}/hide", "/api/v1/themes/summarize", "/api/v1/themes/move"):
        assert "requestBody" in paths[path]["post"], path
    link = spec["components"]["schemas"]["LinkIn"]
    assert "created_by" not in link["properties"] and link["additionalProperties"] is False
    assert "by" not in spec["components"]["schemas"]["ToldIn"]["properties"]
    params = {p["name"]: p for p in paths["/api/v1/match"]["post"]["parameters"]}
    assert params["min_score"]["schema"]["maximum"] == 1
    # what the document promises, the API does: an error has the documented shape
    assert set(client.post("/api/v1/match", json={}).get_json()["error"]) == {"code", "message", "details"}
