"""The API against its documented contract, one regression test per defect a QA pass found: a field named in every
422 and 400 it can be named in, a body that gives two answers refused instead of one dropped, a link raced by a
concurrent request answered 200 instead of 500, and an OpenAPI document that lists every success, the query
parameters the views read (with the bounds they enforce) and the answers every route can give (429, 503)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.models import RoadmapLink

ITEMS = [{"id": "RM-1", "title": "CSV export for large reports", "status": "in progress"}]
NOTES = [{"id": "n-1", "text": "Our CSV exports time out on large reports.", "account": "Acme"}]


def _error(resp, status: int) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    error = resp.get_json()["error"]
    assert set(error) == {"code", "message", "details"}
    return error


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    from service import create_app
    from service.config import TestConfig

    app = create_app(TestConfig(tmp_path_factory.mktemp("spec")))
    yield app.test_client().get("/api/v1/openapi.json").get_json()
    app.extensions["feedback"].close()


def test_summarize_refuses_text_and_texts_together(client):
    """`{text or texts}`: both given used to drop `text` without a word and answer 200 about `texts` alone."""
    resp = client.post("/api/v1/themes/summarize", json={"text": "SSO is blocking the deal.", "texts": ["Exports."]})
    error = _error(resp, 422)
    assert error["details"]["field"] == "body" and "not both" in error["message"]


@pytest.mark.parametrize("field", ["since", "until"])
def test_a_bad_theme_run_date_names_its_field(client, field):
    error = _error(client.post("/api/v1/themes/run", json={field: "2026-13-01"}), 422)
    assert error["details"] == {"field": field} and error["message"].startswith(f"{field}:")


def test_an_unknown_roadmap_status_names_the_query_parameter(client):
    error = _error(client.get("/api/v1/roadmap/items?status=bogus"), 400)
    assert error["details"]["field"] == "status" and "planned" in error["details"]["allowed"]


def test_a_link_a_concurrent_request_stored_first_is_a_200_not_a_500(client, svc, monkeypatch):
    """Two identical links at once: both check, find nothing, and insert; the loser broke the unique constraint and
    answered 500. Here the other request wins between this one's check and its insert."""
    from sqlalchemy.exc import IntegrityError

    from service.roadmap import service

    assert client.post("/api/v1/roadmap/items", json=ITEMS).status_code == 201
    assert client.post("/api/v1/notes", json=NOTES).status_code == 201
    real, calls = service.link, []

    def raced(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            real(*args, **kwargs)  # the concurrent request's link, committed first
            raise IntegrityError("INSERT INTO roadmap_links", {}, Exception("UNIQUE constraint failed"))
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "link", raced)
    resp = client.post("/api/v1/roadmap/items/RM-1/links", json={"note_id": "n-1"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["created"] is False and resp.get_json()["note_id"] == "n-1"
    with svc.db.session() as session:
        assert session.scalar(select(func.count()).select_from(RoadmapLink)) == 1


def test_every_operation_documents_its_success_and_the_shared_errors(spec):
    public = {("/healthz", "get")}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = set(operation["responses"])
            assert {"200", "201"} & responses, (method, path)  # @doc(responses=...) used to drop the 200
            if (path, method) not in public:
                assert {"401", "403", "429", "503"} <= responses, (method, path)
    assert {"200", "202"} <= set(spec["paths"]["/api/v1/accounts/{name}"]["delete"]["responses"])
    assert "503" in spec["paths"]["/healthz"]["get"]["responses"]


def _query(spec, path: str, method: str = "get") -> dict:
    operation = spec["paths"][path][method]
    assert "400" in operation["responses"], path
    return {p["name"]: p["schema"] for p in operation.get("parameters", []) if p["in"] == "query"}


@pytest.mark.parametrize("path, names", [
    ("/api/v1/notes", {"account", "source", "since", "until", "page", "per_page"}),
    ("/api/v1/drafts", {"account", "page", "per_page"}),
    ("/api/v1/themes", {"status", "page", "per_page"}),
    ("/api/v1/roadmap/items", {"status", "include_archived"}),
    ("/api/v1/audit", {"limit", "action"}),
    ("/api/v1/reports", {"limit", "offset"}),
    ("/api/v1/jobs", {"status", "limit"}),
])
def test_the_query_parameters_are_documented(spec, path, names):
    assert set(_query(spec, path)) == names
    assert set(_query(spec, "/api/v1/notes", "post")) == {"skip_invalid", "allow_future"}
    assert set(_query(spec, "/api/v1/roadmap/items", "post")) == {"sync", "prune"}
    assert set(_query(spec, "/api/v1/roadmap/items/{item_id}/followups")) == {"since", "drafts"}


@pytest.mark.parametrize("path", ["/api/v1/notes", "/api/v1/drafts", "/api/v1/themes", "/api/v1/roadmap/items",
                                  "/api/v1/audit", "/api/v1/reports", "/api/v1/jobs"])
def test_the_documented_bounds_and_choices_are_the_enforced_ones(spec, client, path):
    """Each documented maximum is accepted and one past it is a 400 naming the parameter; each documented choice
    is accepted and any other is a 400: the document and the checks cannot drift apart unnoticed."""
    for name, schema in _query(spec, path).items():
        if "maximum" in schema:
            assert client.get(path, query_string={name: schema["maximum"]}).status_code == 200, name
            error = _error(client.get(path, query_string={name: schema["maximum"] + 1}), 400)
            assert error["details"]["field"] == name
        for choice in schema.get("enum", []):
            assert client.get(path, query_string={name: choice}).status_code == 200, (name, choice)
        if "enum" in schema:
            assert _error(client.get(path, query_string={name: "bogus"}), 400)["details"]["field"] == name
