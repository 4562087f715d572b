"""QA pass on follow-ups: a "told" mark holds only until the item moves again, even when it moves back to the
status the account was told about."""
from __future__ import annotations

import copy
import json

import pytest

from tests.unit.test_followups import NOTES, ROADMAP, ROOT, SHIPPED, seed, ship


def _accounts(svc, item_id="RM-104"):
    from service.followups.service import followups

    data = followups(svc, item_id, drafts=False)
    return [a["account"] for a in data["accounts"]], [t["account"] for t in data["told"]]


def test_a_told_mark_is_stale_once_the_item_moves_away_and_back(app, svc):
    from service.roadmap.service import import_items

    seed(svc)
    ship(svc)
    client = app.test_client()
    first = client.post("/api/v1/roadmap/items/RM-104/followups/told", json={"account": "Acme Logistics"})
    assert first.status_code == 201 and first.get_json()["status"] == "shipped"
    listed, told = _accounts(svc)
    assert "Acme Logistics" not in listed and told == ["Acme Logistics"]

    import_items(svc, ROADMAP, source="rollback.json")  # shipped -> in progress
    import_items(svc, copy.deepcopy(SHIPPED), source="reship.json")  # -> shipped again: they have not heard of it
    listed, told = _accounts(svc)
    assert "Acme Logistics" in listed and told == []

    # Marking them again renews the mark (one row per item, account and status) and leaves them out again.
    again = client.post("/api/v1/roadmap/items/RM-104/followups/told", json={"account": "Acme Logistics"})
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["created"] is True and again.get_json()["draft_id"] != first.get_json()["draft_id"]
    listed, told = _accounts(svc)
    assert "Acme Logistics" not in listed and told == ["Acme Logistics"]
    assert client.post("/api/v1/roadmap/items/RM-104/followups/told",
                       json={"account": "Acme Logistics"}).status_code == 200  # still idempotent


def test_the_brief_of_an_account_without_notes_says_why_nothing_is_dated(app, svc):
    from service.notes import delete_note_by_id

    seed(svc)
    delete_note_by_id(svc, "f-4")  # Kestrel Freight's only note: the account stays, with nothing heard
    client = app.test_client()
    data = client.get("/api/v1/accounts/Kestrel Freight/brief").get_json()
    assert data["notes"] == 0 and data["moved_since"] is None and data["pains"] == []
    html = client.get("/accounts/Kestrel Freight/brief").get_data(as_text=True)
    assert "Moved since —" not in html and "No roadmap item changed status since then" not in html
    assert "No notes to date it from" in html and "?since=YYYY-MM-DD" in html


@pytest.mark.parametrize("command", [("followups", "RM-104", "--no-drafts"), ("brief", "Acme Logistics")])
@pytest.mark.parametrize("since", ["0001-01-01", "9999-12-31"])
def test_the_cli_rejects_a_since_the_api_rejects(run_cli, tmp_path, app, command, since):
    notes = tmp_path / "notes.jsonl"
    notes.write_text("\n".join(json.dumps(n) for n in NOTES) + "\n")
    assert run_cli("ingest", str(notes), "--quiet").exit_code == 0
    assert run_cli("roadmap", "import", str(ROOT / "service" / "sample_data" / "roadmap.json")).exit_code == 0
    result = run_cli(*command, "--since", since)
    assert result.exit_code == 2 and f"since must be a date in the years 1900 to 2200, not {since}" in result.output
    assert run_cli(*command, "--since", "2026-10-01").exit_code == 0
    api = app.test_client().get("/api/v1/roadmap/items/RM-104/followups", query_string={"since": since})
    assert api.status_code == 400 and since in api.get_json()["error"]["message"]


def test_the_drafts_flag_of_the_followups_api_is_read_or_refused(app, svc):
    seed(svc)
    ship(svc)
    client = app.test_client()
    for value in ("false", "0", "no", "off", "FALSE"):
        data = client.get("/api/v1/roadmap/items/RM-104/followups", query_string={"drafts": value}).get_json()
        assert data["accounts"] and all(a["draft"] is None for a in data["accounts"]), value
    data = client.get("/api/v1/roadmap/items/RM-104/followups", query_string={"drafts": "true"}).get_json()
    assert all(a["draft"]["cited_item_ids"] == ["RM-104"] for a in data["accounts"])
    bad = client.get("/api/v1/roadmap/items/RM-104/followups", query_string={"drafts": "maybe"})
    assert bad.status_code == 400 and bad.get_json()["error"]["details"] == {"field": "drafts"}
    assert "drafts must be true or false, not 'maybe'" in bad.get_json()["error"]["message"]
