"""QA of sign-in, users, tokens and their audit: bad input is a clear error, a one-time code is used once, a session
starts afresh at sign-in, and the log holds each change once."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import event

from service.auth import safe_next
from service.auth.store import (AuthError, add_user, create_sign_in_code, create_token, list_tokens, list_users,
                                redeem_sign_in_code)
from tests.unit.test_auth import use_link


def _csrf(client) -> str:
    page = client.get("/sign-in").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


# ---- next= ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["//[", "http://[::1", "/\r\n//evil.example", "/\t//evil.example", "/\x7f"])
def test_a_next_that_is_no_url_sends_home_instead_of_failing(app, target):
    db = app.extensions["feedback"].db
    add_user(db, "pat@example.com", "viewer")
    client = app.test_client(anonymous=True)
    resp = use_link(client, create_sign_in_code(db, "pat@example.com"), next=target)
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert client.get("/roadmap").status_code == 200  # signed in: the code was not spent on an error page
    assert safe_next(target) == "/"


def test_a_next_that_is_no_url_on_the_sign_in_form(app):
    from tests.conftest import api_token

    resp = app.test_client(anonymous=True).post("/sign-in", data={"secret": api_token(app, "viewer"), "next": "//["})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


# ---- the session starts afresh ----------------------------------------------------------------------------------
def test_signing_in_starts_a_new_session_and_signing_out_ends_it(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    db = app.extensions["feedback"].db
    add_user(db, "pat@example.com", "pm")
    client = app.test_client(anonymous=True)
    planted = _csrf(client)  # as if someone else had set this browser's cookie and read its CSRF token
    with client.session_transaction() as session:
        session["planted"] = "x"
    assert use_link(client, create_sign_in_code(db, "pat@example.com")).status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session and session.get("csrf_token") is None
        assert session["_user_id"].startswith("user:")
    fresh = _csrf(client)
    assert fresh != planted
    refused = client.post("/api/v1/roadmap/items", json=[], headers={"X-CSRFToken": planted})
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["error"]["message"]
    assert client.post("/sign-out", data={"csrf_token": fresh}).status_code == 302
    with client.session_transaction() as session:
        assert dict(session) == {}
    assert client.get("/roadmap").status_code == 302


# ---- one-time codes ---------------------------------------------------------------------------------------------
def test_a_code_redeemed_by_two_racing_requests_signs_in_one(app):
    """The second request redeems the code after the first has read it and before it marks it used."""
    db = app.extensions["feedback"].db
    add_user(db, "pat@example.com", "viewer")
    code = create_sign_in_code(db, "pat@example.com")
    racer = []

    def _race(_conn, _cursor, statement, *_args):
        if not racer and statement.lstrip().upper().startswith("SELECT") and "sign_in_codes" in statement:
            racer.append(None)
            racer[0] = redeem_sign_in_code(db, code)

    event.listen(db.engine, "after_cursor_execute", _race)
    try:
        first = redeem_sign_in_code(db, code)
    finally:
        event.remove(db.engine, "after_cursor_execute", _race)
    second = racer[0] if racer else redeem_sign_in_code(db, code)
    assert [who is not None for who in (first, second)].count(True) == 1


# ---- names ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("email", ["a\x01b@example.com", "ev\x1b[31mil@example.com", "a\x7f@example.com"])
def test_an_email_with_a_control_character_is_refused(app, email):
    db = app.extensions["feedback"].db
    with pytest.raises(AuthError, match=r"the email address contains the control character U\+00"):
        add_user(db, email, "viewer")
    assert list_users(db) == []


@pytest.mark.parametrize("name", ["ci\nforged line", "ci\rxx", "ci\x1b[2J", "a\tb", "ci\u2028x"])
def test_a_token_name_with_a_control_character_or_line_break_is_refused(app, name):
    db = app.extensions["feedback"].db
    with pytest.raises(AuthError, match="the token name contains"):
        create_token(db, name, "pm")
    assert list_tokens(db) == []


def test_odd_but_printable_names_are_kept(app):
    db = app.extensions["feedback"].db
    user = add_user(db, "  Zoë@Exämple.JP ", "viewer")
    assert user.email == "zoë@exämple.jp"
    row, _ = create_token(db, "  CI – nightly 🚀 ", "viewer")
    assert row.name == "CI – nightly 🚀"


def test_cli_refuses_a_control_character_with_exit_code_1_and_stores_nothing(run_cli):
    made = run_cli("tokens", "create", "--name", "ci\nuser_add admin@x", "--role", "admin")
    assert made.exit_code == 1 and "the token name contains" in made.output and "U+000A" in made.output
    added = run_cli("users", "add", "a\x01@example.com", "--role", "admin")
    assert added.exit_code == 1 and "control character U+0001" in added.output
    assert json.loads(run_cli("tokens", "list", "--json").stdout)["tokens"] == []
    assert json.loads(run_cli("users", "list", "--json").stdout)["users"] == []
    assert json.loads(run_cli("audit", "--json").stdout)["entries"] == []


# ---- each change logged once ------------------------------------------------------------------------------------
def test_revoking_a_token_twice_is_an_error_and_logged_once(run_cli):
    created = json.loads(run_cli("tokens", "create", "--name", "ci", "--role", "pm", "--json").stdout)
    assert run_cli("tokens", "revoke", str(created["id"])).exit_code == 0
    again = run_cli("tokens", "revoke", str(created["id"]))
    assert again.exit_code == 1 and f"token {created['id']} (ci) was already revoked at" in again.output
    actions = [e["action"] for e in json.loads(run_cli("audit", "--json").stdout)["entries"]]
    assert actions == ["token_revoke", "token_create"]


def test_disabling_a_user_twice_is_an_error_and_logged_once(run_cli):
    assert run_cli("users", "add", "ann@example.com", "--role", "pm").exit_code == 0
    assert run_cli("users", "disable", "ann@example.com").exit_code == 0
    again = run_cli("users", "disable", "ANN@example.com")
    assert again.exit_code == 1 and "user ann@example.com is already disabled" in again.output
    actions = [e["action"] for e in json.loads(run_cli("audit", "--json").stdout)["entries"]]
    assert actions == ["user_disable", "user_add"]


def test_a_new_sign_in_link_is_logged_with_who_made_it(run_cli):
    from service.auth.audit import cli_actor

    assert run_cli("users", "add", "ann@example.com", "--role", "pm").exit_code == 0
    link = run_cli("users", "link", " Ann@Example.com")
    assert link.exit_code == 0 and "/sign-in/" in link.stdout
    entry = json.loads(run_cli("audit", "--json").stdout)["entries"][0]
    assert (entry["action"], entry["actor"], entry["target"]) == ("user_link", cli_actor(), "ann@example.com")
    code = link.stdout.strip().rsplit("/", 1)[1]
    assert code not in json.dumps(json.loads(run_cli("audit", "--json").stdout))
    assert run_cli("users", "link", "nobody@example.com").exit_code == 1
    assert [e["action"] for e in json.loads(run_cli("audit", "--json").stdout)["entries"]].count("user_link") == 1

