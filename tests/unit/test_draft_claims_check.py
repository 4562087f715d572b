"""The draft check on claims no cited item backs: an offered alternative named by a term of its title, adverbs
before "live", contracted promises ("we'll deliver", "they're coming"), and the labelled set's bench."""
from __future__ import annotations

from eval import bench_draft_claims
from service.drafts.base import DraftItem
from service.drafts.checks import availability_problems, promise_problems, shared_title_terms

TITLES = ["SAML single sign-on for Okta and Azure AD", "SCIM 2.0 user and group provisioning",
          "Enterprise API rate limit tier", "Bulk and async API endpoints", "Native Snowflake connector with write-back"]
SHARED = shared_title_terms(TITLES)
SSO = DraftItem(id="RM-103", title=TITLES[0], status="shipped")
SCIM = DraftItem(id="RM-104", title=TITLES[1], status="in_progress", release="2027-Q1")
SNOWFLAKE = DraftItem(id="RM-105", title=TITLES[4], status="in_progress", release="2027-Q1")


def test_an_alternative_named_by_a_term_of_its_title_may_be_called_available():
    text = "Google sign-in is not on the roadmap, but SAML SSO is available today and works with Okta."
    assert availability_problems(text, [], [SSO], SHARED) == []
    other = "Phone support is not on the roadmap, but our mobile app is available today."
    assert availability_problems(other, [], [SSO], SHARED)


def test_already_live_about_something_no_cited_item_names_is_flagged():
    text = "SCIM is in progress, and the new reporting portal is already live for everyone."
    assert any("no cited item names" in p for p in availability_problems(text, [SCIM], [], SHARED))
    assert availability_problems("It's already live for every workspace.", [SSO], [], SHARED) == []


def test_a_contracted_promise_about_another_thing_is_flagged_and_one_about_the_item_is_not():
    uncited = "Snowflake write-back is scheduled for Q1 2027, and we'll deliver Databricks support next."
    assert any("we'll deliver" in p and "no cited item names" in p
               for p in promise_problems(uncited, "in_progress", [SNOWFLAKE], SHARED))
    about_it = "The Snowflake connector is in progress and we'll deliver it in Q1 2027."
    assert not any("no cited item names" in p for p in promise_problems(about_it, "in_progress", [SNOWFLAKE], SHARED))


def test_a_contracted_coming_is_a_promise():
    problems = promise_problems("Slack alerts aren't on the roadmap, but they're coming soon.", "not_on_roadmap", [])
    assert any("although the verdict is not_on_roadmap" in p for p in problems)


def test_the_bench_scores_both_halves_of_the_labelled_set():
    for split in ("dev", "test"):
        rows = bench_draft_claims.load(split)
        assert len(rows) == 63 and {r["split"] for r in rows} == {split}
        result = bench_draft_claims.score(rows)
        assert result["n"] == 63 and result["false_alarms"] + result["missed"] < 63
    with bench_draft_claims.emptied("_PRONOUNS"):
        assert bench_draft_claims.checks._PRONOUNS == frozenset()
    assert "it" in bench_draft_claims.checks._PRONOUNS
