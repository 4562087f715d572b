"""Noun-phrase theme labels and the label metric."""
from __future__ import annotations

import numpy as np
import pytest

from eval.metrics.themes import label_hit_at_k, majority_gold
from service.embedding import HashingEmbedder
from service.themes import stages
from service.themes.phrase import _BAD_FIRST, candidates

CLUSTERS = [
    ["Today we can't tell them, but the CSV export times out on large reports.",
     "Our CSV export times out whenever the report is large.",
     "They said the CSV export times out on large reports again - painful.",
     "CSV export of large reports times out after a minute."],
    ["We need SCIM provisioning from Azure AD.", "They asked about SCIM provisioning from Azure AD.",
     "SCIM provisioning from Azure AD is a blocker for IT.", "Without SCIM provisioning they add users by hand."],
]


class _Services:
    embedder = HashingEmbedder()
    llm = None


def _labels():
    emb = _Services.embedder
    return stages.label_clusters(CLUSTERS, [emb.embed(c) for c in CLUSTERS], services=_Services())


def test_labels_are_short_noun_phrases_that_name_the_theme():
    out = _labels()
    for result, distinctive in zip(out, ("csv", "scim")):
        words = result.label.split()
        assert 3 <= len(words) <= 8, result.label
        assert words[0].lower() not in _BAD_FIRST, result.label
        assert distinctive in result.label.lower(), result.label
        assert result.label[0].isupper() and result.candidates[0] == result.label
        assert result.representatives  # the verbatim quotes are kept apart from the label


def test_labels_are_deterministic():
    assert [r.label for r in _labels()] == [r.label for r in _labels()]


def test_candidates_do_not_cross_clauses_or_start_with_pronouns():
    cands, _ = candidates(["Today we can't tell them, but the CSV export times out on large reports."],
                          {"csv": 1.0, "export": 1.0, "csv export": 1.0}, ["csv", "export", "csv export"])
    assert cands and all("them" not in c and "but" not in c.split() for c in cands)
    assert all(c.split()[0] not in _BAD_FIRST for c in cands)
    assert "csv export times out" in cands


def test_a_phrase_cut_inside_its_clause_is_marked():
    weights = {"export": 1.0, "button": 1.0, "larger": 1.0, "tables": 1.0}
    cands, cut = candidates(["The export button is basically useless for their larger tables - the tab hangs."],
                            weights, list(weights))
    assert "export button is basically useless for their larger" in cut  # stops before "tables"
    assert "export button is basically useless" not in cut  # stops before "for": a phrase boundary
    assert "export button is basically useless for their larger tables" not in cut  # ends its clause
    # An n-gram that ends a phrase in any statement of the theme is not a cut.
    _, cut = candidates(["Export button is useless for them.", "The export button is useless now."],
                        weights, list(weights))
    assert "export button is useless" not in cut


class _SameVector:
    """Every text at the same point: the candidates differ only in their words, so the cut rule decides."""

    def embed(self, texts):
        return np.ones((len(texts), 4), dtype=np.float32) / 2


def test_the_label_prefers_a_complete_phrase_to_a_cut_one(monkeypatch):
    from service.themes import phrase

    texts = ["The export button is basically useless for their larger tables - the tab hangs for ten minutes."] * 3
    emb = _SameVector()
    weights = {"export": 1.0, "larger": 0.15}
    monkeypatch.setattr(phrase, "CUT_COST", 0.0)
    assert phrase.phrase_label(texts, emb.embed(texts), weights, list(weights), emb).label == \
        "Export button is basically useless for their larger"
    monkeypatch.undo()
    assert phrase.phrase_label(texts, emb.embed(texts), weights, list(weights), emb).label == \
        "Export button is basically useless"


def test_label_hit_at_k_ranks_the_gold_name():
    names = np.eye(4, dtype=np.float32)
    labels = np.array([[0.9, 0.1, 0, 0], [0.5, 0.4, 0.3, 0.2], [0, 0, 0.2, 0.9]], dtype=np.float32)
    assert label_hit_at_k(labels, [0, 3, 3], names, k=1) == pytest.approx(2 / 3)
    assert label_hit_at_k(labels, [0, 3, 3], names, k=4) == 1.0
    with pytest.raises(ValueError):
        label_hit_at_k(labels, [0], names)


def test_majority_gold_ignores_unassigned_and_breaks_ties_by_name():
    assert majority_gold([(1, "b"), (1, "a"), (2, "x"), (2, "x"), (-1, "z"), (None, "z")]) == {1: "a", 2: "x"}


def test_best_match_f1_takes_the_best_theme_per_gold_theme():
    from eval.metrics.themes import best_match_f1

    gold = {"export": {1, 2, 3, 4}, "sso": {4, 5}}
    assert best_match_f1(gold, {7: {1, 2, 3, 4}, 8: {5}}) == pytest.approx((1.0 + 2 / 3) / 2)
    assert best_match_f1(gold, {}) == 0.0
    with pytest.raises(ValueError):
        best_match_f1({}, {1: {1}})


def test_multi_pain_notes_mix_one_to_three_intents_with_small_talk():
    from eval.bench_themes import multi_pain_notes

    texts = [f"utterance {i}" for i in range(40)]
    truth = [f"intent_{i % 8}" for i in range(40)]
    notes = multi_pain_notes(texts, truth, n=30)
    assert notes == multi_pain_notes(texts, truth, n=30)  # deterministic
    assert all(1 <= len(n["gold"]) <= 3 and len(set(n["gold"])) == len(n["gold"]) for n in notes)
    assert all(sum(t in n["text"].lower() for t in texts if f"{t}." in n["text"].lower()) >= 1 for n in notes)
