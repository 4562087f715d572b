"""One-time links survive link scanners (a GET or HEAD only shows the page; the button's CSRF-checked POST signs in,
once), and signing out ends every copy of every session of the user (a session generation on the user row, migration
0020), as disabling a user and `feedback users sign-out` do."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import text, update

from service.auth import SESSION_GENERATION
from service.auth.audit import entries
from service.auth.store import (add_user, check_sign_in_code, create_sign_in_code, end_sessions, list_users,
                                set_disabled)
from service.models import SignInCode, utcnow
from tests.conftest import api_token
from tests.unit.test_auth import use_link

from ..integration.test_postgres import pg_url  # noqa: F401 - the PostgreSQL fixture (skips with no server)

EMAIL = "pat@example.com"
CSRF_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def csrf_app(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    add_user(app.extensions["feedback"].db, EMAIL, "viewer")
    return app


def _db(app):
    return app.extensions["feedback"].db


def _anonymous(app):
    return app.test_client(anonymous=True)


def _is_signed_in(client) -> bool:
    resp = client.get("/roadmap")
    assert resp.status_code in (200, 302), resp.status_code
    return resp.status_code == 200


def _sign_in(app, email=EMAIL):
    client = _anonymous(app)
    assert use_link(client, create_sign_in_code(_db(app), email)).status_code == 302
    assert _is_signed_in(client)
    return client


def _usable(app, code) -> bool:
    return check_sign_in_code(_db(app), code).principal is not None


# ---- 1. a GET or HEAD uses nothing; only the POST signs in, once -------------------------------------------------
def test_opening_a_link_twice_shows_whom_it_signs_in_and_leaves_it_usable(csrf_app):
    code = create_sign_in_code(_db(csrf_app), EMAIL)
    scanner, person = _anonymous(csrf_app), _anonymous(csrf_app)
    for client in (scanner, scanner, person):  # a mail scanner's fetches, then the person's
        page = client.get(f"/sign-in/{code}?next=/reports")
        body = page.get_data(as_text=True)
        assert page.status_code == 200 and f"Sign in as {EMAIL}?" in body
        assert f'<form method="post" action="/sign-in/{code}">' in body and CSRF_TOKEN.search(body)
        assert 'name="next" type="hidden" value="/reports"' in body
        assert page.headers["Cache-Control"] == "no-store"  # the URL holds a live secret
        assert _usable(csrf_app, code) and not _is_signed_in(client)
    assert not [e for e in entries(_db(csrf_app)) if e["action"] == "sign_in"]
    signed_in = use_link(person, code, next="/reports")
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/reports"
    assert _is_signed_in(person) and not _is_signed_in(scanner)


def test_a_head_request_uses_nothing(csrf_app):
    code = create_sign_in_code(_db(csrf_app), EMAIL)
    client = _anonymous(csrf_app)
    head = client.head(f"/sign-in/{code}")
    assert head.status_code == 200 and head.get_data() == b""
    assert _usable(csrf_app, code) and not _is_signed_in(client)
    assert use_link(client, code).status_code == 302 and _is_signed_in(client)


def test_the_post_signs_in_once_and_is_logged(csrf_app):
    code = create_sign_in_code(_db(csrf_app), EMAIL)
    client = _anonymous(csrf_app)
    resp = use_link(client, code, next="//evil.example/x")  # the safe next= handling still applies
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert _is_signed_in(client) and not _usable(csrf_app, code)
    (entry,) = [e for e in entries(_db(csrf_app)) if e["action"] == "sign_in"]
    assert entry["actor"] == f"user:{EMAIL}" and entry["details"] == {"via": "one-time link"}


def test_a_second_post_is_refused_with_a_clear_message(csrf_app):
    code = create_sign_in_code(_db(csrf_app), EMAIL)
    first, second = _anonymous(csrf_app), _anonymous(csrf_app)
    # Both tabs show the button while the link is unused; the second press comes after the first.
    token = CSRF_TOKEN.search(second.get(f"/sign-in/{code}").get_data(as_text=True)).group(1)
    assert use_link(first, code).status_code == 302
    again = second.post(f"/sign-in/{code}", data={"csrf_token": token, "next": "/"})
    body = again.get_data(as_text=True)
    assert again.status_code == 401
    assert "That sign-in link was already used, at " in body and "each link signs in once" in body
    assert "Nobody was signed in." in body and "feedback users link EMAIL" in body and "<form" not in body
    assert not _is_signed_in(second) and _is_signed_in(first)


def test_a_post_without_the_csrf_token_is_refused_and_uses_nothing(csrf_app):
    code = create_sign_in_code(_db(csrf_app), EMAIL)
    client = _anonymous(csrf_app)
    assert client.get(f"/sign-in/{code}").status_code == 200  # the session has a CSRF token the post leaves out
    for data in ({}, {"csrf_token": "forged"}):
        refused = client.post(f"/sign-in/{code}", data={"next": "/", **data})
        assert refused.status_code == 400 and "sent from another site" in refused.get_data(as_text=True)
        assert _usable(csrf_app, code) and not _is_signed_in(client)
    assert use_link(client, code).status_code == 302


def _expire(app, code):
    from service.auth.store import digest

    with _db(app).transaction() as session:
        session.execute(update(SignInCode).where(SignInCode.code_hash == digest(code))
                        .values(expires_at=utcnow() - timedelta(minutes=1)))


def test_unknown_expired_and_disabled_links_say_why_on_get_and_on_post(app):
    db = _db(app)
    add_user(db, EMAIL, "viewer")
    expired = create_sign_in_code(db, EMAIL)
    _expire(app, expired)
    add_user(db, "gone@example.com", "viewer")
    disabled = create_sign_in_code(db, "gone@example.com")
    set_disabled(db, "gone@example.com")
    cases = {"x" * 43: "That sign-in link is not valid: no such sign-in code (was the whole link copied?)",
             expired: "That sign-in link expired at ",
             disabled: "That sign-in link belongs to a disabled user"}
    client = _anonymous(app)
    for code, reason in cases.items():
        for method in ("GET", "POST"):
            resp = client.open(f"/sign-in/{code}", method=method, data={"next": "/"} if method == "POST" else None)
            body = resp.get_data(as_text=True)
            assert resp.status_code == 401 and reason in body and "<form method" not in body, (code, method)
            assert not _is_signed_in(client)
    assert "(links last 15 minutes)" in client.get(f"/sign-in/{expired}").get_data(as_text=True)


def test_the_confirmation_page_escapes_the_email(app):
    db = _db(app)
    email = "<b>o'neil</b>@example.com"  # an email address may hold < > and '
    add_user(db, email, "viewer")
    page = _anonymous(app).get(f"/sign-in/{create_sign_in_code(db, email)}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<b>o" not in body
    assert "Sign in as &lt;b&gt;o&#39;neil&lt;/b&gt;@example.com?" in body


# ---- 2. signing out ends every copy of every session of the user --------------------------------------------------
def _copy_session_cookie(app, client):
    thief = _anonymous(app)
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def test_a_cookie_copied_before_sign_out_is_refused_after_it(csrf_app):
    client = _sign_in(csrf_app)
    thief = _copy_session_cookie(csrf_app, client)
    assert _is_signed_in(thief)  # the copy works while the session does: it is the same signed cookie
    page = client.get("/roadmap").get_data(as_text=True)  # its footer's sign-out button, as a person presses it
    token = re.search(r'action="/sign-out">.*?name="csrf_token" value="([^"]+)"', page).group(1)
    signed_out = client.post("/sign-out", data={"csrf_token": token})
    assert signed_out.status_code == 302 and signed_out.headers["Location"] == "/sign-in?signed_out=everywhere"
    assert not _is_signed_in(thief) and not _is_signed_in(client)
    notice = client.get(signed_out.headers["Location"]).get_data(as_text=True)
    assert "You are signed out on every device" in notice


def test_signing_out_on_one_client_signs_out_another(app):
    add_user(_db(app), EMAIL, "viewer")
    laptop, phone = _sign_in(app), _sign_in(app)
    assert laptop.post("/sign-out").status_code == 302
    assert not _is_signed_in(phone) and not _is_signed_in(laptop)
    assert _is_signed_in(_sign_in(app))  # a new sign-in carries the new generation and works


def test_signing_out_of_a_token_session_says_only_this_browser(app):
    client = _anonymous(app)
    assert client.post("/sign-in", data={"secret": api_token(app, "viewer"), "next": "/"}).status_code == 302
    resp = client.post("/sign-out")
    assert resp.headers["Location"] == "/sign-in?signed_out=here" and not _is_signed_in(client)
    body = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "You are signed out." in body and "every device" not in body


def test_disabling_a_user_ends_live_sessions_and_enabling_does_not_revive_them(app):
    db = _db(app)
    add_user(db, EMAIL, "viewer")
    client = _sign_in(app)
    thief = _copy_session_cookie(app, client)
    set_disabled(db, EMAIL)
    assert not _is_signed_in(client) and not _is_signed_in(thief)
    set_disabled(db, EMAIL, False)
    assert not _is_signed_in(client) and not _is_signed_in(thief)
    assert _is_signed_in(_sign_in(app))


def test_a_session_from_before_generations_counts_as_generation_0_until_the_next_sign_out(app):
    db = _db(app)
    add_user(db, EMAIL, "viewer")
    client = _sign_in(app)
    with client.session_transaction() as session:
        assert session[SESSION_GENERATION] == 0
        del session[SESSION_GENERATION]  # as a cookie signed before migration 0020 holds it
    assert _is_signed_in(client)
    end_sessions(db, list_users(db)[0].id)
    assert not _is_signed_in(client)


def test_cli_sign_out_ends_every_session_and_is_logged(run_cli, cli_env, make_app):
    assert run_cli("users", "add", EMAIL, "--role", "viewer").exit_code == 0
    app = make_app(DATABASE_URL=f"sqlite:///{cli_env / 'feedback.db'}")  # the pages on the CLI's database
    client = _sign_in(app)
    out = run_cli("users", "sign-out", " Pat@Example.com")
    assert out.exit_code == 0 and out.stdout.strip() == f"user {EMAIL} signed out on every device"
    assert not _is_signed_in(client)
    missing = run_cli("users", "sign-out", "nobody@example.com")
    assert missing.exit_code == 1 and "no user nobody@example.com" in missing.output
    actions = [(e["action"], e["target"]) for e in json.loads(run_cli("audit", "--json").stdout)["entries"]]
    assert actions[0] == ("user_sign_out", EMAIL) and [a for a, _ in actions].count("user_sign_out") == 1


# ---- 3. migration 0020 ------------------------------------------------------------------------------------------
def _users_columns(engine) -> list[str]:
    with engine.connect() as conn:
        return [row[1] for row in conn.exec_driver_sql("PRAGMA table_info(users)")]


def _rows(engine, table) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]


def test_the_migration_downgrades_and_upgrades_on_sqlite_keeping_users_and_their_codes(app):
    db = _db(app)
    add_user(db, EMAIL, "pm")
    create_sign_in_code(db, EMAIL)
    end_sessions(db, list_users(db)[0].id)
    engine = db.engine
    assert "0020_session_generation" in db.current_revisions() and "session_generation" in _users_columns(engine)
    codes, others = _rows(engine, "sign_in_codes"), db.current_revisions() - {"0020_session_generation"}

    command.downgrade(db.alembic_config(), "0020_session_generation@-1")  # this revision only, not its siblings
    assert "session_generation" not in _users_columns(engine)
    assert db.current_revisions() >= others  # 0015b_llm_usage, from the same parent, is still applied
    # users is the parent of sign_in_codes (ON DELETE CASCADE): a rebuilt users table would have taken them along
    assert _rows(engine, "sign_in_codes") == codes and [r[1] for r in _rows(engine, "users")] == [EMAIL]

    db.upgrade()
    assert "0020_session_generation" in db.current_revisions()
    assert _rows(engine, "sign_in_codes") == codes
    assert [u.session_generation for u in list_users(db)] == [0]  # every existing user starts at 0
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    assert use_link(_anonymous(app), create_sign_in_code(db, EMAIL)).status_code == 302


def test_on_postgresql_the_migration_downgrades_and_upgrades(make_app, pg_url):  # noqa: F811
    app = make_app(DATABASE_URL=pg_url)
    db = _db(app)
    add_user(db, EMAIL, "pm")
    end_sessions(db, list_users(db)[0].id)
    assert [u.session_generation for u in list_users(db)] == [1]
    command.downgrade(db.alembic_config(), "0020_session_generation@-1")
    assert "0020_session_generation" not in db.current_revisions()
    db.upgrade()
    assert [u.session_generation for u in list_users(db)] == [0]
