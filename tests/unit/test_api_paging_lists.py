"""GET /api/v1/themes and GET /api/v1/roadmap/coverage page as GET /notes does (page, per_page up to 200, a 400
naming a bad value): a year of data made 818 themes, 1.4 MB in one /themes answer, and a coverage answer of 266 KB.
/themes gives a page of 50 unless asked for another; coverage pages only when asked (its four fields are a
contract), and `feedback themes list` answers as the API does."""
from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import pytest

from service.models import Account, Note, Statement, Theme, ThemeMembership, ThemeRun, ThemeSnapshot

RUN_FIELDS = {"run_id", "created_at", "mode", "trend_window", "statements", "assigned", "unassigned_rate", "themes",
              "hidden_themes", "unassigned_note_ids", "lineage"}


def seed_run(svc, n_themes: int, *, emerging_every: int = 0, hidden: int = 0, statements: int = 0) -> list[int]:
    """A stored theme run of n_themes themes as the themes stage leaves it, in no particular order of size; theme i
    has a centroid at angle i/100 on a circle, so the themes nearest theme i are i +- 1, i +- 2, ... The first
    theme holds `statements` statements; `hidden` more themes are hidden. Returns the visible themes' ids, in the
    order they were made."""
    start = datetime(2026, 1, 1)
    with svc.db.transaction() as session:
        acme = Account(name="Acme")
        session.add(acme)
        run = ThemeRun(mode="full")
        session.add(run)
        session.flush()
        ids = []
        for i in range(n_themes + hidden):
            angle = i / 100
            theme = Theme(created_run_id=run.id, last_run_id=run.id, label=f"pain number {i}",
                          centroid=[math.cos(angle), math.sin(angle)])
            session.add(theme)
            session.flush()
            status = "hidden" if i >= n_themes else (
                "emerging" if emerging_every and i % emerging_every == 0 else "recurring")
            mentions = 3 + (i * 7) % 40  # sizes out of id order, so the run's order is not the ids'
            session.add(ThemeSnapshot(
                run_id=run.id, theme_id=theme.id, label=theme.label, status=status, mentions=mentions,
                accounts=2 + i % 5, account_names=["Acme", "Globex"], trend="stable", note_ids=[f"n-{i}"],
                first_seen=start, last_seen=start + timedelta(days=30),
                quotes=[{"note_id": f"n-{i}", "account": "Acme", "text": f"pain number {i} hurts"}]))
            if status != "hidden":
                ids.append(theme.id)
        for k in range(statements):
            note = Note(external_id=f"s-{k}", text=f"statement {k} about pain number 0", account_id=acme.id,
                        source="call", occurred_at=start, content_hash=f"h{k}", norm_hash=f"h{k}")
            session.add(note)
            session.flush()
            st = Statement(note_id=note.id, ordinal=0, start=0, end=len(note.text), text=note.text, kind="pain")
            session.add(st)
            session.flush()
            session.add(ThemeMembership(run_id=run.id, statement_id=st.id, theme_id=ids[0], similarity=0.9 - k / 100))
        run.n_statements = run.n_assigned = statements
    return ids


def _every_theme(svc) -> list[dict]:
    from service.themes.queries import latest_run_json

    with svc.db.session() as session:
        return latest_run_json(session)["themes"]


def _error(resp, status: int) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    return resp.get_json()["error"]


# ---- GET /api/v1/themes ------------------------------------------------------------------------------------------
def test_themes_give_a_page_of_50_by_default_with_every_field_of_the_run_and_the_total(client, svc):
    seed_run(svc, 57, hidden=2)
    every = _every_theme(svc)
    data = client.get("/api/v1/themes").get_json()
    assert RUN_FIELDS | {"page", "per_page", "total"} == set(data)
    assert (data["page"], data["per_page"], data["total"]) == (1, 50, 57)
    assert data["themes"] == every[:50]  # the run's order: most accounts first, as unpaged
    assert len(data["hidden_themes"]) == 2  # the run's own lists come whole


def test_walking_the_pages_gives_every_theme_once_in_the_runs_order(client, svc):
    seed_run(svc, 57)
    walked, page = [], 1
    while True:
        data = client.get("/api/v1/themes", query_string={"page": page, "per_page": 20}).get_json()
        assert data["total"] == 57 and data["per_page"] == 20 and data["page"] == page
        walked += data["themes"]
        if page * data["per_page"] >= data["total"]:
            break
        page += 1
    assert page == 3 and len(data["themes"]) == 17
    assert [t["id"] for t in walked] == [t["id"] for t in _every_theme(svc)]
    beyond = client.get("/api/v1/themes?page=4&per_page=20").get_json()
    assert beyond["themes"] == [] and beyond["total"] == 57 and beyond["run_id"] == data["run_id"]


def test_status_filters_before_paging_and_total_counts_the_filtered_themes(client, svc):
    seed_run(svc, 30, emerging_every=3)  # 10 emerging, 20 recurring
    emerging = client.get("/api/v1/themes?status=emerging&per_page=4&page=3").get_json()
    assert emerging["total"] == 10 and len(emerging["themes"]) == 2
    assert {t["status"] for t in emerging["themes"]} == {"emerging"}
    assert client.get("/api/v1/themes?status=recurring").get_json()["total"] == 20


@pytest.mark.parametrize("query, field", [
    ("page=0", "page"), ("page=abc", "page"), ("page=1000001", "page"), ("page=-1", "page"), ("page=1.5", "page"),
    ("per_page=0", "per_page"), ("per_page=201", "per_page"), ("per_page=ten", "per_page"),
    ("status=hidden&page=2", "status"),
])
def test_a_bad_paging_value_is_a_400_naming_it(client, svc, query, field):
    seed_run(svc, 3)
    assert _error(client.get(f"/api/v1/themes?{query}"), 400)["details"]["field"] == field


def test_the_largest_page_and_page_size_are_accepted(client, svc):
    seed_run(svc, 3)
    assert len(client.get("/api/v1/themes?per_page=200").get_json()["themes"]) == 3
    assert client.get("/api/v1/themes?page=1000000").get_json()["themes"] == []


def test_no_run_yet_is_the_empty_answer_with_a_total_of_0(client):
    data = client.get("/api/v1/themes").get_json()
    assert data == {"run_id": None, "themes": [], "unassigned_note_ids": [], "message": "no theme run yet",
                    "page": 1, "per_page": 50, "total": 0}


# ---- feedback themes list: the API's answer for the same page -------------------------------------------------------
def test_themes_list_json_is_the_apis_answer_and_says_how_to_reach_the_next_page(run_cli, cli_env, make_app):
    app = make_app(DATABASE_URL=f"sqlite:///{cli_env / 'feedback.db'}")  # the API on the CLI's database
    run_cli("stats")  # the CLI makes its database first
    seed_run(app.extensions["feedback"], 57)
    api = app.test_client()
    listed = run_cli("themes", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == api.get("/api/v1/themes").get_json()
    assert "themes 1-50 of 57; --page 2 for the next" in listed.stderr
    second = run_cli("themes", "list", "--json", "--page", "2", "--per-page", "40")
    assert json.loads(second.stdout) == api.get("/api/v1/themes?page=2&per_page=40").get_json()
    assert second.stderr == ""  # the last page: nothing more to reach
    text = run_cli("themes", "list")
    assert text.exit_code == 0 and "57 recurring themes" in text.stdout  # the header counts the whole run
    assert len([ln for ln in text.stdout.splitlines() if "mentions" in ln]) == 50
    assert text.stdout.rstrip().endswith("themes 1-50 of 57; --page 2 for the next")
    assert run_cli("themes", "list", "--per-page", "201").exit_code == 2


# ---- GET /api/v1/roadmap/coverage ---------------------------------------------------------------------------------
@pytest.fixture
def covered(client, svc):
    from service.roadmap import service as roadmap

    seed_run(svc, 12)
    roadmap.import_items(svc, [{"id": f"RM-{i}", "title": f"fix pain number {i}", "status": "planned"}
                               for i in range(7)], prune=False, source="test")
    return client


def test_coverage_without_paging_is_the_whole_answer_as_before(covered, svc):
    from service.roadmap.service import coverage

    data = covered.get("/api/v1/roadmap/coverage").get_json()
    assert set(data) == {"themes", "items", "gaps", "note"}
    assert data == json.loads(json.dumps(coverage(svc)))
    assert (len(data["themes"]), len(data["items"])) == (12, 7)


def test_coverage_pages_each_list_when_asked_and_totals_count_them(covered):
    whole = covered.get("/api/v1/roadmap/coverage").get_json()
    first = covered.get("/api/v1/roadmap/coverage?per_page=5").get_json()
    assert set(first) == {"themes", "items", "gaps", "note", "page", "per_page", "totals"}
    assert (first["page"], first["per_page"]) == (1, 5)
    assert first["totals"] == {"themes": 12, "items": 7, "gaps": len(whole["gaps"])}
    walked = {name: [] for name in ("themes", "items", "gaps")}
    for page in (1, 2, 3):
        data = covered.get(f"/api/v1/roadmap/coverage?page={page}&per_page=5").get_json()
        assert all(len(data[name]) <= 5 for name in walked)
        for name in walked:
            walked[name] += data[name]
    assert walked == {name: whole[name] for name in walked}  # each list whole, in its own order, once
    assert len(covered.get("/api/v1/roadmap/coverage?page=1").get_json()["themes"]) == 12  # 50 a page


@pytest.mark.parametrize("query, field", [("page=0", "page"), ("page=x", "page"), ("per_page=201", "per_page"),
                                          ("per_page=0", "per_page"), ("page=1000001", "page")])
def test_a_bad_coverage_paging_value_is_a_400_naming_it(covered, query, field):
    assert _error(covered.get(f"/api/v1/roadmap/coverage?{query}"), 400)["details"]["field"] == field


# ---- the OpenAPI document -----------------------------------------------------------------------------------------
def test_the_paging_parameters_are_documented_with_their_bounds(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/themes", "/api/v1/roadmap/coverage"):
        operation = spec["paths"][path]["get"]
        params = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
        assert params["page"]["minimum"] == 1 and params["page"]["maximum"] == 1_000_000, path
        assert (params["per_page"]["minimum"], params["per_page"]["maximum"], params["per_page"]["default"]) == \
            (1, 200, 50), path
        assert "400" in operation["responses"], path
