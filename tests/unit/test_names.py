"""Known names of contacts and accounts: taken out of requests before matching, never out of the roadmap's words."""
from __future__ import annotations

from service import names
from service.ingest.store import ingest
from service.ingest.validate import NoteInput


def _load(svc):
    notes = [
        NoteInput(text="Driver supervisors want a phone-friendly view.", account="Harbor & Pine Outfitters",
                  meta={"contact_name": "Tessa Lindgren"}),
        NoteInput(text="They resell dashboards to their clients.", account="Parallax Marketing Group",
                  author="Priya Raman"),
        NoteInput(text="Warehouse sync is slow.", account="Snowflake Partners"),
    ]
    ingest(svc, notes, [], skip_invalid=False)


def test_names_of_contacts_and_accounts_leave_the_request(svc):
    _load(svc)
    with svc.db.session() as session:
        finder = names.name_finder(svc, session, frozenset({"snowflake", "connector"}), frozenset({"harbor"}))
    strip = lambda text: names.without_names(text, finder)  # noqa: E731
    assert strip("Tessa at Harbor & Pine loved the new editor preview.") == "at loved the new editor preview."
    assert strip("Parallax's team wants to rebrand dashboards; Priya asked.") == "team wants to rebrand dashboards; asked."
    # A roadmap term is never a name, even when an account starts with it; the whole account name still goes.
    assert strip("Snowflake Partners wants the Snowflake connector") == "wants the Snowflake connector"
    # Case matters and words are whole: "pine" and "Parallaxes" are not names; a request of names only is kept.
    assert strip("A pine-green theme for Parallaxes") == "A pine-green theme for Parallaxes"
    assert strip("Tessa Lindgren") == "Tessa Lindgren"
    # A common word alone is not an account's name ("Harbor" for Harbor & Pine); its longer prefix is.
    assert strip("Harbor views for Harbor & Pine staff") == "Harbor views for staff"


def test_match_ignores_names_in_the_request(svc):
    from service.roadmap.service import import_items, match_requests

    _load(svc)
    import_items(svc, [{"id": "ED", "title": "Dashboard editor v2", "status": "shipped"},
                       {"id": "SC", "title": "Snowflake connector", "status": "planned"}])
    named, plain = match_requests(svc, [{"id": "a", "text": "Tessa at Harbor & Pine Outfitters wants the dashboard editor"},
                                        {"id": "b", "text": "at wants the dashboard editor"}], min_score=0)
    assert named["matches"] == plain["matches"] and named["matches"][0]["item_id"] == "ED"
