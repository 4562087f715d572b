"""The themes, notes, ask, roadmap and reports pages: with data and empty, escaping, filters, forms and CSRF."""
from __future__ import annotations

import re

import pytest

from service.reports.store import create_report

from .test_reports import AS_OF, HOSTILE, seed
from .jobpages import follow_job

PAGES = ["/themes", "/ask", "/roadmap", "/reports"]
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def main_html(response) -> str:
    html = response.get_data(as_text=True)
    return html[html.index("<main"): html.index("</main>")]


@pytest.fixture
def seeded(app):
    return app, seed(app)


@pytest.fixture
def seeded_client(seeded):
    return seeded[0].test_client()


def _draft(app, question="Do you support SCIM provisioning from Okta?", account="Acme"):
    from service.drafts.pipeline import create_draft

    return create_draft(app.extensions["feedback"], question, account=account)


# --- every page ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", PAGES)
def test_pages_render_with_an_empty_database(client, path):
    response = client.get(path)
    assert response.status_code == 200
    body = main_html(response)
    assert "<h1>" in body and "Traceback" not in body
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'; script-src 'self'")
    assert 'style="' not in response.get_data(as_text=True)  # the CSP allows no inline style attributes
    html = response.get_data(as_text=True)
    assert f'href="{path}" aria-current="page"' in html  # the nav marks the page


def test_empty_pages_say_what_to_do(client):
    assert "No theme run yet" in main_html(client.get("/themes"))
    assert "No roadmap imported yet" in main_html(client.get("/roadmap"))
    assert "No reports yet" in main_html(client.get("/reports"))
    assert "No drafts yet" in main_html(client.get("/ask"))


def test_pages_render_with_data(seeded):
    app, ids = seeded
    client = app.test_client()
    report = create_report(app.extensions["feedback"], "7d", AS_OF)
    themes = main_html(client.get("/themes"))
    assert themes.count('class="chart sparkline"') == 3 and "SSO setup takes too long" in themes
    assert f'href="/themes/{ids["SSO setup takes too long"]}"' in themes and "trend-fading" in themes
    roadmap = main_html(client.get("/roadmap"))
    assert "Background CSV exports for large reports" in roadmap and "2026.08" in roadmap
    assert "status-shipped" in roadmap
    gaps = roadmap[roadmap.index('id="gaps-h"'):]
    assert "SSO setup takes too long" in gaps and "CSV export times out" not in gaps
    listing = main_html(client.get("/reports"))
    assert f'href="/reports/{report.id}"' in listing
    page = client.get(f"/reports/{report.id}")
    assert page.status_code == 200
    body = main_html(page)
    assert 'class="chart bar-chart"' in body and body.count('class="chart sparkline"') == 2
    assert f'href="/themes/{ids["CSV export times out"]}"' in body and 'href="/notes/e1"' in body
    assert "<style" not in page.get_data(as_text=True)  # the in-app page relies on app.css only


def test_theme_detail_shows_quotes_items_accounts_and_history(seeded):
    app, ids = seeded
    client = app.test_client()
    body = main_html(client.get(f"/themes/{ids['CSV export times out']}"))
    assert 'href="/notes/e1"' in body and "The CSV export times out on large reports." in body
    assert "Background CSV exports for large reports" in body and "2026.08" in body  # linked item
    assert "Initech" in body and "Run 1:" in body and "csv, export, times" in body
    gap = main_html(client.get(f"/themes/{ids['SSO setup takes too long']}"))
    assert "it is a gap" in gap
    assert client.get("/themes/9999").status_code == 404


def test_hostile_note_text_is_escaped_on_theme_and_note_pages(seeded):
    app, ids = seeded
    client = app.test_client()
    for path in (f"/themes/{ids['CSV export times out']}", "/notes/e2"):
        html = client.get(path).get_data(as_text=True)
        assert HOSTILE not in html and ESCAPED in html, path


def test_note_page_lists_statements_account_source_and_themes(seeded):
    app, ids = seeded
    response = app.test_client().get("/notes/e1")
    body = main_html(response)
    assert response.status_code == 200
    assert "Acme" in body and "2026-11-21" in body and ">call<" in body
    assert re.search(r'<li id="s\d+">', body)  # statement anchors for quote links
    assert f'href="/themes/{ids["CSV export times out"]}"' in body
    assert app.test_client().get("/notes/nope").status_code == 404


# --- themes filters and run ------------------------------------------------------------------------------------

def test_theme_filters(seeded_client):
    def labels(query):
        body = main_html(seeded_client.get("/themes?" + query))
        return {label for label in ("CSV export times out", "SSO setup takes too long", "Need a Snowflake connector")
                if label in body}

    assert labels("account=umbrella") == {"SSO setup takes too long"}
    assert labels("source=interview") == {"Need a Snowflake connector"}
    assert labels("since=2026-11-20") == {"CSV export times out", "Need a Snowflake connector"}
    assert labels("until=2026-11-15") == {"CSV export times out", "SSO setup takes too long"}
    assert labels("until=2026-11-14") == {"SSO setup takes too long"}
    bad = seeded_client.get("/themes?since=2026-11-20&until=2026-11-01")
    assert bad.status_code == 422 and "before the start date" in main_html(bad)


def test_run_themes_for_a_window_reports_why_it_did_not_run(seeded_client):
    response = seeded_client.post("/themes/run", data={"run-since": "2020-01-01", "run-until": "2020-01-31"})
    page = follow_job(seeded_client, response)
    assert page.status_code == 200 and "failed" in main_html(page)
    assert "no statements match this selection" in main_html(page)


def test_run_themes_from_the_page_shows_progress_then_the_new_run(seeded_client):
    response = seeded_client.post("/themes/run", data={})
    job_page = seeded_client.get(response.headers["Location"])  # queued or running: it refreshes itself
    assert job_page.status_code in (200, 303)
    if job_page.status_code == 200:
        assert "Theme run" in main_html(job_page) and job_page.headers["Cache-Control"] == "no-store"
    done = follow_job(seeded_client, response)
    assert done.status_code == 303 and done.headers["Location"].endswith("/themes?ran=1")
    assert "Themes were run again" in main_html(seeded_client.get(done.headers["Location"]))


def test_job_page_shows_status_and_progress_without_script(app, seeded_client):
    from service.jobs import store

    svc = app.extensions["feedback"]
    job, _ = store.create(svc, "reindex", {}, key=None, backend="local")  # recorded, not run: stays queued
    page = seeded_client.get(f"/jobs/{job['id']}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and '<meta http-equiv="refresh" content="2">' in body
    assert "queued" in main_html(page) and "feedback worker" in main_html(page)
    assert store.claim(svc, job["id"])
    progress = store.Progress(svc, job["id"])
    progress.total(40)
    progress(10)
    progress.flush()
    body = main_html(seeded_client.get(f"/jobs/{job['id']}"))
    assert '<progress max="40" value="10">' in body and "10 of 40 statements done (25%)" in body
    store.finish(svc, job["id"], {"reindexed": 40})
    page = seeded_client.get(f"/jobs/{job['id']}")
    assert '<meta http-equiv="refresh"' not in page.get_data(as_text=True)
    assert "statements re-indexed" in main_html(page) and "40" in main_html(page)
    assert seeded_client.get("/jobs/nope").status_code == 404
    assert seeded_client.get("/jobs/" + "x" * 200).status_code == 404
    assert app.test_client(role="viewer").get(f"/jobs/{job['id']}").status_code == 403


# --- ask -------------------------------------------------------------------------------------------------------

def test_ask_drafts_an_answer_and_redirects_to_it(seeded_client):
    response = seeded_client.post("/ask", data={"question": "Do you support SCIM provisioning from Okta?",
                                                "account": "Acme", "audience": "customer"})
    assert response.status_code == 303
    page = seeded_client.get(response.headers["Location"])
    body = main_html(page)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Do you support SCIM provisioning from Okta?" in body and 'class="badge status' in body
    assert 'data-copy-target="#draft-text"' in body and 'id="draft-text"' in body
    assert "Thumbs up" in body and 'name="edited_text"' in body


def test_ask_without_a_question_keeps_the_form(seeded_client):
    response = seeded_client.post("/ask", data={"question": "  ", "audience": "customer"})
    assert response.status_code == 422 and "Type the customer&#39;s question." in main_html(response)


def test_draft_page_shows_cited_items_and_feedback_is_saved(seeded):
    app, _ = seeded
    client = app.test_client()
    draft = _draft(app)
    body = main_html(client.get(f"/ask/{draft['id']}"))
    assert draft["cited_item_ids"] == ["SCIM"]
    cited = body[body.index('id="cited-h"'):]
    assert "SCIM user provisioning from Okta" in cited and "Q1 2027" in cited and "status-in_progress" in cited
    thumb = client.post(f"/ask/{draft['id']}/feedback", data={"kind": "thumb", "rating": "down"})
    assert thumb.status_code == 303 and thumb.headers["Location"].endswith("saved=thumb#feedback")
    edit = client.post(f"/ask/{draft['id']}/feedback", data={"kind": "edit", "rating": "up",
                                                             "edited_text": "My own answer.", "comment": "shorter"})
    assert edit.status_code == 303
    page = main_html(client.get(edit.headers["Location"]))
    assert "your version is saved" in page and "Thumbs down" in page and "edited version saved" in page
    from service.drafts.pipeline import get_draft

    saved = get_draft(app.extensions["feedback"], draft["id"])["feedback"]
    assert [(f["rating"], f["edited_text"], f["comment"]) for f in saved] == [
        ("down", None, None), ("up", "My own answer.", "shorter")]
    assert client.post(f"/ask/{draft['id']}/feedback", data={"kind": "thumb", "rating": "meh"}).status_code == 422
    assert client.get("/ask/9999").status_code == 404


def test_feedback_form_is_csrf_protected_when_enabled(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    seed(app, with_drafts=False)
    client = app.test_client()
    draft = _draft(app)
    url = f"/ask/{draft['id']}/feedback"
    assert client.post(url, data={"kind": "thumb", "rating": "up"}).status_code == 400
    page = client.get(f"/ask/{draft['id']}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    # both thumbs forms, the edit form, and "is this the right item?" yes / no per cited item
    assert page.count('name="csrf_token"') == 3 + 2 * len(draft["cited_item_ids"])
    assert client.post(url, data={"kind": "thumb", "rating": "up", "csrf_token": token}).status_code == 303
    if draft["cited_item_ids"]:
        confirm = {"item_id": draft["cited_item_ids"][0], "answer": "yes"}
        assert client.post(f"/ask/{draft['id']}/confirm", data=confirm).status_code == 400
        assert client.post(f"/ask/{draft['id']}/confirm", data={**confirm, "csrf_token": token}).status_code == 303
    assert client.post("/ask", data={"question": "SCIM?"}).status_code == 400
    assert client.post("/reports", data={"period": "7d"}).status_code == 400


# --- reports ---------------------------------------------------------------------------------------------------

def test_build_report_from_the_page_and_download_it(seeded_client, monkeypatch):
    from datetime import datetime

    import service.reports.build as build

    # Both builds end on the same day: the page builds up to today (UTC), and a run across midnight would build
    # a second report for the next window instead of replacing the first.
    monkeypatch.setattr(build, "utcnow", lambda: datetime(2026, 11, 27, 12, 0))
    done = follow_job(seeded_client, seeded_client.post("/reports", data={"period": "30d"}))
    assert done.status_code == 303  # the job page opens the report it built
    report_id = int(done.headers["Location"].rsplit("/", 1)[1])
    again = follow_job(seeded_client, seeded_client.post("/reports", data={"period": "30d"}))
    assert again.headers["Location"].endswith(f"/{report_id}")
    download = seeded_client.get(f"/reports/{report_id}/report.html")
    csp = download.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "sandbox" in csp
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "<style>" in download.get_data(as_text=True)
    md = seeded_client.get(f"/reports/{report_id}/report.md")
    assert md.get_data(as_text=True).startswith("# Feedback report: last 30 days")
    assert seeded_client.post("/reports", data={"period": "2w"}).status_code == 422
    assert seeded_client.get("/reports/999").status_code == 404


def test_pages_say_when_a_feature_is_not_installed(client, monkeypatch):
    from service.web import page_data

    monkeypatch.setattr(page_data, "drafts", None)
    monkeypatch.setattr(page_data, "roadmap", None)
    monkeypatch.setattr(page_data, "theme_queries", None)
    for path, feature in (("/ask", "Drafting answers"), ("/roadmap", "The roadmap"), ("/themes", "Themes")):
        response = client.get(path)
        assert response.status_code == 200 and f"{feature}: not available" in main_html(response)
