"""The CLI ends a finished read-only command with os._exit (skipping a second of interpreter teardown): its output
and exit codes must be what they were, and commands that write keep the normal exit (their vectors reach the next
process)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ..conftest import DATA, ROOT

FEEDBACK = str(Path(sys.executable).with_name("feedback"))


def _run(env, *args):
    return subprocess.run([FEEDBACK, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_writes_survive_the_fast_exit_and_exit_codes_are_kept(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACK_", "OPENAI_"))}
    env.update(FEEDBACK_HOME=str(tmp_path / "home"), FEEDBACK_EMBEDDING_MODEL="hashing")
    done = _run(env, "ingest", str(DATA / "notes.jsonl"), "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["created"] == 3  # stdout flushed before the exit
    stats = json.loads(_run(env, "stats", "--json").stdout)
    assert stats["notes"] == 3 and stats["vectors"] == stats["statements"] > 0  # the vectors reached the disk
    assert _run(env, "reindex").returncode == 0
    again = json.loads(_run(env, "stats", "--json").stdout)
    assert again["vectors"] == stats["vectors"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    failed = _run(env, "ingest", str(bad))
    assert failed.returncode == 1 and "bad.jsonl" in failed.stderr
    assert _run(env, "match").returncode == 2  # usage
    assert _run(env, "notes", "show", "nope").returncode == 1  # read-only, failing: the fast exit keeps the code
    listed = _run(env, "notes", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout)["total"] == 3  # all of stdout arrived
