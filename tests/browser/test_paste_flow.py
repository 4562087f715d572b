"""The paste-notes flow in a real browser: stored notes shown, hostile text inert, no CSP violations, no JS needed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import CHROMIUM

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install -y chromium)",
                allow_module_level=True)
try:
    import playwright.sync_api  # noqa: F401
except ImportError:
    pytest.skip("browser tests need Playwright for Python (pip install playwright)", allow_module_level=True)

pytestmark = pytest.mark.browser

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"


def stats(base_url: str, page) -> dict:
    return json.loads(page.request.get(f"{base_url}/api/v1/stats").text())


def assert_clean(page, expected_status: int | None = None):
    """No dialog, no script error, no console error (CSP violations are console errors)."""
    watch = page.watch
    assert watch.dialogs == [], f"a dialog fired: {watch.dialogs}"
    assert watch.page_errors == [], f"script errors: {watch.page_errors}"
    expected = f"the server responded with a status of {expected_status}" if expected_status else None
    errors = [e for e in watch.console_errors if not (expected and expected in e)]
    assert errors == [], f"console errors (CSP violations?): {errors}"


def paste(page, base_url: str, text: str, *, account: str = "", source: str = "call", date: str = ""):
    page.goto(f"{base_url}/")
    page.fill("textarea#text", text)
    if account:
        page.fill("input#account", account)
    page.select_option("select#source", source)
    if date:
        page.fill("input#date", date)
    with page.expect_navigation():
        page.click("input[type=submit]")


def test_home_page_renders_with_styles_and_without_csp_violations(page, live_server, screenshot_dir: Path):
    response = page.goto(f"{live_server}/")
    assert response.status == 200
    assert page.title().startswith("Paste notes")
    # the stylesheet loaded (the header is dark, not the browser default)
    header_bg = page.eval_on_selector(".site-header", "el => getComputedStyle(el).backgroundColor")
    assert header_bg == "rgb(17, 24, 39)"
    assert page.locator("nav.site-nav a[aria-current=page]").inner_text() == "Paste notes"
    page.fill("textarea#text", "First note.\n---\nSecond note, a little longer.")
    assert page.locator("#note-counter").inner_text().startswith("2 notes")  # app.js enhancement
    page.fill("textarea#text", "")
    page.screenshot(path=str(screenshot_dir / "paste-form.png"), full_page=True)
    assert_clean(page)


def test_paste_notes_shows_the_stored_notes(page, live_server, screenshot_dir: Path):
    before = stats(live_server, page)["notes"]
    text = (
        "Call with Acme about exports. The CSV export times out above 50k rows. "
        "They retry every night and it still fails.\n"
        "---\n"
        "SSO setup took two weeks! Their IT team needed SCIM as well.\n"
        "---\n"
        "Pricing page is confusing: nobody knows what a seat is."
    )
    paste(page, live_server, text, account="Acme Corp", source="interview", date="2026-03-12")
    assert page.locator("h1").inner_text() == "Stored 3 notes"
    cards = page.locator("article.note-card")
    assert cards.count() == 3
    body = page.locator("main").inner_text()
    for sentence in ("The CSV export times out above 50k rows.", "SSO setup took two weeks!",
                     "Pricing page is confusing: nobody knows what a seat is."):
        assert sentence in body
    assert "Acme Corp" in body
    assert page.locator("button.btn-copy").first.is_visible()  # shown by app.js
    assert stats(live_server, page)["notes"] == before + 3
    page.screenshot(path=str(screenshot_dir / "paste-summary.png"), full_page=True)
    assert_clean(page)


def test_theme_summary_layout(page, live_server, screenshot_dir: Path, monkeypatch):
    """With the themes stage answering (a stand-in here), themes, corpus matches and quotes are shown."""
    import sys
    import types

    def summarize_texts(services, texts, *, account=None, source="other", date=None, store=False):
        return {"themes": [
            {"label": "CSV export times out", "mentions": 2,
             "quotes": [{"text": "The CSV export times out above 50k rows.", "note_id": None, "paste_index": 1},
                        {"text": "Export fails every night.", "note_id": None, "paste_index": 2}],
             "corpus_theme": {"id": 7, "label": "Slow exports", "accounts": 6, "other_accounts": 5,
                              "trend": "growing", "status": "planned"}},
            {"label": f"SSO setup is slow {XSS_SCRIPT}", "mentions": 1,
             "quotes": [{"text": f"SSO took two weeks {XSS_IMG}", "note_id": None, "paste_index": 2}],
             "corpus_theme": None},
        ]}

    module = types.ModuleType("service.themes.summary")
    module.summarize_texts = summarize_texts
    monkeypatch.setitem(sys.modules, "service.themes.summary", module)
    paste(page, live_server, "The CSV export times out above 50k rows.\n---\n"
          f"Export fails every night. SSO took two weeks {XSS_IMG}", account="Globex", source="call")
    page.wait_for_timeout(300)
    cards = page.locator("article.theme-card")
    assert cards.count() == 2
    link = cards.first.locator("a[href='/themes/7']")
    assert link.inner_text() == "Slow exports"
    assert "also raised by 5 other accounts" in cards.first.inner_text()
    assert page.locator("main img").count() == 0
    page.screenshot(path=str(screenshot_dir / "paste-themes.png"), full_page=True)
    assert_clean(page)


def test_hostile_note_renders_inert(page, live_server, screenshot_dir: Path):
    text = f"Export is broken. {XSS_SCRIPT} and {XSS_IMG} here!\n---\n{XSS_IMG}{XSS_SCRIPT}"
    paste(page, live_server, text, account=f"Mallory {XSS_IMG}", source="ticket")
    page.wait_for_timeout(500)  # give an injected onerror handler the chance to fire
    body = page.locator("main").inner_text()
    assert XSS_SCRIPT in body and XSS_IMG in body  # shown as text ...
    assert page.locator("main img").count() == 0  # ... never as elements
    assert page.locator("main script").count() == 0
    page.screenshot(path=str(screenshot_dir / "paste-xss-inert.png"), full_page=True)
    assert_clean(page)


def test_validation_errors_are_shown_next_to_the_fields(page, live_server, screenshot_dir: Path):
    before = stats(live_server, page)["notes"]
    page.goto(f"{live_server}/")
    page.fill("textarea#text", "---\n   \n---")
    page.fill("input#account", "Globex")
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert page.locator("#text-error").inner_text() == "Paste at least one note."
    assert page.locator("[role=alert]").is_visible()
    assert page.input_value("input#account") == "Globex"
    assert stats(live_server, page)["notes"] == before
    page.screenshot(path=str(screenshot_dir / "paste-errors.png"), full_page=True)
    assert_clean(page, expected_status=422)  # the form comes back with 422 Unprocessable Entity


def test_paste_works_without_javascript(browser, live_server, auth_headers, screenshot_dir: Path):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900},
                                  extra_http_headers=auth_headers)
    try:
        page = context.new_page()
        page.goto(f"{live_server}/")
        page.fill("textarea#text", "No JavaScript here. The form still works.")
        page.select_option("select#source", "email")
        with page.expect_navigation():
            page.click("input[type=submit]")
        assert page.locator("h1").inner_text() == "Stored 1 note"
        assert "The form still works." in page.locator("main").inner_text()
        assert page.locator("button.btn-copy").first.is_hidden()  # enhancement only, hidden without JS
        page.screenshot(path=str(screenshot_dir / "paste-summary-nojs.png"), full_page=True)
    finally:
        context.close()


def test_unknown_page_shows_the_404_page(page, live_server, screenshot_dir: Path):
    response = page.goto(f"{live_server}/themes")
    if response.status != 404:
        pytest.skip("the themes pages are installed")
    assert page.locator("h1").inner_text() == "We could not find that page"
    assert "Traceback" not in page.content()
    page.screenshot(path=str(screenshot_dir / "error-404.png"), full_page=True)


def test_charts_render_standalone(page, screenshot_dir: Path):
    """The SVG helpers must be legible in a self-contained report with no stylesheet."""
    from service.web.charts import bar_chart, sparkline, status_badge, trend_badge

    html = (
        "<!doctype html><meta charset=utf-8><body>"
        + str(bar_chart([("Slow CSV exports", 14), ("SSO / SCIM setup", 9), (f"Pricing {XSS_SCRIPT}", 4),
                         ("A very long theme label that will have to be shortened somewhere", 1)],
                        width=520, title="Themes by accounts"))
        + "<p>" + str(sparkline([1, 3, 2, 6, 4, 8])) + " " + str(sparkline([2, 2, 2])) + " "
        + str(sparkline([])) + "</p>"
        + "<p>" + " ".join(str(trend_badge(t)) for t in ("new", "growing", "stable", "fading"))
        + " " + " ".join(str(status_badge(s)) for s in ("shipped", "in_progress", "planned", "considering",
                                                          "not_planned")) + "</p></body>"
    )
    page.set_content(html)
    page.wait_for_timeout(200)
    box = page.locator("svg.bar-chart").bounding_box()
    assert box["width"] == 520 and box["height"] > 100
    assert page.locator("svg.sparkline").count() == 3
    page.screenshot(path=str(screenshot_dir / "charts-standalone.png"), full_page=True)
    assert page.watch.dialogs == []
