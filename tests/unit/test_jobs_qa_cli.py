"""QA of the job commands: `feedback schedule --once` twice in one minute (system cron on two hosts) runs the
nightly job once and records it as a job; `feedback jobs show` refuses a timeout it could never reach; Ctrl+C on
a worker queues its job again at once; `feedback jobs list` keeps its columns in line."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import responses

from ..conftest import DATA

HOOK = "https://hooks.example.com/services/T000/B000/secret"
NOW = datetime(2026, 11, 30, 6, 0, 20, tzinfo=timezone.utc)


@pytest.fixture
def once_env(run_cli, cli_env, monkeypatch):
    from service.reports import schedule, webhook_url

    monkeypatch.setattr(webhook_url, "resolve_addresses", lambda host, port: ["93.184.216.34"])  # no DNS here
    monkeypatch.setenv("FEEDBACK_REPORT_WEBHOOK_URL", HOOK)
    # both runs in the same minute, whatever the clock says
    monkeypatch.setattr(schedule, "_utc_now", lambda: NOW, raising=False)
    assert run_cli("ingest", str(DATA / "notes.jsonl")).exit_code == 0
    return run_cli


@responses.activate
def test_two_schedule_once_in_one_minute_run_and_post_the_nightly_report_once(once_env):
    responses.post(HOOK, body="ok")
    first = once_env("schedule", "--once")
    assert first.exit_code == 0, first.output
    assert "report 1 stored" in first.stdout and "delivered in 1 attempt" in first.stdout
    second = once_env("schedule", "--once")
    assert second.exit_code == 0, second.output
    assert "already" in second.stdout and "report" not in second.stdout.replace("nightly report", "")
    assert len(responses.calls) == 1  # the Slack channel gets the report once, not once per host
    [job] = json.loads(once_env("jobs", "list", "--json").stdout)["items"]
    assert job["kind"] == "report" and job["status"] == "done"
    assert job["progress"]["done"] == job["progress"]["total"] == 14  # visible like any job: `jobs show`, /jobs/<id>
    assert job["result"]["report"]["period_end"] == "2026-11-30"


@responses.activate
def test_schedule_once_in_another_minute_runs_again(once_env, monkeypatch):
    from service.reports import schedule

    responses.post(HOOK, body="ok")
    assert once_env("schedule", "--once").exit_code == 0
    monkeypatch.setattr(schedule, "_utc_now", lambda: NOW.replace(minute=5), raising=False)  # a manual re-run
    again = once_env("schedule", "--once")
    assert again.exit_code == 0 and "report 1 stored" in again.stdout  # the same window: replaced, not added
    assert len(responses.calls) == 2
    assert len(json.loads(once_env("jobs", "list", "--json").stdout)["items"]) == 2


def test_a_failed_schedule_once_says_so_and_exits_1(once_env, monkeypatch):
    from service.reports import schedule

    def broken(*_, **__):
        raise RuntimeError("disk full")

    monkeypatch.setattr(schedule, "create_report", broken)
    result = once_env("schedule", "--once")
    assert result.exit_code == 1 and "disk full" in result.stderr
    [job] = json.loads(once_env("jobs", "list", "--json").stdout)["items"]
    assert job["status"] == "failed" and "disk full" in job["error"]


@pytest.mark.parametrize("args, says", [
    (["--wait", "--timeout", "nan"], "'nan' is not a number of seconds"),
    (["--wait", "--timeout", "0"], "--timeout"),
    (["--timeout", "5"], "--timeout goes with --wait"),
])
def test_jobs_show_refuses_a_timeout_it_would_ignore(run_cli, args, says):
    job_id = json.loads(run_cli("ingest", str(DATA / "notes.jsonl"), "--background", "--json").output)["job_id"]
    result = run_cli("jobs", "show", job_id, *args)  # no worker runs: a NaN timeout waited for ever
    assert result.exit_code == 2 and says in result.stderr, result.output


def test_a_job_interrupted_by_ctrl_c_on_the_worker_is_queued_again_at_once(app, svc):
    """Ctrl+C on `feedback worker` mid-job left the row `running` until the sweep found it stale 5 minutes later
    (`jobs show --wait` and the job page said running all that time); now it is queued again at once."""
    from service.jobs import enqueue, execute, get_job

    def interrupted(*_):
        raise KeyboardInterrupt

    with app.app_context():
        job = enqueue(svc, "reindex", {}, app=app, submit=False)
        with pytest.raises(KeyboardInterrupt):
            execute(svc, job["id"], interrupted)
        row = get_job(svc, job["id"])
        assert row["status"] == "queued" and "stopped" in row["error"] and row["attempts"] == 1
        again = execute(svc, job["id"])  # the next worker claims it like any queued job
    assert again["status"] == "done" and again["attempts"] == 2


def test_jobs_list_keeps_its_columns_in_line_for_every_kind(run_cli, cli_env):
    from service import create_app
    from service.jobs import enqueue

    app = create_app()
    with app.app_context():
        for kind in ("build_report", "ingest", "report"):
            enqueue(app.extensions["feedback"], kind, {"period": "1d", "notes": []}, app=app, submit=False)
    app.extensions["feedback"].close()
    lines = run_cli("jobs", "list").output.splitlines()
    assert len(lines) == 3 and {line.split()[1] for line in lines} == {"build_report", "ingest", "report"}
    assert len({line.index(" queued ") for line in lines}) == 1, lines  # the status column starts in one place
