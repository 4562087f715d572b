"""A number too large for an id column is "no such ..." everywhere, on PostgreSQL too: its INTEGER columns are int4,
and a larger number in a query was a DataError there (a 500) where SQLite answered 404."""
from __future__ import annotations

import pytest

from ..integration.test_postgres import pg_url  # noqa: F401 - the PostgreSQL fixture (skips with no server)

BIG = 2**31  # one past int4
PATHS = ["/api/v1/drafts/{n}", "/ask/{n}", "/reports/{n}", "/api/v1/reports/{n}", "/api/v1/themes/{n}",
         "/themes/{n}", "/api/v1/notes/{n}", "/notes/{n}", "/api/v1/jobs/{n}", "/reports/{n}/report.html"]


@pytest.mark.parametrize("path", PATHS)
def test_a_too_large_id_is_not_found_on_postgresql(make_app, pg_url, path):  # noqa: F811
    client = make_app(DATABASE_URL=pg_url).test_client()
    for n in (BIG, 2**63 - 1):
        assert client.get(path.format(n=n)).status_code == 404, path.format(n=n)


def test_too_large_ids_in_bodies_and_deletes_are_not_found_on_postgresql(make_app, pg_url):  # noqa: F811
    from service.roadmap.service import import_items

    app = make_app(DATABASE_URL=pg_url)
    import_items(app.extensions["feedback"], [{"id": "SSO", "title": "SAML single sign-on", "status": "planned"}])
    client = app.test_client()
    for body in ({"draft_id": BIG}, {"theme_id": BIG}, {"note_id": str(BIG)}):
        assert client.post("/api/v1/roadmap/items/SSO/links", json=body).status_code == 404, body
    assert client.post("/api/v1/roadmap/items/SSO/rejections", json={"draft_id": BIG}).status_code == 404
    assert client.delete("/api/v1/roadmap/items/SSO/rejections", json={"draft_id": BIG}).status_code == 404
    assert client.delete(f"/api/v1/drafts/{BIG}").status_code == 404
    assert client.delete(f"/api/v1/reports/{BIG}").status_code in (404, 405)  # no route takes it: never a 500
    assert client.delete(f"/api/v1/notes/{BIG}").status_code == 404


def test_the_cli_answers_a_too_large_id_as_no_such_row_or_a_usage_error(run_cli):
    shown = run_cli("drafts", "show", str(BIG))  # a draft id is a row id, as a theme's or a report's: past 2**31-1
    assert shown.exit_code == 2 and "2147483647" in shown.output  # it is a usage error naming the bound
    assert run_cli("drafts", "show", "2147483647").exit_code == 1  # the largest id is well formed: no such draft
    revoked = run_cli("tokens", "revoke", str(BIG))
    assert revoked.exit_code == 2 and "2147483647" in revoked.output
