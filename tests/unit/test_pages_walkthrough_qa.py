"""Defects found walking the pages as a PM, a sales rep and a viewer: pages offered links and forms a role is refused,
404 pages that did not say what was missing, a merged or hidden theme's page that did not say so, drafts that said
"not on the roadmap" with no roadmap imported, and figures or times written inconsistently."""
from __future__ import annotations

import re

import pytest

from service.ingest.store import ingest_notes
from service.themes.edits import edit_and_rerun
from service.themes.run import RunOptions, run_themes

from .test_followups import seed as seed_followups, ship
from .test_reports import seed as seed_reports
from .test_theme_determinism import TOPICS, _notes

NOTE_LINK = 'href="/notes/'


def main_html(response) -> str:
    html = response.get_data(as_text=True)
    return html[html.index("<main"): html.index("</main>")]


def nav_html(response) -> str:
    html = response.get_data(as_text=True)
    return html[html.index('<nav class="site-nav"'): html.index("</nav>")]


@pytest.fixture
def reported(app):
    """The reports seed (themes, roadmap, drafts) and a report built from it."""
    from service.reports.store import create_report

    from .test_reports import AS_OF

    ids = seed_reports(app)
    report = create_report(app.extensions["feedback"], "7d", AS_OF)
    return app, ids, report


def _matched_theme(svc) -> tuple[int, str]:
    """A theme and an item the matcher picked for it (no person linked it): its page asks "is this the right item?"."""
    from service.roadmap import service

    return next((t["theme_id"], i["item_id"]) for t in service.coverage(svc)["themes"] for i in t["items"]
                if i["via"] == "match")


# ---- links and forms a role would be refused ----------------------------------------------------------------------
@pytest.mark.parametrize("role", ["sales", "viewer"])
def test_theme_and_report_pages_link_notes_only_for_roles_that_may_open_them(reported, role):
    app, ids, report = reported
    client = app.test_client(role=role)
    assert client.get("/notes/e1").status_code == 403  # the link would lead to a refusal
    for path in (f"/themes/{ids['CSV export times out']}", f"/reports/{report.id}"):
        body = main_html(client.get(path))
        assert NOTE_LINK not in body and "note e1" in body, path  # the id is still shown, as text
    admin = app.test_client()
    for path in (f"/themes/{ids['CSV export times out']}", f"/reports/{report.id}"):
        assert 'href="/notes/e1' in main_html(admin.get(path)), path


def test_draft_page_links_quoted_notes_only_for_roles_that_may_open_them(app, svc):
    from service.drafts.pipeline import create_draft

    seed_reports(app, with_drafts=False)
    draft = create_draft(svc, "Does the CSV export time out on large reports?", account="Acme")
    quoted = [e["note_id"] for e in draft["evidence"]]
    assert quoted, "the draft quotes a note"
    sales = main_html(app.test_client(role="sales").get(f"/ask/{draft['id']}"))
    assert NOTE_LINK not in sales and f"note {quoted[0]}" in sales and "(note deleted)" not in sales
    assert f'href="/notes/{quoted[0]}"' in main_html(app.test_client(role="pm").get(f"/ask/{draft['id']}"))


@pytest.mark.parametrize("role", ["sales", "viewer"])
def test_theme_page_asks_is_this_the_right_item_only_of_those_who_may_answer(app, role):
    seed_reports(app, with_drafts=False)
    theme_id, item_id = _matched_theme(app.extensions["feedback"])
    client = app.test_client(role=role)
    assert client.post(f"/themes/{theme_id}/confirm", data={"item_id": item_id, "answer": "yes"}).status_code == 403
    body = main_html(client.get(f"/themes/{theme_id}"))
    assert item_id in body and f'action="/themes/{theme_id}/confirm"' not in body and "Yes, link it" not in body
    pm = main_html(app.test_client(role="pm").get(f"/themes/{theme_id}"))
    assert f'action="/themes/{theme_id}/confirm"' in pm and f'aria-label="Yes, link it: {item_id}' in pm


@pytest.mark.parametrize("role", ["sales", "viewer"])
def test_run_themes_and_build_report_forms_are_offered_only_to_those_who_may_send_them(reported, role):
    app, _, _ = reported
    client = app.test_client(role=role)
    themes, reports = main_html(client.get("/themes")), main_html(client.get("/reports"))
    assert 'action="/themes/run"' not in themes and "A PM or an admin runs themes" in themes
    assert 'action="/reports"' not in reports and "A PM or an admin builds reports" in reports
    pm = app.test_client(role="pm")
    assert 'action="/themes/run"' in main_html(pm.get("/themes"))
    assert 'action="/reports"' in main_html(pm.get("/reports"))


def _today():
    """The status change a test makes happens now: a report of a past day stops at its end and would not list it."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).date()


def test_viewer_gets_no_follow_ups_links_on_the_roadmap_and_report(app, svc):
    from service.reports.store import create_report

    seed_followups(svc)
    ship(svc)
    report = create_report(svc, "30d", _today())
    assert report.data["moved"], "RM-104 moved"
    viewer, sales = app.test_client(role="viewer"), app.test_client(role="sales")
    assert viewer.get("/roadmap/items/RM-104/followups").status_code == 403
    for path in ("/roadmap", f"/reports/{report.id}"):
        assert "/followups" not in main_html(viewer.get(path)), path
        assert 'href="/roadmap/items/RM-104/followups"' in main_html(sales.get(path)), path


@pytest.mark.parametrize("role,shown,hidden", [
    ("viewer", ["/themes", "/roadmap", "/reports"], ["/", "/ask"]),
    ("sales", ["/themes", "/ask", "/roadmap", "/reports"], ["/"]),
    ("pm", ["/", "/themes", "/ask", "/roadmap", "/reports"], []),
])
def test_nav_lists_only_the_pages_the_role_may_use(app, role, shown, hidden):
    nav = nav_html(app.test_client(role=role).get("/themes"))
    for href in shown:
        assert f'<a href="{href}"' in nav, (role, href)
    for href in hidden:
        assert f'<a href="{href}"' not in nav, (role, href)


@pytest.mark.parametrize("role", ["sales", "viewer"])
def test_home_page_of_a_role_that_may_not_paste_says_so_instead_of_a_form(app, role):
    client = app.test_client(role=role)
    assert client.post("/", data={"text": "Exports time out.", "source": "call"}).status_code == 403
    body = main_html(client.get("/"))
    assert 'name="text"' not in body and 'method="post"' not in body
    assert f"Your role ({role}) may not store notes" in body and 'href="/themes"' in body
    assert ('href="/ask"' in body) == (role == "sales")
    assert 'name="text"' in main_html(app.test_client(role="pm").get("/"))


def test_refusal_page_says_the_role_may_not_and_offers_the_start_page(app):
    from .test_auth import _signed_in

    client, _ = _signed_in(app, role="viewer", email="v@example.com")
    page = client.get("/ask")
    assert page.status_code == 403
    body = main_html(page)
    assert "<h1>Your role may not do this</h1>" in body and "viewer" in body
    assert "Go to the start page" in body and "Go to Paste notes" not in body


# ---- 404 pages say what is missing ----------------------------------------------------------------------------
@pytest.mark.parametrize("path,says", [
    ("/ask/9999", "There is no draft 9999"),
    ("/themes/9999", "There is no theme 9999"),
    ("/reports/9999", "There is no report 9999"),
    ("/notes/nope", "There is no note &#39;nope&#39;"),
    ("/jobs/nope", "There is no job &#39;nope&#39;"),
    ("/jobs/" + "x" * 200, "There is no job"),
])
def test_not_found_pages_name_what_is_missing(client, path, says):
    page = client.get(path)
    assert page.status_code == 404 and page.headers["Cache-Control"] == "no-store"
    body = main_html(page)
    assert says in body and "<h1>No such " in body
    assert "x" * 65 not in body  # a long address is cut, not echoed whole


# ---- a merged or hidden theme's page --------------------------------------------------------------------------
@pytest.fixture
def themed(app, svc):
    ingest_notes(svc, _notes(TOPICS))
    result = run_themes(svc, RunOptions(include_all=True, use_llm=False))
    return [t["id"] for t in result["themes"][:2]]


def test_a_theme_a_pm_merged_links_to_the_theme_it_was_merged_into(app, svc, themed):
    merged, into = themed
    edit_and_rerun(svc, "merge", "pm@example.com", theme_id=merged, target_id=into)
    body = main_html(app.test_client(role="viewer").get(f"/themes/{merged}"))
    assert "not in the latest theme run" in body
    assert f'it was merged into <a href="/themes/{into}">theme {into}</a>' in body


def test_a_hidden_theme_says_so_to_those_who_cannot_see_the_edit_form(app, svc, themed):
    hidden, shown = themed
    edit_and_rerun(svc, "hide", "pm@example.com", theme_id=hidden)
    viewer = app.test_client(role="viewer")
    assert "A PM hid this theme" in main_html(viewer.get(f"/themes/{hidden}"))
    assert "A PM hid this theme" not in main_html(viewer.get(f"/themes/{shown}"))


def test_theme_history_writes_one_account_in_the_singular(app, svc):
    from sqlalchemy import select

    from service.models import ThemeSnapshot

    theme_id = seed_reports(app, with_drafts=False)["Need a Snowflake connector"]
    with svc.db.transaction() as s:  # as a run over one account's notes records it
        s.scalars(select(ThemeSnapshot).where(ThemeSnapshot.theme_id == theme_id)).one().accounts = 1
    page = main_html(app.test_client().get(f"/themes/{theme_id}"))
    history = page[page.index('class="history"'):]
    assert "1 accounts" not in history and "1 account," in history


# ---- no roadmap yet ---------------------------------------------------------------------------------------------
def test_ask_and_draft_pages_warn_while_no_roadmap_is_imported(app, svc):
    from service.drafts.pipeline import create_draft
    from service.roadmap.service import import_items

    client = app.test_client(role="sales")
    assert 'id="no-roadmap"' in main_html(client.get("/ask"))
    draft = create_draft(svc, "Do you support SCIM provisioning?")
    assert draft["verdict"] == "not_on_roadmap"
    page = main_html(client.get(f"/ask/{draft['id']}")).lower()
    assert page.count("do not send this") == 1  # the draft's own warning, not the page's notice beside it too
    import_items(svc, [{"id": "SSO", "title": "SAML single sign-on", "status": "shipped"}])
    assert 'id="no-roadmap"' not in main_html(client.get("/ask"))
    page = main_html(client.get(f"/ask/{draft['id']}"))
    assert 'id="no-roadmap"' not in page and "no roadmap is imported" in page  # made without one: it still says so


# ---- times, dates and button names ------------------------------------------------------------------------------
def test_follow_ups_write_one_date_for_one_ask_and_told_times_in_utc(app, svc):
    seed_followups(svc)
    ship(svc)
    client = app.test_client(role="sales")
    html = main_html(client.get("/roadmap/items/RM-104/followups"))
    kestrel = html[html.index(">Kestrel Freight<"):]
    assert "asked in 1 note (2026-10-05)" in kestrel and "2026-10-05 to 2026-10-05" not in html
    assert 'aria-label="Mark as told: Kestrel Freight"' in html
    client.post("/roadmap/items/RM-104/followups/told", data={"account": "Kestrel Freight"})
    told = main_html(client.get("/roadmap/items/RM-104/followups"))
    told = told[told.index('id="told-h"'):]
    assert re.search(r"Kestrel Freight · \d{4}-\d\d-\d\d \d\d:\d\d UTC", told), told
    assert 'aria-label="Undo the mark for Kestrel Freight"' in told


def test_draft_feedback_times_are_in_utc_and_yes_no_buttons_name_their_item(app, svc):
    from service.drafts.pipeline import create_draft
    from service.roadmap.service import import_items

    import_items(svc, [{"id": "EXP", "title": "Background CSV exports", "status": "shipped",
                        "description": "Large exports run as jobs."}])
    draft = create_draft(svc, "Background CSV exports of large tables?", audience="internal")
    assert draft["cited_item_ids"] == ["EXP"]
    client = app.test_client(role="sales")
    assert client.post(f"/ask/{draft['id']}/feedback", data={"kind": "thumb", "rating": "up"}).status_code == 303
    body = main_html(client.get(f"/ask/{draft['id']}"))
    assert re.search(r"Thumbs up\s*<span class=\"muted\">\d{4}-\d\d-\d\d \d\d:\d\d UTC", body), body
    assert 'aria-label="Yes, EXP is the right item"' in body and 'aria-label="No, EXP is not the right item"' in body


def test_report_tables_say_whether_they_count_this_period_or_the_theme_run(reported):
    """The top themes table counts this period's accounts, the gaps table the theme run's: both were headed just
    "Accounts", so one theme showed two account counts on one page (and a third on its own page)."""
    app, ids, report = reported
    body = main_html(app.test_client().get(f"/reports/{report.id}"))
    top = body[body.index('class="report-themes"'):]
    top = top[:top.index("</thead>")]
    gaps = body[body.index('class="report-gaps"'):]
    gaps = gaps[:gaps.index("</thead>")]
    assert ">Accounts this period<" in top and ">Mentions this period<" in top
    assert ">Accounts (theme run)<" in gaps and ">Mentions this period<" in gaps
    sso = ids["SSO setup takes too long"]
    theme_page = main_html(app.test_client().get(f"/themes/{sso}"))
    run_accounts = re.search(r"mentions? from (\d+) accounts?", theme_page).group(1)
    assert re.search(rf'<a href="/themes/{sso}">SSO setup takes too long</a></td><td>{run_accounts}</td>', gaps + body)


def test_roadmap_page_before_a_theme_run_does_not_claim_there_are_no_gaps(app, svc):
    seed_followups(svc)  # a roadmap and notes, no theme run: nothing was compared yet
    html = main_html(app.test_client(role="pm").get("/roadmap"))
    assert "No gaps" not in html and "Gaps are not known yet" in html
    run_themes(svc, RunOptions())
    html = main_html(app.test_client(role="pm").get("/roadmap"))
    assert "Gaps are not known yet" not in html
    assert "No gaps" in html or "gaps-table" in html
