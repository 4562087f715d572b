"""The sign-in page in a real browser: a page asks for sign-in, the one-time link signs in, sign-out signs out."""
from __future__ import annotations

import pytest

from .conftest import CHROMIUM

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install -y chromium)",
                allow_module_level=True)

pytestmark = pytest.mark.browser


def test_one_time_link_signs_in_and_sign_out_signs_out(browser, live_app, live_server):
    from service.auth.store import add_user, create_sign_in_code

    db = live_app.extensions["feedback"].db
    add_user(db, "browser@example.com", "viewer")
    context = browser.new_context()  # no token: a visitor
    try:
        page = context.new_page()
        page.goto(f"{live_server}/roadmap")
        assert "/sign-in" in page.url and page.locator("h1").inner_text() == "Sign in"
        page.goto(f"{live_server}/sign-in/{create_sign_in_code(db, 'browser@example.com')}?next=/roadmap")
        # Opening the link only asks (a mail scanner's fetch must not use the code); the button signs in.
        assert "/roadmap" not in page.url.split("?")[0]
        page.click("main button[type=submit]")
        assert page.url.endswith("/roadmap")
        assert "browser@example.com (viewer)" in page.locator("footer").inner_text()
        page.click("footer button[type=submit]")
        page.goto(f"{live_server}/roadmap")
        assert "/sign-in" in page.url
    finally:
        context.close()
