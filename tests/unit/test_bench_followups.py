"""The follow-up selection benchmark's scoring (eval/bench_followups.py) on statements made here."""
from __future__ import annotations

import pytest

from eval import bench_followups as bench
from service.followups.asks import StatementAsk


def _ask(n: int, cited: dict, ranked: dict) -> StatementAsk:
    return StatementAsk(statement_id=n, text=f"statement {n}", note_id=str(n), account=None, at=None, kind=None,
                        cited=tuple(cited.items()), ranked=ranked)


def test_asks_for_is_the_decision_citing_the_item():
    st = _ask(0, {"A": 0.7, "B": 0.6}, {"A": 0.7, "B": 0.6, "C": 0.55})
    assert st.asks_for("A") and st.asks_for("B")
    assert not st.asks_for("C")  # accepted but not cited: not an ask
    assert not _ask(1, {}, {"A": 0.4}).asks_for("A")  # the Decision abstained


def test_score_rules_counts_accounts_per_item():
    # one account holds everything: the current rule lists it for A (cited) and misses B (runner-up only)
    asks = [_ask(0, {"A": 0.8}, {"A": 0.8, "B": 0.75}), _ask(1, {}, {"A": 0.2}), _ask(2, {"A": 0.6}, {"A": 0.6})]
    gold = [{"A"}, set(), {"B"}]
    figures = bench.score_rules(asks, gold, ["A", "B", "C"], n_accounts=1, seed=0)
    current = figures["cited (current)"]
    # A: listed and asked (recall 1, precision 1); B: asked, not listed (recall 0, precision 0); C: nobody asked
    assert current["recall"] == pytest.approx(0.5) and current["precision"] == pytest.approx(0.5)
    loose = figures["accepted, cited or not"]  # B at 0.75 is accepted, so the account is listed for B too
    assert loose["recall"] == pytest.approx(1.0) and loose["precision"] == pytest.approx(1.0)
