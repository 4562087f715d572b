"""GET /api/v1/search and the /search page: results, filters, errors naming the field, the role, escaping."""
from __future__ import annotations

import re

import pytest

from .test_search import FILLER, NOTES

SCRIPT_NOTE = {"id": "n-x", "account": "Evil <b>Corp</b>", "source": "call", "date": "2026-07-01",
               "text": "<script>alert('SCIM')</script> wants SCIM & Okta now."}


@pytest.fixture
def seeded(app, client):
    resp = client.post("/api/v1/notes", json=NOTES + [SCRIPT_NOTE])
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return app


@pytest.fixture
def many(app, client):
    """More statements than MIN_FLOOR_SAMPLE: searches have a relevance floor."""
    resp = client.post("/api/v1/notes", json=NOTES + [SCRIPT_NOTE] + FILLER)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return app


def _error(resp, status: int, field: str) -> str:
    assert resp.status_code == status, resp.get_data(as_text=True)
    error = resp.get_json()["error"]
    assert error["details"]["field"] == field
    assert error["message"].startswith(field)
    return error["message"]


def main_html(response) -> str:
    html = response.get_data(as_text=True)
    return html[html.index('<main'):html.index('</main>')]


# ---- API ------------------------------------------------------------------------------------------------------
def test_api_answers_results_with_their_notes(seeded):
    client = seeded.test_client(role="sales")
    body = client.get("/api/v1/search?q=SCIM provisioning&ranking=hybrid").get_json()
    assert set(body) == {"query", "results", "total_candidates", "limit", "offset", "ranking", "notices", "floor",
                         "total_related"}
    assert (body["limit"], body["offset"], body["ranking"]) == (20, 0, "hybrid")
    top = body["results"][0]
    assert top["note_id"] == "n-2" and top["text"] == "IT requires SCIM provisioning through Okta before any rollout."
    assert top["matched_terms"] == ["scim", "provisioning"] and top["theme"] is None
    assert client.get("/api/v1/search?q=SCIM").get_json()["ranking"] == "dense"


def test_api_filters(seeded):
    client = seeded.test_client(role="sales")
    acme = client.get("/api/v1/search?q=salesforce&account=ACME%20corporation").get_json()["results"]
    assert acme and {r["account"] for r in acme} == {"Acme Corp"}
    late = client.get("/api/v1/search?q=salesforce&since=2026-08-01&until=2026-09-30").get_json()["results"]
    assert {r["note_id"] for r in late} == {"n-3", "n-4"}
    tickets = client.get("/api/v1/search?q=exports&source=ticket").get_json()["results"]
    assert {r["source"] for r in tickets} == {"ticket"}
    two = client.get("/api/v1/search?q=salesforce&limit=2&offset=1").get_json()
    assert len(two["results"]) == 2 and (two["limit"], two["offset"]) == (2, 1)


@pytest.mark.parametrize("query,field", [
    ("q=" + "x" * 501, "q"), ("q=", "q"), ("", "q"), ("q=%20%20", "q"),
    ("q=scim&since=2026-02-30", "since"), ("q=scim&until=tomorrow", "until"),
    ("q=scim&limit=0", "limit"), ("q=scim&limit=1000", "limit"), ("q=scim&offset=-1", "offset"),
    ("q=scim&source=zoom", "source"), ("q=scim&ranking=best", "ranking"), ("q=%3F!", "q"),
])
def test_api_bad_input_is_a_400_naming_the_field(seeded, query, field):
    _error(seeded.test_client(role="sales").get(f"/api/v1/search?{query}"), 400, field)


def test_api_on_an_empty_store_is_an_empty_list(client):
    body = client.get("/api/v1/search?q=SCIM").get_json()
    assert body["results"] == [] and body["total_candidates"] == 0


def test_api_refuses_a_viewer_and_names_the_role_it_takes(seeded):
    resp = seeded.test_client(role="viewer").get("/api/v1/search?q=SCIM")
    assert resp.status_code == 403
    assert "sales" in resp.get_json()["error"]["message"]
    assert seeded.test_client(anonymous=True).get("/api/v1/search?q=SCIM").status_code == 401


def test_openapi_documents_the_search_parameters(client):
    operation = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/search"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert set(params) == {"q", "account", "source", "since", "until", "limit", "offset", "ranking"}
    assert params["q"]["required"] and params["q"]["schema"]["maxLength"] == 500
    assert params["limit"]["schema"]["maximum"] == 100 and "400" in operation["responses"]


# ---- page -----------------------------------------------------------------------------------------------------
def test_page_without_a_query_is_the_form(seeded):
    resp = seeded.test_client(role="sales").get("/search")
    html = main_html(resp)
    assert resp.status_code == 200 and 'name="q"' in html and 'role="search"' in html
    assert "ranked" not in html


def test_page_escapes_note_text_and_marks_matched_words(seeded):
    resp = seeded.test_client(role="sales").get("/search?q=SCIM")
    html = main_html(resp)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert "<script>" not in html and "<b>Corp</b>" not in html
    assert "&lt;script&gt;alert(&#39;<mark>SCIM</mark>&#39;)&lt;/script&gt; wants <mark>SCIM</mark> &amp; Okta" in html
    assert "Evil &lt;b&gt;Corp&lt;/b&gt;" in html
    assert re.findall(r"<mark>([^<]*)</mark>", html) and set(re.findall(r"<mark>([^<]*)</mark>", html)) == {"SCIM"}


def test_page_links_notes_only_for_roles_that_may_open_them(seeded):
    sales = main_html(seeded.test_client(role="sales").get("/search?q=salesforce"))
    pm = main_html(seeded.test_client(role="pm").get("/search?q=salesforce"))
    assert 'href="/notes/' not in sales and "note n-1" in sales
    assert 'href="/notes/n-1#s' in pm


def test_page_filters_and_bad_input(seeded):
    client = seeded.test_client(role="sales")
    html = main_html(client.get("/search?q=salesforce&source=ticket"))
    assert "Initech" in html and "Globex" not in html
    bad_date = client.get("/search?q=salesforce&since=2026-02-30")
    assert bad_date.status_code == 422 and "year-month-day" in main_html(bad_date)
    assert client.get("/search?q=" + "x" * 501).status_code == 422
    assert client.get("/search?q=scim&page=0").status_code == 400
    no_words = client.get("/search?account=Globex")
    assert no_words.status_code == 422 and "Type some words" in main_html(no_words)


def test_page_and_nav_link_follow_the_role(seeded):
    assert seeded.test_client(role="viewer").get("/search?q=SCIM").status_code == 403
    viewer_nav = seeded.test_client(role="viewer").get("/themes").get_data(as_text=True)
    sales_nav = seeded.test_client(role="sales").get("/themes").get_data(as_text=True)
    assert '<a href="/search"' not in viewer_nav and '<a href="/search"' in sales_nav


def test_highlight_escapes_first_and_marks_by_stem():
    from service.web.search_pages import highlight

    marked = highlight("<b>Duplicate</b> leads & duplicates", ["duplicates"])
    assert str(marked) == "&lt;b&gt;<mark>Duplicate</mark>&lt;/b&gt; leads &amp; <mark>duplicates</mark>"


# ---- the relevance floor, odd input ---------------------------------------------------------------------------
def test_api_adds_the_floor_and_marks_each_result(many):
    client = many.test_client(role="sales")
    body = client.get("/api/v1/search?q=SCIM provisioning&limit=50").get_json()
    assert {"query", "results", "total_candidates", "limit", "offset", "ranking", "notices"} < set(body)
    assert isinstance(body["floor"], float) and body["total_related"] == 2
    assert [(r["note_id"], r["related"]) for r in body["results"][:2]] == [("n-2", True), ("n-x", True)]
    assert {r["related"] for r in body["results"][2:]} == {False}
    nothing = client.get("/api/v1/search?q=blockchain").get_json()
    assert nothing["total_related"] == 0 and nothing["results"]
    lexical = client.get("/api/v1/search?q=SCIM&ranking=lexical").get_json()
    assert lexical["floor"] is None and lexical["total_related"] is None


def test_page_says_when_no_statement_is_about_the_query(many):
    resp = many.test_client(role="sales").get("/search?q=<b>blockchain</b>")
    html = main_html(resp)
    assert resp.status_code == 200
    assert "No statement is about “&lt;b&gt;blockchain&lt;/b&gt;”" in html
    assert "<b>blockchain</b>" not in html
    assert html.count('class="badge weak"') == 20  # every result of the page listed, each marked


def test_page_separates_related_from_weakly_related(many):
    html = main_html(many.test_client(role="sales").get("/search?q=SCIM provisioning"))
    assert "No statement is about" not in html
    assert "2 statements about “SCIM provisioning”" in html
    first, second, rest = html.split("<ol", 1)[1].split("</li>", 2)
    assert "IT requires <mark>SCIM</mark> <mark>provisioning</mark>" in first
    assert "weakly related" not in first + second and rest.count('class="badge weak"') == 18


def test_page_without_a_floor_ranks_as_before(seeded):
    html = main_html(seeded.test_client(role="sales").get("/search?q=SCIM"))
    assert "statements ranked" in html and 'class="badge weak"' not in html and "No statement is about" not in html


def test_page_refuses_a_query_of_punctuation_only(seeded):
    resp = seeded.test_client(role="sales").get("/search?q=%3F%21")
    assert resp.status_code == 422 and "letter or digit" in main_html(resp)


def test_page_escapes_a_theme_label(seeded):
    from sqlalchemy import select

    from service.models import Statement

    from .test_search import _theme_run

    svc = seeded.extensions["feedback"]
    with svc.db.session() as session:
        sid = session.scalar(select(Statement.id).where(Statement.text.like("IT requires SCIM%")))
    _theme_run(svc, {"SCIM <img src=x onerror=alert(1)>": [sid]})
    html = main_html(seeded.test_client(role="sales").get("/search?q=SCIM"))
    assert "<img" not in html and "SCIM &lt;img src=x onerror=alert(1)&gt;" in html
