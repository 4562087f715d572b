"""Deleting a draft takes what points at it by number only: the roadmap links made from it go, and a "told" mark
keeps its account and date without the draft. SQLite hands the newest draft's number out again, so a link left behind
made the next draft's question evidence for the item, and the mark showed that draft as the one sent."""
from __future__ import annotations

from sqlalchemy import select

from service.erase import delete_draft
from service.followups.service import mark_told
from service.models import FollowupTold, RoadmapLink
from service.roadmap.service import link

from .test_followups import seed, ship


def test_deleting_a_draft_removes_its_links_and_clears_the_told_marks_pointer(svc, client):
    seed(svc)
    ship(svc)
    mark = mark_told(svc, "RM-104", "Velo Commerce", told_by="pm")
    draft_id = mark["draft_id"]
    assert link(svc, "RM-104", draft_id=draft_id, created_by="pm")["created"]
    delete_draft(svc, draft_id)
    with svc.db.session() as s:
        assert s.scalars(select(RoadmapLink).where(RoadmapLink.draft_id == draft_id)).all() == []
        told = s.scalars(select(FollowupTold)).one()
    assert told.account == "Velo Commerce" and told.draft_id is None
    listed = client.get("/api/v1/roadmap/items/RM-104/followups?drafts=false").get_json()
    assert [t["account"] for t in listed["told"]] == ["Velo Commerce"]  # still told; the draft is just gone
    assert all(t["draft_id"] is None for t in listed["told"])
    assert client.get(f"/api/v1/drafts/{draft_id}").status_code == 404
