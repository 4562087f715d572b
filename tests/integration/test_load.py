"""The production profile under load, at a small size: gunicorn (4 workers), two `feedback worker` processes, a
Chroma server, PostgreSQL and Redis on loopback. The full run (16 clients, 60 s) is `python -m eval.load`."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from eval.load import SKIP
from eval.load_stack import missing_servers

from ..conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.chroma_server]


def test_no_note_is_lost_or_stored_twice_and_nothing_answers_5xx(tmp_path):
    reason = missing_servers()
    if reason:
        pytest.skip(f"the production profile cannot be built here: {reason}")
    out = tmp_path / "load.json"
    done = subprocess.run([sys.executable, "-m", "eval.load", "--clients", "4", "--seconds", "12",
                           "--idle-drafts", "3", "--batches", "2", "--json", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    if done.returncode == SKIP:
        pytest.skip(done.stderr.strip())
    assert out.exists(), done.stderr[-3000:]
    figures = json.loads(out.read_text())
    store, load = figures["store"], figures["load"]
    assert figures["server_errors"] == 0, figures["server_error_samples"]
    assert store["lost"] == 0 and store["duplicate_ids"] == 0 and store["duplicate_texts"] == 0, store
    # racing posts of one text without an id: every acknowledged one stored, none twice
    assert store["shared_texts_acknowledged"] > 0 and store["shared_texts_lost"] == store["shared_texts_duplicated"] == 0
    assert store["acknowledged"] > 0 and store["vectors"] == store["statements"]
    # every kind of request ran, and the batches went through the queue to the job workers
    for name in ("POST /api/v1/notes", "POST /api/v1/drafts", "POST /api/v1/notes (batch, 202)"):
        assert load.get(name, {}).get("requests", 0) > 0, (name, sorted(load))
    assert figures["jobs"] and set(figures["jobs"]) == {"done"}, figures["jobs"]
    assert figures["idle_drafts"]["n"] == 3 and load["POST /api/v1/drafts"]["p95_ms"] > 0
    assert done.returncode == 0 and figures["ok"], done.stderr[-3000:]
