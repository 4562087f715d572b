"""Follow-ups read every stored statement at once: the bulk path (the index's vectors, the best few items ranked,
every item's score in one array) must give what one Decision per statement gives."""
from __future__ import annotations

import numpy as np
import pytest

from tests.unit.test_followups import NOTES, seed, ship


def _fresh(svc, asks):
    from service.roadmap import decision

    return decision.decide(svc, [{"id": str(a.statement_id), "text": a.text} for a in asks])


def test_statement_asks_from_stored_vectors_match_one_decision_each(app, svc):
    from service.followups.asks import statement_asks
    from service.roadmap.decision import get_matcher

    seed(svc)
    ship(svc)
    asks = statement_asks(svc)
    assert len(asks) >= len(NOTES)
    items = [i.id for i in get_matcher(svc).items]
    fresh = _fresh(svc, asks)
    for ask, d in zip(asks, fresh):
        assert [c[0] for c in ask.cited] == [c.item_id for c in d.cited], ask.text
        assert [c[1] for c in ask.cited] == pytest.approx([c.score for c in d.cited], abs=1e-5)
        assert list(ask.ranked) == items and len(ask.ranked) == len(items)  # every item, not only the ranked few
        by_item = {r.item_id: r.score for r in d.ranked}
        assert {i: ask.score_for(i) for i in items} == pytest.approx(by_item, abs=1e-5)
    assert any(a.cited for a in asks)  # the SCIM notes cite an item: the comparison above is not all-empty


def test_given_vectors_are_used_and_marked_up_text_is_embedded_again(app, svc):
    from service.roadmap import decision

    seed(svc)
    texts = ["We need SCIM provisioning from Okta.", "**Snowflake** connector with <b>write-back</b>, please."]
    requests = [{"id": str(k), "text": t} for k, t in enumerate(texts)]
    fresh = decision.decide(svc, requests)
    # The second text's stored vector is its raw text (markup and all); decide reads the words without it.
    given = np.asarray(svc.embedder.embed(texts), dtype=np.float32)
    bulk = decision.decide(svc, requests, vectors=given, top_k=2)
    for a, b in zip(fresh, bulk):
        assert a.verdict == b.verdict and [c.item_id for c in a.cited] == [c.item_id for c in b.cited]
        assert [(r.item_id, r.score) for r in a.ranked[:2]] == [(r.item_id, pytest.approx(r.score, abs=1e-5))
                                                                  for r in b.ranked]
    # A wrong vector for the marked-up text is replaced; one for a plain text is taken as given.
    wrong = given.copy()
    wrong[1] = given[0]
    assert [c.item_id for c in decision.decide(svc, requests, vectors=wrong)[1].cited] == \
        [c.item_id for c in fresh[1].cited]
    wrong = given[::-1].copy()
    swapped = decision.decide(svc, requests[:1], vectors=wrong[:1])[0]
    assert [c.item_id for c in swapped.cited] != [c.item_id for c in fresh[0].cited]


def test_vectors_must_be_one_per_request(app, svc):
    from service.roadmap import decision

    seed(svc)
    with pytest.raises(ValueError, match="1 vectors for 2 requests"):
        decision.decide(svc, [{"id": "a", "text": "SCIM"}, {"id": "b", "text": "Snowflake"}],
                        vectors=np.zeros((1, 384), dtype=np.float32))


def test_scores_out_holds_every_items_score_for_each_request(app, svc):
    from service.roadmap import decision

    seed(svc)
    table: list = []
    found = decision.decide(svc, [{"id": "a", "text": "SCIM provisioning from Okta"}], top_k=1, scores_out=table)
    assert len(found[0].ranked) == 1
    row = table[0].row(0)
    assert max(row, key=row.get) == found[0].ranked[0].item_id
    assert row[found[0].ranked[0].item_id] == pytest.approx(found[0].ranked[0].score, abs=1e-6)
    with pytest.raises(KeyError):
        row["no-such-item"]


@pytest.mark.parametrize("top_k", [1, 2, 3, 7])
def test_partial_ranking_keeps_the_full_sorts_order_and_its_tie_break(top_k):
    from service.roadmap.matcher import RoadmapMatcher

    rng = np.random.default_rng(7)
    probs = rng.random((40, 7)).astype(np.float32)
    probs[:, 2] = probs[:, 5] = probs.max(axis=1) + 0.1  # a tie for first: roadmap order (2 before 5) wins
    probs[3] = 0.5  # all tied
    matcher = RoadmapMatcher.__new__(RoadmapMatcher)
    matcher.items = [type("I", (), {"id": f"i{j}", "status": "planned"})() for j in range(7)]
    full = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
    results = matcher.results([f"r{k}" for k in range(40)], probs, top_k)
    for k, res in enumerate(results):
        got = [m["item_id"] for m in res.matches]
        if k == 3 and top_k < 7:  # every item tied: which of them are kept is not fixed, only that they are the best
            assert len(set(got)) == top_k
            continue
        assert got == [f"i{j}" for j in full[k]]
        assert [m["score"] for m in res.matches] == sorted((m["score"] for m in res.matches), reverse=True)
    assert [m["item_id"] for m in results[0].matches][:2] == (["i2", "i5"] if top_k > 1 else ["i2"])
