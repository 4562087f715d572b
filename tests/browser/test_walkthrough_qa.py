"""Layout defects found walking the pages in a real browser (what only a browser's layout shows)."""
from __future__ import annotations

import pytest

from .conftest import CHROMIUM

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install -y chromium)",
                allow_module_level=True)
try:
    import playwright.sync_api  # noqa: F401
except ImportError:
    pytest.skip("browser tests need Playwright for Python (pip install playwright)", allow_module_level=True)

from .test_paste_flow import assert_clean  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 1024, 820])
def test_run_themes_button_stays_inside_its_card(page, live_server, width):
    """The "Run themes for this window" button spilled past the right edge of its narrow card."""
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server}/themes")
    button = page.locator("#run-submit").bounding_box()
    card = page.locator("#run-submit").locator("xpath=ancestor::aside[1]").bounding_box()
    assert button["x"] + button["width"] <= card["x"] + card["width"], (button, card)
    assert_clean(page)
