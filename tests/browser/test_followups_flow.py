"""The follow-ups and brief pages in a real browser: an item that shipped, the accounts that asked with a draft each,
"Mark as told" moves an account to "Already told", and the account's brief; no CSP violations, screenshots."""
from __future__ import annotations

from pathlib import Path

import pytest

# The `browser` fixture skips when chromium or Playwright is missing.
from ..unit.test_followups import seed, ship
from .test_paste_flow import assert_clean

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base(live_app, live_server):
    svc = live_app.extensions["feedback"]
    seed(svc)
    ship(svc)
    return live_server


def test_followups_mark_told_and_brief(page, base, screenshot_dir: Path):
    response = page.goto(f"{base}/roadmap")
    assert response.status == 200
    with page.expect_navigation():
        page.locator("a[href='/roadmap/items/RM-104/followups']").click()
    assert "Moved from in progress to shipped" in page.locator(".lead").inner_text()
    accounts = page.locator("main section.card h2").all_inner_texts()
    assert accounts[0] == "Velo Commerce" and "Acme Logistics" in accounts
    first = page.locator("main section.card").first
    assert "marker bravo" in first.inner_text() and "marker alpha" not in first.inner_text()
    assert "Checks passed" in first.inner_text() and "available today" in first.inner_text()
    page.screenshot(path=str(screenshot_dir / "followups.png"), full_page=True)
    with page.expect_navigation():
        first.locator("button", has_text="Mark as told").click()
    assert "Marked Velo Commerce as told" in page.locator("[role=status]").inner_text()
    assert "Velo Commerce" in page.locator("section[aria-labelledby=told-h]").inner_text()
    assert "Velo Commerce" not in page.locator("main section.card h2").all_inner_texts()[:-1]
    with page.expect_navigation():
        page.locator("main section.card h2 a", has_text="Acme Logistics").click()
    assert page.locator("h1").inner_text() == "Acme Logistics"
    main = page.locator("main").inner_text()
    assert "marker alpha" in main and "marker bravo" not in main
    page.screenshot(path=str(screenshot_dir / "brief.png"), full_page=True)
    assert_clean(page)



@pytest.mark.parametrize("name", [".", "..", "/lead"])
def test_a_brief_link_reaches_an_account_named_with_dots_or_slashes(page, base, live_app, name):
    """A browser removes "." and ".." segments (also written %2E) from a path before asking, and the router merges
    "//": the link carries the name in the query string, so the brief is of the account clicked."""
    from service.ingest.readers import RawRow
    from service.ingest.store import ingest, validate_rows

    note = {"id": f"dots-{len(name)}-{name.count('/')}", "account": name, "source": "call", "date": "2026-10-09",
            "text": "They need SCIM user provisioning from Okta so users are created automatically, marker dots."}
    rows, errors = validate_rows([RawRow(note, 1)], "test", 100_000)
    ingest(live_app.extensions["feedback"], rows, errors, skip_invalid=False)
    assert page.goto(f"{base}/roadmap/items/RM-104/followups").status == 200
    with page.expect_navigation():
        page.locator("main section.card h2").get_by_role("link", name=name, exact=True).click()
    assert page.locator("h1").inner_text() == name
    assert "marker dots" in page.locator("main").inner_text()
