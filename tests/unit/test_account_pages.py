"""The accounts page: the list (counts, last note, aliases, brief links, escaped names, pages) and the merge form
(PM only, CSRF, a clear 404/422 that changes nothing, one audit entry without the names)."""
from __future__ import annotations

import json
import re

import pytest

from service.auth.audit import entries
from service.erase import fingerprint

from .test_qa_a11y_walk import parse, problems

NOTES = [("Amazon Web Services", "2026-03-02", "Exports time out above 50k rows."),
         ("Amazon Web Services", "2026-04-11", "SSO setup took two weeks."),
         ("AWS", "2026-05-20", "We need an audit log export."),
         ("<b>x</b>", "2026-01-05", "The dashboard is slow on Mondays.")]


@pytest.fixture
def seeded(app):
    pm = app.test_client(role="pm")
    for account, date, text in NOTES:
        resp = pm.post("/api/v1/notes", json={"text": text, "account": account, "date": date, "source": "call"})
        assert resp.status_code == 201, resp.get_json()
    return app


def rows(html: str) -> dict[str, list[str]]:
    """Account -> [notes, last note, aliases], from the page's table."""
    table = parse(html).find_all("table")[0]
    cells = [[td.text() for td in tr.find_all("td")] for tr in table.find_all("tr")]
    return {c[0]: c[1:] for c in cells if c}


def listed(app) -> list[dict]:
    from service.notes import list_accounts

    with app.extensions["feedback"].db.session() as session:
        return list_accounts(session)


def merge_form(source="AWS", into="Amazon Web Services", confirm="y", **extra) -> dict:
    return {"source": source, "into": into, **({"confirm": confirm} if confirm else {}), **extra}


def test_the_page_lists_accounts_with_counts_last_note_and_brief_links(seeded):
    resp = seeded.test_client(role="pm").get("/accounts")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert rows(html) == {"Amazon Web Services": ["2", "2026-04-11", "none"], "AWS": ["1", "2026-05-20", "none"],
                          "<b>x</b>": ["1", "2026-01-05", "none"]}
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html  # the name is text, never markup
    assert 'href="/accounts/brief?account=%3Cb%3Ex%3C/b%3E"' in html
    assert 'href="/accounts/brief?account=Amazon+Web+Services"' in html
    assert '<a href="/accounts" aria-current="page">Accounts</a>' in html  # in the site navigation
    assert "cannot be undone" in html and 'name="confirm"' in html
    assert problems(html) == []


def test_the_brief_link_opens_the_brief_of_an_escaped_name(seeded):
    client = seeded.test_client(role="pm")
    href = re.search(r'href="(/accounts/brief\?account=%3Cb[^"]*)"', client.get("/accounts").get_data(as_text=True))
    brief = client.get(href.group(1).replace("&amp;", "&"))
    assert brief.status_code == 200 and "&lt;b&gt;x&lt;/b&gt;" in brief.get_data(as_text=True)


def test_a_pm_merges_two_accounts_and_the_list_shows_one_with_the_alias(seeded):
    client = seeded.test_client(role="pm")
    resp = client.post("/accounts/merge", data=merge_form())
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html
    assert "Merged “AWS” into “Amazon Web Services”: 1 note" in html
    assert rows(html) == {"Amazon Web Services": ["3", "2026-05-20", "AWS"], "<b>x</b>": ["1", "2026-01-05", "none"]}
    assert problems(html) == []
    assert rows(client.get("/accounts").get_data(as_text=True))["Amazon Web Services"] == ["3", "2026-05-20", "AWS"]
    log = entries(seeded.extensions["feedback"].db, action="account_merge")
    assert len(log) == 1
    entry = log[0]
    assert entry["actor"] == "token:test-pm" and entry["details"]["notes"] == 1
    assert entry["details"]["account"] == fingerprint("AWS")
    assert entry["details"]["into"] == fingerprint("Amazon Web Services")
    assert "AWS" not in json.dumps(entry) and "Amazon" not in json.dumps(entry)  # hashed, never the names


@pytest.mark.parametrize("role", ["sales", "viewer"])
def test_sales_and_viewers_are_refused_and_not_offered_the_page(seeded, role):
    client = seeded.test_client(role=role)
    assert client.get("/accounts").status_code == 403
    assert client.post("/accounts/merge", data=merge_form()).status_code == 403
    assert len(listed(seeded)) == 3
    assert 'href="/accounts"' not in client.get("/roadmap").get_data(as_text=True)


def test_the_merge_form_needs_its_csrf_token(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client(role="pm")
    for account in ("AWS", "Amazon Web Services"):
        assert client.post("/api/v1/notes", json={"text": "Exports time out.", "account": account}).status_code == 201
    refused = client.post("/accounts/merge", data=merge_form())
    assert refused.status_code == 400 and "form expired" in refused.get_data(as_text=True)
    assert len(listed(app)) == 2 and entries(app.extensions["feedback"].db, action="account_merge") == []
    page = client.get("/accounts").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post("/accounts/merge", data=merge_form(csrf_token=token)).status_code == 200
    assert [a["name"] for a in listed(app)] == ["Amazon Web Services"]


@pytest.mark.parametrize("form, status, field, message", [
    (merge_form(source="Amazon Web Service", into="AWS"), 404, "source",
     "No account named &#39;Amazon Web Service&#39;; did you mean &#39;Amazon Web Services&#39;?"),
    (merge_form(into="Globex"), 404, "into", "No account named &#39;Globex&#39; (the names are listed on this page)."),
    (merge_form(source="aws", into="AWS Inc."), 422, "into", "are the same account (&#39;AWS&#39;): nothing to merge."),
    (merge_form(source="  "), 422, "source", "Type the name of the account to merge"),
    (merge_form(into=""), 422, "into", "Type the name of the account to keep"),
    (merge_form(confirm=None), 422, "confirm", "Tick this box to merge."),
    (merge_form(source="x" * 201), 422, "source", "Use at most 200 characters"),
], ids=["did-you-mean", "unknown", "same-account", "empty-from", "empty-into", "not-confirmed", "too-long"])
def test_bad_input_is_refused_by_name_and_changes_nothing(seeded, form, status, field, message):
    before = listed(seeded)
    resp = seeded.test_client(role="pm").post("/accounts/merge", data=form)
    html = resp.get_data(as_text=True)
    assert resp.status_code == status, html
    assert "Nothing was merged" in html and message in html
    assert "<title>Error: Accounts" in html and len(rows(html)) == 3  # the page again, with the list
    control = [n for n in parse(html).iter() if n.attrs.get("id") == field][0]
    assert control.attrs.get("aria-invalid") == "true" and f"{field}-error" in control.attrs["aria-describedby"]
    assert problems(html) == []
    assert listed(seeded) == before
    assert entries(seeded.extensions["feedback"].db, action="account_merge") == []


def test_the_list_is_paged(app):
    from service.models import Account

    with app.extensions["feedback"].db.transaction() as session:
        session.add_all(Account(name=f"Customer {i:03}") for i in range(51))
    client = app.test_client(role="pm")
    first = client.get("/accounts").get_data(as_text=True)
    assert len(rows(first)) == 50 and "Customer 049" in first and "Customer 050" not in first
    assert "1–50 of 51 accounts" in first and 'href="/accounts?page=2"' in first
    second = client.get("/accounts?page=2").get_data(as_text=True)
    assert list(rows(second)) == ["Customer 050"]
    assert client.get("/accounts?page=nope").status_code == 400
    # after the form's POST the list's pages are still /accounts?page=N (the form's address takes only POST)
    refused = client.post("/accounts/merge", data=merge_form(source="")).get_data(as_text=True)
    assert 'href="/accounts?page=2"' in refused and "/accounts/merge?page" not in refused
