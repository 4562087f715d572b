"""QA walkthrough of sign-in, users and tokens: invisible format characters in names, a reverse proxy's Basic header
next to a session, and unused sign-in links once an admin disables a user or signs them out."""
from __future__ import annotations

import pytest

from service.auth.audit import entries
from service.auth.store import (AuthError, add_user, check_sign_in_code, create_sign_in_code, create_token,
                                end_sessions_by_email, list_tokens, list_users, set_disabled)
from tests.conftest import api_token
from tests.unit.test_auth import use_link

EMAIL = "pat@example.com"
BASIC = {"Authorization": "Basic dXNlcjpwYXNz"}  # what a browser sends behind a proxy's Basic sign-in


def _db(app):
    return app.extensions["feedback"].db


def _signed_in(app, role="pm"):
    add_user(_db(app), EMAIL, role)
    client = app.test_client(anonymous=True)
    assert use_link(client, create_sign_in_code(_db(app), EMAIL)).status_code == 302
    return client


# ---- invisible format characters (bidi overrides, zero-width) in emails and token names --------------------------
@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\u2066", "\ufeff", "\u00ad"])
def test_an_invisible_format_character_in_an_email_or_token_name_is_refused(app, char):
    db = _db(app)
    with pytest.raises(AuthError, match=f"invisible format character U\\+{ord(char):04X}"):
        add_user(db, f"pat{char}@example.com", "pm")
    with pytest.raises(AuthError, match=f"invisible format character U\\+{ord(char):04X} \\(character 3\\)"):
        create_token(db, f"ci{char}moc.live", "admin")
    assert list_users(db) == [] and list_tokens(db) == []


def test_visible_unicode_names_are_still_kept(app):
    db = _db(app)
    assert add_user(db, "Zoë@Exämple.com", "viewer").email == "zoë@exämple.com"
    assert create_token(db, "CI — Ünïcode ✓", "pm")[0].name == "CI — Ünïcode ✓"


def test_cli_refuses_a_bidi_override_with_exit_code_1_and_logs_nothing(run_cli):
    added = run_cli("users", "add", "rtl\u202emoc.evil@example.com", "--role", "pm")
    created = run_cli("tokens", "create", "--name", "ci\u202ex", "--role", "admin")
    assert added.exit_code == 1 and "U+202E" in added.output
    assert created.exit_code == 1 and "U+202E" in created.output
    assert run_cli("audit", "--json").output.count('"action"') == 0


# ---- another Authorization scheme is not an API token -------------------------------------------------------------
def test_a_proxy_basic_header_leaves_the_session_working(app):
    client = _signed_in(app)
    assert client.get("/themes", headers=BASIC).status_code == 200
    assert client.get("/api/v1/notes", headers=BASIC).status_code == 200
    assert client.post("/sign-out", headers=BASIC).status_code == 302
    assert client.get("/themes", headers=BASIC).status_code == 302  # signed out: the sign-in page, not a JSON 401


def test_a_basic_header_without_a_session_is_sent_to_sign_in(app):
    client = app.test_client(anonymous=True)
    page = client.get("/themes", headers=BASIC)
    assert page.status_code == 302 and page.headers["Location"].startswith("/sign-in?next=")
    api = client.get("/api/v1/notes", headers=BASIC)
    assert api.status_code == 401 and "Bearer TOKEN" in api.get_json()["error"]["message"]
    assert client.get("/api/v1/notes", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_basic_header_does_not_lift_the_csrf_check_of_a_session_api_call(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = _signed_in(app)
    resp = client.post("/api/v1/roadmap/items", json=[], headers=BASIC)
    assert resp.status_code == 400 and "CSRF" in resp.get_json()["error"]["message"]


def test_a_bearer_token_still_wins_over_the_session(app):
    client = _signed_in(app, role="viewer")
    assert client.get("/api/v1/notes").status_code == 403  # the viewer's session
    bearer = {"Authorization": f"Bearer {api_token(app, 'pm')}"}
    assert client.get("/api/v1/notes", headers=bearer).status_code == 200


# ---- unused sign-in links end when an admin disables a user or signs them out -------------------------------------
def test_a_link_made_before_disabling_stays_dead_after_enabling(app):
    db = _db(app)
    add_user(db, EMAIL, "pm")
    code = create_sign_in_code(db, EMAIL)
    set_disabled(db, EMAIL, True)
    set_disabled(db, EMAIL, False)
    problem = check_sign_in_code(db, code).problem
    assert problem is not None and problem.startswith("expired at")
    client = app.test_client(anonymous=True)
    assert client.post(f"/sign-in/{code}").status_code == 401
    assert client.get("/themes").status_code == 302
    fresh = create_sign_in_code(db, EMAIL)  # a new link works
    assert use_link(client, fresh).status_code == 302 and client.get("/themes").status_code == 200


def test_an_admin_sign_out_also_ends_the_unused_link_of_a_lost_laptop(app):
    db = _db(app)
    add_user(db, EMAIL, "pm")
    add_user(db, "sam@example.com", "pm")
    waiting, other = create_sign_in_code(db, EMAIL), create_sign_in_code(db, "sam@example.com")
    end_sessions_by_email(db, EMAIL)
    assert check_sign_in_code(db, waiting).principal is None
    assert app.test_client(anonymous=True).post(f"/sign-in/{waiting}").status_code == 401
    assert check_sign_in_code(db, other).principal is not None  # another user's link is untouched
    assert use_link(app.test_client(anonymous=True), create_sign_in_code(db, EMAIL)).status_code == 302


def test_cli_sign_out_ends_the_unused_link(run_cli, cli_env, make_app):
    assert run_cli("users", "add", EMAIL, "--role", "pm").exit_code == 0
    link = run_cli("users", "link", EMAIL).output.strip()
    assert run_cli("users", "sign-out", EMAIL).exit_code == 0
    app = make_app(DATABASE_URL=f"sqlite:///{cli_env / 'feedback.db'}")
    db = _db(app)
    assert check_sign_in_code(db, link.rsplit("/", 1)[1]).principal is None
    assert [e["action"] for e in entries(db, limit=3)] == ["user_sign_out", "user_link", "user_add"]


# ---- the session cookie behind TLS ---------------------------------------------------------------------------------
def _session_cookie(app) -> str:
    add_user(_db(app), EMAIL, "pm")
    client = app.test_client(anonymous=True)
    response = use_link(client, create_sign_in_code(_db(app), EMAIL))
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert response.status_code == 302 and cookies
    return cookies[-1]


def test_feedback_secure_cookies_marks_the_session_cookie_secure(make_app, monkeypatch):
    # there was no way to mark it: behind a TLS proxy the cookie also went out over a plain http:// request
    monkeypatch.setenv("FEEDBACK_SECURE_COOKIES", "1")
    assert "; Secure" in _session_cookie(make_app())
    monkeypatch.delenv("FEEDBACK_SECURE_COOKIES")
    assert "; Secure" not in _session_cookie(make_app())  # the default: the demo's http://127.0.0.1 keeps working


def test_a_secure_cookies_value_that_is_not_a_switch_is_named(monkeypatch):
    from service.config import Config, ConfigError

    monkeypatch.setenv("FEEDBACK_SECURE_COOKIES", "sometimes")
    with pytest.raises(ConfigError, match="FEEDBACK_SECURE_COOKIES"):
        Config()


# ---- feedback users role -------------------------------------------------------------------------------------------
def test_users_role_changes_what_a_signed_in_session_may_do_at_once_and_is_logged(run_cli, cli_env, make_app):
    import json

    # there was no way to change a role: a PM moving to sales kept PM rights, or was re-added under another address
    assert run_cli("users", "add", EMAIL, "--role", "pm").exit_code == 0
    app = make_app(DATABASE_URL=f"sqlite:///{cli_env / 'feedback.db'}")  # the pages on the CLI's database
    client = app.test_client(anonymous=True)
    assert use_link(client, create_sign_in_code(_db(app), EMAIL)).status_code == 302
    assert client.get("/api/v1/notes").status_code == 200  # a PM reads notes
    out = run_cli("users", "role", " Pat@Example.com", "sales")
    assert out.exit_code == 0 and out.stdout.strip() == f"user {EMAIL} is now sales (was pm)"
    assert client.get("/api/v1/notes").status_code == 403  # the same session, no new sign-in
    assert [u.role for u in list_users(_db(app))] == ["sales"]
    again = run_cli("users", "role", EMAIL, "sales")
    assert again.exit_code == 1 and f"user {EMAIL} is already sales" in again.output
    missing = run_cli("users", "role", "nobody@example.com", "pm")
    assert missing.exit_code == 1 and "no user nobody@example.com" in missing.output
    assert run_cli("users", "role", EMAIL, "owner").exit_code == 2  # not a role: click names the choices
    logged = [e for e in json.loads(run_cli("audit", "--json").stdout)["entries"] if e["action"] == "user_role"]
    assert len(logged) == 1 and logged[0]["target"] == EMAIL
    assert logged[0]["details"] == {"from": "pm", "to": "sales"}


# ---- tokens that expire --------------------------------------------------------------------------------------------
def test_a_token_made_to_expire_stops_working_when_it_expires(run_cli, cli_env, make_app):
    import json

    from sqlalchemy import update

    from service.models import ApiToken, utcnow

    # tokens worked until someone remembered to revoke them: a CI job's or a contractor's lived forever
    made = run_cli("tokens", "create", "--name", "ci", "--role", "pm", "--expires-in", "30", "--json")
    assert made.exit_code == 0, made.output
    body = json.loads(made.stdout)
    assert body["expires_at"] and body["expires_at"] > utcnow().isoformat()
    app = make_app(DATABASE_URL=f"sqlite:///{cli_env / 'feedback.db'}")
    client = app.test_client(anonymous=True)
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert client.get("/api/v1/notes", headers=bearer).status_code == 200
    pasted = app.test_client(anonymous=True)  # a session started by pasting the token on the sign-in page
    assert pasted.post("/sign-in", data={"secret": body["token"], "next": "/"}).status_code == 302
    assert pasted.get("/roadmap").status_code == 200

    with _db(app).transaction() as s:  # thirty days later
        s.execute(update(ApiToken).where(ApiToken.id == body["id"]).values(expires_at=utcnow()))
    assert client.get("/api/v1/notes", headers=bearer).status_code == 401
    assert pasted.get("/roadmap").status_code == 302  # to sign-in
    listed = json.loads(run_cli("tokens", "list", "--json").stdout)["tokens"]
    assert [(t["id"], t["expired"], t["revoked"]) for t in listed] == [(body["id"], True, False)]
    assert "(expired " in run_cli("tokens", "list").stdout
    logged = json.loads(run_cli("audit", "--json").stdout)["entries"]
    assert logged[-1]["action"] == "token_create" and logged[-1]["details"]["expires_at"] == body["expires_at"]


def test_a_token_without_expiry_and_bad_expiries(run_cli):
    import json

    plain = json.loads(run_cli("tokens", "create", "--name", "ops", "--role", "viewer", "--json").stdout)
    assert plain["expires_at"] is None
    assert "(expires" not in run_cli("tokens", "list").stdout
    for days in ("0", "-1", "3651", "soon"):
        result = run_cli("tokens", "create", "--name", "x", "--role", "pm", "--expires-in", days)
        assert result.exit_code == 2 and "--expires-in" in result.output
    with pytest.raises(AuthError, match="expires in 1 to 3650 days"):
        create_token(None, "x", "pm", expires_in_days=0)


def test_a_refused_sign_in_is_one_line_in_the_server_log_without_the_secret(app, caplog):
    client = app.test_client(anonymous=True)
    with caplog.at_level("WARNING", logger="service.auth.views"):
        assert client.post("/sign-in", data={"secret": "fb_guess-123", "next": "/"}).status_code == 401
    (line,) = [r.getMessage() for r in caplog.records if r.name == "service.auth.views"]
    assert line.startswith("sign-in refused from ") and "fb_guess-123" not in line
