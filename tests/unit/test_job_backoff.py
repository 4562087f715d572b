"""How long a background job waits out a server's restart. With 2 s then 4 s between its three attempts, a nightly
job that met a PostgreSQL or Chroma server restart (about 30 s) failed for good and nobody got a report; unset, a
background job against servers now waits 15 s then 30 s. SQLite and jobs someone waits for at a command keep 2 s."""
from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
import tenacity.nap

from service.jobs import JOBS, enqueue, execute
from service.jobs.queue import ATTEMPTS, SERVER_BACKOFF, backoff_base, jobs_in_foreground


def _services(database_url="sqlite:////tmp/x.sqlite3", chroma_url=None):
    return SimpleNamespace(config=SimpleNamespace(DATABASE_URL=database_url, CHROMA_URL=chroma_url))


@pytest.mark.parametrize(("database_url", "chroma_url", "expected"), [
    ("sqlite:////srv/feedback.sqlite3", None, 2.0),  # a lock clears in milliseconds: retry soon
    ("postgresql+psycopg://feedback@db/feedback", None, SERVER_BACKOFF),
    ("sqlite:////srv/feedback.sqlite3", "http://chroma:8000", SERVER_BACKOFF),
])
def test_a_background_job_waits_longer_where_a_server_can_restart(monkeypatch, database_url, chroma_url, expected):
    monkeypatch.delenv("FEEDBACK_JOB_BACKOFF", raising=False)
    assert backoff_base(_services(database_url, chroma_url)) == expected


def test_a_job_someone_waits_for_at_a_command_keeps_the_short_wait(monkeypatch):
    monkeypatch.delenv("FEEDBACK_JOB_BACKOFF", raising=False)
    with jobs_in_foreground():
        assert backoff_base(_services("postgresql+psycopg://feedback@db/feedback")) == 2.0


def test_the_setting_wins_everywhere(monkeypatch):
    monkeypatch.setenv("FEEDBACK_JOB_BACKOFF", "0.5")
    assert backoff_base(_services("postgresql+psycopg://feedback@db/feedback")) == 0.5
    assert backoff_base(None) == 0.5


def test_the_retries_of_a_job_against_a_chroma_server_wait_15_then_30_seconds(app, svc, monkeypatch, caplog):
    """Through `execute`, as a worker runs it: the waits tenacity sleeps are the new ones."""
    monkeypatch.delenv("FEEDBACK_JOB_BACKOFF", raising=False)
    monkeypatch.setattr(svc.config, "CHROMA_URL", "http://127.0.0.1:9")
    slept = []
    monkeypatch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=slept.append))  # tenacity's own sleeps only
    request = httpx.Request("POST", "http://127.0.0.1:9/api/v2/collections/x/add")

    calls = []

    def chroma_restarting(services, payload, progress):
        calls.append(1)
        if len(calls) < ATTEMPTS:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return {"ok": True}

    monkeypatch.setitem(JOBS, "chroma_restarting", chroma_restarting)
    with app.app_context(), caplog.at_level("WARNING", logger="service.jobs.queue"):
        job = execute(svc, enqueue(svc, "chroma_restarting", {}, submit=False)["id"])
    assert job["status"] == "done" and job["attempts"] == ATTEMPTS
    assert slept == [SERVER_BACKOFF, 2 * SERVER_BACKOFF]
    # the worker's log says how long it waits, so an operator reading it during an outage knows the job is alive
    assert ["retrying in 15 s" in r.getMessage() for r in caplog.records] == [True, False]
    assert "retrying in 30 s" in caplog.records[1].getMessage()
