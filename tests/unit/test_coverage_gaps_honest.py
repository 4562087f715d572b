"""Coverage gaps neither hide nor overstate: a recurring theme only a not_planned item addresses is a gap naming the
item that declined it, and a theme whose texts split across several items (none best for a third of them) stays a
gap that names the items near it. The one-third rule itself is unchanged."""
from __future__ import annotations

import json
from datetime import date
from types import SimpleNamespace

import pytest

from service.roadmap import decision, service
from service.roadmap.decision import Ranked

from .test_roadmap_api import ITEMS, _theme_run

pytest.importorskip("service.themes.queries")

ONPREM = {"label": "On-premises installation", "mentions": 7, "accounts": ["Acme", "Brightwater", "Cobalt"],
          "quotes": ["We have to run the product inside our own data center.",
                     "Security will only accept an on-premises installation."]}
SPLIT = {"label": "admin and data asks", "mentions": 6, "accounts": ["Delta", "Echo"],
         "quotes": ["q1", "q2", "q3", "q4", "q5"]}  # 6 texts with the label
TWO_OF_SIX = {"label": "exports and audit asks", "mentions": 4, "accounts": ["Foxtrot"],
              "quotes": ["r1", "r2", "r3", "r4", "r5"]}


@pytest.fixture
def roadmap(client, svc):
    assert client.post("/api/v1/roadmap/items", json=ITEMS).status_code == 201
    return svc


def _gaps(svc) -> dict[int, dict]:
    return {g["theme_id"]: g for g in service.coverage(svc)["gaps"]}


# ---- 1. a declined pain that keeps coming back ------------------------------------------------------------------
def test_a_theme_only_a_not_planned_item_addresses_is_a_gap_naming_it(roadmap, client):
    onprem, exports = _theme_run(roadmap, [ONPREM, {
        "label": "Background CSV exports for large reports", "mentions": 6, "accounts": ["Acme", "Brightwater"],
        "quotes": ["Our CSV exports time out on large reports."]}])
    data = service.coverage(roadmap)
    themes = {t["theme_id"]: t for t in data["themes"]}
    # the matcher picks the not_planned item for the theme's label and quotes; the theme still lists it
    assert [(i["item_id"], i["via"], i["status"]) for i in themes[onprem]["items"]] == [
        ("ONP", "match", "not_planned")]
    gaps = {g["theme_id"]: g for g in data["gaps"]}
    assert onprem in gaps and exports not in gaps  # a shipped item covers exports
    gap = gaps[onprem]
    assert gap["declined"] == [{"item_id": "ONP", "title": "On-premises installation"}]
    assert gap["near"] == []  # the declined item addresses it: it is not merely near
    # the old fields keep their meaning
    assert {k: gap[k] for k in ("label", "status", "size", "accounts")} == {
        "label": "On-premises installation", "status": "recurring", "size": 7, "accounts": 3}
    assert set(gap) == {"theme_id", "label", "status", "size", "accounts", "trend", "arr", "declined", "near"}
    assert service.gap_reasons(gap) == ["decided not to build: ONP On-premises installation"]
    # the item's demand still counts the theme: the PM sees how many accounts the declined pain has
    assert next(i for i in data["items"] if i["item_id"] == "ONP")["theme_ids"] == [onprem]


def test_a_linked_not_planned_item_declines_and_a_committed_item_covers(roadmap, client):
    dark, okta = _theme_run(roadmap, [
        {"label": "dark mode", "mentions": 5, "accounts": ["A1", "A2", "A3"], "quotes": []},
        {"label": "identity team asks", "mentions": 3, "accounts": ["Echo"], "quotes": []}])
    for item_id, theme_id in (("ONP", dark), ("ONP", okta), ("SCIM", okta)):
        assert client.post(f"/api/v1/roadmap/items/{item_id}/links", json={"theme_id": theme_id}).status_code == 201
    gaps = _gaps(roadmap)
    assert gaps[dark]["declined"] == [{"item_id": "ONP", "title": "On-premises installation"}]
    assert okta not in gaps  # SCIM (in progress) covers it, whatever ONP says


# ---- 2. split votes --------------------------------------------------------------------------------------------
def _bests(monkeypatch, by_text: dict[str, str]):
    """decide_texts answering with the chosen best item per text (None: out of scope), as the matcher would."""
    titles = {i["id"]: i["title"] for i in ITEMS}

    def fake(services, texts):
        return [SimpleNamespace(best=Ranked(k, titles[k], "planned", 0.8) if (k := by_text.get(t)) else None)
                for t in texts]

    monkeypatch.setattr(decision, "decide_texts", fake)


def test_votes_split_across_items_stay_a_gap_that_names_what_is_near(roadmap, monkeypatch):
    split, two = _theme_run(roadmap, [SPLIT, TWO_OF_SIX])
    _bests(monkeypatch, {"admin and data asks": "AUD", "q1": "LIN", "q2": "EU", "q3": "BULK",  # q4, q5: none
                         "r1": "EXP", "r2": "EXP", "r3": "AUD"})
    data = service.coverage(roadmap)
    themes = {t["theme_id"]: t for t in data["themes"]}
    assert themes[split]["items"] == []
    # the one-third rule is unchanged: 2 of 6 addresses the theme, 1 of 6 does not
    assert [(i["item_id"], i["via"]) for i in themes[two]["items"]] == [("EXP", "match")]
    gaps = {g["theme_id"]: g for g in data["gaps"]}
    assert two not in gaps
    gap = gaps[split]
    assert gap["declined"] == []
    assert gap["near"] == [
        {"item_id": "AUD", "title": "Admin audit log", "status": "planned", "matched": 1, "of": 6},
        {"item_id": "BULK", "title": "Bulk API endpoints", "status": "planned", "matched": 1, "of": 6},
        {"item_id": "EU", "title": "EU data residency", "status": "considering", "matched": 1, "of": 6},
        {"item_id": "LIN", "title": "Column lineage view", "status": "considering", "matched": 1, "of": 6}]
    assert service.gap_reasons(gap) == [
        "partly near AUD Admin audit log (planned), BULK Bulk API endpoints (planned), EU EU data residency "
        "(considering), LIN Column lineage view (considering): each the best match for 1 of the 6 texts compared "
        "(the label and top quotes)"]


def test_a_declined_item_and_near_items_together(roadmap, monkeypatch, client):
    split, = _theme_run(roadmap, [dict(SPLIT, quotes=["q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8"])])
    assert client.post("/api/v1/roadmap/items/ONP/links", json={"theme_id": split}).status_code == 201
    _bests(monkeypatch, {"q1": "AUD", "q2": "LIN", "q4": "ONP", "q6": "AUD", "q7": "AUD"})  # q6.. are not compared
    gap = _gaps(roadmap)[split]
    assert gap["declined"] == [{"item_id": "ONP", "title": "On-premises installation"}]
    assert [(n["item_id"], n["matched"], n["of"]) for n in gap["near"]] == [("AUD", 1, 6), ("LIN", 1, 6)]
    assert service.gap_reasons(gap) == [
        "decided not to build: ONP On-premises installation",
        "partly near AUD Admin audit log (planned), LIN Column lineage view (considering): each the best match for 1 "
        "of the 6 texts compared (the label and top quotes)"]


def test_near_items_with_different_counts_say_each_count():
    # at most 6 texts today, so a near item is best for 1; more quotes compared would allow 2 of 9, 1 of 9
    gap = {"declined": [], "near": [
        {"item_id": "AUD", "title": "Admin audit log", "status": "planned", "matched": 2, "of": 9},
        {"item_id": "LIN", "title": "Column lineage view", "status": "considering", "matched": 1, "of": 9}]}
    assert service.gap_reasons(gap) == [
        "partly near AUD Admin audit log (planned, best match for 2), LIN Column lineage view (considering, best "
        "match for 1) of the 9 texts compared (the label and top quotes)"]


def test_a_theme_nothing_is_near_says_nothing_more(roadmap, monkeypatch):
    split, = _theme_run(roadmap, [SPLIT])
    _bests(monkeypatch, {})
    gap = _gaps(roadmap)[split]
    assert gap["declined"] == [] and gap["near"] == [] and service.gap_reasons(gap) == []


# ---- 3. what the API, the report and the CLI show ---------------------------------------------------------------
def test_api_pages_gaps_with_the_new_fields(roadmap, client):
    split, onprem = _theme_run(roadmap, [SPLIT, ONPREM])
    whole = client.get("/api/v1/roadmap/coverage").get_json()
    assert set(whole) == {"themes", "items", "gaps", "note"}
    paged = client.get("/api/v1/roadmap/coverage?per_page=1&page=1").get_json()
    assert paged["totals"]["gaps"] == len(whole["gaps"]) and paged["gaps"] == whole["gaps"][:1]
    assert all({"declined", "near"} <= set(g) for g in whole["gaps"])
    assert next(g for g in whole["gaps"] if g["theme_id"] == onprem)["declined"][0]["item_id"] == "ONP"


def test_report_says_which_item_declined_a_gap_and_what_is_near(roadmap, monkeypatch):
    from service.reports.build import build_report
    from service.reports.render import GAPS_HEADING, markdown_sections, render_html

    hostile = "<b>EU</b> [x](javascript:alert(1))"
    split, onprem = _theme_run(roadmap, [SPLIT, ONPREM])
    roadmap_items = [dict(i, title=hostile) if i["id"] == "EU" else i for i in ITEMS]
    from service.roadmap.service import import_items

    import_items(roadmap, roadmap_items)
    _bests(monkeypatch, {"admin and data asks": "AUD", "q1": "EU", "q2": "LIN", "q3": "BULK",
                         "On-premises installation": "ONP", "We have to run the product inside our own data center.":
                         "ONP"})
    data = build_report(roadmap, "7d", date(2026, 11, 27))
    gaps = {g["theme_id"]: g for g in data["gaps"]}
    assert gaps[onprem]["declined"] == [{"item_id": "ONP", "title": "On-premises installation"}]
    assert [n["item_id"] for n in gaps[split]["near"]] == ["AUD", "BULK", "EU", "LIN"]
    assert gaps[split]["total_accounts"] == 2  # the fields readers had keep their meaning
    md = dict(markdown_sections(data))[GAPS_HEADING]
    assert GAPS_HEADING == "Gaps: recurring themes no roadmap item covers"
    assert "  - decided not to build: ONP On-premises installation" in md
    assert "  - partly near AUD Admin audit log \\(planned\\), BULK Bulk API endpoints \\(planned\\), EU " in md
    assert "each the best match for 1 of the 6 texts compared" in md
    assert "<b>" not in md and "\\[x\\]\\(javascript:alert\\(1\\)\\)" in md  # an item title is shown as written
    html = render_html(data)
    assert "Gaps: recurring themes no roadmap item covers" in html
    assert "decided not to build: ONP On-premises installation" in html
    assert "&lt;b&gt;EU&lt;/b&gt;" in html and "<b>EU" not in html  # autoescaped
    # a report stored before these fields renders as it did
    old = json.loads(json.dumps(data))
    for g in old["gaps"]:
        del g["declined"], g["near"]
    assert "decided not to build" not in render_html(old) and "partly near" not in dict(
        markdown_sections(old))[GAPS_HEADING]


def test_cli_coverage_names_the_declining_item_and_near_items(run_cli, tmp_path, monkeypatch):
    from service.cli.common import AppContext, close_open_apps

    path = tmp_path / "roadmap.json"
    path.write_text(json.dumps(ITEMS))
    assert run_cli("roadmap", "import", str(path)).exit_code == 0
    split, onprem = _theme_run(AppContext().services, [SPLIT, ONPREM])
    close_open_apps()  # as a separate process would: the next command opens the home on its own
    _bests(monkeypatch, {"admin and data asks": "AUD", "q1": "EU", "q2": "LIN", "q3": "BULK",
                         "On-premises installation": "ONP", "We have to run the product inside our own data center.":
                         "ONP"})
    result = run_cli("roadmap", "coverage")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "gaps (recurring themes no item covers):" in out and "no item addresses" not in out
    assert "-> ONP (match, not planned)" in out
    assert "       decided not to build: ONP On-premises installation" in out
    assert "       partly near AUD Admin audit log (planned), BULK Bulk API endpoints (planned)" in out
    data = json.loads(run_cli("roadmap", "coverage", "--json").stdout)
    assert {g["theme_id"] for g in data["gaps"]} == {split, onprem}


def test_roadmap_page_names_the_declining_item_and_near_items(roadmap, monkeypatch, client):
    split, = _theme_run(roadmap, [dict(SPLIT, label="<b>admin</b> and data asks")])
    assert client.post("/api/v1/roadmap/items/ONP/links", json={"theme_id": split}).status_code == 201
    _bests(monkeypatch, {"q1": "AUD", "q2": "LIN"})
    page = client.get("/roadmap")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Gaps: recurring themes no item covers" in html and "no item addresses" not in html
    assert "decided not to build: ONP On-premises installation" in html
    assert "partly near AUD Admin audit log (planned), LIN Column lineage view (considering)" in html
    assert "&lt;b&gt;admin&lt;/b&gt; and data asks" in html and "<b>admin</b>" not in html
