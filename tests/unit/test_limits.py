"""Rate limits: 429 with Retry-After past the limit, per token (one caller's burst does not stop another),
a tighter limit for routes that hold a worker, /healthz never limited."""
from __future__ import annotations

import pytest


@pytest.fixture
def limited(make_app):
    return make_app(RATE_LIMIT_ENABLED=True, RATE_LIMIT="5 per minute", RATE_LIMIT_HEAVY="2 per minute")


def test_past_the_limit_is_429_with_retry_after(limited):
    client = limited.test_client(role="viewer")
    statuses = [client.get("/api/v1/stats").status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    resp = client.get("/api/v1/stats")
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert resp.get_json()["error"]["code"] == "too_many_requests"
    other = limited.test_client(role="sales")  # another token has its own budget
    assert other.get("/api/v1/stats").status_code == 200
    for _ in range(10):
        assert client.get("/healthz").status_code == 200


def test_work_that_holds_a_worker_has_a_tighter_limit(limited):
    client = limited.test_client(role="sales")
    statuses = [client.post("/api/v1/match", json=["Do you export CSV?"]).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_anonymous_callers_are_counted_by_address(limited):
    client = limited.test_client(anonymous=True)
    statuses = [client.get("/api/v1/stats", environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code
                for _ in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]


def test_redis_counters_are_shared_by_every_worker(make_app):
    from tests.conftest import port_open

    if not port_open("127.0.0.1", 6379):
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    import uuid

    limit = "4 per minute"  # a fresh key space per run: the token differs every time
    first = make_app(RATE_LIMIT_ENABLED=True, RATE_LIMIT=limit, REDIS_URL="redis://127.0.0.1:6379/0")
    token = first.test_client(role="viewer").environ_base["HTTP_AUTHORIZATION"]
    second = make_app(RATE_LIMIT_ENABLED=True, RATE_LIMIT=limit, REDIS_URL="redis://127.0.0.1:6379/0")
    # the second "worker" has its own database: give it the same token value so the counter key is the same
    from service.auth.store import digest
    from service.models import ApiToken

    with second.extensions["feedback"].db.transaction() as session:
        session.add(ApiToken(name=str(uuid.uuid4()), role="viewer", token_hash=digest(token.split()[1]), prefix="x"))
    headers = {"Authorization": token}
    statuses = [app.test_client(anonymous=True).get("/api/v1/stats", headers=headers).status_code
                for app in (first, second, first, second, first, second)]
    assert statuses == [200, 200, 200, 200, 429, 429]


def test_guessing_tokens_counts_against_the_address_not_each_guess(limited):
    """A new made-up token per request must not get a new counter: unknown tokens are counted by address."""
    client = limited.test_client(anonymous=True)
    env = {"REMOTE_ADDR": "10.0.0.7"}
    statuses = [client.get("/api/v1/stats", headers={"Authorization": f"Bearer guess-{i}"},
                           environ_base=env).status_code for i in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    forms = [client.post("/sign-in", headers={"Authorization": f"Bearer guess-{i}"}, environ_base=env,
                         data={"secret": f"fbk_guess{i}"}).status_code for i in range(3)]
    assert forms[-1] == 429  # sign-in has the tighter limit, counted by the same address
    valid = limited.test_client(role="viewer")  # a real token still has its own budget from the same address
    assert valid.get("/api/v1/stats", environ_base=env).status_code == 200


def test_a_signed_out_cookie_counts_against_its_address_not_the_user(make_app):
    """A copy of a cookie that was signed out (on any device) is a stranger: its requests must not use up the real
    user's allowance, or whoever holds an old cookie could lock that user out."""
    from service.auth.store import add_user, create_sign_in_code, end_sessions_by_email
    from tests.unit.test_auth import use_link

    app = make_app(RATE_LIMIT_ENABLED=True, RATE_LIMIT="4 per minute", RATE_LIMIT_HEAVY="4 per minute")
    db = app.extensions["feedback"].db
    add_user(db, "pat@example.com", "viewer")
    old = app.test_client(anonymous=True)
    old.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    assert use_link(old, create_sign_in_code(db, "pat@example.com")).status_code == 302  # (the link's own counter)
    assert old.get("/api/v1/stats").status_code == 200  # 1 of the user's 4 on this route
    end_sessions_by_email(db, "pat@example.com")
    statuses = [old.get("/api/v1/stats").status_code for _ in range(5)]
    assert statuses == [401] * 4 + [429]  # the address's own 4, not the 3 the user had left
    fresh = app.test_client(anonymous=True)
    fresh.environ_base["REMOTE_ADDR"] = "10.0.0.8"
    assert use_link(fresh, create_sign_in_code(db, "pat@example.com")).status_code == 302
    # The user's own counter holds the one request of the first session, not the copy's three.
    assert [fresh.get("/api/v1/stats").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_retry_after_is_only_on_refusals(limited):
    client = limited.test_client(role="viewer")
    ok = client.get("/api/v1/stats")
    assert ok.status_code == 200 and "Retry-After" not in ok.headers and "X-RateLimit-Limit" in ok.headers
    for _ in range(5):
        client.get("/api/v1/stats")
    refused = client.get("/api/v1/stats")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
