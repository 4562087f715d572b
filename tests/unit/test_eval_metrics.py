"""Unit tests for eval/metrics: drafts, claims, quotes, text checks, themes, match, judge."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.metrics import adjusted_rand_score, cohen_kappa_score, normalized_mutual_info_score, roc_auc_score

from eval.metrics import (METRIC_DIRECTIONS, ari, auroc, citation_precision, citation_recall, cohen_kappa,
                          first_citation_correct, internal_leaks_total, invented_items_total, leaks_internal,
                          length_ok, nmi, oos_precision, oos_recall, pii_leaks, pii_pattern_leaks, purity,
                          quote_fidelity, quote_fidelity_micro, quote_problems, readability_grade,
                          readability_grade_p90, readability_ok, top1, unassigned_rate, unsupported_claims,
                          unsupported_claims_total, verdict_accuracy)
from eval.metrics import match as match_metrics
from eval.metrics.dates import find_dates, same_release
from eval.metrics.text import count_syllables

ROOT = Path(__file__).resolve().parents[2]

ITEMS = {
    "RM-101": {"id": "RM-101", "title": "SSO with Okta", "status": "planned", "release": "Q1 2027"},
    "RM-102": {"id": "RM-102", "title": "Bulk export", "status": "shipped", "release": "2026.10"},
    "RM-103": {"id": "RM-103", "title": "Audit log", "status": "in_progress", "release": "March 2027"},
    "RM-104": {"id": "RM-104", "title": "Offline mode", "status": "considering", "release": "Q2 2027"},
    "RM-105": {"id": "RM-105", "title": "Desktop app", "status": "not_planned", "release": ""},
    "RM-106": {"id": "RM-106", "title": "Webhooks", "status": "planned", "release": "Q1, 2027"},
}


def draft(text, cited=("RM-101",), verdict="planned", evidence=(), audience="internal", **extra):
    return {"id": "Q1", "question": "q", "account": "Acme", "audience": audience, "verdict": verdict,
            "cited_item_ids": list(cited), "text": text, "evidence": list(evidence), **extra}


def kinds(problems):
    return sorted({p.split(":")[0] for p in problems})


# --- pairing, verdicts, citations -----------------------------------------------------------
GOLD = [
    {"id": "G1", "gold_item_ids": ["RM-101"], "gold_verdict": "planned"},
    {"id": "G2", "gold_item_ids": ["RM-102", "RM-106"], "gold_verdict": "available"},
    {"id": "G3", "gold_item_ids": [], "gold_verdict": "not_on_roadmap"},
]


def test_verdict_accuracy_pairs_by_id_regardless_of_order():
    drafts = [{"id": "G3", "verdict": "not_on_roadmap"}, {"id": "G1", "verdict": "planned"},
              {"id": "G2", "verdict": "planned"}]
    assert verdict_accuracy(drafts, GOLD) == pytest.approx(2 / 3)


def test_verdict_accuracy_pairs_by_order_when_ids_do_not_match():
    drafts = [{"id": "d1", "verdict": "planned"}, {"id": "d2", "verdict": "available"},
              {"id": "d3", "verdict": "planned"}]
    assert verdict_accuracy(drafts, GOLD) == pytest.approx(2 / 3)


def test_missing_draft_counts_as_wrong_and_bad_pairing_raises():
    assert verdict_accuracy([{"question_id": "G1", "verdict": "planned"}], GOLD) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        verdict_accuracy([{"id": "x", "verdict": "planned"}], GOLD)
    with pytest.raises(ValueError):
        verdict_accuracy([], [])
    with pytest.raises(ValueError):
        verdict_accuracy([{"id": "G1"}, {"id": "G1"}], GOLD)


def test_citation_precision_and_recall_are_micro_averaged():
    drafts = [{"id": "G1", "cited_item_ids": ["RM-101", "RM-104"]},   # 1 of 2 right
              {"id": "G2", "cited_item_ids": ["RM-102", "RM-102"]},   # duplicate counted once
              {"id": "G3", "cited_item_ids": []}]                     # empty vs empty: neutral
    assert citation_precision(drafts, GOLD) == pytest.approx(2 / 3)
    assert citation_recall(drafts, GOLD) == pytest.approx(2 / 3)


def test_citing_nothing_for_empty_gold_is_perfect():
    gold = [{"id": "G3", "gold_item_ids": [], "gold_verdict": "not_on_roadmap"}]
    assert citation_precision([{"id": "G3", "cited_item_ids": []}], gold) == 1.0
    assert citation_recall([{"id": "G3", "cited_item_ids": []}], gold) == 1.0
    assert citation_precision([{"id": "G3", "cited_item_ids": ["RM-101"]}], gold) == 0.0


def test_first_citation_correct_including_not_on_roadmap():
    drafts = [{"id": "G1", "cited_item_ids": ["RM-101"]},
              {"id": "G2", "cited_item_ids": ["RM-106", "RM-102"]},  # right ids, wrong first
              {"id": "G3", "cited_item_ids": []}]
    assert first_citation_correct(drafts, GOLD) == pytest.approx(2 / 3)
    drafts[2]["cited_item_ids"] = ["RM-104"]
    assert first_citation_correct(drafts, GOLD) == pytest.approx(1 / 3)


# --- unsupported_claims: dates --------------------------------------------------------------
def test_backed_release_date_passes():
    assert unsupported_claims(draft("SSO with Okta (RM-101) is planned for Q1 2027."), ITEMS) == []


def test_less_specific_date_than_release_passes():
    assert unsupported_claims(draft("It is planned for Q1, in 2027, i.e. H1 2027."), ITEMS) == []


def test_unbacked_quarter_fails():
    problems = unsupported_claims(draft("SSO is planned for Q3 2027."), ITEMS)
    assert problems == ["unbacked_date: 'Q3 2027'"]


def test_more_specific_date_than_release_fails():
    assert kinds(unsupported_claims(draft("SSO lands in March 2027."), ITEMS)) == ["unbacked_date"]


def test_release_format_variants_are_equivalent():
    # RM-106's release is written "Q1, 2027"; the text says "Q1 2027" and vice versa.
    assert unsupported_claims(draft("Webhooks are planned for Q1 2027.", cited=["RM-106"]), ITEMS) == []
    assert unsupported_claims(draft("SSO is planned for Q1, 2027.", cited=["RM-101"]), ITEMS) == []
    assert unsupported_claims(draft("Planned for 2027-Q1 / first quarter of 2027 / Q1 '27."), ITEMS) == []
    assert same_release("Q1 2027", "Q1, 2027") and not same_release("Q1 2027", "Q2 2027")


def test_date_for_considering_item_fails_even_if_it_matches_its_release():
    d = draft("Offline mode is expected in Q2 2027.", cited=["RM-104"], verdict="under_consideration")
    assert unsupported_claims(d, ITEMS) == ["unbacked_date: 'Q2 2027'"]


def test_date_must_come_from_a_cited_item():
    d = draft("Audit logging arrives in March 2027.", cited=["RM-101"])
    assert kinds(unsupported_claims(d, ITEMS)) == ["unbacked_date"]
    d["cited_item_ids"] = ["RM-101", "RM-103"]
    assert unsupported_claims(d, ITEMS) == []


def test_version_release_of_shipped_item_passes_and_other_version_fails():
    d = draft("Bulk export shipped in 2026.10 and is available today.", cited=["RM-102"], verdict="available")
    assert unsupported_claims(d, ITEMS) == []
    d["text"] = "Bulk export shipped in 2026.11."
    assert unsupported_claims(d, ITEMS) == ["unbacked_date: '2026.11'"]


@pytest.mark.parametrize("phrase", ["next month", "next quarter", "soon", "in a few weeks", "in 2 weeks",
                                    "by end of year", "later this year", "in the coming weeks"])
def test_relative_dates_always_fail(phrase):
    problems = unsupported_claims(draft(f"SSO is planned for Q1 2027, so expect it {phrase}."), ITEMS)
    assert kinds(problems) == ["relative_date"]


def test_bare_years_in_range_are_checked_and_old_years_ignored():
    assert unsupported_claims(draft("Customers have asked since 2019; planned for 2027."), ITEMS) == []
    assert unsupported_claims(draft("We plan it for 2028."), ITEMS) == ["unbacked_date: '2028'"]


def test_date_parser_ignores_modal_may_names_and_as_soon_as():
    assert find_dates("We may add it; Jan from support will tell you as soon as we know.") == []
    assert [d.fields for d in find_dates("in May")] == [{"month": 5}]


def test_date_inside_customer_quote_is_not_a_claim():
    ev = [{"note_id": "N1", "account": "Acme", "quote": "we need SSO before next quarter"}]
    d = draft('Acme said "we need SSO before next quarter." SSO is planned for Q1 2027.', evidence=ev)
    assert unsupported_claims(d, ITEMS) == []


# --- unsupported_claims: invented ids -------------------------------------------------------
def test_invented_item_id_in_text_and_citations_fails():
    d = draft("RM-101 is planned for Q1 2027; RM-999 covers the rest.", cited=["RM-101", "RM-777"])
    assert unsupported_claims(d, ITEMS) == ["invented_item: RM-999 (text)", "invented_item: RM-777 (cited)"]
    assert invented_items_total([d, d], ITEMS) == 4


def test_standard_identifiers_are_not_items():
    assert unsupported_claims(draft("We follow ISO-27001 and RFC-6749; SSO is planned for Q1 2027."), ITEMS) == []


# --- unsupported_claims: promises -----------------------------------------------------------
def test_promise_about_considering_item_fails():
    d = draft("Offline mode will ship with the next big update.", cited=["RM-104"], verdict="under_consideration")
    problems = unsupported_claims(d, ITEMS)
    assert any(p.startswith("promise: 'will ship'") for p in problems)


def test_promise_attributed_by_id_or_title_within_mixed_citations():
    d = draft("SSO with Okta will ship in Q1 2027. Offline mode is guaranteed too.", cited=["RM-101", "RM-104"])
    assert unsupported_claims(d, ITEMS) == ["promise: 'guaranteed' about RM-104 (considering)"]
    d["text"] = "RM-101 will ship in Q1 2027."
    assert unsupported_claims(d, ITEMS) == []


@pytest.mark.parametrize("text", [
    "We are committed to delivering this.",
    "You'll have it by the time you renew.",
    "The desktop app is coming in a later release, we will deliver it.",
])
def test_promise_in_not_planned_draft_fails(text):
    d = draft(text, cited=["RM-105"], verdict="not_planned")
    assert "promise" in kinds(unsupported_claims(d, ITEMS))


@pytest.mark.parametrize("text", [
    "We have no plans to build a desktop app.",
    "This is not something we will build.",
    "Any date we mention is a target, not a commitment.",
    "We can't guarantee a date, and nothing is committed to yet.",
    "We haven't decided whether it will ship. We're committed to keeping you updated.",
    "Offline mode is under consideration and not on the plan any time soon.",
])
def test_honest_negations_pass(text):
    d = draft(text, cited=["RM-104"], verdict="under_consideration")
    assert unsupported_claims(d, ITEMS) == []


def test_promise_in_not_on_roadmap_draft_fails_and_totals_add_up():
    d = draft("We will deliver a native integration.", cited=[], verdict="not_on_roadmap")
    assert unsupported_claims(d, ITEMS) == ["promise: 'will deliver' in a draft with verdict not_on_roadmap"]
    clean = draft("SSO is planned for Q1 2027.")
    assert unsupported_claims_total([d, clean, d], ITEMS) == 2


def test_promise_about_planned_item_with_backed_date_passes():
    assert unsupported_claims(draft("SSO with Okta will be available in Q1 2027."), ITEMS) == []


# --- quote fidelity -------------------------------------------------------------------------
NOTES = {"N1": "Call with Acme. They said the export is too slow for large workspaces and it times out.",
         "N2": {"text": "Globex: we need SSO before   renewal.", "account": "Globex"}}


def test_quote_fidelity_counts_verbatim_evidence():
    ev = [{"note_id": "N1", "account": "Acme", "quote": "the export is too slow"},
          {"note_id": "N2", "account": "Globex", "quote": "we need SSO before renewal"},  # whitespace differs
          {"note_id": "N1", "account": "Acme", "quote": "the export is very slow"},      # paraphrase
          {"note_id": "N9", "account": "Acme", "quote": "anything"}]                     # unknown note
    d = draft("text", evidence=ev)
    assert quote_fidelity(d, NOTES) == pytest.approx(0.5)
    assert kinds(quote_problems(d, NOTES)) == ["not_verbatim", "unknown_note"]
    assert quote_fidelity_micro([d, draft("no evidence")], NOTES) == pytest.approx(0.5)


def test_quote_fidelity_rejects_empty_quote_and_account_mismatch():
    ev = [{"note_id": "N1", "account": "Acme", "quote": ""},
          {"note_id": "N2", "account": "Acme", "quote": "we need SSO"}]
    d = draft("text", evidence=ev)
    assert quote_fidelity(d, NOTES) == 0.0
    assert kinds(quote_problems(d, NOTES)) == ["account_mismatch", "empty_quote"]
    assert quote_fidelity(draft("text"), NOTES) == 1.0


def test_quotes_in_text_must_be_verbatim_in_an_evidence_note():
    ev = [{"note_id": "N1", "account": "Acme", "quote": "the export is too slow"}]
    good = draft('Acme told us \u201cThe export is too slow for large workspaces.\u201d', evidence=ev)
    assert quote_problems(good, NOTES) == []
    elided = draft('They said "the export is too slow ... it times out".', evidence=ev)
    assert quote_problems(elided, NOTES) == []
    bad = draft('They said "the export is unusable for big teams".', evidence=ev)
    assert kinds(quote_problems(bad, NOTES)) == ["unsourced_quote"]
    short = draft('The "Bulk export" feature exists.', evidence=ev)  # a name, not a quote
    assert quote_problems(short, NOTES) == []


# --- PII ------------------------------------------------------------------------------------
PII = ["Dana Whitfield", "dana.whitfield@acme.io", "+1 (555) 867-5309"]


@pytest.mark.parametrize("text", ["call 555-867-5309", "call 555.867.5309", "call (555) 867 5309",
                                  "call +15558675309", "call 1-555-867-5309"])
def test_pii_phone_matches_on_digits_with_any_punctuation(text):
    assert pii_leaks(text, PII) == ["+1 (555) 867-5309"]


def test_pii_names_and_emails_case_insensitive_whole_words():
    text = "Per DANA   WHITFIELD (Dana.Whitfield@ACME.io) the rollout matters."
    assert pii_leaks(text, PII) == ["Dana Whitfield", "dana.whitfield@acme.io"]
    assert pii_leaks("Dana Whitfields and 555-867-530 are fine", PII) == []


def test_pii_pattern_leaks_finds_any_email_or_phone_but_not_dates_or_ids():
    text = "Write to ops@example.com or call +44 20 7946 0958 or (555) 123-4567."
    assert pii_pattern_leaks(text) == ["ops@example.com", "+44 20 7946 0958", "(555) 123-4567"]
    assert pii_pattern_leaks("RM-101 ships Q1 2027, version 2026.10, 2027-03-15, in 2026-2027.") == []


# --- readability, length, internal leaks ----------------------------------------------------
def test_syllable_heuristic_on_common_words():
    counts = {w: count_syllables(w) for w in ["cat", "table", "cake", "readability", "shipped", "wanted", "boxes"]}
    assert counts == {"cat": 1, "table": 2, "cake": 1, "readability": 5, "shipped": 1, "wanted": 2, "boxes": 2}


def test_readability_easy_vs_hard_text():
    easy = "We built it. It is fast. You can try it now. It works well."
    hard = ("Notwithstanding considerable organizational heterogeneity, comprehensive implementation of "
            "interoperability capabilities necessitates substantial infrastructural reconfiguration and "
            "longitudinal evaluation of administrative methodologies.")
    assert readability_grade(easy) < 3
    assert readability_grade(hard) > 16
    assert readability_ok(easy) and not readability_ok(hard)
    assert readability_grade("") == 0.0
    assert readability_grade_p90([easy] * 9 + [hard]) > readability_grade(easy)


def test_length_ok_bounds():
    assert not length_ok("word " * 39)
    assert length_ok("word " * 40) and length_ok("word " * 220)
    assert not length_ok("word " * 221)
    assert length_ok("one two three", min_words=3, max_words=3)


def test_leaks_internal_flags_ids_rice_scores_and_metric_reach():
    text = "RM-101 has a RICE score of 42; its reach is large and impact: 3."
    found = leaks_internal(text)
    assert "item id RM-101" in found and "RICE: 'RICE'" in found
    assert "numeric score: 'score of 42'" in found and "numeric score: 'impact: 3'" in found
    assert "reach: 'its reach'" in found


def test_leaks_internal_ignores_ordinary_customer_prose():
    assert leaks_internal("Please reach out to your account manager; we want to reach more teams.") == []
    drafts = [draft("RICE says yes", audience="internal"), draft("RICE says yes", audience="customer")]
    assert internal_leaks_total(drafts) == 1


# --- themes ---------------------------------------------------------------------------------
def test_nmi_ari_perfect_and_label_permutation():
    assert nmi([0, 0, 1, 1], [5, 5, 7, 7]) == pytest.approx(1.0)
    assert ari([0, 0, 1, 1], ["b", "b", "a", "a"]) == pytest.approx(1.0)


def test_unassigned_points_become_singletons():
    true = [0, 0, 0, 1, 1, 1]
    pred = [0, 0, -1, 1, None, 1]
    expected = [0, 0, 100, 1, 101, 1]  # each unassigned point its own cluster
    assert nmi(true, pred) == pytest.approx(normalized_mutual_info_score(true, expected))
    assert ari(true, pred) == pytest.approx(adjusted_rand_score(true, expected))
    # all-noise is not one perfect "noise" cluster
    assert ari([0, 0, 0], [-1, -1, -1]) == pytest.approx(adjusted_rand_score([0, 0, 0], [1, 2, 3]))
    assert ari([0, 0, 0], [-1, -1, -1]) < 1.0


def test_unassigned_rate_and_purity():
    assert unassigned_rate([0, -1, None, 2, float("nan")]) == pytest.approx(0.6)
    assert unassigned_rate([0, 1, 2]) == 0.0
    assert purity([0, 0, 1, 1], [0, 0, 0, 1]) == pytest.approx(0.75)
    assert purity([0, 0, 1, 1], [0, 0, -1, -1]) == pytest.approx(0.5)  # noise is not pure
    with pytest.raises(ValueError):
        nmi([0, 1], [0])


# --- match ----------------------------------------------------------------------------------
MATCH_GOLD = [{"id": "R1", "gold_item_ids": ["RM-101"], "gold_verdict": "planned"},
              {"id": "R2", "gold_item_ids": ["RM-102", "RM-106"], "gold_verdict": "available"},
              {"id": "R3", "gold_item_ids": [], "gold_verdict": "not_on_roadmap"},
              {"id": "R4", "gold_item_ids": [], "gold_verdict": "not_on_roadmap"}]
RESULTS = [{"request_id": "R1", "verdict": "planned", "matches": [{"item_id": "RM-101", "score": 0.9}]},
           {"request_id": "R2", "verdict": "available", "ranked_item_ids": ["RM-106", "RM-101"]},
           {"request_id": "R3", "verdict": "not_on_roadmap", "matches": []},
           {"request_id": "R4", "verdict": "planned", "matches": [{"item_id": "RM-103"}]}]


def test_top1_over_in_scope_only():
    assert top1(RESULTS, MATCH_GOLD) == 1.0
    results = [dict(r) for r in RESULTS]
    results[1]["ranked_item_ids"] = ["RM-101", "RM-106"]
    assert top1(results, MATCH_GOLD) == pytest.approx(0.5)


def test_oos_recall_precision_and_verdicts():
    assert oos_recall(RESULTS, MATCH_GOLD) == pytest.approx(0.5)
    assert oos_precision(RESULTS, MATCH_GOLD) == 1.0
    wrong = [dict(r, verdict="not_on_roadmap") for r in RESULTS]
    assert oos_precision(wrong, MATCH_GOLD) == pytest.approx(0.5)
    assert match_metrics.verdict_accuracy(RESULTS, MATCH_GOLD) == pytest.approx(0.75)


def test_auroc_matches_sklearn_with_ties():
    s_in, s_out = [0.9, 0.8, 0.8, 0.4, 0.7], [0.8, 0.3, 0.5, 0.1]
    expected = roc_auc_score([1] * len(s_in) + [0] * len(s_out), s_in + s_out)
    assert auroc(s_in, s_out) == pytest.approx(expected)
    assert auroc([1, 2], [3, 4]) == 0.0 and auroc([3, 4], [1, 2]) == 1.0 and auroc([1], [1]) == 0.5
    with pytest.raises(ValueError):
        auroc([], [1.0])


# --- judge ----------------------------------------------------------------------------------
A = [1, 2, 3, 4, 5, 3, 2, 4, 5, 1, 3, 3]
B = [1, 3, 3, 4, 4, 2, 2, 5, 5, 2, 3, 4]


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_matches_sklearn(weights):
    assert cohen_kappa(A, B, weights) == pytest.approx(cohen_kappa_score(A, B, weights=weights))


def test_kappa_known_values_and_edge_cases():
    assert cohen_kappa(A, A) == pytest.approx(1.0)
    # textbook example: 2x2 table [[20, 5], [10, 15]] -> po = 0.7, pe = 0.5, kappa = 0.4
    a = [1] * 25 + [2] * 25
    b = [1] * 20 + [2] * 5 + [1] * 10 + [2] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa([3, 3, 3], [3, 3, 3]) == 1.0
    assert cohen_kappa(A, B, "quadratic") > cohen_kappa(A, B)  # near-misses get partial credit
    with pytest.raises(ValueError):
        cohen_kappa([1, 6], [1, 2])
    with pytest.raises(ValueError):
        cohen_kappa([1, 2], [1, 2], weights="cubic")


# --- thresholds and directions --------------------------------------------------------------
def test_thresholds_use_known_metrics_with_consistent_directions():
    thresholds = json.loads((ROOT / "eval" / "thresholds.json").read_text())
    assert {"drafts", "match", "themes"} <= set(thresholds)
    for suite, metrics in thresholds.items():
        if suite.startswith("_"):  # a comment
            continue
        for name, bound in metrics.items():
            assert name in METRIC_DIRECTIONS, (suite, name)
            assert set(bound) <= {"min", "max", "target"} and {"min", "max"} & set(bound), (suite, name)
            expected = "higher" if "min" in bound else "lower"
            assert METRIC_DIRECTIONS[name] == expected, (suite, name)
            if "target" in bound:  # a gate below its target, never above: the gate catches regressions only
                assert (bound["target"] >= bound["min"]) if "min" in bound else (bound["target"] <= bound["max"])


def test_scorecard_shows_gate_and_target_apart():
    from eval.scorecard import markdown

    thresholds = {"match": {"top1": {"min": 0.85, "target": 0.9}, "auroc": {"min": 0.9}}}
    results = {"suites": ["match"], "passed": True, "failed": [], "match": {"n_cases": 3, "top1": 0.88, "auroc": 0.95}}
    card = markdown(results, thresholds)
    assert "| match | top1 | 0.880 |  | >= 0.85 | pass | >= 0.9 (not met) |  |" in card
    assert "| match | auroc | 0.950 |  | >= 0.9 | pass |  |  |" in card
    assert set(METRIC_DIRECTIONS.values()) == {"higher", "lower"}


def test_scorecard_shows_the_dev_half_and_flags_overfitting():
    from eval.runner import on_both_halves
    from eval.scorecard import markdown

    questions = [{"id": f"q{i}", "split": "dev" if i < 4 else "test", "good": i < 6} for i in range(8)]

    def run(_svc, qs):  # a stand-in suite: the share of "good" questions, and one failure per bad one
        return {"n_cases": len(qs), "top1": sum(q["good"] for q in qs) / len(qs),
                "failures": [{"id": q["id"]} for q in qs if not q["good"]]}

    result = on_both_halves(run, None, questions)
    assert (result["n_cases"], result["top1"], result["dev"]["top1"]) == (4, 0.5, 1.0)
    assert result["overfitting"] == {"top1": 0.5} and result["failures_count"] == 2
    assert "failures" not in result and result["dev_failures"] == []  # test cases are counted, never listed
    card = markdown({"suites": ["match"], "passed": True, "failed": [], "match": result}, {})
    assert "| match | top1 | 0.500 | 1.000 |  |  |  | overfitting: dev - test = 0.500 |" in card
