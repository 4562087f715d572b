"""Roadmap matcher and text handling: exact terms, evidence, abstention, determinism, batch == single, verdicts.

Fast tests use the hashing embedder or a noise embedder (no dense signal at all); one test uses the real model.
"""
from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from service.embedding import HashingEmbedder
from service.text import BM25, STOP_WORDS, sentence_spans, sentences, stem, terms
from service.roadmap.matcher import NOT_ON_ROADMAP, MatchResult, RoadmapItem, RoadmapMatcher, verdict

ITEMS = [
    {"id": "snowflake", "title": "Snowflake connector", "status": "in_progress", "tags": ["integrations", "data"],
     "description": "Sync feedback data into a Snowflake warehouse on a schedule."},
    {"id": "scim", "title": "SCIM provisioning", "status": "planned", "tags": ["security", "identity"],
     "description": "Automatic user provisioning and deprovisioning from Okta and Azure AD."},
    {"id": "baa", "title": "HIPAA BAA", "status": "considering", "tags": ["compliance"],
     "description": "Sign a business associate agreement for customers handling protected health information."},
    {"id": "csv", "title": "CSV export performance", "status": "shipped", "tags": ["export"],
     "description": "Make large CSV exports finish in seconds instead of minutes."},
    {"id": "audit", "title": "Audit log", "status": "planned", "tags": ["security", "compliance"],
     "description": "A record of who changed what and when, for admins."},
    {"id": "mobile", "title": "Mobile app", "status": "not_planned", "tags": ["mobile"],
     "description": "Native iOS and Android apps."},
]


class NoiseEmbedder:
    """Unit vectors that depend on the whole text and nothing else: the dense side carries no meaning at all."""

    name, dim = "noise", 384

    def embed(self, texts):
        out = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).normal(size=self.dim)
               for t in texts]
        vectors = np.array(out, dtype=np.float32).reshape(len(texts), self.dim)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class CountingEmbedder(HashingEmbedder):
    def __init__(self):
        super().__init__()
        self.calls: list[int] = []

    def embed(self, texts):
        self.calls.append(len(texts))
        return super().embed(texts)


def rank_of(result: MatchResult, item_id: str) -> int:
    return [m["item_id"] for m in result.matches].index(item_id)


def score_of(result: MatchResult, item_id: str) -> float:
    return next(m["score"] for m in result.matches if m["item_id"] == item_id)


@pytest.fixture(scope="module")
def hashing_matcher():
    return RoadmapMatcher().fit(ITEMS, HashingEmbedder())


def test_exact_product_term_wins_when_dense_says_nothing():
    with_lexical = RoadmapMatcher().fit(ITEMS, NoiseEmbedder())
    without = RoadmapMatcher(lexical_weight=0.0).fit(ITEMS, NoiseEmbedder())
    for request, item in [("Does the product support SCIM?", "scim"), ("legal asks whether you sign a BAA", "baa"),
                          ("is there a snowflake integration yet", "snowflake")]:
        hit = with_lexical.match([request], top_k=6)[0]
        assert hit.matches[0]["item_id"] == item, hit
        assert score_of(hit, item) > score_of(without.match([request], top_k=6)[0], item)


def test_abstains_on_unrelated_request_and_accepts_related(hashing_matcher):
    lunch, scim = hashing_matcher.match(["can you cater our offsite lunch", "we need scim provisioning from okta"])
    assert not lunch.in_scope and lunch.item_id is None and lunch.verdict == NOT_ON_ROADMAP
    assert lunch.confidence < 0.5
    assert scim.in_scope and scim.item_id == "scim" and scim.verdict == "planned" and scim.confidence >= 0.5


def test_confirmed_evidence_improves_later_matches_phrased_like_it():
    request = "who deleted our dashboard last tuesday"
    before = RoadmapMatcher().fit(ITEMS, HashingEmbedder()).match([request], top_k=6)[0]
    items = [dict(i, evidence=["we need to know who deleted a dashboard"]) if i["id"] == "audit" else i for i in ITEMS]
    after = RoadmapMatcher().fit(items, HashingEmbedder()).match([request], top_k=6)[0]
    assert score_of(after, "audit") > score_of(before, "audit") + 0.3
    assert after.item_id == "audit" and after.in_scope and not before.in_scope


def test_scores_are_bounded_sorted_and_agree_with_the_decision(hashing_matcher):
    requests = ["csv exports are really slow", "okta sign in broken", "my cat sits on the keyboard"]
    for result in hashing_matcher.match(requests, top_k=6):
        scores = [m["score"] for m in result.matches]
        assert len(scores) == 6 and all(0.0 <= s <= 1.0 for s in scores)
        assert scores == sorted(scores, reverse=True)
        assert result.in_scope == (result.confidence >= 0.5) == (result.item_id is not None)


def test_ranking_is_deterministic_and_ties_keep_roadmap_order(hashing_matcher):
    requests = ["can you cater our offsite lunch", "csv exports are really slow", "sign a baa"]
    first = [r.to_dict() for r in hashing_matcher.match(requests, top_k=6)]
    again = [r.to_dict() for r in RoadmapMatcher().fit(ITEMS, HashingEmbedder()).match(requests, top_k=6)]
    assert first == again
    twins = [{"id": "b", "title": "Dark mode"}, {"id": "a", "title": "Dark mode"}, {"id": "c", "title": "Gantt chart"}]
    result = RoadmapMatcher().fit(twins, HashingEmbedder()).match(["dark mode please"], top_k=3)[0]
    assert [m["item_id"] for m in result.matches][:2] == ["b", "a"]


@pytest.mark.parametrize("pool_size", [0, 80])
def test_batch_equals_single_on_the_non_transductive_path(pool_size):
    embedder = HashingEmbedder()
    pool = embedder.embed([f"statement {i} about exports and okta logins" for i in range(pool_size)]) if pool_size else None
    matcher = RoadmapMatcher().fit(ITEMS, embedder, pool_vectors=pool)
    requests = ["csv exports are really slow", "can you cater our offsite lunch", "SCIM with okta", "iphone app?"]
    batch = matcher.match(requests, transductive=False)
    single = [matcher.match([r], transductive=False)[0] for r in requests]
    for b, s in zip(batch, single):
        assert [m["item_id"] for m in b.matches] == [m["item_id"] for m in s.matches]
        assert np.allclose([m["score"] for m in b.matches], [m["score"] for m in s.matches], atol=1e-5)
        assert (b.in_scope, b.verdict) == (s.in_scope, s.verdict)


def test_one_embedder_call_per_batch_and_none_with_precomputed_vectors():
    embedder = CountingEmbedder()
    matcher = RoadmapMatcher().fit(ITEMS, embedder)
    assert embedder.calls and len(embedder.calls) == 1  # every view of every item in one call
    requests = [f"csv export number {i} is slow" for i in range(120)]
    matcher.match(requests)
    assert embedder.calls[1:] == [120]
    vectors = HashingEmbedder().embed(requests)
    assert [r.to_dict() for r in matcher.match(requests, vectors=vectors)] == \
        [r.to_dict() for r in matcher.match(requests)]
    assert embedder.calls[1:] == [120, 120]
    with pytest.raises(ValueError, match="vectors for"):
        matcher.match(requests, vectors=vectors[:3])


BRIDGE_ITEMS = [{"id": "sso", "title": "SSO login"}, {"id": "gantt", "title": "Gantt chart"},
                {"id": "pdf", "title": "PDF reports"}]
BRIDGE_POOL = [f"okta sign in for sso login {n}" for n in range(30)] + \
              [f"timeline view gantt chart {n}" for n in range(30)] + [f"printable pdf reports {n}" for n in range(30)]


def test_a_pool_of_statements_bridges_customer_words_to_a_title():
    """A single request with no word in common with a title still finds it through stored statements that use both."""
    items, embedder, pool_texts = BRIDGE_ITEMS, HashingEmbedder(), BRIDGE_POOL
    request = "okta sign in is broken"
    cold = RoadmapMatcher().fit(items, embedder).match([request], top_k=3)[0]
    warm = RoadmapMatcher().fit(items, embedder, pool_vectors=embedder.embed(pool_texts)).match([request], top_k=3)[0]
    assert warm.item_id == "sso" and warm.in_scope
    assert score_of(warm, "sso") > score_of(cold, "sso")


def test_verdict_mapping_and_item_validation():
    assert {s: verdict(s) for s in ("shipped", "in_progress", "planned", "considering", "not_planned")} == {
        "shipped": "available", "in_progress": "in_progress", "planned": "planned",
        "considering": "under_consideration", "not_planned": "not_planned"}
    assert verdict(None) == NOT_ON_ROADMAP == "not_on_roadmap"
    with pytest.raises(ValueError, match="unknown roadmap status"):
        verdict("someday")
    with pytest.raises(ValueError, match="unknown roadmap status"):
        RoadmapMatcher().fit([{"id": 1, "title": "x", "status": "maybe"}, ITEMS[0]], HashingEmbedder())
    with pytest.raises(ValueError, match="unique"):
        RoadmapMatcher().fit([ITEMS[0], ITEMS[0]], HashingEmbedder())
    item = RoadmapItem.coerce({"id": 7, "title": "Audit log", "tags": "security, compliance", "evidence": "who did it"})
    assert (item.id, item.tags, item.evidence) == ("7", ["security", "compliance"], ["who did it"])


def test_text_module_stems_stops_and_scores_with_libraries():
    assert {stem(w) for w in ("exports", "exporting", "exported", "export")} == {"export"}
    assert stem("provisioning") == stem("provisioned")
    # Function words (pronouns, quantifiers, auxiliaries) carry no topic; "_" separates words in intent labels.
    assert terms("Can their team see it on their own?") == ["team", "see"]
    assert terms("ORDER_STATUS") == ["order", "status"]
    assert {"their", "own", "the", "is"} <= STOP_WORDS and "export" not in STOP_WORDS
    scores = BM25(["SCIM provisioning", "Snowflake connector"]).saturated(["scim please", "nothing relevant"])
    assert scores[0, 0] > 0.3 and scores[0, 1] == 0 and not scores[1].any()
    assert (scores >= 0).all() and (scores < 1).all()
    empty_doc = BM25(["", "Snowflake"]).score(["snowflake"])  # an item with no words scores nothing, and breaks nothing
    assert empty_doc[0, 0] == 0 and empty_doc[0, 1] > 0


def test_one_sentence_splitter_with_exact_offsets():
    text = "Exports time out, e.g. on Mondays. Q1 is fine!\nThey want SCIM?  Yes"
    spans = sentence_spans(text)
    assert [s.text for s in spans] == ["Exports time out, e.g. on Mondays.", "Q1 is fine!", "They want SCIM?", "Yes"]
    assert all(text[s.start:s.end] == s.text for s in spans)
    assert sentences("") == [] and sentences("   ") == []


@pytest.mark.parametrize("with_pool", [False, True])
def test_a_one_item_roadmap_matches_and_declines_without_errors(with_pool):
    embedder = HashingEmbedder()
    pool = embedder.embed([f"statement {i} about csv exports" for i in range(60)]) if with_pool else None
    for lexical in (0.5, 0.0):
        matcher = RoadmapMatcher(lexical_weight=lexical).fit([ITEMS[3]], embedder, pool_vectors=pool)
        results = matcher.match(["csv exports are slow", "can you cater our offsite lunch"], transductive=False)
        assert [r.matches[0]["item_id"] for r in results] == ["csv", "csv"]
        assert all(0.0 <= r.confidence <= 1.0 for r in results)
        assert results[0].confidence > results[1].confidence


def test_explain_names_the_closest_item_text_and_shared_terms(hashing_matcher):
    request = "csv exports are really slow"
    vectors = HashingEmbedder().embed([request])
    why = hashing_matcher.explain([request], vectors, ["csv"])[0]
    assert why["item_id"] == "csv" and why["kind"] in ("title", "description")
    assert why["closest_text"] in hashing_matcher.view_texts and {"csv", "export"} <= set(why["shared_terms"])


@pytest.mark.model
def test_real_model_matches_customer_wording_and_declines_off_topic():
    from service.embedding import get_embedder

    cases = [
        ("our data team wants everything to land in our cloud data warehouse automatically", "snowflake"),
        ("when someone leaves the company their account should be removed automatically by our identity provider",
         "scim"),
        ("we are a hospital and legal needs you to sign paperwork before we can store patient information", "baa"),
        ("downloading a spreadsheet of all responses takes forever and times out", "csv"),
        ("security wants to see a history of which admin modified settings", "audit"),
        ("can my sales reps use this on their phones while travelling", "mobile"),
    ]
    off_topic = ["can you cater our offsite lunch", "what is the weather going to be like tomorrow in paris",
                 "please book me a flight to denver next tuesday", "my cat keeps knocking things off the table"]
    titles = {i["id"]: set(re.findall(r"[a-z]+", i["title"].lower())) for i in ITEMS}
    for request, item in cases:  # the point: no word of the request appears in its item's title
        assert not titles[item] & set(re.findall(r"[a-z]+", request.lower()))
    matcher = RoadmapMatcher().fit(ITEMS, get_embedder())
    results = matcher.match([r for r, _ in cases] + off_topic, top_k=3)
    for (request, item), result in zip(cases, results):
        assert result.item_id == item and result.in_scope, (request, result.matches)
    assert [r.verdict for r in results[len(cases):]] == [NOT_ON_ROADMAP] * len(off_topic)
    assert min(r.confidence for r in results[:len(cases)]) > max(r.confidence for r in results[len(cases):])


def test_two_asks_are_cited_in_the_order_the_request_names_them():
    from service.roadmap.decision import Ranked, two_asks
    from service.roadmap.matcher import RoadmapItem as Item

    by_id = {"CSV": Item("CSV", "Background CSV exports", tags=["exports", "CSV"], status="shipped"),
             "XLSX": Item("XLSX", "Large Excel (XLSX) export", tags=["exports", "Excel"], status="in_progress")}
    ranked = [Ranked("XLSX", "x", "in_progress", 0.9), Ranked("CSV", "c", "shipped", 0.8)]
    both = two_asks("They export huge tables to CSV and to Excel. Story for each?", ranked, by_id)
    assert [r.item_id for r in both] == ["CSV", "XLSX"]
    assert two_asks("Excel exports of big tables time out.", ranked, by_id) is None  # CSV is not named
    declined = [ranked[0], Ranked("CSV", "c", "shipped", 0.4)]
    assert two_asks("CSV and Excel exports?", declined, by_id) is None  # only accepted items are cited


def test_self_training_learns_the_pools_wording_and_stays_off_where_the_pool_says_nothing():
    """The pool, labelled by the matcher itself, trains a classifier; a pool it wholly accepts gives no line."""
    items, embedder, about = BRIDGE_ITEMS, HashingEmbedder(), BRIDGE_POOL
    small_talk = [f"catering lunch order for the offsite number {n}" for n in range(30)]
    pool = about + small_talk
    matcher = RoadmapMatcher().fit(items, embedder, pool_vectors=embedder.embed(pool), pool_texts=pool)
    assert matcher.classifier is not None
    probs = matcher._class_probs(matcher.classifier[0], embedder.embed(["okta sign in is broken", "timeline view"]))
    assert probs.argmax(axis=1).tolist() == [0, 1]  # customer words, not the title's, point at the item
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    results = matcher.match(["okta sign in is broken", "timeline view please", "lunch order for the offsite"])
    assert [r.matches[0]["item_id"] for r in results[:2]] == ["sso", "gantt"]
    assert results[0].in_scope and results[1].in_scope
    # Off: the classifier is not trained and the scores are the similarity streams' own.
    plain = RoadmapMatcher(self_training=0).fit(items, embedder, pool_vectors=embedder.embed(pool), pool_texts=pool)
    assert plain.classifier is None
    vectors = embedder.embed(["okta sign in is broken"])
    assert np.allclose(plain.scores(["okta sign in is broken"], vectors, transductive=False),
                       plain._base_scores(["okta sign in is broken"], vectors, False))
    # A pool the similarity streams accept entirely says nothing about where the line is: no classifier.
    only_about = RoadmapMatcher().fit(items, embedder, pool_vectors=embedder.embed(about), pool_texts=about)
    assert only_about.classifier is None


def test_an_item_with_linked_evidence_gets_its_own_line_and_the_others_keep_the_global_one():
    """Evidence in everyday words lifts everything near the item; its own negatives measure by how much."""
    embedder = HashingEmbedder()
    generic = [f"please help us with this problem today {n}" for n in range(3)]
    items = [dict(BRIDGE_ITEMS[0], evidence=generic)] + BRIDGE_ITEMS[1:]
    pool = BRIDGE_POOL + [f"please help us with the offsite lunch problem {n}" for n in range(30)]
    fitted = {on: RoadmapMatcher(item_thresholds=on, self_training=0).fit(
        items, embedder, pool_vectors=embedder.embed(pool), pool_texts=pool) for on in (True, False)}
    lines, line = fitted[True].state["threshold"], fitted[False].state["threshold"]
    assert np.isscalar(line) and lines.shape == (3,)
    assert lines[0] > line and np.allclose(lines[1:], line)  # only the linked item moves, and up here
    on, off = (fitted[k].scores(["help with a lunch order"])[0] for k in (True, False))
    assert on[0] < off[0]  # judged against the linked item's higher line
    assert on[1:] == pytest.approx(off[1:])
    # Still found where the customer's words are really about it.
    assert fitted[True].match(["okta sign in for sso login is broken"])[0].item_id == "sso"
    # Title-only roadmaps have one line, as before.
    assert np.isscalar(RoadmapMatcher().fit(BRIDGE_ITEMS, embedder).state["threshold"])


def test_a_linked_note_gives_only_its_statements_about_the_item_as_evidence():
    """A note covers several topics: its small talk and its other asks are not evidence for the item it was linked to."""
    from types import SimpleNamespace

    from service.roadmap.decision import _item_vectors, _note_evidence

    embedder = HashingEmbedder()
    items = [SimpleNamespace(title="SCIM provisioning", description="Deprovision users from Okta automatically"),
             SimpleNamespace(title="CSV export performance", description="Large CSV exports finish quickly"),
             SimpleNamespace(title="Audit log", description="Who changed what and when, for admins")]
    vectors = _item_vectors(embedder, items)
    note = ["They want okta to deprovision users automatically when people leave",
            "Their large csv exports time out every monday",
            "They will share the requirements doc next week"]
    assert _note_evidence(embedder, vectors, 0, note) == [note[0]]
    assert _note_evidence(embedder, vectors, 1, note) == [note[1]]
    # A note with nothing closer to the item than to another still gives its one closest statement.
    assert _note_evidence(embedder, vectors, 2, note[:2]) in ([note[0]], [note[1]])
    assert _note_evidence(embedder, vectors, 2, ["only one line"]) == ["only one line"]


def test_a_declined_score_never_reads_as_the_acceptance_line():
    from service.roadmap.decision import ACCEPTED, Ranked

    assert Ranked("A", "a", "planned", 0.49996).to_dict()["score"] < ACCEPTED
    assert Ranked("A", "a", "planned", 0.50004).to_dict()["score"] == 0.5
    assert Ranked("A", "a", "planned", 0.12344).to_dict()["score"] == 0.1234


def test_a_request_with_nothing_in_common_with_any_item_is_declined_and_never_shown_at_the_line():
    from service.roadmap.matcher import shown_score

    matcher = RoadmapMatcher().fit(ITEMS, HashingEmbedder())
    result = matcher.match(["zzzz qqqq"], top_k=len(ITEMS), transductive=False)[0]
    assert not result.in_scope and all(m["score"] < 0.5 for m in result.matches)
    assert shown_score(0.4999999) < 0.5 and shown_score(0.5) == 0.5 and shown_score(0.4999999, 4) == 0.4999
