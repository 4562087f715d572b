"""Theme runs on several hosts that share one PostgreSQL database take turns (an advisory lock), as runs on one host
do through the file lock in FEEDBACK_HOME: two at once would both continue from the same previous run, and the later
one would drop the other's lineage and any edit made in between. Skips without a PostgreSQL server."""
from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from service.ingest.store import ingest_notes
from service.models import ThemeRun
from service.themes.run import HOSTS_LOCK_KEY, RunOptions, run_themes

from ..unit.test_theme_determinism import TOPICS, _notes
from .test_postgres import pg_url  # noqa: F401 - the PostgreSQL fixture


def test_a_run_waits_while_another_host_holds_the_theme_run_lock(make_app, pg_url):  # noqa: F811
    import psycopg

    svc = make_app(DATABASE_URL=pg_url).extensions["feedback"]
    ingest_notes(svc, _notes(TOPICS))
    other_host = psycopg.connect(pg_url, autocommit=True)
    other_host.execute("SELECT pg_advisory_lock(%s)", (HOSTS_LOCK_KEY,))  # a run in progress elsewhere
    outcome: list = []
    runner = threading.Thread(target=lambda: outcome.append(run_themes(svc, RunOptions(include_all=True))))
    runner.start()
    try:
        assert _waits_for_the_lock(other_host), "the run did not wait for the other host's theme run"
        assert not outcome
        with svc.db.session() as s:
            assert s.scalar(select(func.count(ThemeRun.id))) == 0  # nothing stored while it waits
    finally:
        other_host.execute("SELECT pg_advisory_unlock(%s)", (HOSTS_LOCK_KEY,))
        other_host.close()
    runner.join(timeout=300)
    assert outcome and outcome[0]["themes"]
    with svc.db.session() as s:
        assert s.scalar(select(func.count(ThemeRun.id))) == 1


def _waits_for_the_lock(conn, seconds: float = 60) -> bool:
    """True once another connection waits for the theme-run advisory lock (PostgreSQL's own lock table)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        waiting = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                               "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").fetchone()[0]
        if waiting:
            return True
        time.sleep(0.2)
    return False
