"""Several calls pasted at once, each note naming its own account and date in `Account:` / `Date:` lines: each
note is stored under its account, the lines are not stored as text, a bad date is named with its note, and the
summary counts the pasted accounts as the paste's own."""
from __future__ import annotations

from sqlalchemy import select

from service.models import Account, Note
from service.web.forms import note_headers

PASTE = """Account: Acme Logistics
Date: 2026-11-20
CSV exports time out on large tables and the download never finishes.
---
Account: Beta Bank
Date: 2026-11-21
Our CSV export of big reports times out every quarter close.
---
Single sign-on through Okta keeps failing for new hires."""


def test_header_lines_are_read_only_at_the_top_and_only_with_text_after_them():
    assert note_headers("Account: Acme\nDate: 2026-11-20\nExports time out.") == (
        {"account": "Acme", "date": "2026-11-20"}, "Exports time out.")
    assert note_headers("Account: Acme is unhappy")[0] == {}  # nothing follows: a note, not a header
    assert note_headers("Exports time out.\nAccount: Acme")[0] == {}  # not at the top
    assert note_headers("Source: email\n\nSSO is slow") == ({"source": "email"}, "SSO is slow")


def test_each_pasted_note_is_stored_under_its_own_account_and_date(client, svc):
    resp = client.post("/", data={"text": PASTE, "account": "Default Co", "source": "call"})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    with svc.db.session() as session:
        rows = session.execute(select(Note.text, Account.name, Note.occurred_at)
                               .join(Account, Note.account_id == Account.id).order_by(Note.id)).all()
    assert [(r[1], r[2].date().isoformat() if r[2] else None) for r in rows] == [
        ("Acme Logistics", "2026-11-20"), ("Beta Bank", "2026-11-21"), ("Default Co", None)]
    assert all("Account:" not in r[0] and "Date:" not in r[0] for r in rows)


def test_a_bad_date_line_is_named_with_its_note_and_nothing_is_stored(client, svc):
    bad = PASTE.replace("Date: 2026-11-21", "Date: 2026-02-30")
    resp = client.post("/", data={"text": bad, "source": "call"})
    assert resp.status_code == 422
    assert "note 2" in resp.get_data(as_text=True).lower()
    with svc.db.session() as session:
        assert session.scalar(select(Note.id).limit(1)) is None
