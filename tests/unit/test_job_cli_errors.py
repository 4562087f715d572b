"""A job a command runs itself (`feedback schedule --once`) that fails is one error line naming the job, its kind and
the error, with exit code 1 and the error kept on the job's row; its traceback shows only with FEEDBACK_DEBUG=1.
A worker's jobs still log their tracebacks: `feedback worker` (database queue or RQ on Redis) and the web server's
thread pool. The RQ test uses Redis on 127.0.0.1:6379 (db 15) and skips without it."""
from __future__ import annotations

import json
import logging
import re
from contextlib import contextmanager

import pytest

from service.jobs import JOBS, enqueue, get_job, queue_of
from service.jobs import queue as queue_mod
from service.jobs.queue import jobs_in_foreground

from .test_prod_profile_fixes import REDIS, needs_redis, rq_queue  # noqa: F401 - the RQ queue fixture

ERROR_LINE = re.compile(r"error: the nightly report job (?P<id>[0-9a-f]{32}) failed: RuntimeError: disk full")


@contextmanager
def cli_process_logging():
    """Logging as in a `feedback` process, which sets none up: a record of WARNING or above reaches stderr through
    logging's last-resort handler, which the CLI runner captures. Under pytest the root logger has pytest's
    handlers, which would take the records instead, and a traceback printed to the terminal would go unseen."""
    root = logging.getLogger()
    saved = root.handlers[:]
    for handler in saved:
        root.removeHandler(handler)
    try:
        yield
    finally:
        for handler in saved:
            root.addHandler(handler)


@pytest.fixture
def failing_nightly_report(monkeypatch):
    from service.reports import schedule

    def broken(*_, **__):
        raise RuntimeError("disk full")

    monkeypatch.setattr(schedule, "create_report", broken)


def _broken_job(*_):
    raise RuntimeError("the index folder vanished")


def test_a_failed_job_run_by_a_command_is_one_error_line_and_stays_on_its_row(run_cli, failing_nightly_report):
    with cli_process_logging():
        result = run_cli("schedule", "--once")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # no worker log line, no traceback before the command's own
    job_id = ERROR_LINE.fullmatch(lines[0])["id"]
    assert "Traceback" not in result.output
    shown = run_cli("jobs", "show", job_id)
    assert shown.exit_code == 1
    assert f"job {job_id}: report, failed" in shown.stdout and "error: RuntimeError: disk full" in shown.stdout


def test_with_feedback_debug_the_failed_jobs_traceback_is_shown(run_cli, failing_nightly_report, monkeypatch):
    monkeypatch.setenv("FEEDBACK_DEBUG", "1")
    with cli_process_logging():
        result = run_cli("schedule", "--once")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    job_id = ERROR_LINE.fullmatch(lines[-1])["id"]  # the command's own line still ends it
    assert lines[0] == f"job {job_id} (report) failed" and lines[1] == "Traceback (most recent call last):"
    assert "RuntimeError: disk full" in lines[-2]


def test_feedback_worker_still_logs_the_traceback_of_a_job_it_runs(run_cli, monkeypatch):
    job_id = json.loads(run_cli("reindex", "--background", "--json").stdout)["job_id"]
    monkeypatch.setitem(JOBS, "reindex", _broken_job)
    with cli_process_logging():
        result = run_cli("worker", "--burst")
    assert result.exit_code == 0, result.output
    assert f"job {job_id} reindex: failed (RuntimeError: the index folder vanished)" in result.stdout
    assert f"job {job_id} (reindex) failed\nTraceback (most recent call last):" in result.stderr


@needs_redis
def test_an_rq_worker_started_by_the_cli_still_logs_the_traceback(run_cli, monkeypatch, rq_queue):  # noqa: F811
    monkeypatch.setenv("FEEDBACK_REDIS_URL", REDIS)
    monkeypatch.setenv("FEEDBACK_REDIS_QUEUE", rq_queue)
    monkeypatch.setattr(queue_mod, "_worker_app", None)  # the worker sets it to its app: not left for later tests
    job_id = json.loads(run_cli("reindex", "--background", "--json").stdout)["job_id"]
    monkeypatch.setitem(JOBS, "reindex", _broken_job)
    with cli_process_logging():
        result = run_cli("worker", "--burst")
    assert result.exit_code == 0, result.output
    assert f"job {job_id} (reindex) failed\nTraceback (most recent call last):" in result.stderr
    shown = json.loads(run_cli("jobs", "show", job_id, "--json").stdout)
    assert shown["status"] == "failed" and shown["error"] == "RuntimeError: the index folder vanished"


def test_the_web_servers_pool_logs_the_traceback_even_for_a_job_submitted_in_the_foreground(app, svc, monkeypatch,
                                                                                             caplog):
    """The foreground mode is the submitting thread's only: the pool's threads start without it."""
    monkeypatch.setitem(JOBS, "reindex", _broken_job)
    queue = queue_of(app)
    with app.app_context(), jobs_in_foreground():
        job_id = enqueue(svc, "reindex", {}, app=app)["id"]
    queue.shutdown(wait=True)  # the job has run when its thread is joined
    assert get_job(svc, job_id)["error"] == "RuntimeError: the index folder vanished"
    [record] = [r for r in caplog.records if r.name == "service.jobs.queue" and r.levelno == logging.ERROR]
    assert record.getMessage() == f"job {job_id} (reindex) failed" and record.exc_info[0] is RuntimeError
