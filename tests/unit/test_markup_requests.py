"""A request pasted with Markdown or HTML is matched on its words: the markup changes no score and no verdict."""
from __future__ import annotations

import pytest

from service.text import plain_text

ITEMS = [
    {"id": "EXP", "title": "Background CSV exports for large reports", "status": "Released",
     "description": "Exports above 50,000 rows run as background jobs and arrive by email.", "tags": ["exports", "csv"]},
    {"id": "SCIM", "title": "SCIM user provisioning from Okta", "status": "In development",
     "description": "Create, update and deactivate users automatically from your identity provider."},
    {"id": "SSO", "title": "SAML single sign-on", "status": "Shipped",
     "description": "Log in through Okta or Azure AD with SAML 2.0.", "tags": ["sso", "login"]},
    {"id": "ONP", "title": "On-premises installation", "status": "Won't do",
     "description": "Run the product inside your own data center."},
]
NOTES = [{"id": "n-1", "text": "Our CSV exports time out on large reports.", "account": "Acme"},
         {"id": "n-2", "text": "We need users created automatically from Okta.", "account": "Brightwater"}]


@pytest.mark.parametrize("marked, plain", [
    ("**SCIM** provisioning for `Okta` users?", "SCIM provisioning for Okta users?"),
    ("<p>Do you support <b>SAML</b> &amp; SCIM?</p>", "Do you support SAML & SCIM?"),
    ("<div>Exports\n<br>time out</div>\n", "Exports time out"),
    ("> Can we export to CSV?\n> Thanks, Pat", "Can we export to CSV? Thanks, Pat"),
    ("- CSV exports\n- SSO via Okta", "CSV exports SSO via Okta"),
    ("Check [the docs](https://example.com/x) and ![diagram](d.png)", "Check the docs and diagram"),
    ("```\nexport --all\n```", "export --all"),
])
def test_markup_is_taken_off_and_the_words_stay_in_order(marked, plain):
    assert plain_text(marked) == plain


@pytest.mark.parametrize("text", [
    "Exports time out at 5*3 = 15 minutes, latency < 200ms, a_b_c fields and 50% off!",
    "Does SSO work with Okta? We also need SCIM.",
    "Ünïcödé wörds, emoji 👇 and a URL https://example.com/a_b?x=1",
    "",
])
def test_text_without_markup_comes_back_unchanged(text):
    assert plain_text(text) == " ".join(text.split())


@pytest.fixture
def loaded(client):
    assert client.post("/api/v1/roadmap/items", json=ITEMS).status_code == 201
    assert client.post("/api/v1/notes", json=NOTES).status_code == 201
    return client


def test_a_marked_up_request_gets_the_decision_of_its_words(loaded):
    pairs = [("Do you have SCIM provisioning for Okta users?",
              "<p>Do you have <b>SCIM</b> provisioning for <i>Okta</i> users?</p>"),
             ("Our CSV exports time out on large reports", "> **Our CSV exports** time out on `large reports`"),
             ("Can you cater our offsite lunch?", "- _Can you cater our offsite lunch?_")]
    body = [{"id": f"{k}{n}", "text": t} for n, pair in enumerate(pairs) for k, t in zip("pm", pair)]
    results = {r["id"]: r for r in loaded.post("/api/v1/match?min_score=0", json=body).get_json()["results"]}
    for n in range(len(pairs)):
        assert results[f"m{n}"]["verdict"] == results[f"p{n}"]["verdict"]
        assert results[f"m{n}"]["matches"] == results[f"p{n}"]["matches"]
    assert results["p0"]["matches"][0]["item_id"] == "SCIM" and results["p2"]["verdict"] == "not_on_roadmap"


def test_a_request_that_is_only_markup_is_matched_as_written(loaded):
    resp = loaded.post("/api/v1/match", json=[{"id": "x", "text": "<br>"}])
    assert resp.status_code == 200 and resp.get_json()["results"][0]["verdict"] == "not_on_roadmap"
