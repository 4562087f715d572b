"""Undoing a "told" mark made by mistake: the account is listed again, the draft stored as sent goes, and the undo
is audited; bad input and unknown marks are named."""
from __future__ import annotations

import json

import pytest

from .test_followups import seeded  # noqa: F401  (the fixture: RM-104 shipped, Velo Commerce asked for it)

URL = "/api/v1/roadmap/items/RM-104/followups/told"


def _accounts(client):
    data = client.get("/api/v1/roadmap/items/RM-104/followups?drafts=false").get_json()
    return [a["account"] for a in data["accounts"]], [t["account"] for t in data["told"]]


def test_the_api_undoes_a_mark_and_deletes_the_draft_stored_as_sent(seeded):  # noqa: F811
    mark = seeded.post(URL, json={"account": "Velo Commerce"}).get_json()
    assert "Velo Commerce" not in _accounts(seeded)[0]
    undone = seeded.delete(URL, json={"account": "Velo Commerce"})
    assert undone.status_code == 200, undone.get_json()
    body = undone.get_json()
    assert body["account"] == "Velo Commerce" and body["draft_deleted"] is True and body["draft_id"] == mark["draft_id"]
    asked, told = _accounts(seeded)
    assert "Velo Commerce" in asked and told == []
    assert seeded.get(f"/api/v1/drafts/{mark['draft_id']}").status_code == 404
    again = seeded.delete(URL, json={"account": "Velo Commerce"})
    assert again.status_code == 404 and "not marked as told" in again.get_json()["error"]["message"]
    assert seeded.delete(URL, json={"account": ""}).status_code == 422
    nope = "/api/v1/roadmap/items/NOPE/followups/told"
    assert seeded.delete(nope, json={"account": "Velo Commerce"}).status_code == 404
    log = seeded.get("/api/v1/audit?action=followup_untold").get_json()["entries"]
    assert len(log) == 1


@pytest.mark.parametrize("role,status", [("viewer", 403), ("sales", 404)])
def test_sales_may_undo_and_viewers_may_not(app, seeded, role, status):  # noqa: F811
    assert app.test_client(role=role).delete(URL, json={"account": "Velo Commerce"}).status_code == status


def test_the_page_undoes_a_mark(seeded):  # noqa: F811
    assert seeded.post("/roadmap/items/RM-104/followups/told", data={"account": "Velo Commerce"}).status_code == 303
    html = seeded.get("/roadmap/items/RM-104/followups").get_data(as_text=True)
    assert "Undo" in html
    done = seeded.post("/roadmap/items/RM-104/followups/untold", data={"account": "Velo Commerce"})
    assert done.status_code == 303 and "untold=Velo" in done.headers["Location"]
    html = seeded.get(done.headers["Location"]).get_data(as_text=True)
    assert "is no longer marked as told" in html and "Already told" not in html
    missing = seeded.post("/roadmap/items/RM-104/followups/untold", data={"account": "Velo Commerce"})
    assert missing.status_code == 404 and "not marked as told" in missing.get_data(as_text=True)
    # a made-up ?untold= is never confirmed
    made_up = seeded.get("/roadmap/items/RM-104/followups?untold=Anything").get_data(as_text=True)
    assert "no longer marked" not in made_up


def test_the_cli_undoes_a_mark(run_cli, cli_env):
    from .test_followups import seed, ship

    # the CLI home is its own: seed it through the CLI's app
    from service.cli.common import AppContext

    ctx = AppContext()
    seed(ctx.services)
    ship(ctx.services)
    assert run_cli("followups", "RM-104", "--told", "Velo Commerce", "--no-drafts").exit_code == 0
    undone = run_cli("followups", "RM-104", "--untold", "Velo Commerce", "--json")
    assert undone.exit_code == 0, undone.output
    assert json.loads(undone.stdout)["untold"]["draft_deleted"] is True
    missing = run_cli("followups", "RM-104", "--untold", "Velo Commerce")
    assert missing.exit_code == 1 and "not marked as told" in missing.stderr
    both = run_cli("followups", "RM-104", "--told", "A", "--untold", "B")
    assert both.exit_code == 2


def test_a_mark_made_twice_is_audited_once_with_the_accounts_fingerprint_not_its_name(seeded):  # noqa: F811
    from service.erase import fingerprint

    assert seeded.post(URL, json={"account": "Velo Commerce"}).status_code == 201
    assert seeded.post(URL, json={"account": "Velo Commerce"}).status_code == 200  # nothing changed
    page = "/roadmap/items/RM-104/followups/told"
    assert seeded.post(page, data={"account": "Velo Commerce"}).status_code == 303  # nor here
    assert seeded.delete(URL, json={"account": "Velo Commerce"}).status_code == 200
    assert seeded.post(page, data={"account": "Velo Commerce"}).status_code == 303  # marked again, from the page
    log = seeded.get("/api/v1/audit").get_json()["entries"]
    told = [e for e in log if e["action"] == "followup_told"]
    untold = [e for e in log if e["action"] == "followup_untold"]
    assert len(told) == 2 and len(untold) == 1
    assert all(e["details"]["account"] == fingerprint("Velo Commerce") for e in told + untold)
    assert "Velo" not in json.dumps(told + untold)
