"""QA walk of the pages with a year of data, and three defects found before it.

Defects: the follow-ups page answered a bad ?since= with 422 and the whole, unfiltered list (the API answers 400);
DELETE /api/v1/reports/<id> answered 405 for an id past 32 bits (the GET route's pattern took the digits, the DELETE
route's converter refused them); the theme page joined its edit errors into one message tied to no field and
forgot what the PM typed.

Scale (a PM's year: ~20,000 notes, 800 themes, 200 items, 100 accounts; figures in the final report): the themes page
listed every theme of the run on one page, and the follow-ups page built a checked draft for every account that asked,
three to four queries per account, before showing any. Both pages now show a page at a time (?page=N, with next and
previous links), and the follow-ups page drafts only the accounts it shows: its query count no longer grows with the
number of accounts (counted with a SQLAlchemy event listener, never timed). The follow-ups API still drafts every
account: paging it changes its documented contract (docs/close-the-loop.md and the contract tests), left to them.
"""
from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from .test_followups import seed as seed_followups, ship
from .test_qa_a11y_walk import parse, problems


# ---- 1. a bad ?since= on the follow-ups page ------------------------------------------------------------------
@pytest.fixture
def followed(app, svc):
    seed_followups(svc)
    ship(svc)
    return app.test_client()


@pytest.mark.parametrize("since", ["notadate", "2026-13-01", "0001-01-01"])
def test_a_bad_since_on_the_followups_page_is_a_400_naming_the_field_and_lists_nothing(followed, since):
    api = followed.get(f"/api/v1/roadmap/items/RM-104/followups?since={since}")
    page = followed.get(f"/roadmap/items/RM-104/followups?since={since}")
    assert api.status_code == page.status_code == 400
    html = page.get_data(as_text=True)
    assert "since" in html and "YYYY-MM-DD" in html
    # no list of accounts under an address that asked for a filtered one
    assert "Velo Commerce" not in html and "Mark as told" not in html
    assert 'href="/roadmap/items/RM-104/followups"' in html  # the way on: the whole list, without the filter
    assert problems(html) == []


def test_a_good_since_still_filters_the_followups_page(followed):
    page = followed.get("/roadmap/items/RM-104/followups?since=2026-10-04")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Kestrel Freight" in html and "Acme Logistics" not in html


# ---- 2. DELETE /api/v1/reports/<id> with an id that names no row ------------------------------------------------
@pytest.mark.parametrize("report_id", ["abc", "99999999999999999999", "2147483648", "0", "-1", "1.5"])
def test_deleting_a_report_by_an_id_that_is_no_row_number_is_a_404_as_for_drafts(client, report_id):
    draft = client.delete(f"/api/v1/drafts/{report_id}")
    report = client.delete(f"/api/v1/reports/{report_id}")
    assert report.status_code == draft.status_code == 404, report.get_data(as_text=True)
    assert report.get_json()["error"]["code"] == "not_found"
    assert "report" in report.get_json()["error"]["message"]


def test_deleting_a_stored_report_by_its_number_still_works(client):
    made = client.post("/api/v1/reports", json={"since": "1d", "as_of": "2026-11-01"})
    assert made.status_code == 201
    number = made.get_json()["id"]
    assert client.delete(f"/api/v1/reports/{number}").get_json() == {"deleted": number}
    assert client.delete(f"/api/v1/reports/{number}").status_code == 404
    assert client.get(f"/api/v1/reports/{number}").status_code == 404


# ---- 3. theme edit errors next to their field -------------------------------------------------------------------
@pytest.fixture
def themed(app, svc):
    from service.ingest.store import ingest_notes
    from service.themes.run import RunOptions, run_themes

    from .test_theme_determinism import TOPICS, _notes

    ingest_notes(svc, _notes(TOPICS))
    ids = [t["id"] for t in run_themes(svc, RunOptions(include_all=True, use_llm=False))["themes"]]
    return app.test_client(role="pm"), ids


def _control(dom, control_id):
    return [n for n in dom.iter() if n.attrs.get("id") == control_id][0]


def _tied(html: str, control_id: str, words: str):
    """The control is marked invalid and described by an error next to it that says `words`."""
    dom = parse(html)
    control = _control(dom, control_id)
    assert control.attrs.get("aria-invalid") == "true", control.attrs
    error_id = f"{control_id}-error"
    assert error_id in control.attrs.get("aria-describedby", "").split()
    error = _control(dom, error_id)
    assert words in error.text()
    assert any(a.attrs.get("id") == f"{control_id.split('-')[0]}-form" for a in error.ancestors())  # in its own form
    summary = _control(dom, "form-errors")
    assert summary.attrs.get("role") == "alert" and "data-focus-on-load" in summary.attrs
    assert dom.find_all("title")[0].text().startswith("Error: ")
    assert problems(html) == []
    return dom


@pytest.mark.parametrize("form,control,words", [
    ({"action": "rename", "label": ""}, "rename-label", "label must be 1 to"),
    ({"action": "rename", "label": "x" * 121}, "rename-label", "120"),
    ({"action": "merge", "into": "99999"}, "merge-into", "no theme with id 99999"),
    ({"action": "merge", "into": "x"}, "merge-into", "into must be a theme id"),
    ({"action": "move", "to": "none"}, "move-to", "Tick the statements"),
])
def test_each_theme_edit_error_is_shown_next_to_its_field(themed, form, control, words):
    pm, ids = themed
    resp = pm.post(f"/themes/{ids[0]}/edit", data=form)
    assert resp.status_code in (404, 422)
    dom = _tied(resp.get_data(as_text=True), control, words)
    others = [c for c in ("rename-label", "merge-into", "move-to") if c != control]
    assert all(_control(dom, c).attrs.get("aria-invalid") is None for c in others)  # only the field at fault


def test_a_refused_rename_keeps_what_the_pm_typed(themed, svc):
    pm, ids = themed
    other = pm.get(f"/themes/{ids[1]}").get_data(as_text=True)
    taken = parse(other).find_all("h1")[0].text()
    resp = pm.post(f"/themes/{ids[0]}/edit", data={"action": "rename", "label": f"  {taken.upper()}  "})
    assert resp.status_code == 409
    dom = _tied(resp.get_data(as_text=True), "rename-label", "labelled")
    assert _control(dom, "rename-label").attrs["value"] == taken.upper()


def test_a_refused_move_keeps_the_ticked_statements_and_the_target(themed):
    pm, ids = themed
    html = pm.get(f"/themes/{ids[0]}").get_data(as_text=True)
    ticked = [n.attrs["value"] for n in parse(html).find_all("input") if n.attrs.get("name") == "statement_ids"][:2]
    resp = pm.post(f"/themes/{ids[0]}/edit",
                   data={"action": "move", "statement_ids": ticked + ["2000000000"], "to": str(ids[1])})
    assert resp.status_code == 404
    dom = _tied(resp.get_data(as_text=True), "move-to", "no statement with id 2000000000")
    checked = {n.attrs["value"] for n in dom.find_all("input") if n.attrs.get("name") == "statement_ids"
               and "checked" in n.attrs}
    assert checked == set(ticked)
    selected = [o.attrs["value"] for o in _control(dom, "move-to").find_all("option") if "selected" in o.attrs]
    assert selected == [str(ids[1])]


def test_an_edit_error_about_the_edit_as_a_whole_is_in_the_summary_only(themed):
    pm, ids = themed
    resp = pm.post(f"/themes/{ids[0]}/edit", data={"action": "explode"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    dom = parse(html)
    assert "Unknown edit" in _control(dom, "form-errors").text()
    assert 'aria-invalid="true"' not in html and problems(html) == []
    fine = pm.get(f"/themes/{ids[0]}").get_data(as_text=True)
    assert "aria-invalid" not in fine and 'id="form-errors"' not in fine


# ---- scale: query counts stay bounded as rows grow --------------------------------------------------------------
SCIM_WORDS = ["needs SCIM user provisioning so Okta creates and removes users automatically",
              "requires SCIM 2.0 user and group provisioning from Okta",
              "wants SCIM provisioning of users and groups from Azure AD"]


def _asking(svc, accounts: int):
    """`accounts` accounts that each ask for RM-104 (SCIM provisioning) once, then RM-104 shipped."""
    from service.ingest.readers import RawRow
    from service.ingest.store import ingest, validate_rows
    from service.roadmap.service import import_items

    from .test_followups import ROADMAP

    import_items(svc, ROADMAP, source="roadmap.json")
    notes = [{"id": f"s-{k}", "account": f"Account {k:03d}", "source": "call", "date": f"2026-10-{k % 28 + 1:02d}",
              "arr": 1000 * (k + 1), "text": f"Account {k:03d} {SCIM_WORDS[k % 3]}, ticket {k}."}
             for k in range(accounts)]
    rows, errors = validate_rows([RawRow(n, i) for i, n in enumerate(notes, 1)], "test", 100_000)
    assert not errors
    ingest(svc, rows, errors, skip_invalid=False)
    ship(svc)


@contextmanager
def counted(svc):
    """The SQL statements run inside the block, counted by an engine event listener."""
    seen = []

    def _count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(svc.db.engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        event.remove(svc.db.engine, "before_cursor_execute", _count)


def _queries(app, svc, path: str) -> tuple[int, object]:
    client = app.test_client()
    assert client.get(path).status_code == 200  # warm the caches (matcher, decisions) the first request fills
    with counted(svc) as seen:
        resp = client.get(path)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return len(seen), resp


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of 3 accounts or 2 themes, so a few rows already fill several pages."""
    from service.web import closeloop, page_data

    monkeypatch.setattr(closeloop, "ACCOUNTS_PER_PAGE", 3, raising=False)  # raising: the test runs before the fix too
    monkeypatch.setattr(page_data, "THEMES_PER_PAGE", 2, raising=False)


def _followup_counts(make_app, accounts: int, path: str):
    app = make_app()
    svc = app.extensions["feedback"]
    _asking(svc, accounts)
    return _queries(app, svc, path)


def test_the_followups_page_runs_as_many_queries_for_30_accounts_as_for_8(make_app, small_pages):
    few, few_page = _followup_counts(make_app, 8, "/roadmap/items/RM-104/followups")
    many, many_page = _followup_counts(make_app, 30, "/roadmap/items/RM-104/followups")
    listed = [len(re.findall(r'class="card" aria-labelledby="acct-', p.get_data(as_text=True)))
              for p in (few_page, many_page)]
    assert listed == [3, 3]  # a page of accounts each, with a draft each
    assert many == few, (few, many)


def test_followups_pages_walk_every_account_once_in_order(make_app, small_pages):
    app = make_app()
    svc = app.extensions["feedback"]
    _asking(svc, 8)
    client = app.test_client()
    everyone = [a["account"] for a in
                client.get("/api/v1/roadmap/items/RM-104/followups?drafts=false").get_json()["accounts"]]
    assert len(everyone) >= 6
    walked, path = [], "/roadmap/items/RM-104/followups"
    while path:
        html = client.get(path).get_data(as_text=True)
        assert problems(html) == []
        walked += re.findall(r'<h2 id="acct-\d+"><a href="[^"]+">([^<]+)</a>', html)
        nxt = re.search(r'<a class="btn" rel="next" href="([^"]+)"', html)
        path = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert walked == everyone
    for bad in ("0", "x", "99999999"):
        refused = client.get(f"/roadmap/items/RM-104/followups?page={bad}")
        assert refused.status_code == 400 and "page must be a whole number" in refused.get_data(as_text=True)
    beyond = client.get("/roadmap/items/RM-104/followups?page=50").get_data(as_text=True)
    assert "No accounts on page 50" in beyond and 'href="/roadmap/items/RM-104/followups?page=1"' in beyond


def test_the_themes_page_shows_a_page_of_themes_with_a_next_link(themed, small_pages, svc):
    pm, _ = themed
    total = len(pm.get("/api/v1/themes").get_json()["themes"])
    pages = -(-total // 2)
    assert pages >= 2
    first = pm.get("/themes").get_data(as_text=True)
    assert len(re.findall(r'<a href="/themes/\d+">', first)) == 2 and f"{total} themes" in first
    assert 'rel="next" href="/themes?page=2"' in first and 'rel="prev"' not in first and problems(first) == []
    seen = set()
    for page in range(1, pages + 1):
        html = pm.get(f"/themes?page={page}").get_data(as_text=True)
        seen.update(re.findall(r'<a href="/themes/(\d+)">', html))
    assert len(seen) == total and 'rel="next"' not in html and 'rel="prev"' in html  # the last page
    filtered = pm.get("/themes?account=&page=1").get_data(as_text=True)
    assert re.search(r'rel="next" href="/themes\?account=&amp;page=2"', filtered)  # the filters stay in the link
    bad = pm.get("/themes?page=abc")
    assert bad.status_code == 400 and "page must be a whole number" in bad.get_data(as_text=True)
    with counted(svc) as few:
        pm.get("/themes?page=1")
    with counted(svc) as last:
        pm.get(f"/themes?page={pages}")
    assert len(few) == len(last)


def test_page_links_keep_the_filters_as_query_values_only(themed, small_pages):
    pm, _ = themed
    html = pm.get("/themes?page=1&_external=1&_scheme=javascript&endpoint=x&account=").get_data(as_text=True)
    link = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert link.startswith("/themes?") and "page=2" in link and "_scheme=javascript" in link  # a value, not a scheme
