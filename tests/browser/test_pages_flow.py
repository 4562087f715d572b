"""The sales and reporting pages in a real browser: ask -> draft with citations -> copy -> thumbs up -> saved edit,
the report page with its SVG charts, themes and roadmap; no CSP violations, screenshots for review."""
from __future__ import annotations

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

from ..unit.test_reports import AS_OF, seed  # noqa: E402
from .test_paste_flow import assert_clean  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def data(live_app, live_server):
    from service.reports.store import create_report

    ids = seed(live_app)
    report = create_report(live_app.extensions["feedback"], "7d", AS_OF)
    return {"themes": ids, "report_id": report.id, "base": live_server}


def test_ask_copy_rate_and_save_an_edit(page, context, data, screenshot_dir: Path):
    base = data["base"]
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.goto(f"{base}/ask")
    page.fill("textarea#question", "Do you support SCIM provisioning from Okta?")
    page.fill("input#account", "Acme")
    page.select_option("select#audience", "customer")
    page.screenshot(path=str(screenshot_dir / "ask-form.png"), full_page=True)
    with page.expect_navigation():
        page.click("input[type=submit][value='Draft an answer']")
    assert "/ask/" in page.url
    assert page.locator("h1 .badge.status").inner_text() == "in progress"
    cited = page.locator("aside .item-list li")
    assert cited.count() == 1 and "SCIM user provisioning from Okta" in cited.inner_text()
    assert "Q1 2027" in cited.inner_text()
    page.screenshot(path=str(screenshot_dir / "ask-draft.png"), full_page=True)

    draft_text = page.locator("#draft-text").inner_text().strip()
    copy = page.locator("button[data-copy-target='#draft-text']")
    assert copy.is_visible()  # app.js shows it only where copying can work
    copy.click()
    page.wait_for_function("document.querySelector(\"[data-copy-target='#draft-text']\").textContent === 'Copied'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.split() == draft_text.split() and "SCIM" in copied

    with page.expect_navigation():
        page.click("button[name=thumb][value=up]")
    assert page.locator("#saved").inner_text() == "Thanks: your rating is saved."
    assert "Thumbs up" in page.locator("#feedback ul").inner_text()

    page.fill("textarea#edited_text", "Hi Acme team, SCIM provisioning is in development for Q1 2027.")
    page.check("form.edit-form input[name=rating][value=up]")
    with page.expect_navigation():
        page.click("input[type=submit][value='Save my version']")
    assert page.locator("#saved").inner_text() == "Thanks: your version is saved."
    assert "edited version saved" in page.locator("#feedback ul").inner_text()
    page.screenshot(path=str(screenshot_dir / "ask-feedback-saved.png"), full_page=True)
    assert_clean(page)


def test_report_page_shows_its_charts(page, data, screenshot_dir: Path):
    response = page.goto(f"{data['base']}/reports/{data['report_id']}")
    assert response.status == 200
    assert page.locator("main svg.bar-chart").count() == 1
    assert page.locator("main svg.sparkline").count() == 2
    assert page.locator("main svg.bar-chart rect.bar").count() == 2  # one bar per top theme
    assert page.locator("main blockquote", has_text="The CSV export times out on large reports.").count() == 1
    # app.css styled the in-app report (cards have a white background), with no inline style
    card_bg = page.eval_on_selector("main .theme-card", "el => getComputedStyle(el).backgroundColor")
    assert card_bg == "rgb(255, 255, 255)"
    page.screenshot(path=str(screenshot_dir / "report.png"), full_page=True)
    page.goto(f"{data['base']}/reports")
    assert page.locator("main table a", has_text="Feedback report").count() == 1
    assert_clean(page)


def test_themes_roadmap_and_theme_detail(page, data, screenshot_dir: Path):
    base = data["base"]
    page.goto(f"{base}/themes")
    assert page.locator("table.themes-table tbody tr").count() == 3
    assert page.locator("table.themes-table svg.sparkline").count() == 3
    page.screenshot(path=str(screenshot_dir / "themes.png"), full_page=True)
    page.fill("input#account", "Umbrella")
    with page.expect_navigation():
        page.click("input[type=submit][value=Filter]")
    assert page.locator("table.themes-table tbody tr").count() == 1
    with page.expect_navigation():
        page.click("table.themes-table a")
    assert page.locator("h1").inner_text() == "SSO setup takes too long"
    with page.expect_navigation():
        page.locator("ul.quotes a.quote-source").first.click()
    assert "/notes/" in page.url and page.locator("ol.statements li").count() >= 1
    page.goto(f"{base}/themes/{data['themes']['CSV export times out']}")
    # the hostile statement is shown as text, and (assert_clean below) nothing ran
    assert page.locator("ol.statements li", has_text="<script>alert(1)</script>").count() == 1
    page.screenshot(path=str(screenshot_dir / "theme-detail.png"), full_page=True)
    page.goto(f"{base}/roadmap")
    assert "SSO setup takes too long" in page.locator("section[aria-labelledby=gaps-h]").inner_text()
    page.screenshot(path=str(screenshot_dir / "roadmap.png"), full_page=True)
    assert_clean(page)
