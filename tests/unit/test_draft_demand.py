"""A draft that cites an item gives the item's demand, the same however the question is worded: the stored
statements the Decision files under the item (and notes linked to it), counted as themes are counted. Before, demand
came from the statements most similar to the question: "scim?" found one account where a long question found 19."""
from __future__ import annotations

from service.drafts.pipeline import build_context, create_draft
from service.followups.service import asking_accounts
from service.roadmap.service import link

from .test_followups import seed


def _demand(svc, question: str, account: str | None = None) -> dict:
    ctx, _ = build_context(svc, question, account, "internal", None)
    assert [i.id for i in ctx.items][:1] == ["RM-104"], ctx.items
    return ctx.demand


def test_a_cited_items_demand_does_not_depend_on_the_wording(svc):
    seed(svc)
    short = _demand(svc, "scim provisioning?")
    long = _demand(svc, "Their IT team keeps asking whether SCIM user provisioning from Okta is coming, because "
                        "offboarding people by hand takes them a day every month. What can I tell them?")
    assert short == long and short["source"] == "item" and short["item_id"] == "RM-104"
    asked = asking_accounts(svc, "RM-104")  # the follow-ups list of the same item
    assert short["accounts"] == len(asked) == 3 and short["mentions"] == 4


def test_demand_counts_the_other_accounts_and_a_linked_note(svc):
    seed(svc)
    mine = _demand(svc, "scim provisioning?", account="Acme Logistics")
    assert mine["other_accounts"] == mine["accounts"] - 1
    link(svc, "RM-104", note_id="f-5", created_by="pm")  # a PM says Bluefin's note is about it too
    after = _demand(svc, "scim provisioning?", account="Acme Logistics")
    assert after["accounts"] == mine["accounts"] + 1 and after["mentions"] == mine["mentions"] + 1


def test_the_internal_draft_names_the_items_demand(svc):
    seed(svc)
    d = create_draft(svc, "scim provisioning?", None, "internal")
    assert "Demand (stored notes asking for RM-104): 3 accounts, 4 mentions" in d["text"]


def test_an_index_that_cannot_answer_is_a_503_not_a_draft_without_quotes(svc, client, monkeypatch):
    """A stopped Chroma server used to give a stored 201 draft with no quotes and no warning."""
    from service.vectorstore import VectorStoreError

    seed(svc)

    def down(*args, **kwargs):
        raise VectorStoreError("no Chroma server answers at http://127.0.0.1:1 (test)")

    monkeypatch.setattr(svc.store, "query", down)
    answer = client.post("/api/v1/drafts", json={"question": "scim provisioning?", "audience": "internal"})
    assert answer.status_code == 503, answer.get_json()
    monkeypatch.undo()
    assert client.get("/api/v1/drafts").get_json()["total"] == 0  # nothing half-made was stored
