"""Close-the-loop QA walk: an archived item (off the roadmap) gets no follow-up draft stating its last status and no
new "told" mark, on the API, the page and the CLI; the page confirms a mark under the name as stored; the CLI brief
says "not on the roadmap" without an empty "nearest:" and names a missing ACCOUNT as bad input."""
from __future__ import annotations

import copy
import json

from .test_followups import NOTES, ROADMAP, seed, seeded  # noqa: F401  (seeded: a fixture)

WITHOUT_114 = [i for i in copy.deepcopy(ROADMAP) if i["id"] != "RM-114"]  # RM-114: planned, Q1 2027


def _archive_114(svc):
    """Velo Commerce's note is linked to RM-114 (planned, Q1 2027), then a sync import drops RM-114: archived."""
    from service.roadmap.service import import_items, link

    seed(svc)
    link(svc, "RM-114", note_id="f-2", created_by="test")
    report = import_items(svc, WITHOUT_114, source="roadmap_sync.json", sync=True)
    assert report["archived"] == 1


def _drafts(svc) -> int:
    from sqlalchemy import func, select

    from service.models import Draft

    with svc.db.session() as session:
        return session.scalar(select(func.count(Draft.id)))


def test_an_archived_item_gets_no_draft_stating_its_last_status_and_no_mark(app, svc):
    _archive_114(svc)
    client = app.test_client()
    data = client.get("/api/v1/roadmap/items/RM-114/followups").get_json()
    assert [a["account"] for a in data["accounts"]] == ["Velo Commerce"]  # who asked is still listed
    assert data["change"]["kind"] == "archived" and data["changed_at"] == data["change"]["changed_at"]
    assert all(a["draft"] is None for a in data["accounts"])  # no "planned for Q1 2027" the roadmap dropped
    before = _drafts(svc)
    told = client.post("/api/v1/roadmap/items/RM-114/followups/told", json={"account": "Velo Commerce"})
    assert told.status_code == 409, told.get_json()
    assert "RM-114 is archived" in told.get_json()["error"]["message"]
    assert _drafts(svc) == before and client.get("/api/v1/roadmap/items/RM-114/followups").get_json()["told"] == []


def test_the_page_says_an_item_is_archived_and_offers_no_mark(app, svc):
    _archive_114(svc)
    client = app.test_client()
    html = client.get("/roadmap/items/RM-114/followups").get_data(as_text=True)
    assert "RM-114 is archived" in html and "Archived on" in html
    assert "Mark as told" not in html and "Release Q1 2027" not in html and "On the roadmap since" not in html
    page = client.post("/roadmap/items/RM-114/followups/told", data={"account": "Velo Commerce"})
    assert page.status_code == 409 and "nothing was marked" in page.get_data(as_text=True)


def test_the_cli_refuses_to_mark_an_archived_item_and_says_why(run_cli):
    from service.cli.common import AppContext

    _archive_114(AppContext().services)
    told = run_cli("followups", "RM-114", "--told", "Velo Commerce")
    assert told.exit_code == 1 and "RM-114 is archived" in told.output and "nothing was marked" in told.output
    listed = run_cli("followups", "RM-114")
    assert listed.exit_code == 0 and "archived on" in listed.output and "Velo Commerce" in listed.output
    assert "draft (" not in listed.output and "Q1 2027." not in listed.output


def test_an_item_still_on_the_roadmap_keeps_its_drafts(seeded):  # noqa: F811
    data = seeded.get("/api/v1/roadmap/items/RM-104/followups").get_json()
    assert data["change"]["kind"] == "changed" and data["accounts"]
    assert all(a["draft"] and "RM-104" in a["draft"]["cited_item_ids"] for a in data["accounts"])


def test_the_page_confirms_a_mark_under_the_name_as_stored(seeded):  # noqa: F811
    done = seeded.post("/roadmap/items/RM-104/followups/told", data={"account": "  Velo Commerce  "})
    assert done.status_code == 303 and "told=Velo+Commerce" in done.headers["Location"]
    html = seeded.get(done.headers["Location"]).get_data(as_text=True)
    assert "Marked Velo Commerce as told" in html
    undone = seeded.post("/roadmap/items/RM-104/followups/untold", data={"account": " Velo Commerce "})
    assert undone.status_code == 303 and "untold=Velo+Commerce" in undone.headers["Location"]
    assert "Velo Commerce is no longer marked" in seeded.get(undone.headers["Location"]).get_data(as_text=True)


def test_the_cli_brief_of_a_pain_with_no_item_near_says_not_on_the_roadmap(run_cli, tmp_path):
    notes = tmp_path / "notes.jsonl"  # no roadmap at all: nothing is near
    notes.write_text("\n".join(json.dumps(n) for n in NOTES))
    assert run_cli("ingest", str(notes)).exit_code == 0
    out = run_cli("brief", "Bluefin Payments")
    assert out.exit_code == 0, out.output
    assert "not on the roadmap" in out.output and "nearest:" not in out.output


def test_the_cli_brief_without_a_name_is_bad_input(run_cli):
    out = run_cli("brief", "  ")
    assert out.exit_code == 2 and "ACCOUNT is required" in out.output
