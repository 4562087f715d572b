"""The `feedback` console script in real processes: exit codes, dedupe, atomicity, reindex after losing Chroma."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import DATA

FEEDBACK = str(Path(sys.executable).parent / "feedback")


@pytest.fixture
def env(tmp_path):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACK_", "OPENAI_"))}
    e.update(FEEDBACK_HOME=str(tmp_path / "home"), FEEDBACK_EMBEDDING_MODEL="hashing")
    return e


def run(env, *args, input=None):
    return subprocess.run([FEEDBACK, *args], env=env, capture_output=True, text=True, input=input, timeout=120)


def stats(env) -> dict:
    res = run(env, "stats", "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_ingest_dedupe_atomic_and_reindex(env, tmp_path):
    assert run(env, "init").returncode == 0
    first = run(env, "ingest", str(DATA / "notes.jsonl"), str(DATA / "call.vtt"))
    assert first.returncode == 0, first.stderr
    counts = stats(env)
    assert counts["notes"] == 4 and counts["vectors"] == counts["statements"]

    again = run(env, "ingest", str(DATA / "notes.jsonl"))
    assert again.returncode == 0 and "unchanged 3" in again.stdout
    assert stats(env)["notes"] == 4

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "b1", "text": "fine"}\n{"id": "b2", "text": broken}\n')
    res = run(env, "ingest", str(bad))
    assert res.returncode == 1
    assert f"{bad}:2" in res.stderr and "nothing was stored" in res.stderr
    assert stats(env) == counts

    shutil.rmtree(Path(env["FEEDBACK_HOME"]) / "chroma")
    assert stats(env)["vectors"] == 0
    assert run(env, "reindex").returncode == 0
    assert stats(env)["vectors"] == counts["vectors"]


def test_stdin_usage_errors_and_read_commands(env):
    res = run(env, "ingest", "-", "--json", input='{"id": "s1", "text": "From stdin. Exports time out.", "account": "Acme"}\n')
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["note_ids"] == ["s1"]
    shown = json.loads(run(env, "notes", "show", "s1", "--json").stdout)
    assert shown["account"] == "Acme" and len(shown["statements"]) == 2
    listed = json.loads(run(env, "notes", "list", "--json").stdout)
    assert listed["total"] == 1
    accounts = json.loads(run(env, "accounts", "list", "--json").stdout)
    assert accounts == [{"name": "Acme", "notes": 1, "last_note_at": accounts[0]["last_note_at"]}]
    assert run(env, "notes", "show", "nope").returncode == 1
    assert run(env, "ingest").returncode == 2  # usage: PATHS is required
    assert run(env, "notes", "list", "--since", "someday").returncode == 2
    assert run(env, "notes", "delete", "s1").returncode == 0
    assert stats(env)["notes"] == 0
