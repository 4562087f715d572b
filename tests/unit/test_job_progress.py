"""Theme runs and report builds report done/total as they go: on the job row, `/jobs/<id>`, the API and the CLI."""
from __future__ import annotations

import json
import threading
import time

import pytest

from service.jobs import enqueue, execute
from service.jobs.functions import themes_payload
from service.jobs.store import Progress

from ..conftest import DATA

NOTES = [json.loads(line) for line in (DATA / "notes.jsonl").read_text().splitlines()]
THEMES = {"include_all": True, "min_mentions": 1, "min_accounts": 1}


def _all_options():
    from service.themes.run import RunOptions

    return RunOptions(**THEMES)


def _recorded_steps(monkeypatch) -> list[tuple[int, int]]:
    """Every steps(done, total) call a job makes, in order (the row keeps only the last)."""
    calls: list[tuple[int, int]] = []
    original = Progress.steps

    def record(self, done, total):
        calls.append((done, total))
        original(self, done, total)

    monkeypatch.setattr(Progress, "steps", record)
    return calls


def _run_job(app, kind, payload):
    svc = app.extensions["feedback"]
    with app.app_context():
        job = enqueue(svc, kind, payload, app=app, submit=False)
        return execute(svc, job["id"])


def _stored(app):
    assert app.test_client().post("/api/v1/notes", json=NOTES).status_code == 201


@pytest.mark.parametrize("kind", ["themes", "build_report"])
def test_a_theme_run_or_report_build_job_counts_its_steps(make_app, monkeypatch, kind):
    from service.reports.store import REPORT_STEPS
    from service.themes.run import RUN_STEPS

    steps, payload = {"themes": (RUN_STEPS, themes_payload(_all_options())),
                      "build_report": (REPORT_STEPS, {"period": "7d"})}[kind]
    app = make_app()
    _stored(app)
    calls = _recorded_steps(monkeypatch)
    job = _run_job(app, kind, payload)
    assert job["status"] == "done", job["error"]
    assert calls == [(i, steps) for i in range(1, steps + 1)]
    assert job["progress"] == {"done": steps, "total": steps}
    api = app.test_client().get(f"/api/v1/jobs/{job['id']}").get_json()
    assert api["progress"] == {"done": steps, "total": steps}


def test_the_nightly_report_job_counts_the_theme_run_and_the_report_in_one_total(make_app, monkeypatch):
    from service.reports.store import REPORT_STEPS
    from service.themes.run import RUN_STEPS

    app = make_app()
    _stored(app)
    _run_job(app, "themes", themes_payload(_all_options()))  # the nightly run continues the latest run
    calls = _recorded_steps(monkeypatch)
    job = _run_job(app, "report", {"period": "7d"})
    assert job["status"] == "done", job["error"]
    total = 1 + RUN_STEPS + REPORT_STEPS + 2
    assert {t for _, t in calls} == {total}
    assert [d for d, _ in calls] == list(range(1, total + 1))  # retention, 6 theme steps, 5 report steps, files, end
    assert job["progress"] == {"done": total, "total": total}


def test_a_running_theme_job_shows_its_progress_before_it_ends(make_app, monkeypatch):
    """While the run clusters, the API and the page already show the steps done so far."""
    from service.themes import stages
    from service.themes.run import RUN_STEPS

    app = make_app()
    _stored(app)
    entered, release = threading.Event(), threading.Event()
    cluster = stages.cluster

    def slow_cluster(*args, **kwargs):
        entered.set()
        assert release.wait(60)
        return cluster(*args, **kwargs)

    monkeypatch.setattr(stages, "cluster", slow_cluster)
    svc = app.extensions["feedback"]
    with app.app_context():
        job = enqueue(svc, "themes", themes_payload(_all_options()), app=app, submit=False)
    worker = threading.Thread(target=lambda: execute(svc, job["id"]))
    worker.start()
    client = app.test_client()
    try:
        assert entered.wait(60), "the theme run never reached clustering"
        seen = client.get(f"/api/v1/jobs/{job['id']}").get_json()
        page = client.get(f"/jobs/{job['id']}").get_data(as_text=True)
    finally:
        release.set()
        worker.join(60)
    assert seen["status"] == "running" and seen["progress"] == {"done": 3, "total": RUN_STEPS}
    assert f"3 of {RUN_STEPS} steps done" in page and '<meta http-equiv="refresh"' in page
    deadline = time.monotonic() + 30
    while client.get(f"/api/v1/jobs/{job['id']}").get_json()["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get(f"/api/v1/jobs/{job['id']}").get_json()["progress"] == {"done": RUN_STEPS, "total": RUN_STEPS}


def test_cli_jobs_show_prints_a_theme_runs_steps(run_cli, cli_env):
    from service import create_app
    from service.themes.run import RUN_STEPS

    assert run_cli("ingest", str(DATA / "notes.jsonl"), "-q").exit_code == 0
    app = create_app()
    try:
        with app.app_context():
            job = enqueue(app.extensions["feedback"], "themes", themes_payload(_all_options()), app=app,
                          submit=False)
    finally:
        app.extensions["feedback"].close()
    assert "1 job(s) run" in run_cli("worker", "--burst").output
    shown = run_cli("jobs", "show", job["id"]).output
    assert f"themes, done, progress {RUN_STEPS}/{RUN_STEPS}" in shown
