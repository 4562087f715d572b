"""Roadmap matcher: lexical exact terms, evidence, abstention, determinism, batch == single, verdicts.

Fast tests use the hashing embedder or a noise embedder (no dense signal at all); one test uses the real model.
"""
from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from service.embedding import HashingEmbedder
from service.roadmap.lexical import BM25, expand_compounds, packaged_vocabulary, stem
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


def test_a_pool_of_statements_bridges_customer_words_to_a_title():
    """A single request with no word in common with a title still finds it through stored statements that use both."""
    items = [{"id": "sso", "title": "SSO login"}, {"id": "gantt", "title": "Gantt chart"},
             {"id": "pdf", "title": "PDF reports"}]
    embedder = HashingEmbedder()
    pool_texts = [f"okta sign in for sso login {n}" for n in range(30)] + \
                 [f"timeline view gantt chart {n}" for n in range(30)] + [f"printable pdf reports {n}" for n in range(30)]
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


def test_lexical_helpers():
    assert {stem(w) for w in ("exports", "exporting", "exported", "export")} == {"export"}
    assert stem("provisioning") == stem("provisioned")
    if packaged_vocabulary():  # the packaged model ships the vocabulary used to split glued identifiers
        assert expand_compounds("email_querycontact", packaged_vocabulary()) == "email query contact"
        assert expand_compounds("general_negate", packaged_vocabulary()) == "general negate"
    scores = BM25(["SCIM provisioning", "Snowflake connector"]).saturated(["scim please", "nothing relevant"])
    assert scores[0, 0] > 0.3 and scores[0, 1] == 0 and not scores[1].any()


def test_lexical_morphology_and_function_words():
    vocab = frozenset({"embedded", "share", "ship", "snap", "pier", "speed", "add"})
    # A doubled consonant is undoubled, and a short word is not mistaken for a past tense: the request's "embed"
    # meets the item's "embedded"/"embedding"; "speed" and "added" keep their stems.
    assert {stem(w, vocab) for w in ("embed", "embedded", "embedding")} == {"embed"}
    assert {stem(w, vocab) for w in ("ship", "shipped", "shipping")} == {"ship"}
    assert stem("speed", vocab) == "speed" and stem("added", vocab) == "add"
    assert stem("shared", vocab) == stem("share", vocab)
    # An inflected word the dictionary lacks is not a glued compound: "snappier" must not match "snap grid".
    assert expand_compounds("snappier", vocab) == "snappier"
    assert expand_compounds("snappier", vocab | {"snappy"}) == "snappier"
    # A "re-" word the dictionary lacks also carries its verb ("resell" meets "sell"); dictionary words stay whole.
    from service.roadmap.lexical import tokenize

    words = vocab | {"sell", "sync", "report", "port"}
    assert tokenize("resell resync", words) == ["resell", "sell", "resync", "sync"]
    assert tokenize("report", words) == ["report"]
    # Pronouns and quantifiers ("their own", "every") say nothing about a topic.
    scores = BM25(["Portal resold under their own name", "Sync every 15 minutes"], vocabulary=vocab).saturated(
        ["can their team see it every day on their own"])
    assert not scores.any()


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


def test_copies_of_a_pool_statement_share_one_vote_among_a_requests_neighbours():
    """Notes repeat lines; eight copies of one statement must not outvote the one neighbour that is about the request."""
    embedder = HashingEmbedder()
    repeated = "said the new dashboard editor is a big step up"
    words = sorted(packaged_vocabulary())[1000:1060]  # 60 distinct other statements
    pool_texts = [repeated] * 8 + [f"they asked about {w} and okta logins" for w in words]
    matcher = RoadmapMatcher().fit(ITEMS, embedder, pool_vectors=embedder.embed(pool_texts))
    state = matcher.state
    copies = state["pool_copies"]
    assert len(set(copies[:8])) == 1 and copies[0] not in copies[8:]  # the 8 copies are one statement, and only they
    idx, _ = matcher._neighbourhood(embedder.embed([repeated]), state)
    shares = matcher._shares(idx, state)
    is_copy = np.isin(idx, np.arange(8))
    assert is_copy.sum() == 8 and np.allclose(shares[is_copy], 1 / 8) and np.allclose(shares[~is_copy], 1.0)
    # Together the copies weigh what one statement weighs: the same as when the pool holds the line once.
    assert np.isclose(shares[is_copy].sum(), 1.0)


def test_a_request_for_the_opposite_action_counts_against_an_item():
    vocab = packaged_vocabulary()
    bm25 = BM25(["Large-volume Excel export", "Import and export of dashboards", "Disable users in bulk"],
                vocabulary=vocab)
    against = bm25.contradicted(["Can we import their Tableau workbooks?", "Can we export to Excel?",
                                 "We need to import and export dashboards", "enable users in bulk"])
    assert against[0, 0] > 0.3 and against[0, 1] == 0  # an item about both directions contradicts neither
    assert not against[1].any() and not against[2].any()  # the asked word itself, or both words: no contradiction
    assert against[3, 2] > 0.3 and against[3, :2].sum() == 0
    assert (against >= 0).all() and (against < 1).all()
    # Everyday verbs are not directions: "stop them from downloading" says nothing against an item that starts jobs.
    assert not BM25(["Start scheduled jobs"], vocabulary=vocab).contradicted(["stop them from downloading"]).any()
    # Through the matcher: with no dense signal at all, "import" lowers the export item below the same request
    # that asks to export.
    matcher = RoadmapMatcher().fit(ITEMS, NoiseEmbedder())
    imported, exported = matcher.match(["can we import large csv files", "can we export large csv files"])
    assert score_of(imported, "csv") < score_of(exported, "csv")
    assert exported.item_id == "csv" and imported.item_id != "csv"
