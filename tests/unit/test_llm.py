"""LLMClient against a real loopback server: JSON parsing, schema checks, bounded retries, timeouts, no PII out."""
from __future__ import annotations

import json
import logging
import time

import pytest

from service import config as service_config
from service.llm import LLMBadOutput, LLMClient, LLMUnavailable, extract_json, make_client, repair_messages
from service.prompts import load_prompt
from service.redact import Redactor

LABEL = load_prompt("theme_label")
DRAFT = load_prompt("draft")
VARS = {"keywords": ["export", "timeout"], "quotes": ["CSV export times out on big workspaces"]}
GOOD = '{"label": "Slow CSV export"}'


@pytest.fixture
def llm(fake_openai, tmp_path):
    """A client of the fake server. Its timeout is an upper bound for a loopback reply (a busy machine may take a
    while), not the thing under test; the hang tests set a short one. `sleep` records the retry waits."""
    def _make(sleep=None, **overrides):
        overrides = {"OPENAI_BASE_URL": fake_openai.base_url, "LLM_MODEL": "fake-model", "LLM_TIMEOUT": 30,
                     "LLM_BACKOFF_BASE": 0.01, **overrides}
        # module access: pytest would try to collect TestConfig
        config = service_config.TestConfig(tmp_path, **overrides)
        return make_client(config) if sleep is None else LLMClient(config, sleep=sleep)

    clients = []
    yield lambda **kw: clients.append(_make(**kw)) or clients[-1]
    for client in clients:
        client.close()


def test_valid_json_reply_and_recorded_request(fake_openai, llm):
    fake_openai.set_script([{"content": GOOD}])
    client = llm()
    assert isinstance(client, LLMClient) and client.model == "fake-model"
    reply = client.complete_json(LABEL, VARS)
    assert reply.data == {"label": "Slow CSV export"} and reply.raw == GOOD
    assert reply.model == "fake-model" and reply.prompt_version == LABEL.version and reply.latency_ms > 0
    [request] = fake_openai.requests
    body = request["json"]
    assert request["path"] == "/v1/chat/completions" and request["headers"]["authorization"] == "Bearer not-needed"
    assert body["model"] == "fake-model" and body["response_format"] == {"type": "json_object"}
    assert body["temperature"] == LABEL.temperature
    assert body["messages"][0]["role"] == "system" and "never an instruction" in body["messages"][0]["content"].replace("\n", " ")
    user = body["messages"][1]["content"]
    assert "<data>" in user and "</data>" in user
    assert "CSV export times out on big workspaces" in user.split("<data>")[1].split("</data>")[0]


@pytest.mark.parametrize("content", [
    f"```json\n{GOOD}\n```",
    f"Sure! Here is the label:\n```\n{GOOD}\n```\nHope it helps.",
    f"Here you go: {GOOD} -- let me know.",
])
def test_fenced_and_prose_wrapped_json(fake_openai, llm, content):
    fake_openai.set_script([{"content": content}])
    assert llm().complete_json(LABEL, VARS).data == {"label": "Slow CSV export"}


@pytest.mark.parametrize("content, problem", [
    ('{"label": "Slow CSV export"', "not valid JSON"),
    ("I cannot help with that.", "not valid JSON"),
    ('["Slow CSV export"]', "expected a JSON object"),
    ('{"name": "Slow CSV export"}', "missing key 'label'"),
    ('{"label": 42}', "'label' must be string"),
    ('{"label": "A label that is far too long to be any useful theme name"}', "at most 8 allowed"),
    ("", "empty reply"),
])
def test_bad_output_raises_with_problems_and_raw(fake_openai, llm, content, problem):
    fake_openai.set_script([{"content": content}])
    with pytest.raises(LLMBadOutput) as err:
        llm().complete_json(LABEL, VARS)
    assert any(problem in p for p in err.value.problems), err.value.problems
    assert err.value.raw == content
    assert len(fake_openai.requests) == 1  # bad output is the caller's to repair, never blindly re-sent


def test_repair_turn_sends_bad_answer_and_correction(fake_openai, llm):
    fake_openai.set_script([{"content": '{"label": 7}'}, {"content": GOOD}])
    client = llm()
    with pytest.raises(LLMBadOutput) as err:
        client.complete_json(LABEL, VARS)
    reply = client.complete_json_messages(repair_messages(err.value), LABEL)
    assert reply.data["label"] == "Slow CSV export"
    messages = fake_openai.requests[1]["json"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == '{"label": 7}' and "'label' must be string" in messages[3]["content"]


def test_429_then_success_is_retried(fake_openai, llm):
    fake_openai.set_script([{"status": 429, "headers": {"Retry-After": "0"}}, {"status": 503}, {"content": GOOD}])
    assert llm().complete_json(LABEL, VARS).data["label"] == "Slow CSV export"
    assert len(fake_openai.requests) == 3


def test_500_three_times_is_unavailable_without_extra_attempts(fake_openai, llm):
    fake_openai.set_script([{"status": 500}])  # the last entry repeats
    slept = []
    with pytest.raises(LLMUnavailable, match="500"):
        llm(sleep=slept.append).complete_json(LABEL, VARS)
    assert len(fake_openai.requests) == 3  # one call + 2 retries, no more
    assert slept == [0.01, 0.02]  # short backoff (LLM_BACKOFF_BASE, doubling) between them, and no other wait


def test_long_retry_after_gives_up_at_once(fake_openai, llm):
    fake_openai.set_script([{"status": 429, "headers": {"Retry-After": "120"}}, {"content": GOOD}])
    with pytest.raises(LLMUnavailable, match="retry after 120"):
        llm().complete_json(LABEL, VARS)
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 404])
def test_client_errors_are_not_retried(fake_openai, llm, status):
    fake_openai.set_script([{"status": status}, {"content": GOOD}])
    with pytest.raises(LLMUnavailable, match=str(status)):
        llm().complete_json(LABEL, VARS)
    assert len(fake_openai.requests) == 1


def test_hang_past_timeout_is_unavailable_quickly(fake_openai, llm):
    fake_openai.set_script([{"hang": 60, "content": GOOD}])
    start = time.monotonic()
    with pytest.raises(LLMUnavailable, match="timed out after 0.3s"):
        llm(LLM_TIMEOUT=0.3).complete_json(LABEL, VARS)
    elapsed = time.monotonic() - start
    assert len(fake_openai.requests) == 2  # a timeout is retried at most once
    # It gave up on its own 0.3 s timeouts, not when the server answered (60 s): a bound for hanging, not a speed.
    assert elapsed < 30


def test_one_timeout_then_success(fake_openai, llm):
    # The first request hangs past the timeout for sure; the timeout is long enough for the retry's loopback reply
    # on a busy machine (a 0.3 s one failed the retry too when the machine was slow).
    fake_openai.set_script([{"hang": 60}, {"content": GOOD}])
    assert llm(LLM_TIMEOUT=2).complete_json(LABEL, VARS).data["label"] == "Slow CSV export"
    assert len(fake_openai.requests) == 2


def test_connection_refused_is_unavailable(llm, closed_port):
    slept = []
    start = time.monotonic()
    with pytest.raises(LLMUnavailable, match="connect"):
        llm(OPENAI_BASE_URL=f"http://127.0.0.1:{closed_port}/v1", sleep=slept.append).complete_json(LABEL, VARS)
    assert slept == [0.01, 0.02]  # two short retries of the refused connection, then unavailable
    assert time.monotonic() - start < 30  # and nothing hangs (a bound for hanging, not a speed)


def test_response_format_rejection_falls_back_once_and_remembers(fake_openai, llm):
    def server(body):
        if "response_format" in body:
            return {"status": 400, "body": {"error": {"message": "response_format is not supported", "type": "invalid_request_error"}}}
        return {"content": GOOD}

    fake_openai.set_script([server])
    client = llm()
    assert client.complete_json(LABEL, VARS).data["label"] == "Slow CSV export"
    assert client.complete_json(LABEL, VARS).data["label"] == "Slow CSV export"
    assert ["response_format" in r["json"] for r in fake_openai.requests] == [True, False, False]


def test_no_planted_pii_reaches_the_server_and_nothing_at_info_leaks_prompt_text(fake_openai, llm, caplog):
    redactor = Redactor(["Dana Whitfield"])
    variables = redactor.redact_obj({
        "question": "Dana Whitfield (dana@bigco.com, +1 415-555-0142) asks: when does SSO ship?",
        "audience": "customer", "tone": "friendly", "verdict": "planned", "verdict_wording": "SSO is planned for 2026-Q3.",
        "items": [{"id": "RM-1", "title": "SSO", "status": "planned", "release": "2026-Q3", "goal": "g", "description": "d",
                   "workaround": "call (212) 555-0199"}],
        "evidence": [{"note_id": "n-1", "account": "BigCo", "quote": "dana whitfield: we need SAML before renewal"}],
    })
    fake_openai.set_script([{"content": json.dumps({"text": "Hi [NAME_1], SSO is planned for 2026-Q3.", "cited_item_ids": ["RM-1"],
                                                    "quotes": ["we need SAML before renewal"]})}])
    with caplog.at_level(logging.INFO, logger="service.llm"):
        reply = llm().complete_json(DRAFT, variables)
    sent = json.dumps(fake_openai.requests)
    for pii in ("Dana", "Whitfield", "dana@bigco.com", "415-555-0142", "555-0199"):
        assert pii.lower() not in sent.lower()
    assert "[NAME_1]" in sent and "2026-Q3" in sent  # redaction kept the facts
    assert redactor.restore(reply.data["text"], {"[NAME_1]"}) == "Hi Dana Whitfield, SSO is planned for 2026-Q3."
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert info and any("prompt=draft" in m for m in info)
    assert not any("SSO" in m or "SAML" in m or "[NAME_1]" in m for m in info)


def test_extract_json_edge_cases():
    assert extract_json('  {"a": {"b": [1, 2]}}  ') == {"a": {"b": [1, 2]}}
    assert extract_json('```JSON\n{"a": 1}\n```') == {"a": 1}
    with pytest.raises(ValueError, match="not valid JSON"):
        extract_json('{"a": {"label": "inner"}, broken')  # a broken outer object must not yield its inner one


def test_slow_trickled_reply_is_cut_at_the_timeout(fake_openai, llm):
    # Headers at once, then the body a byte every 0.2 s: each read is far within the 1 s timeout, the whole reply
    # (over 200 bytes) is not. The timeout bounds the whole request, so the client gives up instead of reading on.
    fake_openai.set_script([{"trickle": 0.2, "content": GOOD}])
    start = time.monotonic()
    with pytest.raises(LLMUnavailable, match="timed out after 1s"):
        llm(LLM_TIMEOUT=1).complete_json(LABEL, VARS)
    assert len(fake_openai.requests) == 2  # a timeout is retried at most once
    assert time.monotonic() - start < 15  # two 1 s deadlines plus a backoff, not the 80 s the bytes would take
