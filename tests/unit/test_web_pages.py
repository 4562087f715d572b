"""The server-rendered pages: paste form, summary, CSRF, security headers, error pages."""
from __future__ import annotations

import re
import sys
import types

import pytest


XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@pytest.fixture
def web_app(tmp_path):
    from service import create_app
    from service.config import TestConfig

    apps = []

    def _make(**overrides):
        app = create_app(TestConfig(tmp_path / f"web{len(apps)}", **overrides))
        apps.append(app)
        return app

    yield _make
    for app in apps:
        app.extensions["feedback"].close()


@pytest.fixture
def client(web_app):
    return web_app().test_client()


@pytest.fixture
def no_theme_summary(monkeypatch):
    """Pretend the themes stage is not installed, whatever the repository holds."""
    monkeypatch.setitem(sys.modules, "service.themes.summary", None)


def note_count(client) -> int:
    return client.get("/api/v1/stats").get_json()["notes"]


def main_html(response) -> str:
    html = response.get_data(as_text=True)
    return html[html.index("<main"): html.index("</main>")]


# --- security headers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/static/app.css", "/api/v1/stats", "/no-such-page", "/api/v1/no-such"])
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == EXPECTED_CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_script_or_style(client):
    html = client.get("/").get_data(as_text=True)
    assert "style=" not in html
    assert "<style" not in html
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert 'src="/static/' in tag  # scripts only from our own static files
    assert re.search(r"\son[a-z]+=", html) is None  # no inline event handlers


def test_static_assets_are_served(client):
    for name, kind in (("app.css", "text/css"), ("app.js", "javascript"), ("favicon.svg", "image/svg+xml")):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert kind in response.content_type


# --- home page and navigation ----------------------------------------------------------------------------------

def test_home_page_has_form_and_nav(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for href, label in (("/", "Paste notes"), ("/themes", "Themes"), ("/ask", "Ask"), ("/roadmap", "Roadmap"),
                        ("/reports", "Reports")):
        assert f'<a href="{href}"' in html and label in html
    assert '<a href="/" aria-current="page">' in html
    assert '<textarea' in html and 'name="text"' in html
    assert 'name="account"' in html and 'type="date"' in html
    for kind in ("call", "interview", "email", "ticket", "other"):
        assert f'value="{kind}"' in html


def test_nav_links_for_pages_not_installed_yet_answer_404_gracefully(client):
    for path in ("/themes", "/ask", "/roadmap", "/reports"):
        response = client.get(path)
        if response.status_code == 404:  # other engineers' pages may already be installed
            assert "text/html" in response.content_type
            assert "We could not find that page" in response.get_data(as_text=True)


# --- paste flow ------------------------------------------------------------------------------------------------

def test_paste_stores_several_notes_and_shows_their_statements(client, no_theme_summary):
    text = "Export times out for big workspaces. We retry every night.\r\n---\r\nSSO setup took two weeks!\n  ---  \n\n"
    response = client.post("/", data={"text": text, "account": "Acme Corp", "source": "interview",
                                      "date": "2026-03-12"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = main_html(response)
    assert "Stored 2 notes" in html
    assert "theme summary unavailable" in html.lower()
    assert "Export times out for big workspaces." in html and "We retry every night." in html
    assert "SSO setup took two weeks!" in html
    assert "Acme Corp" in html

    stats = client.get("/api/v1/stats").get_json()
    assert stats["notes"] == 2 and stats["statements"] == 3 and stats["accounts"] == 1
    assert stats["by_source"] == {"interview": 2}
    items = client.get("/api/v1/notes").get_json()["items"]
    assert {n["text"] for n in items} == {"Export times out for big workspaces. We retry every night.",
                                          "SSO setup took two weeks!"}
    assert all(n["account"] == "Acme Corp" and n["date"].startswith("2026-03-12") for n in items)
    for note in items:  # every stored note is listed with its id and the ids of its statements
        assert f'<code id="note-id-' in html and f">{note['id']}</code>" in html
        detail = client.get(f"/api/v1/notes/{note['id']}").get_json()
        for st in detail["statements"]:
            assert f"#{st['id']}</span>" in html


def test_paste_without_optional_fields(client, no_theme_summary):
    response = client.post("/", data={"text": "Just one short note about pricing.", "source": "other"})
    assert response.status_code == 200
    assert "Stored 1 note" in main_html(response)
    assert note_count(client) == 1


def test_pasting_the_same_text_again_is_not_a_duplicate(client, no_theme_summary):
    data = {"text": "Reporting is too slow for our board meetings.", "account": "Initech", "source": "call"}
    assert client.post("/", data=data).status_code == 200
    response = client.post("/", data=data)
    assert response.status_code == 200
    html = main_html(response)
    assert "Nothing new to store" in html and "1 note was already stored" in html
    assert note_count(client) == 1


@pytest.mark.parametrize("text", ["", "   \n\t", "---", "\n---\n   \n---\n"])
def test_empty_paste_shows_field_error_and_stores_nothing(client, text):
    response = client.post("/", data={"text": text, "account": "Acme", "source": "call"})
    assert response.status_code == 422
    html = main_html(response)
    assert "Paste at least one note." in html
    assert 'class="field has-error" id="text-field"' in html
    assert 'aria-invalid="true"' in html
    assert "Nothing was stored" in html
    assert 'value="Acme"' in html  # the user's input is kept
    assert note_count(client) == 0


def test_field_errors_keep_the_users_input(client):
    text = f"Keep this text please. {XSS_SCRIPT}"
    response = client.post("/", data={"text": text, "account": "A" * 201, "source": "fax", "date": "2026-13-45"})
    assert response.status_code == 422
    html = main_html(response)
    assert "Use at most 200 characters for the account name." in html
    assert "Not a valid choice" in html
    assert "Use a date like 2026-11-27" in html
    assert 'value="2026-13-45"' in html
    assert "Keep this text please. &lt;script&gt;alert(1)&lt;/script&gt;" in html  # kept, escaped
    assert XSS_SCRIPT not in html
    assert note_count(client) == 0


def test_too_long_note_is_rejected_with_the_limit(client):
    ok = "word " * 10
    long = "x" * 100_001
    response = client.post("/", data={"text": f"{ok}\n---\n{long}\n---\n{ok} again", "source": "call"})
    assert response.status_code == 422
    html = main_html(response)
    assert "Note 2 is longer than 100,000 characters" in html
    assert note_count(client) == 0


def test_note_at_the_limit_with_non_ascii_text_is_accepted(client, no_theme_summary):
    # ~100,000 characters of mostly non-ASCII text is well over Werkzeug's 500 kB default form limit once encoded
    text = ("Größe ändern dauert zu lange – «Export» bricht ab. " * 2000)[:100_000]
    response = client.post("/", data={"text": text, "source": "email"})
    assert response.status_code == 200
    assert note_count(client) == 1


def test_request_larger_than_the_limit_gets_a_413_page(web_app):
    client = web_app(MAX_CONTENT_LENGTH=50_000).test_client()
    response = client.post("/", data={"text": "y" * 60_000, "source": "call"})
    assert response.status_code == 413
    assert "text/html" in response.content_type
    assert note_count(client) == 0


def test_stored_notes_render_escaped(client, no_theme_summary):
    text = f"Export is broken. {XSS_SCRIPT} and {XSS_IMG} here!\n---\n{XSS_IMG}"
    response = client.post("/", data={"text": text, "account": f"Evil {XSS_SCRIPT}", "source": "ticket"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert XSS_SCRIPT not in html
    assert XSS_IMG not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert note_count(client) == 2


def test_storage_failure_keeps_the_input_and_says_so(client, monkeypatch):
    import service.web.views as views

    def broken(*args, **kwargs):
        raise RuntimeError("connection refused: chroma at 10.0.0.5")

    monkeypatch.setattr(views, "ingest", broken)
    response = client.post("/", data={"text": "A note that cannot be stored right now.", "source": "call"})
    assert response.status_code == 503
    html = main_html(response)
    assert "storage service is unavailable" in html
    assert "A note that cannot be stored right now." in html
    assert "10.0.0.5" not in html and "RuntimeError" not in html


# --- theme summary ---------------------------------------------------------------------------------------------

def _fake_summary_module(monkeypatch, func):
    module = types.ModuleType("service.themes.summary")
    module.summarize_texts = func
    monkeypatch.setitem(sys.modules, "service.themes.summary", module)


def test_theme_summary_is_shown_when_the_themes_stage_is_installed(client, monkeypatch):
    calls = []

    def summarize_texts(services, texts, store=True):
        calls.append((texts, store))
        return [
            {"label": f"Slow exports {XSS_SCRIPT}",
             "quotes": [{"text": f"Export times out {XSS_IMG}", "note_id": "1"}],
             "corpus_theme": {"id": 7, "label": "Export performance", "accounts": 3}},
            {"label": "Onboarding", "quotes": [{"text": "SSO took two weeks", "note_id": "2"}], "corpus_theme": None},
            {"label": "Single account", "quotes": [], "corpus_theme": {"id": 9, "label": "Audit log", "accounts": 1}},
        ]

    _fake_summary_module(monkeypatch, summarize_texts)
    response = client.post("/", data={"text": f"Export times out {XSS_IMG}\n---\nSSO took two weeks", "source": "call"})
    assert response.status_code == 200
    assert calls == [([f"Export times out {XSS_IMG}", "SSO took two weeks"], False)]
    html = main_html(response)
    assert "theme summary unavailable" not in html.lower()
    assert "Slow exports &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<a href="/themes/7">Export performance</a>' in html
    flat = " ".join(html.split())
    assert "also raised by 3 other accounts" in flat
    assert re.search(r"also raised by 1 other account\b(?!s)", flat)
    assert "Export times out &lt;img src=x onerror=alert(1)&gt;" in html
    assert "no matching theme in earlier notes" in html
    assert XSS_SCRIPT not in html and "<img" not in html
    # the stored notes are still listed below the themes
    assert "SSO took two weeks" in html and note_count(client) == 2


def test_a_failing_theme_summary_falls_back_to_the_statements(client, monkeypatch):
    def summarize_texts(services, texts, store=True):
        raise RuntimeError("model exploded")

    _fake_summary_module(monkeypatch, summarize_texts)
    response = client.post("/", data={"text": "Pricing page is confusing.", "source": "call"})
    assert response.status_code == 200
    html = main_html(response)
    assert "theme summary unavailable" in html.lower()
    assert "Pricing page is confusing." in html
    assert "model exploded" not in html
    assert note_count(client) == 1


def test_theme_summary_dict_shape_with_other_accounts_and_paste_indexes(client, monkeypatch):
    seen = {}

    def summarize_texts(services, texts, *, account=None, source="other", date=None, store=False):
        seen.update(account=account, source=source, date=date, store=store)
        return {
            "themes": [
                {"label": "Export performance", "mentions": 2,
                 "quotes": [{"text": "CSV export times out", "note_id": None, "paste_index": 1},
                            {"text": "Export fails nightly", "note_id": None, "paste_index": 2}],
                 "corpus_theme": {"id": "t-12", "label": "Export performance", "accounts": 5, "other_accounts": 4,
                                  "trend": "growing", "status": "planned"}},
            ],
            "statements": 2, "pains": 2, "stored_note_ids": [],
        }

    _fake_summary_module(monkeypatch, summarize_texts)
    response = client.post("/", data={"text": "CSV export times out\n---\nExport fails nightly", "account": "Acme",
                                      "source": "email", "date": "2026-02-03"})
    assert response.status_code == 200
    assert seen == {"account": "Acme", "source": "email", "date": "2026-02-03", "store": False}
    flat = " ".join(main_html(response).split())
    assert '<a href="/themes/t-12">Export performance</a>' in flat
    assert "also raised by 4 other accounts" in flat  # other_accounts wins over the total
    assert "trend-growing" in flat and "status-planned" in flat
    assert "2 mentions in this paste" in flat
    ids = [n["id"] for n in client.get("/api/v1/notes").get_json()["items"]]
    for note_id in ids:  # quotes point at the stored notes' cards
        assert f">note {note_id}</a>" in flat
    assert 'href="#note-1"' in flat and 'href="#note-2"' in flat


def test_empty_theme_summary_shows_its_message(client, monkeypatch):
    _fake_summary_module(monkeypatch, lambda services, texts, store=False: {
        "themes": [], "message": "no pains or requests found in the pasted text"})
    response = client.post("/", data={"text": "Everything is great, thanks!", "source": "call"})
    html = " ".join(main_html(response).split())
    assert "No themes found in this paste: no pains or requests found in the pasted text." in html


def test_real_theme_summary_renders_when_installed(client):
    pytest.importorskip("service.themes.summary", reason="the themes stage is not installed")
    text = ("The CSV export times out for large workspaces. We cannot get our data out.\n---\n"
            "SSO setup took two weeks and SCIM is missing.\n---\nExport to CSV fails above 50k rows.")
    response = client.post("/", data={"text": text, "account": "Acme", "source": "call"})
    assert response.status_code == 200
    html = main_html(response)
    assert "theme summary unavailable" not in html.lower()
    assert "The CSV export times out for large workspaces." in html
    assert note_count(client) == 3


# --- CSRF ------------------------------------------------------------------------------------------------------

def test_csrf_rejects_a_form_post_without_token(web_app):
    client = web_app(WTF_CSRF_ENABLED=True).test_client()
    response = client.post("/", data={"text": "Sneaky cross-site note.", "source": "call"})
    assert response.status_code == 400
    html = main_html(response)
    assert "nothing was stored" in html.lower()
    assert "Sneaky cross-site note." in html  # the text is kept so it can be sent again
    assert note_count(client) == 0


def test_csrf_accepts_the_form_token_and_exempts_the_json_api(web_app):
    client = web_app(WTF_CSRF_ENABLED=True).test_client()
    api = client.post("/api/v1/notes", json={"text": "Stored through the JSON API without a CSRF token."})
    assert api.status_code == 201
    html = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    response = client.post("/", data={"text": "A real form post.", "source": "call", "csrf_token": token})
    assert response.status_code == 200
    assert note_count(client) == 2


def test_csrf_is_disabled_by_default_in_test_config(client):
    assert client.post("/", data={"text": "No token needed in tests.", "source": "call"}).status_code == 200


# --- error pages -----------------------------------------------------------------------------------------------

def test_404_page_is_html_without_internals(client):
    response = client.get("/definitely/not/here")
    assert response.status_code == 404
    assert "text/html" in response.content_type
    html = response.get_data(as_text=True)
    assert "We could not find that page" in html
    assert "Traceback" not in html and "werkzeug" not in html.lower()
    assert '<nav class="site-nav"' in html


def test_api_404_stays_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_500_page_never_leaks_the_exception(web_app, monkeypatch):
    from service.auth.policy import REQUIRED_ROLE

    monkeypatch.setitem(REQUIRED_ROLE, "boom", "viewer")  # a route the authorization table knows
    app = web_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret-internal-detail at /srv/app/db.py line 42")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong" in html
    assert "secret-internal-detail" not in html and "Traceback" not in html and "RuntimeError" not in html
    assert response.headers["X-Frame-Options"] == "DENY"


def test_405_page(client):
    response = client.delete("/")
    assert response.status_code == 405
    assert "text/html" in response.content_type


def test_csrf_failure_on_other_pages_gets_a_helpful_error_page(web_app, monkeypatch):
    from service.auth.policy import REQUIRED_ROLE

    monkeypatch.setitem(REQUIRED_ROLE, "other_form", "viewer")
    app = web_app(WTF_CSRF_ENABLED=True)

    @app.post("/some-other-form")
    def other_form():
        return "stored"

    response = app.test_client().post("/some-other-form", data={"x": "1"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "The form expired or was sent from another site" in html
    assert "The CSRF token is missing" not in html
