"""A one-shot command says a bad LLM reply in its own `warning:` line; the logger's record is not printed bare on
stderr as well (Python's last-resort handler did, --json included). Long-running commands keep their log lines."""
from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import logging, sys
from service.cli import _quiet_repeated_warnings
_quiet_repeated_warnings(sys.argv[1:])
logging.getLogger("service.llm").warning("llm bad output prompt=draft")
logging.getLogger("service.jobs.queue").error("job 7 failed")
"""


@pytest.mark.parametrize("argv, shown", [
    (["draft", "--json", "sso?"], False),
    (["followups", "RM-104"], False),
    (["worker"], True),
    (["schedule", "--once"], True),
])
def test_llm_warnings_are_left_to_the_commands_own_line(argv, shown, monkeypatch):
    monkeypatch.delenv("FEEDBACK_DEBUG", raising=False)
    err = subprocess.run([sys.executable, "-c", SCRIPT, *argv], capture_output=True, text=True, check=True).stderr
    assert ("llm bad output" in err) is shown
    assert "job 7 failed" in err  # other records are untouched


def test_feedback_debug_shows_them(monkeypatch):
    monkeypatch.setenv("FEEDBACK_DEBUG", "1")
    err = subprocess.run([sys.executable, "-c", SCRIPT, "draft", "x"], capture_output=True, text=True, check=True).stderr
    assert "llm bad output" in err
