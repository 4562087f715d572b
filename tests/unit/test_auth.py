"""Who may do what: the role matrix over every OpenAPI route and every page, tokens, sign-in, CSRF, audit."""
from __future__ import annotations

import html
import json
import re

import pytest

from service.auth.policy import PUBLIC, REQUIRED_ROLE
from service.models import ROLES
from tests.conftest import api_token

SAMPLE_ARGS = {"note_id": "n-1", "theme_id": "1", "item_id": "RM-1", "report_id": "1", "draft_id": "1",
               "name": "Acme", "filename": "app.css", "code": "nope", "job_id": "1"}


def _fill(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: SAMPLE_ARGS[m.group(1)], rule)


def _allowed(role, endpoint):
    return ROLES.index(role) >= ROLES.index(REQUIRED_ROLE[endpoint])


def _routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, _fill(rule.rule)


def _call(client, method, path):
    kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") and path.startswith("/api/") else {}
    if method in ("POST", "PUT", "PATCH") and not path.startswith("/api/"):
        kwargs = {"data": {}}
    return client.open(path, method=method, **kwargs)


def _check_each_role(app, endpoint, method, path):
    for role in ROLES:
        resp = _call(app.test_client(role=role), method, path)
        if _allowed(role, endpoint):
            assert resp.status_code not in (401, 403), (role, method, path)
        else:
            assert resp.status_code == 403, (role, method, path, resp.status_code)
        assert resp.status_code < 500, (role, method, path)


def test_every_route_is_in_the_one_table_and_every_entry_is_a_route(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - PUBLIC - set(REQUIRED_ROLE) == set()
    assert set(REQUIRED_ROLE) - endpoints == set()


def test_every_openapi_route_with_each_role_and_anonymously(app):
    spec = app.test_client(anonymous=True).get("/api/v1/openapi.json").get_json()
    by_path = {(_fill(rule.rule), method): rule.endpoint for rule in app.url_map.iter_rules()
               for method in rule.methods}
    checked = 0
    for path, methods in spec["paths"].items():
        concrete = re.sub(r"\{([a-z_]+)\}", lambda m: SAMPLE_ARGS[m.group(1)], path)
        for method in methods:
            method = method.upper()
            endpoint = by_path[(concrete, method)]
            anon = _call(app.test_client(anonymous=True), method, concrete)
            if endpoint in PUBLIC:
                assert anon.status_code not in (401, 403), (method, path)
                continue
            assert anon.status_code == 401, (method, path, anon.status_code)
            assert anon.get_json()["error"]["code"] == "unauthorized"
            _check_each_role(app, endpoint, method, concrete)
            checked += 1
    assert checked >= 20


def test_every_page_with_each_role_and_anonymously(app):
    checked = 0
    for endpoint, method, path in _routes(app):
        if path.startswith("/api/") or endpoint in PUBLIC:
            continue
        anon = _call(app.test_client(anonymous=True), method, path)
        assert anon.status_code == 302 and "/sign-in" in anon.headers["Location"], (method, path)
        _check_each_role(app, endpoint, method, path)
        checked += 1
    assert checked >= 15


def test_public_endpoints_stay_public(app):
    client = app.test_client(anonymous=True)
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/sign-in").status_code == 200
    assert client.get("/healthz", headers={"Authorization": "Bearer nonsense"}).status_code == 200


def test_sales_reads_no_raw_notes_but_may_ask(app):
    client = app.test_client(role="sales")
    assert client.get("/api/v1/notes").status_code == 403
    assert client.get("/notes/n-1").status_code == 403
    assert client.post("/api/v1/notes", json={"text": "hello"}).status_code == 403
    assert client.post("/api/v1/match", json=["Do you export CSV?"]).status_code == 200


def test_a_cross_site_form_post_cannot_reach_the_api(app):
    client = app.test_client(anonymous=True)
    for path in ("/api/v1/themes/run", "/api/v1/roadmap/items", "/api/v1/notes"):
        resp = client.post(path, data={"text": "x"}, content_type="application/x-www-form-urlencoded")
        assert resp.status_code == 401, path


def test_tokens_are_stored_hashed_and_revocation_is_immediate(app, tmp_path):
    from service.auth.store import create_token, list_tokens, revoke_token

    db = app.extensions["feedback"].db
    row, secret = create_token(db, "ci", "pm")
    assert secret.startswith("fbk_") and len(secret) > 40
    client = app.test_client(anonymous=True)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/notes", headers=bearer).status_code == 200
    stored = {t.id: t for t in list_tokens(db)}[row.id]
    assert stored.token_hash != secret and secret not in json.dumps(vars(stored), default=str)
    assert stored.last_used_at is not None
    revoke_token(db, row.id)
    resp = client.get("/api/v1/notes", headers=bearer)
    assert resp.status_code == 401 and "revoked" in resp.get_json()["error"]["message"]
    assert client.get("/api/v1/notes", headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.get("/api/v1/notes", headers={"Authorization": "Bearer " + "x" * 5000}).status_code == 401


@pytest.fixture
def csrf_app(make_app):
    return make_app(WTF_CSRF_ENABLED=True)


def use_link(client, code, next=None, **post):
    """Open a one-time link and press its button, as a person does (the GET only shows the page): the response to
    the button's POST, which sends the page's hidden fields (CSRF token, next) unless `post` overrides them."""
    page = client.get(f"/sign-in/{code}", query_string={"next": next} if next is not None else {})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Sign in as " in text, (page.status_code, text)
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', text).group(1))
    hidden = {name: html.unescape(value)
              for name, value in re.findall(r'name="(csrf_token|next)" type="hidden" value="([^"]*)"', text)}
    return client.post(action, data={**hidden, **post})


def _signed_in(app, role="admin", email="pat@example.com"):
    from service.auth.store import add_user, create_sign_in_code

    db = app.extensions["feedback"].db
    add_user(db, email, role)
    code = create_sign_in_code(db, email)
    client = app.test_client(anonymous=True)
    resp = use_link(client, code, next="/themes")
    assert resp.status_code == 302 and resp.headers["Location"] == "/themes"
    return client, code


def test_one_time_sign_in_link_then_session(csrf_app):
    client, code = _signed_in(csrf_app)
    assert client.get("/themes").status_code == 200
    assert client.get("/api/v1/notes").status_code == 200  # the session works for reading the API too
    other = csrf_app.test_client(anonymous=True)
    assert other.get(f"/sign-in/{code}").status_code == 401  # used once: the page says so and offers no button
    assert other.post(f"/sign-in/{code}", data={"csrf_token": _form_token(other)}).status_code == 401
    assert other.get("/themes").status_code == 302


def _form_token(client) -> str:
    page = client.get("/sign-in").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_cookie_authenticated_api_calls_need_the_csrf_token(csrf_app):
    client, _ = _signed_in(csrf_app)
    resp = client.post("/api/v1/match", json=["Do you export CSV?"])
    assert resp.status_code == 400 and "CSRF" in resp.get_json()["error"]["message"]
    page = client.get("/ask").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    token = token or re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "the page carries a CSRF token"
    resp = client.post("/api/v1/match", json=["Do you export CSV?"], headers={"X-CSRFToken": token.group(1)})
    assert resp.status_code == 200
    # a Bearer call needs no CSRF token: a browser never adds that header on its own
    bearer = csrf_app.test_client(role="sales")
    assert bearer.post("/api/v1/match", json=["Do you export CSV?"]).status_code == 200


def test_a_disabled_user_is_signed_out_at_once(app):
    from service.auth.store import set_disabled

    client, _ = _signed_in(app, role="viewer", email="v@example.com")
    assert client.get("/roadmap").status_code == 200
    assert client.get("/ask").status_code == 403  # a viewer does not ask
    set_disabled(app.extensions["feedback"].db, "v@example.com")
    assert client.get("/roadmap").status_code == 302


def test_sign_in_with_a_token_on_the_form_and_no_open_redirect(app):
    client = app.test_client(anonymous=True)
    resp = client.post("/sign-in", data={"secret": "wrong", "next": "/"})
    assert resp.status_code == 401 and "not valid" in resp.get_data(as_text=True)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        resp = client.post("/sign-in", data={"secret": api_token(app, "viewer"), "next": target})
        assert resp.status_code == 302 and resp.headers["Location"] == "/", target
    assert client.get("/reports").status_code == 200
    assert client.post("/sign-out").status_code == 302
    assert client.get("/reports").status_code == 302


def test_changes_are_audited_with_who_and_what(app):
    from service.auth.audit import entries

    client = app.test_client(role="pm")
    assert client.post("/api/v1/notes", json={"text": "Exports time out.", "account": "Acme"}).status_code == 201
    note_id = client.get("/api/v1/notes").get_json()["items"][0]["id"]
    assert client.delete(f"/api/v1/notes/{note_id}").status_code in (200, 204)
    log = entries(app.extensions["feedback"].db)
    assert [e["action"] for e in log[:2]] == ["note_delete", "ingest"]
    assert log[0]["actor"] == "token:test-pm" and note_id in log[0]["target"]


def test_cli_users_tokens_and_audit(run_cli):
    added = run_cli("users", "add", "ann@example.com", "--role", "pm", "--json")
    assert added.exit_code == 0, added.output
    assert "/sign-in/" in json.loads(added.stdout)["sign_in_url"]
    assert run_cli("users", "add", "ann@example.com", "--role", "pm").exit_code == 1
    assert run_cli("users", "add", "not-an-email", "--role", "pm").exit_code == 1
    assert run_cli("users", "add", "b@example.com", "--role", "owner").exit_code == 2
    assert json.loads(run_cli("users", "list", "--json").stdout)["users"][0]["role"] == "pm"
    assert run_cli("users", "disable", "ann@example.com").exit_code == 0
    assert run_cli("users", "link", "ann@example.com").exit_code == 1  # disabled users get no link
    created = json.loads(run_cli("tokens", "create", "--name", "ci", "--role", "viewer", "--json").stdout)
    assert created["token"].startswith("fbk_")
    listed = run_cli("tokens", "list", "--json")
    assert created["token"] not in listed.stdout and json.loads(listed.stdout)["tokens"][0]["name"] == "ci"
    assert run_cli("tokens", "revoke", str(created["id"])).exit_code == 0
    assert run_cli("tokens", "revoke", "999").exit_code == 1
    actions = [e["action"] for e in json.loads(run_cli("audit", "--json").stdout)["entries"]]
    assert actions == ["token_revoke", "token_create", "user_disable", "user_add"]


def test_demo_sign_in_link_signs_in_its_admin_once(app):
    from service.cli.demo import DEMO_ADMIN, _sign_in

    svc = app.extensions["feedback"]
    made = _sign_in(svc, "0.0.0.0", 5000)
    url = made["url"]
    assert url.startswith("http://127.0.0.1:5000/sign-in/") and made["role"] == "admin" and made["note"] is None
    _sign_in(svc, "127.0.0.1", 5000)  # a second run reuses the admin
    client = app.test_client(anonymous=True)
    code = url.removeprefix("http://127.0.0.1:5000/sign-in/")
    assert use_link(client, code).status_code == 302
    assert DEMO_ADMIN in client.get("/roadmap").get_data(as_text=True)
    assert app.test_client(anonymous=True).get(f"/sign-in/{code}").status_code == 401


def test_the_demo_says_why_it_has_no_link_for_a_disabled_admin_and_names_a_changed_role(app):
    # was an AuthError traceback after every demo step had run, and "(admin)" printed for a demoted admin
    from service.auth.store import list_users, set_disabled, set_role
    from service.cli.demo import DEMO_ADMIN, _sign_in

    svc = app.extensions["feedback"]
    _sign_in(svc, "127.0.0.1", 5000)
    set_role(svc.db, DEMO_ADMIN, "viewer")
    assert _sign_in(svc, "127.0.0.1", 5000)["role"] == "viewer"
    set_disabled(svc.db, DEMO_ADMIN, True)
    made = _sign_in(svc, "127.0.0.1", 5000)
    assert made["url"] is None and f"{DEMO_ADMIN} is disabled" in made["note"]
    assert f"feedback users enable {DEMO_ADMIN}" in made["note"]
    assert list_users(svc.db)[0].disabled  # the operator's choice stands: the demo did not enable it again
