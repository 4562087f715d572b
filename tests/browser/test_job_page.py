"""The job page in a real browser: while a job runs, app.js updates its status in place (no reload, which sent a
screen reader back to the top), opens what the job made once it is done, and shows a failure where it stands."""
from __future__ import annotations

import pytest

from .test_paste_flow import assert_clean  # the browser fixture skips without chromium or playwright

pytestmark = pytest.mark.browser


def _until(page, check, seconds: float = 10) -> None:
    """Poll from Python: the page's CSP (script-src 'self') refuses the string a wait_for_function would evaluate."""
    from playwright.sync_api import Error

    for _ in range(int(seconds * 10)):
        try:
            if check():
                return
        except Error:  # read while the page navigates: look again
            pass
        page.wait_for_timeout(100)
    raise AssertionError("the page did not change in time")


def _queued(live_app, kind: str) -> str:
    from service.jobs import store

    job, _ = store.create(live_app.extensions["feedback"], kind, {}, key=None, backend="thread")
    return job["id"]


def test_a_running_job_updates_in_place_and_opens_the_themes_when_done(page, live_app, live_server):
    from service.jobs import store

    svc = live_app.extensions["feedback"]
    job_id = _queued(live_app, "themes")
    page.goto(f"{live_server}/jobs/{job_id}")
    page.evaluate("() => { window.__same_document = true; }")  # gone if the page reloads instead of updating in place
    assert "queued" in page.inner_text("#status-h")
    assert store.claim(svc, job_id)
    _until(page, lambda: "running" in page.inner_text("#status-h"))
    assert page.evaluate("() => window.__same_document === true")  # updated in place
    store.finish(svc, job_id, {"themes": 3})
    page.wait_for_url("**/themes?ran=1", timeout=10_000)
    assert_clean(page)


def test_a_failed_job_shows_its_error_where_it_stands_and_stops_asking(page, live_app, live_server):
    from service.jobs import store

    svc = live_app.extensions["feedback"]
    job_id = _queued(live_app, "themes")
    page.goto(f"{live_server}/jobs/{job_id}")
    page.evaluate("() => { window.__same_document = true; }")
    store.claim(svc, job_id)
    store.fail(svc, job_id, "OperationalError: database is locked")
    _until(page, lambda: "failed" in page.inner_text("#status-h"))
    _until(page, lambda: page.query_selector("#job-refresh-hint") is None)
    assert page.evaluate("() => window.__same_document === true") and f"/jobs/{job_id}" in page.url
    assert "database is locked" in page.inner_text("#job-status-live")
    assert_clean(page)


def test_a_job_that_disappears_shows_the_not_found_page_and_stops_asking(page, live_app, live_server):
    from sqlalchemy import delete

    from service.models import Job

    svc = live_app.extensions["feedback"]
    job_id = _queued(live_app, "themes")
    page.goto(f"{live_server}/jobs/{job_id}")
    with svc.db.transaction() as session:  # e.g. a database restored from a backup taken before the job
        session.execute(delete(Job).where(Job.id == job_id))
    _until(page, lambda: "No such job" in page.content())
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.wait_for_timeout(3000)
    assert not [u for u in requests if f"/jobs/{job_id}" in u]  # it stopped asking
    assert_clean(page, expected_status=404)
