"""QA of the nightly schedule: cron fields as crontab means them, a cron that never fires, the scheduled run's
progress, what a run recovered after its scheduler died still does, and a report for a window not yet begun."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from service.jobs import execute, get_job
from service.jobs.store import Progress

from ..conftest import DATA

NOTES = [json.loads(line) for line in (DATA / "notes.jsonl").read_text().splitlines()]
MONDAY = datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc)  # 2026-11-30 is a Monday


def _next(expr: str, now: datetime = MONDAY) -> datetime:
    from service.reports.schedule import parse_cron

    return parse_cron(expr).get_next_fire_time(None, now)


@pytest.mark.parametrize("expr, weekday", [
    ("0 6 * * 0", "Sunday"), ("0 6 * * 7", "Sunday"), ("0 6 * * 1", "Monday"), ("0 6 * * 5", "Friday"),
    ("0 6 * * 6", "Saturday"), ("0 6 * * sun", "Sunday"), ("0 6 * * MON", "Monday"),
])
def test_a_numeric_weekday_means_what_crontab_means(expr, weekday):
    # APScheduler 3's from_crontab counts 0 as Monday: "0 6 * * 1" (Monday in crontab) fired on Tuesdays.
    assert _next(expr).strftime("%A") == weekday


def test_weekdays_1_to_5_fire_monday_to_friday_only():
    from service.reports.schedule import parse_cron

    trigger, fired, probe = parse_cron("0 6 * * 1-5"), [], MONDAY
    for _ in range(7):
        probe = trigger.get_next_fire_time(probe if fired else None, probe)
        fired.append(probe.strftime("%a"))
    assert fired == ["Tue", "Wed", "Thu", "Fri", "Mon", "Tue", "Wed"]
    assert all(t.minute == 0 and t.hour == 6 and t.tzinfo is not None for t in [probe])


def test_cron_fields_keep_their_plain_meaning():
    assert _next("0 6 * * *") == datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc)
    assert _next("30 7 * * *") == datetime(2026, 11, 30, 7, 30, tzinfo=timezone.utc)
    assert _next("0 7 * * *") == MONDAY  # a fire time equal to now is now, as APScheduler's own triggers do
    assert _next("*/15 * * * *", MONDAY + timedelta(minutes=1)) == MONDAY + timedelta(minutes=15)


def test_latest_fire_is_the_slot_a_late_run_belongs_to():
    from service.reports.schedule import latest_fire, parse_cron

    trigger = parse_cron("0 6 * * *")
    assert latest_fire(trigger, MONDAY) == datetime(2026, 11, 30, 6, 0, tzinfo=timezone.utc)
    assert latest_fire(parse_cron("0 6 * * 0"), MONDAY + timedelta(days=6)) == \
        datetime(2026, 12, 6, 6, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("cron", ["0 6 31 2 *", "0 6 30 2 *"])
def test_a_cron_that_never_fires_is_a_usage_error_not_a_traceback(run_cli, cron):
    result = run_cli("schedule", "--cron", cron)
    assert result.exit_code == 2, result.output
    assert f"invalid cron expression {cron!r}" in result.stderr and "never" in result.stderr
    assert "TypeError" not in result.output


@pytest.mark.parametrize("cron", ["0 6 * * * *", "@daily", "0 6 * * 8"])
def test_cron_outside_five_crontab_fields_is_refused(run_cli, cron):
    result = run_cli("schedule", "--cron", cron, "--once")
    assert result.exit_code == 2 and "invalid cron expression" in result.stderr


def _stored(app):
    assert app.test_client().post("/api/v1/notes", json=NOTES).status_code == 201


def _scheduler(app, monkeypatch, webhook=None, now=MONDAY):
    """The function `feedback schedule` (run_forever) hands APScheduler, to call as a fire would; the clock at
    `now`, the scheduler itself not started."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from service.reports import schedule

    added = []
    monkeypatch.setattr(BackgroundScheduler, "add_job", lambda self, func, *a, **k: added.append(func))
    monkeypatch.setattr(BackgroundScheduler, "start", lambda self, *a, **k: None)
    monkeypatch.setattr(schedule.signal, "signal", lambda *_: None)
    monkeypatch.setattr(schedule, "_wait_for_stop", lambda stop: None)  # stopped at once
    monkeypatch.setattr(schedule, "_utc_now", lambda: now, raising=False)
    echoed = []
    schedule.run_forever(app, "0 6 * * *", "1d", webhook, echo=echoed.append)
    [fire] = added
    return fire, echoed


def _only_job(svc) -> dict:
    from service.jobs import list_jobs

    [job] = list_jobs(svc)
    return job


def test_a_scheduled_nightly_run_records_its_progress_like_a_queued_one(make_app, monkeypatch):
    from service.reports.store import REPORT_STEPS
    from service.themes.run import RUN_STEPS

    app = make_app()
    _stored(app)
    fire, echoed = _scheduler(app, monkeypatch)
    fire()
    assert any(line.startswith("report 1 stored") for line in echoed), echoed
    job = _only_job(app.extensions["feedback"])
    total = 1 + RUN_STEPS + REPORT_STEPS + 2
    assert job["kind"] == "report" and job["status"] == "done", job["error"]
    assert job["progress"] == {"done": total, "total": total}  # was {"done": 0, "total": 0}: "-" in jobs list


def test_a_nightly_run_requeued_after_its_scheduler_died_still_delivers_and_keeps_its_day(make_app, monkeypatch):
    """The scheduler was killed mid-run; a worker's sweep queued the row again and a worker runs it (with the
    registered job function, not the scheduler's): it delivers to the configured webhook and reports the fire
    time's day, not the day the worker happens to pick it up."""
    from service.jobs import store
    from service.reports import schedule

    hook = "https://hooks.slack.com/services/T000/B000/XXXX"
    app = make_app(REPORT_WEBHOOK_URL=hook)
    _stored(app)
    svc = app.extensions["feedback"]
    delivered = []

    class Result:
        ok, attempts, error, status_code = True, 1, None, 200

    monkeypatch.setattr(schedule, "deliver_report", lambda s, report_id, url, **_: delivered.append(url) or Result())
    real_nightly = schedule.nightly_job

    def killed(*_, **__):  # the scheduler dies mid-run (kill -9): its row stays running
        raise SystemExit("killed")

    monkeypatch.setattr(schedule, "nightly_job", killed)
    fire, _ = _scheduler(app, monkeypatch, webhook=hook, now=MONDAY - timedelta(days=3))
    with pytest.raises(SystemExit):
        fire()
    monkeypatch.setattr(schedule, "nightly_job", real_nightly)
    [row] = store.running(svc)
    assert store.requeue(svc, row["id"], "the process running it stopped")  # what the sweep does
    with app.app_context():
        job = execute(svc, row["id"])
    assert job["status"] == "done", job["error"]
    assert delivered == [hook] and job["result"]["delivery"]["ok"] is True
    assert job["result"]["report"]["period_end"] == "2026-11-27"  # the fire day (Nov 27), not today
    assert get_job(svc, row["id"])["attempts"] == 2


def test_a_webhook_given_on_the_command_line_is_not_stored_in_the_job_row(make_app, monkeypatch):
    from service.jobs.store import payload_of
    from service.reports import schedule

    app = make_app(REPORT_WEBHOOK_URL="https://hooks.slack.com/services/T000/B000/CONFIGURED")
    _stored(app)
    posted = []

    class Result:
        ok, attempts, error, status_code = True, 1, None, 200

    monkeypatch.setattr(schedule, "deliver_report", lambda s, report_id, url, **_: posted.append(url) or Result())
    other = "https://hooks.slack.com/services/T000/B000/SECRET-OTHER"
    fire, _ = _scheduler(app, monkeypatch, webhook=other)
    fire()
    assert posted == [other]  # the scheduler's own run posts where it was told
    job = _only_job(app.extensions["feedback"])
    kind, payload = payload_of(app.extensions["feedback"], job["id"])
    assert kind == "report" and "SECRET-OTHER" not in json.dumps(payload)
    assert payload.get("deliver") is not True  # a recovered run must not post to the configured webhook instead


# --- a report for a window not yet begun -------------------------------------------------------------------------

def test_a_report_for_a_future_day_is_refused_before_anything_is_stored(run_cli):
    future = (date.today() + timedelta(days=30)).isoformat()
    result = run_cli("report", "--as-of", future)
    assert result.exit_code == 2, result.output
    assert "--as-of" in result.stderr and future in result.stderr and "future" in result.stderr
    assert "no reports yet" in run_cli("reports", "list").output


def test_tomorrow_is_the_latest_as_of_a_report_takes(run_cli):
    from service.models import utcnow

    tomorrow = (utcnow().date() + timedelta(days=1)).isoformat()
    result = run_cli("report", "--as-of", tomorrow, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["period_end"] == tomorrow  # today so far


def test_the_api_refuses_a_future_report_with_422_naming_as_of(client):
    future = (date.today() + timedelta(days=400)).isoformat()
    response = client.post("/api/v1/reports", json={"since": "1d", "as_of": future})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["details"]["field"] == "as_of" and "as_of" in error["message"] and future in error["message"]
    assert client.get("/api/v1/reports").get_json()["total"] == 0


# --- retention next to a running web server ----------------------------------------------------------------------

def test_retention_does_not_swap_the_embedded_folder_a_web_server_serves(run_cli, cli_env, monkeypatch, tmp_path):
    """The nightly job's retention compacted the embedded Chroma folder by swapping in a fresh one while the web
    server (which holds the folder's serving lock) had it open: every ingest on the server then failed with 503
    "attempt to write a readonly database". Now it erases without swapping and says so."""
    import subprocess
    import sys

    today = date.today()
    rows = [{"id": "old1", "account": "Oldco", "date": "2020-01-05", "text": "CSV export times out on big tables."},
            {"id": "new1", "account": "Newco", "date": (today - timedelta(days=3)).isoformat(),
             "text": "CSV export is slow for large files."}]
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assert run_cli("ingest", str(path), "-q").exit_code == 0
    chroma = cli_env / "chroma"
    marker = chroma / "opened-by-the-server"  # a folder swapped in would not have it
    marker.write_text("x")
    server = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from filelock import FileLock; lock = FileLock(sys.argv[1]); lock.acquire(); "
         "open(sys.argv[2], 'w').write('the web server (pid 4242)'); print('held', flush=True); time.sleep(120)",
         str(chroma / ".serving.lock"), str(chroma / ".serving.pid")], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "held"
        monkeypatch.setenv("FEEDBACK_RETENTION_DAYS", "365")
        result = run_cli("schedule", "--once", "--since", "30d")
    finally:
        server.kill()
        server.wait()
    assert result.exit_code == 0, result.output
    assert marker.exists(), "the folder the server has open was swapped"
    assert "1 note(s)" in result.stdout and "not compacted" in result.stdout and "web server (pid 4242)" in result.stdout
    listed = json.loads(run_cli("notes", "list", "--json").stdout)
    assert [n["id"] for n in (listed["items"] if isinstance(listed, dict) else listed)] == ["new1"]
    stats = json.loads(run_cli("stats", "--json").stdout)
    assert stats["vectors"] == stats["statements"]  # the old note's vectors left the index all the same


def test_retention_still_compacts_when_no_other_process_serves_the_folder(run_cli, cli_env, monkeypatch, tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text(json.dumps({"id": "old1", "account": "Oldco", "date": "2020-01-05", "text": "Export is slow."}))
    assert run_cli("ingest", str(path), "-q").exit_code == 0
    marker = cli_env / "chroma" / "left-behind"
    marker.write_text("x")
    monkeypatch.setenv("FEEDBACK_RETENTION_DAYS", "365")
    result = run_cli("schedule", "--once", "--since", "30d")
    assert result.exit_code == 0 and "not compacted" not in result.output, result.output
    assert not marker.exists()  # compacted: a fresh folder, as before
