"""QA of the ask/draft pages and the close-the-loop pages: bad input gets a page that names the problem, never a 500,
and nothing is stored twice or half-way."""
from __future__ import annotations

from sqlalchemy import func, select

from service.models import Draft, DraftFeedback
from service.roadmap import service as roadmap

ITEMS = [
    {"id": "EXP", "title": "Background CSV exports", "status": "shipped", "description": "Large exports run as jobs."},
    {"id": "SSO", "title": "SAML single sign-on", "status": "planned", "description": "Login with Okta."},
]


def _draft(svc, question="Background CSV exports of large tables?", audience="internal"):
    from service.drafts.pipeline import create_draft

    return create_draft(svc, question, audience=audience)


def _count(svc, model) -> int:
    with svc.db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_confirming_an_item_archived_or_deleted_meanwhile_is_a_409_and_links_nothing(app, svc, client):
    roadmap.import_items(svc, ITEMS)
    d = _draft(svc)
    assert d["cited_item_ids"] == ["EXP"]
    roadmap.import_items(svc, ITEMS[1:], sync=True)  # EXP archived after the page was shown
    archived = client.post(f"/ask/{d['draft_id']}/confirm", data={"item_id": "EXP", "answer": "yes"})
    assert archived.status_code == 409 and "no longer on the roadmap" in archived.get_data(as_text=True)
    assert roadmap.item_detail(svc, "EXP")["links"] == []
    roadmap.import_items(svc, ITEMS[1:], prune=True)  # and then deleted: this was a 500
    deleted = client.post(f"/ask/{d['draft_id']}/confirm", data={"item_id": "EXP", "answer": "yes"})
    assert deleted.status_code == 409 and "nothing was saved" in deleted.get_data(as_text=True)
    page = client.get(f"/ask/{d['draft_id']}").get_data(as_text=True)
    assert "(no longer on the roadmap)" in page and 'name="item_id" value="EXP"' not in page


def test_a_rating_form_without_a_rating_or_with_an_unknown_kind_stores_nothing(app, svc, client):
    d = _draft(svc)
    missing = client.post(f"/ask/{d['draft_id']}/feedback", data={"kind": "thumb"})
    assert missing.status_code == 422 and "Choose up or down." in missing.get_data(as_text=True)
    odd = client.post(f"/ask/{d['draft_id']}/feedback", data={"kind": "zzz", "rating": "up"})
    assert odd.status_code == 422 and "kind" in odd.get_data(as_text=True)
    nul = client.post(f"/ask/{d['draft_id']}/feedback", data={"kind": "edit", "rating": "up", "comment": "ok\x00"})
    assert nul.status_code == 422 and "NUL" in nul.get_data(as_text=True)
    assert _count(svc, DraftFeedback) == 0


def test_a_double_submitted_rating_or_question_is_stored_once(app, svc, client):
    roadmap.import_items(svc, ITEMS)
    first = client.post("/ask", data={"question": "Do you have SAML single sign-on?", "audience": "internal"})
    again = client.post("/ask", data={"question": "Do you have SAML single sign-on?", "audience": "internal"})
    assert first.status_code == again.status_code == 303 and first.headers["Location"] == again.headers["Location"]
    assert _count(svc, Draft) == 1
    draft_id = int(first.headers["Location"].rsplit("/", 1)[1])
    for _ in range(2):  # a double click on thumbs up
        assert client.post(f"/ask/{draft_id}/feedback", data={"kind": "thumb", "rating": "up"}).status_code == 303
    for _ in range(2):  # and on "no, not the right item"
        assert client.post(f"/ask/{draft_id}/confirm", data={"item_id": "SSO", "answer": "no"}).status_code == 303
    assert _count(svc, DraftFeedback) == 2  # one thumbs up, one "not the right item"
    assert client.post(f"/ask/{draft_id}/feedback", data={"kind": "thumb", "rating": "down"}).status_code == 303
    assert _count(svc, DraftFeedback) == 3  # a different rating is new feedback
    with svc.db.session() as session:  # who rated: the caller, shown on the page
        assert {f.author for f in session.query(DraftFeedback)} == {"token:test-admin"}
    assert "by token:test-admin" in client.get(f"/ask/{draft_id}").get_data(as_text=True)


def test_an_edit_that_adds_an_unbacked_claim_is_kept_and_flagged(app, svc, client):
    roadmap.import_items(svc, ITEMS)
    d = _draft(svc, "Do you have SAML single sign-on?", audience="customer")
    assert client.get(f"/ask/{d['draft_id']}").get_data(as_text=True).count('id="edit-problems"') == 0
    edited = d["text"] + "\n\nIt will ship on 2026-12-01, guaranteed. <script>alert(1)</script>"
    saved = client.post(f"/ask/{d['draft_id']}/feedback", data={"kind": "edit", "rating": "up", "edited_text": edited})
    assert saved.status_code == 303
    page = client.get(f"/ask/{d['draft_id']}").get_data(as_text=True)
    flagged = page[page.index('id="edit-problems"'):page.index("</form>", page.index('id="edit-problems"'))]
    assert "2026-12-01" in flagged and "<script>alert(1)" not in page


def test_told_marks_with_bad_input_say_what_is_wrong(app, svc, client):
    roadmap.import_items(svc, ITEMS)
    empty = client.post("/roadmap/items/EXP/followups/told", data={"account": ""})
    assert empty.status_code == 400 and "account field" in empty.get_data(as_text=True)
    nobody = client.post("/roadmap/items/EXP/followups/told", data={"account": "Harbor & Pine"})
    assert nobody.status_code == 404 and "Harbor &amp; Pine" in nobody.get_data(as_text=True)
    assert "has not asked for EXP" in nobody.get_data(as_text=True)
    no_item = client.post("/roadmap/items/NOPE/followups/told", data={"account": "Acme"})
    assert no_item.status_code == 404 and "no roadmap item &#39;NOPE&#39;" in no_item.get_data(as_text=True)
    spoof = client.get("/roadmap/items/EXP/followups", query_string={"told": "Evil Corp"})
    assert spoof.status_code == 200 and "Marked Evil Corp as told" not in spoof.get_data(as_text=True)


def test_unknown_account_brief_and_item_followups_are_404_pages_that_say_so(client):
    for name in ("Harbor%20%26%20Pine", "a%2Fb", "Z%C3%BCrich%20AG"):
        page = client.get(f"/accounts/{name}/brief")
        assert page.status_code == 404 and "No notes name an account called" in page.get_data(as_text=True)
    assert "Zürich AG" in client.get("/accounts/Z%C3%BCrich%20AG/brief").get_data(as_text=True)
    item = client.get("/roadmap/items/NOPE/followups")
    assert item.status_code == 404 and "There is no roadmap item" in item.get_data(as_text=True)
