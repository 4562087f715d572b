"""QA of the PM flow "paste call notes, get a theme summary": the paste page and POST /api/v1/themes/summarize."""
from __future__ import annotations

from sqlalchemy import func, select

SUMMARIZE = "/api/v1/themes/summarize"
PAIN = "The CSV export times out for large workspaces and we split it by hand every week."


def _note_count(svc) -> int:
    from service.models import Note

    with svc.db.session() as session:
        return session.scalar(select(func.count()).select_from(Note))


def test_the_same_note_pasted_twice_is_one_mention_and_one_stored_id(client):
    r = client.post(SUMMARIZE, json={"texts": [PAIN, PAIN, PAIN], "account": "Acme", "store": True})
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    once = client.post(SUMMARIZE, json={"texts": [PAIN], "account": "Acme"}).get_json()
    assert len(body["stored_note_ids"]) == 1
    assert (body["statements"], body["pains"]) == (once["statements"], once["pains"])
    assert [t["mentions"] for t in body["themes"]] == [t["mentions"] for t in once["themes"]]
    assert all(q["paste_index"] == 1 for t in body["themes"] for q in t["quotes"])


def test_a_blank_entry_in_texts_is_named_by_its_index(client):
    r = client.post(SUMMARIZE, json={"texts": [PAIN, "  \n ", PAIN + " Again."]})
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert error["details"]["field"] == "texts[1]"
    assert "texts[1]" in error["message"]


def test_api_bad_date_is_422_naming_the_field_and_stores_nothing(client, svc):
    r = client.post(SUMMARIZE, json={"texts": [PAIN, "SSO setup is painful."], "date": "2026-13-45", "store": True})
    assert r.status_code == 422
    assert r.get_json()["error"]["details"]["errors"][0]["field"] == "date"
    assert _note_count(svc) == 0


def test_paste_page_refuses_a_10_mb_paste_with_a_size_message(client, svc):
    r = client.post("/", data={"text": "a" * 10_000_000, "source": "call"})
    assert r.status_code == 413
    assert "larger than the limit" in r.get_data(as_text=True)
    assert _note_count(svc) == 0


def test_paste_page_escapes_markup_in_quotes_and_notes(client):
    evil = "<script>alert(1)</script> The export times out every day, painful."
    r = client.post("/", data={"text": f"{evil}\n---\n{evil} Again.", "source": "call", "account": "<b>Acme</b>"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>Acme</b>" not in html


def test_paste_page_nul_byte_is_a_field_error_and_nothing_is_stored(client, svc):
    r = client.post("/", data={"text": f"{PAIN}\n---\nbad\x00note", "source": "call"})
    assert r.status_code == 422
    assert "NUL" in r.get_data(as_text=True)
    assert _note_count(svc) == 0


def test_paste_page_without_csrf_token_stores_nothing_and_keeps_the_text(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    r = client.post("/", data={"text": PAIN, "source": "call"})
    assert r.status_code == 400
    assert "nothing was stored" in r.get_data(as_text=True)
    assert "CSV export times out" in r.get_data(as_text=True)
    assert _note_count(app.extensions["feedback"]) == 0


def test_double_submit_on_the_page_stores_the_note_once(client, svc):
    form = {"text": PAIN, "source": "call", "account": "Acme"}
    assert client.post("/", data=form).status_code == 200
    second = client.post("/", data=form)
    assert second.status_code == 200 and "already stored" in second.get_data(as_text=True)
    assert _note_count(svc) == 1
