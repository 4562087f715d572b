"""The follow-ups API reads what every account's row and draft need in bulk: as many SQL statements for 25 accounts
as for 5 (it was four more per drafted account: 90 at 20 accounts, 1,210 at 300)."""
from __future__ import annotations

import pytest

from .test_qa_web_scale_walk import _asking, counted  # accounts asking for RM-104 once each; the SQL counter


def _count(make_app, accounts: int, drafts: str) -> int:
    app = make_app()
    svc = app.extensions["feedback"]
    _asking(svc, accounts)
    client = app.test_client()
    path = f"/api/v1/roadmap/items/RM-104/followups?drafts={drafts}"
    assert client.get(path).status_code == 200  # the first request fills the caches (matcher, Decisions, scores)
    with counted(svc) as seen:
        resp = client.get(path)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    listed = resp.get_json()["accounts"]
    assert len(listed) == accounts  # every account is listed, and drafted when asked: the count is of real work
    assert all((a["draft"] is not None) == (drafts == "true") for a in listed)
    return len(seen)


@pytest.mark.parametrize("drafts", ["true", "false"])
def test_followups_api_runs_as_many_queries_for_25_accounts_as_for_5(make_app, drafts):
    few, many = _count(make_app, 5, drafts), _count(make_app, 25, drafts)
    assert many == few, (few, many)


def test_drafting_every_account_adds_a_fixed_few_queries(make_app):
    """What the drafts share (the item's scores, the names to redact, the roadmap's titles) is read once per list."""
    listed, drafted = _count(make_app, 10, "false"), _count(make_app, 10, "true")
    assert drafted - listed <= 5, (listed, drafted)
