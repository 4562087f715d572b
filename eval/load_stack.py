"""The production profile on loopback for the load test (`eval.load`): what it needs (`missing_servers`) and the
stack itself (`Stack`): a fresh PostgreSQL database on 127.0.0.1:5432, a queue of its own on the Redis at
127.0.0.1:6379, a Chroma server on a free port with a temporary folder, the bundled sample loaded by
`feedback demo --no-serve`, then `gunicorn -c gunicorn.conf.py` and the `feedback worker` processes, torn down in
reverse order. The loopback helpers (`port_open`, `free_port`, `wait_http`) are shared with the tests.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


# ---- what the profile needs ---------------------------------------------------------------------------------
def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing_servers() -> str | None:
    """Why the production profile cannot be built here, or None."""
    if not port_open("127.0.0.1", 5432):
        return "no PostgreSQL server on 127.0.0.1:5432"
    if not port_open("127.0.0.1", 6379):
        return "no Redis server on 127.0.0.1:6379"
    for tool in ("chroma", "gunicorn", "feedback"):
        if not (BIN / tool).exists():
            return f"the `{tool}` command is not installed in {BIN}"
    from importlib.util import find_spec

    if find_spec("locust") is None:  # not imported here: it patches the standard library for gevent
        return "locust is not installed (`pip install -e '.[dev]'`)"
    return None


# ---- the stack ----------------------------------------------------------------------------------------------
def wait_http(url: str, seconds: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    import requests

    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}" + (f"; see {log}" if log else ""))
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s" + (f"; see {log}" if log else ""))


class Stack:
    """The production profile on loopback, torn down in reverse order on exit."""

    def __init__(self, args, stack: ExitStack):
        self.args, self.stack = args, stack
        self.home = Path(args.home or tempfile.mkdtemp(prefix="feedback-load-"))
        self.home.mkdir(parents=True, exist_ok=True)
        self.name = f"feedback_load_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.database_url = f"postgresql://postgres@127.0.0.1:5432/{self.name}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACK_", "OPENAI_"))}
        self.env.update(
            FEEDBACK_HOME=str(self.home), FEEDBACK_DATABASE_URL=self.database_url,
            FEEDBACK_REDIS_URL=REDIS_URL, FEEDBACK_REDIS_QUEUE=self.name,
            FEEDBACK_CHROMA_PREFIX="load", ANONYMIZED_TELEMETRY="False",
            # Capacity, not the limiter, is under test: 16 clients share one token here.
            FEEDBACK_RATE_LIMIT_ENABLED="0",
            # Share two cores between 4 web workers, 2 job workers and the Chroma server without oversubscribing.
            OMP_NUM_THREADS="1",
        )
        if args.embedder:
            self.env["FEEDBACK_EMBEDDER"] = args.embedder

    def log(self, name: str) -> Path:
        return self.home / f"{name}.log"

    def start(self, echo) -> None:
        self._create_database()
        self.stack.callback(self._drop_database)
        port = free_port()
        self._spawn("chroma", [str(BIN / "chroma"), "run", "--path", str(self.home / "chroma-server"),
                               "--host", "127.0.0.1", "--port", str(port)])
        wait_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", 60, log=self.log("chroma"))
        self.env["FEEDBACK_CHROMA_URL"] = f"http://127.0.0.1:{port}"
        echo(f"chroma server on :{port}; PostgreSQL database {self.name}; Redis queue {self.name}")

        started = time.monotonic()
        self._run(["feedback", "init"])
        self._run(["feedback", "demo", "--no-serve", "--json"])
        made = self._run(["feedback", "tokens", "create", "--name", "load", "--role", "admin", "--json"])
        self.token = json.loads(made)["token"]
        echo(f"sample loaded (feedback demo --no-serve) in {time.monotonic() - started:.0f} s")

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        web = self._spawn("gunicorn", [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"),
                                       "-w", str(self.args.web_workers), "-b", f"127.0.0.1:{self.port}",
                                       *(["--threads", str(self.args.threads)] if self.args.threads else []),
                                       "wsgi:app"])
        for i in range(self.args.job_workers):
            self._spawn(f"worker{i + 1}", [str(BIN / "feedback"), "worker"])
        wait_http(f"{self.base}/healthz", 180, web, self.log("gunicorn"))
        # every worker imports the app and loads the model on its first request: warm them all
        self.warm()
        self.threads = self._gunicorn_threads()
        echo(f"gunicorn -w {self.args.web_workers} on {self.base}, {self.args.job_workers} `feedback worker` "
             f"processes ({time.monotonic() - started:.0f} s since start)")

    def warm(self) -> None:
        import requests

        headers = self.headers()
        for _ in range(self.args.web_workers * 3):
            requests.post(f"{self.base}/api/v1/match", json=["warm up"], headers=headers, timeout=120)

    def _gunicorn_threads(self) -> int:
        if self.args.threads:
            return self.args.threads
        import runpy

        return int(runpy.run_path(str(ROOT / "gunicorn.conf.py")).get("threads", 1))

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def _run(self, cmd: list[str]) -> str:
        done = subprocess.run([str(BIN / cmd[0]), *cmd[1:]], env=self.env, cwd=ROOT, capture_output=True,
                              text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"`{' '.join(cmd)}` failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        return done.stdout

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.log(name), "w")
        proc = subprocess.Popen(cmd, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.stack.callback(_stop, proc, log)
        return proc

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def _drop_database(self) -> None:
        if self.args.keep:
            return
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def cleanup_files(self) -> None:
        if not self.args.keep and not self.args.home:
            shutil.rmtree(self.home, ignore_errors=True)


def _stop(proc: subprocess.Popen, log) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    log.close()
