"""QA of the nightly batch job as an operator runs it: errors that name the flag or setting they came from, cron
syntax crontab does not have, the operator's own webhook on a private address, a webhook that drips its answer,
a report folder that cannot be written, and a theme run that fails."""
from __future__ import annotations

import json
import logging
import socket
import threading
import time

import pytest
import responses

from service.reports.deliver import WebhookURLError, check_url, post

HOOK = "https://hooks.slack.com/services/T000/B000/SECRET"


@pytest.fixture
def public_dns(monkeypatch):
    """No DNS here: the webhook host resolves to a public documentation address."""
    from service.reports import webhook_url

    monkeypatch.setattr(webhook_url, "resolve_addresses", lambda host, port: ["93.184.216.34"])


# --- errors name the flag or the setting ------------------------------------------------------------------------

def test_a_bad_cron_names_the_flag_or_the_setting_it_came_from(run_cli, monkeypatch):
    result = run_cli("schedule", "--cron", "0 6 * *", "--once")
    assert result.exit_code == 2 and "--cron" in result.stderr and "invalid cron expression" in result.stderr
    monkeypatch.setenv("FEEDBACK_REPORT_CRON", "0 6 * *")
    result = run_cli("schedule", "--once")
    assert result.exit_code == 2 and "FEEDBACK_REPORT_CRON" in result.stderr, result.stderr


@pytest.mark.parametrize("args, env, named", [
    (("schedule", "--once", "--webhook", "ftp://hooks.slack.com/SECRET"), None, "--webhook"),
    (("report", "--webhook", "ftp://hooks.slack.com/SECRET"), None, "--webhook"),
    (("schedule", "--once"), "ftp://hooks.slack.com/SECRET", "FEEDBACK_REPORT_WEBHOOK_URL"),
])
def test_a_bad_webhook_names_the_flag_or_the_setting_it_came_from(run_cli, monkeypatch, args, env, named):
    if env:
        monkeypatch.setenv("FEEDBACK_REPORT_WEBHOOK_URL", env)
    result = run_cli(*args)
    assert result.exit_code == 2 and named in result.stderr and "http:// or https://" in result.stderr
    assert "SECRET" not in result.output  # the URL is the credential: named by where it came from, never echoed
    assert "no reports yet" in run_cli("reports", "list").output


# --- cron syntax crontab(5) does not have ------------------------------------------------------------------------

@pytest.mark.parametrize("cron", ["0 6 ? * *", "0 6 L * *", "0 6 15W * *", "0 6 * * mon#2", "0 6 * * 5L",
                                  "H 6 * * *", "0 6 * * 1%2"])
def test_cron_syntax_crontab_does_not_have_is_refused(run_cli, cron):
    result = run_cli("schedule", "--cron", cron, "--once")
    assert result.exit_code == 2, result.output
    assert f"--cron: invalid cron expression {cron!r}" in result.stderr and "crontab" in result.stderr
    assert "no reports yet" in run_cli("reports", "list").output  # refused before the job ran


@pytest.mark.parametrize("cron", ["0 6 * * *", "*/15 6-18 * * mon-fri", "0,30 6 1,15 jan-jun/2 0-6", "5 4 * * 7"])
def test_crontab_syntax_is_still_taken(cron):
    from service.reports.schedule import parse_cron

    assert parse_cron(cron).expr == cron


# --- the operator's own webhook on the local network -------------------------------------------------------------

def test_a_private_address_is_the_operators_choice_with_allow_private():
    with pytest.raises(WebhookURLError):
        check_url("http://10.0.0.5:8065/hooks/x")
    assert check_url("http://10.0.0.5:8065/hooks/x", allow_private=True)
    with pytest.raises(WebhookURLError):  # an API caller's URL is checked against the allowlist, never private
        check_url("http://10.0.0.5:8065/hooks/x", ["10.0.0.5"])
    with pytest.raises(WebhookURLError):  # numeric spellings stay refused whatever the setting
        check_url("http://2130706433/x", allow_private=True)


@responses.activate
def test_schedule_delivers_to_a_mattermost_on_a_private_address_with_allow_private(run_cli, monkeypatch):
    hook = "http://10.0.0.5:8065/hooks/SECRET"
    responses.post(hook, body="ok")
    result = run_cli("schedule", "--once", "--webhook", hook)
    assert result.exit_code == 2 and "FEEDBACK_WEBHOOK_ALLOW_PRIVATE" in result.stderr, result.output
    monkeypatch.setenv("FEEDBACK_WEBHOOK_ALLOW_PRIVATE", "1")
    result = run_cli("schedule", "--once", "--webhook", hook)
    assert result.exit_code == 0, result.output
    assert len(responses.calls) == 1 and "delivered in 1 attempt" in result.stdout


@responses.activate
def test_the_report_command_takes_the_same_private_webhook(run_cli, monkeypatch):
    hook = "http://192.168.1.20/hooks/SECRET"
    responses.post(hook, body="ok")
    monkeypatch.setenv("FEEDBACK_WEBHOOK_ALLOW_PRIVATE", "1")
    result = run_cli("report", "--since", "1d", "--webhook", hook)
    assert result.exit_code == 0, result.output
    assert len(responses.calls) == 1


# --- retries and the total time --------------------------------------------------------------------------------

@responses.activate
def test_retries_back_off_honour_retry_after_and_stop_at_the_attempts(public_dns):
    responses.post(HOOK, status=503, headers={"Retry-After": "2"})
    responses.post(HOOK, status=500)
    responses.post(HOOK, status=429)
    slept = []
    result = post(HOOK, {"text": "x"}, base_delay=0.5, sleep=slept.append, clock=lambda: 0.0)
    assert not result.ok and result.attempts == 3 and len(responses.calls) == 3
    assert slept == [2.0, 1.0]  # Retry-After beats the first backoff (0.5 s); then 0.5 * 2
    assert result.error == "HTTP 429 from hooks.slack.com (gave up after 3 attempts)"


@responses.activate
def test_a_timeout_then_success_counts_both_attempts(public_dns):
    import requests

    responses.post(HOOK, body=requests.exceptions.ReadTimeout())
    responses.post(HOOK, body="ok")
    result = post(HOOK, {"text": "x"}, base_delay=0, sleep=lambda s: None)
    assert result.ok and result.attempts == 2 and result.status_code == 200


@pytest.fixture
def dripping_server():
    """A loopback webhook that answers its status line at once and then one header line every 0.5 s for 10 s:
    each read finishes well within the read timeout, the answer as a whole takes 10 s."""
    stop = threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.2)

    def drip(conn):
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                for _ in range(20):
                    if stop.wait(0.5):
                        return
                    conn.sendall(b"X-Slow: 1\r\n")
                conn.sendall(b"Content-Length: 0\r\n\r\n")
            except OSError:
                return

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


def test_a_webhook_that_drips_its_answer_is_cut_at_the_total_timeout(dripping_server):
    """The docs promise all attempts together end within the total timeout; requests' timeouts bound each read,
    so a webhook sending a header line every half second held the job for as long as it kept sending."""
    started = time.monotonic()
    result = post(f"http://hooks.example.com:{dripping_server}/x", {"text": "x"}, allow_private=True,
                  total_timeout=1.5, resolver=lambda host, port: ["127.0.0.1"])
    elapsed = time.monotonic() - started
    assert not result.ok and elapsed < 4, (elapsed, result)
    assert "did not answer within 1.5 s" in result.error and "hooks.example.com" in result.error


# --- what the nightly run does when part of it fails -----------------------------------------------------------

def _tracebacks(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.exc_info]


@responses.activate
def test_a_report_folder_that_cannot_be_written_does_not_stop_delivery(run_cli, cli_env, public_dns, caplog):
    cli_env.mkdir(parents=True, exist_ok=True)
    (cli_env / "reports").write_text("a file where the folder should be")
    responses.post(HOOK, body="ok")
    result = run_cli("schedule", "--once", "--webhook", HOOK)
    assert result.exit_code == 1, result.output
    assert "FileExistsError" not in result.output and not _tracebacks(caplog)
    assert f"{cli_env / 'reports'} not written" in result.stderr
    assert len(responses.calls) == 1 and "delivered in 1 attempt" in result.stdout
    [listed] = json.loads(run_cli("reports", "list", "--json").stdout)["reports"]
    assert listed["delivery"]["status"] == "sent"


def test_a_failed_theme_run_is_one_line_and_the_report_says_what_it_uses(run_cli, monkeypatch, caplog):
    import service.themes.run

    def broken(*args, **kwargs):
        raise RuntimeError("the clustering blew up")

    monkeypatch.setattr(service.themes.run, "run_themes", broken)
    result = run_cli("schedule", "--once")
    assert result.exit_code == 0, result.output  # a report without fresh themes beats no report
    assert not _tracebacks(caplog)
    assert any("RuntimeError: the clustering blew up" in r.getMessage() for r in caplog.records)
    assert "themes: themes were not refreshed (RuntimeError)" in result.stdout
    data = json.loads(run_cli("reports", "show", "1", "--format", "json").stdout)["data"]
    note = data["messages"][0]
    assert "previous theme run" not in note and "no earlier theme run" in note
    assert "blew up" not in note  # an error's text may quote stored data: the report and webhook get its type
