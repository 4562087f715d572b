"""The per-caller daily LLM budget, against the loopback chat completions server: counted per token and UTC day in
the database (shared by every worker), drafts fall back to the template with a warning once it is spent, and an
explicit `drafter: llm` gets 429 with Retry-After."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from service.limits import LLMBudget
from tests.unit.test_drafts_api import SNOWFLAKE, seed
from tests.unit.test_drafts_llm import GOOD, reply


@pytest.fixture(autouse=True)
def _one_utc_day(monkeypatch):
    """The app's budget counts on one fixed UTC day (noon): a test that ran across midnight would start a fresh
    budget half way through and see an LLM draft where the spent budget should give the template."""
    import service.limits as limits

    noon = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)

    class Noon(datetime):
        @classmethod
        def now(cls, tz=None):
            return noon.astimezone(tz) if tz else noon.replace(tzinfo=None)

    monkeypatch.setattr(limits, "datetime", Noon)


@pytest.fixture
def budgeted(make_app, fake_openai):
    def _make(budget=2, **overrides):
        # LLM_TIMEOUT bounds a loopback reply on a busy machine; 0.5 s turned good replies into template drafts
        app = make_app(OPENAI_BASE_URL=fake_openai.base_url, LLM_MODEL="fake-model", LLM_TIMEOUT=30,
                       LLM_BACKOFF_BASE=0.01, LLM_DAILY_BUDGET=budget, **overrides)
        seed(app.extensions["feedback"])
        fake_openai.set_script([reply()])
        return app
    return _make


def draft(client, **extra):
    return client.post("/api/v1/drafts", json={"question": SNOWFLAKE, "account": "Acme Logistics", **extra})


def test_spent_budget_falls_back_to_the_template_and_says_so(budgeted, fake_openai):
    app = budgeted(budget=2)
    client = app.test_client(role="sales")
    modes = [draft(client).get_json() for _ in range(3)]
    assert [d["mode"] for d in modes] == ["llm", "llm", "grounded-template"]
    assert modes[0]["text"] == GOOD
    assert len(fake_openai.chat_requests) == 2  # the third draft sent nothing
    assert any("daily LLM budget of 2" in w and "template draft" in w for w in modes[2]["warnings"])
    assert modes[2]["checks"]["passed"] and modes[2]["verdict"] == modes[0]["verdict"]
    other = app.test_client(role="pm")  # another token has its own budget
    assert draft(other).get_json()["mode"] == "llm"
    assert len(fake_openai.chat_requests) == 3


def test_explicit_llm_drafter_gets_429_with_retry_after_when_spent(budgeted, fake_openai):
    app = budgeted(budget=1)
    client = app.test_client(role="sales")
    assert draft(client, drafter="llm").get_json()["mode"] == "llm"
    resp = draft(client, drafter="llm")
    assert resp.status_code == 429
    assert 0 < int(resp.headers["Retry-After"]) <= 86400
    error = resp.get_json()["error"]
    assert error["code"] == "too_many_requests" and "daily LLM budget of 1" in error["message"]
    assert error["details"]["field"] == "drafter"
    template = draft(client, drafter="template")
    assert template.status_code == 201 and template.get_json()["mode"] == "grounded-template"
    assert len(fake_openai.chat_requests) == 1


def test_drafter_field_is_validated(budgeted, make_app):
    client = budgeted().test_client()
    resp = draft(client, drafter="gpt")
    assert resp.status_code == 422 and "drafter must be one of" in resp.get_json()["error"]["message"]
    offline = make_app().test_client()  # no endpoint configured
    resp = draft(offline, drafter="llm")
    assert resp.status_code == 422 and "none is configured" in resp.get_json()["error"]["message"]


def test_the_count_is_in_the_database_shared_by_every_worker(budgeted, make_app, fake_openai):
    first = budgeted(budget=2)
    token = first.test_client(role="sales").environ_base["HTTP_AUTHORIZATION"]
    url = first.extensions["feedback"].config.DATABASE_URL
    second = make_app(OPENAI_BASE_URL=fake_openai.base_url, LLM_MODEL="fake-model", LLM_TIMEOUT=30,
                      LLM_BACKOFF_BASE=0.01, LLM_DAILY_BUDGET=2, DATABASE_URL=url,
                      CHROMA_PATH=first.extensions["feedback"].config.CHROMA_PATH)
    headers = {"Authorization": token}
    modes = [app.test_client(anonymous=True).post("/api/v1/drafts", headers=headers,
                                                  json={"question": SNOWFLAKE}).get_json()["mode"]
             for app in (first, second, first)]
    assert modes == ["llm", "llm", "grounded-template"]


def test_budget_counts_per_utc_day_and_only_callers(svc):
    today = [date(2026, 11, 30)]
    budget = LLMBudget(svc.db, 2, today=lambda: today[0])
    assert [budget.charge("token:1") for _ in range(3)] == [True, True, False]
    assert budget.used("token:1") == 2 and budget.spent("token:1") and not budget.spent("token:2")
    today[0] = date(2026, 12, 1)  # a new UTC day starts a new count
    assert budget.charge("token:1") and budget.used("token:1") == 1
    assert budget.charge() is True and budget.caller() is None  # outside a request (CLI, jobs): not counted
    assert LLMBudget(svc.db, None).charge("token:1")  # "none": no limit
    assert not LLMBudget(svc.db, 0).charge("token:9")  # 0: no LLM calls for API callers
    assert 0 < budget.retry_after() <= 86400
