"""Browser fixtures: the real app served on a loopback port in a thread, and Debian's headless chromium."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-quic", "--disable-sync",
]


@pytest.fixture(scope="module")
def live_app(tmp_path_factory):
    from service import create_app
    from service.config import TestConfig

    app = create_app(TestConfig(tmp_path_factory.mktemp("browser-home")))
    yield app
    app.extensions["feedback"].close()


@pytest.fixture(scope="module")
def live_server(live_app):
    """Base URL of the app served by Werkzeug on 127.0.0.1 with a free port."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.skip(f"no chromium at {CHROMIUM}: `apt-get install chromium` (as .ci/run does) to run the page tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: `make install` installs the dev extras")

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageWatch:
    """Everything a page did that a test may want to assert never happened."""

    def __init__(self, page):
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        page.on("dialog", self._on_dialog)
        page.on("console", lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    def _on_dialog(self, dialog):
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()


@pytest.fixture(scope="module")
def auth_headers(live_app):
    """The browser sends an admin API token: the pages are signed-in only (test_sign_in covers the sign-in page)."""
    from tests.conftest import api_token

    return {"Authorization": f"Bearer {api_token(live_app, 'admin')}"}


@pytest.fixture
def context(browser, auth_headers):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, extra_http_headers=auth_headers)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.watch = PageWatch(page)
    page.set_default_timeout(15_000)
    yield page
    page.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
