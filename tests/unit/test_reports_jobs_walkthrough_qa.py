"""QA walkthrough of reports, webhooks, the scheduler and the worker, as a PM and an operator use them: an empty
webhook value is refused rather than ignored, a host name that resolves to a private address is refused before the
report is built, a stop signal waits for the nightly run going on, a worker names the Redis it cannot reach, the
Markdown report counts "1 note" in the singular, and errors say how long a delivery really took."""
from __future__ import annotations

import signal
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import responses

HOOK = "https://hooks.slack.com/services/T000/B000/SECRET"


# ---- an empty webhook value ------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [("report", "--since", "1d", "--webhook", ""),
                                  ("schedule", "--once", "--webhook", "  ")])
def test_an_empty_webhook_flag_is_a_usage_error_not_a_silent_no_delivery(run_cli, monkeypatch, args):
    # `--webhook "$SLACK_HOOK"` with the variable unset: the report was built and nothing was posted, exit 0
    # (schedule fell back to FEEDBACK_REPORT_WEBHOOK_URL instead of the URL the operator meant to give).
    monkeypatch.setenv("FEEDBACK_REPORT_WEBHOOK_URL", HOOK)
    result = run_cli(*args)
    assert result.exit_code == 2, result.output
    assert "--webhook is empty" in result.stderr and "SECRET" not in result.output
    assert "no reports yet" in run_cli("reports", "list").output  # refused before any work


def test_an_empty_webhook_in_the_api_is_refused_by_name(client):
    response = client.post("/api/v1/reports", json={"since": "7d", "webhook": ""})
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["details"]["field"] == "webhook" and "empty" in error["message"]
    assert client.get("/api/v1/reports").get_json()["total"] == 0


# ---- a name that resolves to a private address -----------------------------------------------------------------
def test_a_webhook_name_resolving_to_a_private_address_is_refused_before_the_report(run_cli, monkeypatch):
    from service.reports import webhook_url

    monkeypatch.setattr(webhook_url, "resolve_addresses", lambda host, port: ["127.0.0.1"])
    result = run_cli("report", "--since", "1d", "--webhook", "http://localhost:8065/hooks/SECRET")
    # It was built, stored, then not delivered: exit 1 without naming --webhook or the setting that allows it.
    assert result.exit_code == 2, result.output
    assert "--webhook" in result.stderr and "FEEDBACK_WEBHOOK_ALLOW_PRIVATE" in result.stderr
    assert "SECRET" not in result.output
    assert "no reports yet" in run_cli("reports", "list").output


@responses.activate
def test_a_private_name_is_still_the_operators_choice_with_allow_private(run_cli, monkeypatch):
    from service.reports import webhook_url

    monkeypatch.setattr(webhook_url, "resolve_addresses", lambda host, port: ["10.0.0.5"])
    monkeypatch.setenv("FEEDBACK_WEBHOOK_ALLOW_PRIVATE", "1")
    responses.post("http://mattermost.internal:8065/hooks/SECRET", body="ok")
    result = run_cli("report", "--since", "1d", "--webhook", "http://mattermost.internal:8065/hooks/SECRET")
    assert result.exit_code == 0, result.output
    assert len(responses.calls) == 1


def test_a_webhook_name_that_does_not_resolve_now_is_left_to_the_delivery(run_cli, monkeypatch):
    from service.reports import webhook_url
    from service.reports.webhook_url import WebhookURLError

    def no_dns(host, port):
        raise WebhookURLError(f"the webhook host {host} could not be resolved (no DNS here)")

    monkeypatch.setattr(webhook_url, "resolve_addresses", no_dns)
    result = run_cli("report", "--since", "1d", "--webhook", HOOK)
    assert result.exit_code == 1, result.output  # stored, not delivered: the delivery says why
    assert "could not be resolved" in result.stderr and "report is stored" in result.stderr


# ---- a stop signal while the nightly run is going -------------------------------------------------------------
def test_a_stop_signal_waits_for_the_running_nightly_job(app, monkeypatch):
    """SIGTERM (systemd, docker stop) or Ctrl+C mid-run stopped the scheduler at once: the process exited under the
    job, whose theme run then failed at interpreter shutdown, and a report without themes and gaps replaced the
    window's good one and was delivered."""
    from apscheduler.triggers.date import DateTrigger

    from service.reports import schedule

    started, finished, returned = threading.Event(), threading.Event(), threading.Event()

    def slow_run(*args, **kwargs):
        started.set()
        time.sleep(1.5)
        finished.set()
        return None

    now = datetime.now(timezone.utc)
    monkeypatch.setattr(schedule, "parse_cron", lambda cron: DateTrigger(run_date=now + timedelta(seconds=0.2)))
    monkeypatch.setattr(schedule, "run_once_per_fire", slow_run)

    def stop_when_started() -> None:
        if started.wait(20) and not returned.is_set():
            signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    threading.Thread(target=stop_when_started, daemon=True).start()
    echoed: list[str] = []
    try:
        schedule.run_forever(app, "* * * * *", "1d", None, echo=echoed.append)
    finally:
        returned.set()
    assert started.is_set() and finished.is_set(), echoed  # returned only once the run had ended
    assert any(line.startswith("stopping: waiting for the running report job") for line in echoed), echoed
    assert echoed[-1] == "scheduler stopped"
    assert signal.getsignal(signal.SIGTERM) is before  # the handlers it set are put back


# ---- a worker and an unreachable Redis ---------------------------------------------------------------------------
def test_a_worker_names_the_redis_it_cannot_reach(run_cli, monkeypatch, closed_port):
    monkeypatch.setenv("FEEDBACK_REDIS_URL", f"redis://:hunter2@127.0.0.1:{closed_port}/0")
    result = run_cli("worker", "--burst")
    assert result.exit_code == 1, result.output
    # was "error: ConnectionError: Error 111 connecting to ... (FEEDBACK_DEBUG=1 shows the traceback)"
    assert f"Redis at redis://127.0.0.1:{closed_port}/0 (FEEDBACK_REDIS_URL) does not answer" in result.stderr
    assert "hunter2" not in result.output and "FEEDBACK_DEBUG" not in result.stderr


# ---- job ids ------------------------------------------------------------------------------------------------------
def test_an_unknown_job_id_is_not_repeated_back_whole(run_cli, client):
    pasted = "x" * 5000
    result = run_cli("jobs", "show", pasted)
    assert result.exit_code == 1 and "no job 'xxxx" in result.stderr and len(result.stderr) < 200
    response = client.get(f"/api/v1/jobs/{pasted[:300]}")
    assert response.status_code == 404 and len(response.get_json()["error"]["message"]) < 100


# ---- the Markdown report's counts --------------------------------------------------------------------------------
def test_markdown_counts_one_in_the_singular():
    from service.reports.render import render_markdown

    data = {"title": "Feedback report: last 7 days", "period_start": "2026-11-20", "last_day": "2026-11-26",
            "notes": {"count": 1, "accounts": 1, "previous": 2, "previous_accounts": 1},
            "theme_run": {"run_id": 1}, "messages": [],
            "top_themes": [{"label": "CSV export", "accounts": 1, "mentions": 1, "previous_mentions": 0,
                            "arr": None, "trend": "new", "quotes": []}],
            "new": [], "growing": [], "fading": [], "moved": [],
            "gaps": [{"label": "SSO", "accounts": 1, "mentions": 1, "period_mentions": 1, "arr": None}],
            "drafts": {"count": 1, "by_verdict": {"available": 1}, "feedback": 1, "thumbs_up": 1,
                       "thumbs_down": 0, "average_stars": None, "edits_saved": 1}}
    for flavor in ("markdown", "slack"):
        text = render_markdown(data, flavor)
        assert "1 note from 1 account (previous period: 2 notes from 1 account)" in text
        assert "1 account this period, 1 mention this period (was 0)" in text
        assert "SSO: 1 account (theme run), 1 mention (theme run), 1 mention this period" in text
        assert "1 draft: 1 available" in text and "1 edited version saved" in text
        assert "1 accounts" not in text and "1 notes" not in text and "1 mentions" not in text


# ---- how long a delivery took -----------------------------------------------------------------------------------
@responses.activate
def test_a_retry_after_beyond_the_limit_does_not_claim_the_whole_limit_was_spent():
    from service.reports.deliver import post

    responses.post(HOOK, status=429, headers={"Retry-After": "100"})
    slept: list[float] = []
    result = post(HOOK, {"text": "x"}, sleep=slept.append, clock=lambda: 0.0, resolver=lambda h, p: ["8.8.8.8"])
    assert not result.ok and result.attempts == 1 and slept == []
    # was "HTTP 429 from hooks.slack.com (gave up after 12 s)" after one attempt and no wait at all
    assert result.error == ("HTTP 429 from hooks.slack.com (gave up after 1 attempt: another would end after the "
                            "12 s limit)")


def test_reports_list_says_not_sent_in_words(run_cli):
    assert run_cli("report", "--since", "1d").exit_code == 0
    listed = run_cli("reports", "list").stdout
    assert "delivery: not sent" in listed and "not_sent" not in listed  # the JSON keeps "not_sent"
    assert "0 notes" in listed and "0 top themes" in listed
