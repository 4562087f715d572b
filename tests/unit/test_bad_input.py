"""Bad input gets a 4xx with the one error shape, never a 500: 200+ hand-written hostile requests."""
from __future__ import annotations

import json

import pytest

ITEMS = [{"id": "RM-1", "title": "CSV export for large tables", "status": "in progress"},
         {"id": "RM-2", "title": "SCIM provisioning with Okta", "status": "planned"},
         {"id": "RM-3", "title": "Snowflake connector", "status": "considering"}]

HUGE = "9" * 30
HOSTILE_VALUES = [{}, [], {"a": 1}, [1, 2], True, 1.5, -1, 2**63, None, "", "\x00", "x" * 300, "2026-13-45"]
RAW_BODIES = [
    b"[" * 50_000, b'{"a":' * 50_000, b"[" * 40 + b"]" * 40, b'{"text": "\\ud800"}', b'"\\udfff"',
    b'{"text": "ok", "account": "\\ud83d"}', b'{"min_mentions": 1e400}', b'{"text": NaN}', b"[Infinity]",
    b'{"x": -Infinity}', b'{"id": 123456789012345678901234567890}', b"{", b"not json", b"\xff\xfe", b"null",
    b"[]", b"{}", b"0", b'"text"', b"[null]", b"[[]]", b'{"text": {"text": "x"}}',
]
JSON_ENDPOINTS = ["/api/v1/notes", "/api/v1/themes/run", "/api/v1/themes/summarize", "/api/v1/roadmap/items",
                  "/api/v1/roadmap/items/RM-1/links", "/api/v1/match", "/api/v1/drafts", "/api/v1/drafts/1/feedback",
                  "/api/v1/reports"]
FIELDS = {
    "/api/v1/notes": ({"text": "Exports time out."}, ["account", "source", "author", "date", "id", "text"]),
    "/api/v1/themes/run": ({}, ["since", "until", "account", "source", "min_mentions", "min_accounts"]),
    "/api/v1/themes/summarize": ({"text": "Exports time out."}, ["text", "texts", "account", "source", "date"]),
    "/api/v1/drafts": ({"question": "Do you export CSV?"}, ["question", "account", "audience", "tone"]),
    "/api/v1/drafts/1/feedback": ({"rating": "up"}, ["rating", "edited_text", "comment"]),
    "/api/v1/reports": ({"since": "7d"}, ["since", "as_of", "webhook"]),
    "/api/v1/roadmap/items/RM-1/links": ({"note_id": "n1"}, ["note_id", "theme_id", "by"]),
}
DATES = ["1e20", "Infinity", "-Infinity", "NaN", "0000-00-00", "99999-01-01", "2026-02-30", "\x00", HUGE, "-1"]
QUERY_PROBES = (
    [f"/api/v1/notes?page={v}" for v in (HUGE, "-1", "0", "1e3", "Infinity", "x", "%00", "9223372036854775807")]
    + [f"/api/v1/notes?per_page={v}" for v in (HUGE, "0", "-5", "1e2")]
    + [f"/api/v1/notes?since={v}" for v in DATES] + [f"/api/v1/notes?until={v}" for v in DATES]
    + [f"/api/v1/notes?source={v}" for v in ("%ED%A0%80", "x" * 500, "%00")]
    + [f"/api/v1/notes?account={v}" for v in ("%ED%A0%80", "%00", "x" * 5000)]
    + [f"/api/v1/drafts?page={v}" for v in (HUGE, "-1", "x", "9223372036854775807")]
    + [f"/api/v1/reports?{k}={v}" for k in ("limit", "offset") for v in (HUGE, "-1", "x", "1e9")]
    + [f"/api/v1/themes/{v}" for v in (HUGE, "9223372036854775808", "-1", "0", "1.5", "x")]
    + [f"/api/v1/reports/{v}" for v in (HUGE, "9223372036854775808", "-1", "0")]
    + [f"/api/v1/drafts/{v}" for v in (HUGE, "-1", "0", "x", "%ED%A0%80", "1.5", "1e400")]
    + [f"/api/v1/notes/{v}" for v in (HUGE, "%ED%A0%80", "%00", "x" * 1000)]
    + [f"/api/v1/roadmap/items/{v}" for v in (HUGE, "%ED%A0%80", "%00")]
    + [f"/api/v1/roadmap/items?status={v}" for v in ("x", "%00", "%ED%A0%80")]
    + [f"/api/v1/themes?status={v}" for v in ("x", "%00")]
    + [f"/api/v1/match?min_score={v}" for v in ("x", "1e400", "NaN")]
    + [f"/themes/{v}" for v in (HUGE, "-1")] + [f"/reports/{v}" for v in (HUGE,)] + [f"/ask/{v}" for v in (HUGE,)]
    + [f"/notes/{v}" for v in (HUGE, "%ED%A0%80")]
)


@pytest.fixture(scope="module")
def seeded_app(tmp_path_factory):
    from service import create_app
    from service.config import TestConfig

    app = create_app(TestConfig(tmp_path_factory.mktemp("bad-input")))
    client = app.test_client()
    notes = [{"id": f"n{i}", "text": f"Exports time out for team {i}. We need SSO.", "account": f"Acme {i % 3}"}
             for i in range(6)]
    assert client.post("/api/v1/notes", json=notes).status_code == 201
    assert client.post("/api/v1/roadmap/items", json=ITEMS).status_code == 201
    yield app
    app.extensions["feedback"].close()


def _probes():
    for path in JSON_ENDPOINTS:
        for raw in RAW_BODIES:
            yield "POST", path, raw
    for path, (base, fields) in FIELDS.items():
        for name in fields:
            for value in HOSTILE_VALUES:
                yield "POST", path, json.dumps({**base, name: value}).encode()
    for name in ("since", "until", "date"):
        for value in DATES:
            path = "/api/v1/notes" if name == "date" else "/api/v1/themes/run"
            base = {"text": "Exports time out."} if name == "date" else {}
            yield "POST", path, json.dumps({**base, name: value}).encode()
    for path in QUERY_PROBES:
        yield "GET", path, None
    for value in (HUGE, "%ED%A0%80", "%00"):
        yield "DELETE", f"/api/v1/notes/{value}", None


PROBES = list(_probes())


def test_there_are_more_than_200_probes():
    assert len(PROBES) > 200


@pytest.mark.parametrize("method,path,body", PROBES, ids=[f"{m} {p[:60]} {(b or b'')[:40]!r}" for m, p, b in PROBES])
def test_hostile_input_gets_a_4xx_never_a_500(seeded_app, method, path, body):
    client = seeded_app.test_client()
    resp = client.open(path, method=method, data=body, content_type="application/json" if body else None)
    assert resp.status_code < 500, (resp.status_code, resp.get_data(as_text=True)[:300])
    if path.startswith("/api/") and resp.status_code >= 400:
        assert set(resp.get_json()["error"]) >= {"code", "message"}


@pytest.mark.parametrize("field,value", [("account", {"a": 1}), ("account", ["x"]), ("author", 5), ("source", True),
                                         ("id", 1.5), ("id", {"x": 1}), ("account", 7)])
def test_wrong_types_are_rejected_not_stored_as_text(seeded_app, field, value):
    client = seeded_app.test_client()
    resp = client.post("/api/v1/notes", json={"text": f"A new pain about {field}.", field: value})
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["error"]["details"]["errors"][0]["field"] == field


def test_surrogates_and_depth_are_named(seeded_app):
    client = seeded_app.test_client()
    resp = client.post("/api/v1/notes", data=b'{"text": "hi \\ud800"}', content_type="application/json")
    assert resp.status_code == 400 and "$.text" in resp.get_json()["error"]["message"]
    resp = client.post("/api/v1/notes", data=b"[" * 50_000, content_type="application/json")
    assert resp.status_code == 400 and "nested deeper" in resp.get_json()["error"]["message"]
