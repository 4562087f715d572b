"""Release review of the rejections change: what the review found broken, each pinned by the smallest reproduction."""
from __future__ import annotations

import pytest

from service.roadmap import service

from ..integration.test_postgres import pg_url  # noqa: F401  (a fresh PostgreSQL database, or a skip)
from .test_confirm_item import ITEMS, _draft

TOO_BIG = 99_999_999_999  # a whole number that fits 64 bits but not PostgreSQL's int4 (drafts.id is INTEGER)


def _statuses(app, svc) -> list[int]:
    """POST and DELETE a rejection and POST a link naming a too large draft id, then a real draft's rejection."""
    service.import_items(svc, ITEMS)
    d = _draft(svc, "Okta login for everyone?")
    client = app.test_client()
    url = "/api/v1/roadmap/items/SSO/rejections"
    return [client.post(url, json={"draft_id": TOO_BIG}).status_code,
            client.delete(url, json={"draft_id": TOO_BIG}).status_code,
            client.post("/api/v1/roadmap/items/SSO/links", json={"draft_id": TOO_BIG}).status_code,
            client.post(url, json={"draft_id": d["draft_id"]}).status_code]  # a real draft still works


def test_a_draft_id_beyond_int4_is_a_404_on_sqlite(app, svc):
    assert _statuses(app, svc) == [404, 404, 404, 201]


@pytest.mark.postgres
def test_a_draft_id_beyond_int4_is_a_404_not_a_500_on_postgresql(make_app, pg_url):  # noqa: F811
    # was a 500 (psycopg NumericValueOutOfRange on drafts.id = ...::INTEGER) for POST and DELETE .../rejections
    app = make_app(DATABASE_URL=pg_url)
    assert _statuses(app, app.extensions["feedback"]) == [404, 404, 404, 201]


def test_the_theme_pages_rejected_notice_needs_a_stored_rejection(app):
    # the follow-ups page confirmed ?rejected= against the database; the theme page printed any text it was given
    from tests.unit.test_reports import seed

    seed(app, with_drafts=False)
    svc, client = app.extensions["feedback"], app.test_client()
    theme_id, item_id = next((t["theme_id"], i["item_id"]) for t in service.coverage(svc)["themes"]
                             for i in t["items"] if i["via"] == "match")
    forged = client.get(f"/themes/{theme_id}?rejected=RM-999+call+555-0100").get_data(as_text=True)
    assert "Noted: RM-999" not in forged and "call 555-0100" not in forged
    shown = client.get(f"/themes/{theme_id}?rejected={item_id}").get_data(as_text=True)
    assert f"Noted: {item_id} does not address this theme" not in shown  # matched, not refused: no notice
    no = client.post(f"/themes/{theme_id}/confirm", data={"item_id": item_id, "answer": "no"})
    assert no.status_code == 303
    assert f"Noted: {item_id} does not address this theme" in client.get(no.headers["Location"]).get_data(as_text=True)


def test_the_theme_pages_linked_message_needs_a_stored_link(app):
    # as ?rejected=: the address alone made the page say a person had linked an item
    from service.roadmap import service as roadmap
    from tests.unit.test_reports import seed

    seed(app, with_drafts=False)
    svc, client = app.extensions["feedback"], app.test_client()
    theme_id, item_id = next((t["theme_id"], i["item_id"]) for t in roadmap.coverage(svc)["themes"]
                             for i in t["items"] if i["via"] == "match")
    forged = client.get(f"/themes/{theme_id}?confirmed=RM-999+call+555-0100").get_data(as_text=True)
    assert "now counts as evidence" not in forged
    done = client.post(f"/themes/{theme_id}/confirm", data={"item_id": item_id, "answer": "yes"})
    assert f"now counts as evidence for {item_id}" in client.get(done.headers["Location"]).get_data(as_text=True)
