"""QA pass on the LLM drafter against the loopback fake server: a reply that claims something no cited item backs
falls back to the template, and phone numbers written without a "+" never reach the endpoint."""
from __future__ import annotations

import json

import pytest

from service.drafts import checks
from service.drafts.base import DraftItem
from tests.unit.test_drafts_api import seed

SSO = "Do you support SAML single sign-on for Okta and Azure AD?"


def _data(body) -> dict:
    return json.loads(body["messages"][1]["content"].split("<data>")[1].split("</data>")[0])


def answer(text: str):
    """A scripted reply with this text that cites the items the request gave."""
    def reply(body):
        ids = [i["id"] for i in _data(body)["items"]]
        return {"content": json.dumps({"text": text, "cited_item_ids": ids, "quotes": []})}
    return reply


@pytest.fixture
def llm(make_app, fake_openai):
    app = make_app(OPENAI_BASE_URL=fake_openai.base_url, LLM_MODEL="fake-model", LLM_TIMEOUT=30,
                   LLM_BACKOFF_BASE=0.01)
    seed(app.extensions["feedback"])
    return app.test_client(), fake_openai


def draft(client, question=SSO, account=None) -> dict:
    r = client.post("/api/v1/drafts", json={"question": question, "account": account})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


UNBACKED = ("Good news: SAML single sign-on for Okta and Azure AD is available today. Our mobile app for iPhone is "
            "also available today, so your field team can use it on site. I can set up a short walkthrough for your "
            "team so they can try both and see how they work for your admins.")


@pytest.mark.parametrize("text, flagged", [
    ("Good news: SCIM 2.0 user and group provisioning is available today.", False),
    ("SCIM provisioning is live now, and it has already shipped.", False),
    ("Yes, it is available today for every workspace.", False),
    ("Our mobile app is live today.", True),
    ("We also support SOC 2, and our Android app has shipped.", True),
])
def test_availability_claims_must_name_or_point_back_at_a_cited_item(text, flagged):
    scim = DraftItem(id="RM-104", title="SCIM 2.0 user and group provisioning", status="shipped", release="2026.11")
    assert bool(checks.availability_problems(text, [scim])) is flagged


PROMISED = ("Good news: SAML single sign-on for Okta and Azure AD is available today. We will also add a mobile app "
            "for your field team, so they can sign in on site. I can set up a short walkthrough for your team so they "
            "can try single sign-on and see how it works for your admins.")


@pytest.mark.parametrize("reply, warning", [
    (UNBACKED, "availability claim 'available today' about something no cited item names"),
    (PROMISED, "promise 'will also add' about something no cited item names"),
])
def test_an_llm_claim_about_something_no_item_names_falls_back(llm, reply, warning):
    client, fake = llm
    fake.set_script([answer(reply)])
    d = draft(client)
    assert d["verdict"] == "available" and d["cited_item_ids"] == ["RM-103"]
    assert d["mode"] == "grounded-template" and "mobile app" not in d["text"]
    assert any(warning in w for w in d["warnings"]) and len(fake.chat_requests) == 2  # one repair, no more


@pytest.mark.parametrize("text, flagged", [
    ("It will ship in Q1 2027, which is our target.", False),
    ("We will deliver it in Q1 2027.", False),
    ("The Snowflake connector will be released in Q1 2027.", False),
    ("We will also add a BigQuery connector in the same release.", True),
    ("A mobile app is coming too.", True),
])
def test_promises_must_name_or_point_back_at_a_cited_item(text, flagged):
    item = DraftItem(id="RM-105", title="Native Snowflake connector with write-back", status="in_progress",
                     release="Q1 2027")
    # On this roadmap "connector" is in two titles, so it names neither; "Snowflake" names RM-105.
    shared = checks.shared_title_terms([item.title, "HubSpot source connector", "SCIM user provisioning"])
    assert shared == {"connector"}
    assert bool(checks.promise_problems(text, "in_progress", [item], shared)) is flagged


GOOD = ("Good news: SAML single sign-on for Okta and Azure AD is available today. It has been part of the product "
        "since our 2026.05 release. I can set up a short walkthrough for your team so your admins can try it and see "
        "how it fits the way they work.")


@pytest.mark.parametrize("phone", ["020 7946 0958", "02079460958", "07700 900123", "4155550142", "030 1234567"])
def test_phone_numbers_without_a_plus_never_reach_the_endpoint(llm, phone):
    client, fake = llm
    fake.set_script([answer(GOOD)])
    d = draft(client, f"Please call me on {phone}: do you support SAML single sign-on for Okta and Azure AD?")
    assert d["mode"] == "llm"
    sent = json.dumps(fake.chat_requests)
    assert phone not in sent and phone.replace(" ", "") not in sent and "[PHONE_1]" in sent


def test_redaction_keeps_the_bracket_after_a_phone_and_leaves_big_figures_alone():
    from service.redact import Redactor

    r = Redactor()
    assert r.redact("Dana (dana@x.example, +1 415-555-0142) asks") == "Dana ([EMAIL_1], [PHONE_1]) asks"
    assert r.mapping["[PHONE_1]"] == "+1 415-555-0142"
    for text in ("Budget 1 000 000 000 EUR on 2026-01-05 at 09:30.", "Version 0.13.0, ticket 555-0142, 01/02/2026."):
        assert Redactor().redact(text) == text
