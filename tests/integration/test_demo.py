"""`feedback demo` end to end in a subprocess, and every page in server mode (gunicorn -w 2 + `chroma run`)."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from ..conftest import ROOT, free_port, port_open
from .test_chroma_server import _wait, chroma_server  # noqa: F401  (the fixture)

BIN = Path(sys.executable).parent
PAGES = ["/", "/themes", "/roadmap", "/ask", "/reports"]


def _env(home: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACK_", "OPENAI_"))}
    env.update(FEEDBACK_HOME=str(home), FEEDBACK_EMBEDDING_MODEL="hashing", **extra)
    return env


def _demo(env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "feedback"), "demo", "--no-serve"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def _token_headers(env: dict, role: str) -> dict:
    made = subprocess.run([str(BIN / "feedback"), "tokens", "create", "--name", "test", "--role", role, "--json"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return {"Authorization": f"Bearer {json.loads(made.stdout)['token']}"}


def _utc_day():
    return datetime.now(timezone.utc).date()


def _demo_twice(tmp_path):
    """A fresh home's first and second `feedback demo` runs, both on one UTC day. The demo's report ends today while
    the sample is recent, so a second run after midnight builds the next day's report beside the first one
    instead of replacing it: two runs that straddle midnight are done again in a new home."""
    for attempt in range(3):
        home = tmp_path / f"home{attempt}"
        env = _env(home)
        day = _utc_day()
        first = _demo(env)
        assert first.returncode == 0, first.stderr
        second = _demo(env)
        if _utc_day() == day:
            return home, env, first, second
    raise AssertionError("three pairs of demo runs each straddled a UTC midnight")


@pytest.mark.slow
def test_demo_builds_everything_and_says_where_to_look(tmp_path):
    home, env, first, second = _demo_twice(tmp_path)
    out = first.stdout
    for step in ("[1/6]", "[2/6]", "[3/6]", "[4/6]", "[5/6]", "[6/6]"):
        assert step in out
    # the sample's history has one item moved to shipped, and its follow-ups page is printed
    assert "RM-104 moved in_progress -> shipped" in out
    assert "http://127.0.0.1:5000/roadmap/items/RM-104/followups" in out
    for page in PAGES[1:]:
        assert f"http://127.0.0.1:5000{page}" in out
    report = home / "reports" / "latest.html"
    assert f"Report file: {report}" in out
    html = report.read_text()
    assert html.startswith("<!doctype html>") and 'class="chart bar-chart"' in html and "<blockquote>" in html
    assert "feedback report --since 7d" in out and "feedback schedule --once" in out
    printed = [line.strip() for line in out.splitlines() if line.strip().endswith("feedback reports list")][0]
    runnable = subprocess.run(shlex.split(printed), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert runnable.returncode == 0, (printed, runnable.stderr)  # the printed commands run as printed
    assert "created 257" in out and "25 items: created 25" in out and "4 drafts" in out
    # idempotent: nothing is loaded, run or drafted twice, and the report is replaced, not added
    assert second.returncode == 0, second.stderr
    assert "created 0, already stored 257" in second.stdout and "unchanged 25" in second.stdout
    assert "the store holds 257 notes" in second.stdout  # the stats a new user sees, unchanged by a re-run
    assert "up to date" in second.stdout and "already made" in second.stdout
    history = subprocess.run([str(BIN / "feedback"), "roadmap", "history", "RM-104", "--json"], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    changes = json.loads(history.stdout)["changes"]  # a re-run records no move back and forth
    assert [(c["kind"], c["new_status"]) for c in changes] == [("created", "in_progress"), ("changed", "shipped")]
    listed = subprocess.run([str(BIN / "feedback"), "reports", "list", "--json"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and '"total": 1' in listed.stdout


@pytest.mark.chroma_server
def test_pages_in_server_mode_with_gunicorn_and_chroma(tmp_path, chroma_server):  # noqa: F811
    if shutil.which("gunicorn", path=str(BIN)) is None:
        pytest.skip("gunicorn is not installed in this environment")
    env = _env(tmp_path, FEEDBACK_CHROMA_URL=chroma_server, FEEDBACK_CHROMA_PREFIX=f"t{os.getpid()}demo")
    demo = _demo(env)
    assert demo.returncode == 0, demo.stderr
    headers = _token_headers(env, "pm")  # pages up to raw notes
    port = free_port()
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(f"{base}/healthz")
        for _ in range(2):  # both workers answer
            for page in PAGES + ["/reports/1", "/ask/1", "/notes/n-0001", "/themes/1"]:
                resp = requests.get(base + page, headers=headers, timeout=60)
                assert resp.status_code == 200, (page, resp.status_code)
                assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        assert "<svg" in requests.get(f"{base}/reports/1", headers=headers, timeout=60).text
        assert requests.get(f"{base}/themes", timeout=60, allow_redirects=False).status_code == 302  # signed out
    finally:
        proc.terminate()
        proc.wait(10)
    assert not port_open("127.0.0.1", port)
