"""Shared fixtures: an app on a temp folder with the fast embedder, its client, and a CLI runner."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# A developer's own settings (FEEDBACK_RETENTION_DAYS, FEEDBACK_REDIS_URL, OPENAI_API_KEY, ...) must not leak into
# the tests; tests that need a setting set it. FEEDBACK_EMBEDDER and FEEDBACK_DATASETS choose what the suite runs
# with and where the public data sets are, on purpose, so they stay.
KEPT_SETTINGS = {"FEEDBACK_EMBEDDER", "FEEDBACK_DATASETS"}
for _name in [n for n in os.environ if n.startswith(("FEEDBACK_", "OPENAI_")) and n not in KEPT_SETTINGS]:
    del os.environ[_name]

pytest_plugins = [p for p in ("tests.fakes.openai_server",) if (Path(__file__).parent / "fakes" / "openai_server.py").exists()]

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"


class AuthedClient(FlaskClient):
    """The test client sends an admin API token unless made with `anonymous=True` (or another `role=`), so tests
    exercise the real guard instead of a switched-off one."""

    def __init__(self, *args, role: str = "admin", anonymous: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not anonymous:
            self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token(self.application, role)}"


def api_token(app, role: str = "admin") -> str:
    """A token of this role for this app (made once per app and role)."""
    from service.auth.store import create_token

    tokens = app.extensions.setdefault("test_tokens", {})
    if role not in tokens:
        tokens[role] = create_token(app.extensions["feedback"].db, f"test-{role}", role)[1]
    return tokens[role]


Flask.test_client_class = AuthedClient


@pytest.fixture
def make_app(tmp_path):
    from service import create_app
    from service.config import TestConfig

    apps = []

    def _make(**overrides):
        app = create_app(TestConfig(tmp_path / f"home{len(apps)}", **overrides))
        apps.append(app)
        return app

    yield _make
    for app in apps:
        app.extensions["feedback"].close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def svc(app):
    return app.extensions["feedback"]


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """Environment for running the real `feedback` CLI in-process against a temp home."""
    home = tmp_path / "cli-home"
    monkeypatch.setenv("FEEDBACK_HOME", str(home))
    monkeypatch.setenv("FEEDBACK_EMBEDDING_MODEL", "hashing")
    for var in ("FEEDBACK_DATABASE_URL", "FEEDBACK_CHROMA_URL", "FEEDBACK_CHROMA_PATH", "OPENAI_BASE_URL", "FEEDBACK_LLM_MODEL"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def run_cli(cli_env):
    from click.testing import CliRunner

    from service.cli import cli
    from service.cli.common import close_open_apps

    runner = CliRunner()

    def _run(*args, input=None):
        try:
            return runner.invoke(cli, list(args), input=input, catch_exceptions=False)
        finally:  # as when each command is its own process: nothing it opened stays open for the next
            close_open_apps()

    return _run


from eval.load_stack import free_port, port_open  # noqa: E402,F401  (loopback helpers shared with the load test)


@pytest.fixture
def closed_port():
    """A loopback port where a connection is refused for the whole test: bound here but never listening, so no
    other process can start listening on it meanwhile (a port merely found free a moment ago can be taken)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _hypothesis_profiles() -> None:
    """Property and fuzz tests draw the same examples on every run (seeded from each test's code) and keep no
    example database in the working folder: a pass or fail must not depend on the run or on what a previous run
    left behind. HYPOTHESIS_PROFILE=explore draws fresh random examples, to hunt for new failures on purpose."""
    try:
        from hypothesis import settings
    except ImportError:
        return
    settings.register_profile("deterministic", derandomize=True, database=None)
    settings.register_profile("explore", derandomize=False)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


_hypothesis_profiles()


@pytest.fixture(autouse=True)
def _close_cli_apps():
    """Commands run in-process by a test (CliRunner) close what they opened when the test ends, as a process would
    on exit: Chroma clients left open across tests keep their folders' systems alive for the whole session."""
    yield
    from service.cli.common import close_open_apps

    close_open_apps()
