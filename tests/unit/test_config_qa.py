"""Configuration QA, as an operator meets it: every setting in docs/configuration.md is the one the code reads, with
the documented default; a value the service cannot use is one error naming the variable at startup (not a traceback,
not the default taken quietly, not a 500 later); no message repeats a secret; and the production profile's web server
(gunicorn, a Chroma server, Redis) starts, refuses or degrades as docs/deployment.md says."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from ..conftest import ROOT, free_port

DOCS = ROOT / "docs"
BIN = Path(sys.executable).parent
SECRET = "S3cretPW"
NAME = re.compile(r"^(?:FEEDBACK|OPENAI)_[A-Z0-9_]+$")


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean environment (conftest removed the developer's settings) with FEEDBACK_HOME in a temp folder."""
    monkeypatch.setenv("FEEDBACK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FEEDBACK_EMBEDDER", raising=False)
    return monkeypatch


def problem(**values) -> str:
    """The error Config() raises for these settings (set by the caller's env fixture)."""
    from service.config import Config

    for name, value in values.items():
        os.environ[name] = value
    try:
        with pytest.raises(ValueError) as caught:
            Config()
    finally:
        for name in values:
            os.environ.pop(name, None)
    return str(caught.value)


# ---- the documented settings are the settings ------------------------------------------------------------------
def documented_rows() -> list[tuple[list[str], list[str]]]:
    """(variables, backticked defaults) of each row of the table in docs/configuration.md."""
    rows = []
    for line in (DOCS / "configuration.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not line.startswith("| `"):
            continue
        names = re.findall(r"`([^`]+)`", cells[0])
        if names and all(NAME.match(n) for n in names):
            rows.append((names, re.findall(r"`([^`]+)`", cells[1])))
    return rows


def read_in_code() -> set[str]:
    """Every FEEDBACK_*/OPENAI_* variable the service, the eval tools and the entry points read from the
    environment, found in their source."""
    direct = re.compile(r"""(?:_env|environ\.get|getenv|\.text)\(\s*["']((?:FEEDBACK|OPENAI)_[A-Z0-9_]+)["']""")
    read_by_config = re.compile(r"""(?:read|read\.check)\(\s*(?:"[A-Z_]+",\s*)?"((?:FEEDBACK|OPENAI)_[A-Z0-9_]+)\"""")
    found = set()
    files = [*ROOT.glob("service/**/*.py"), *ROOT.glob("eval/*.py"), ROOT / "wsgi.py", ROOT / "gunicorn.conf.py"]
    for path in files:
        text = path.read_text()
        found |= set(direct.findall(text)) | set(read_by_config.findall(text))
        if 'environ.get(f"FEEDBACK_{name}")' in text:  # service/roadmap/scoring.py reads setting("SCORING") etc.
            found |= {f"FEEDBACK_{n}" for n in re.findall(r'setting\("([A-Z_]+)"\)', text)}
    return found


def test_the_documented_settings_are_the_ones_the_code_reads():
    from service.config import SETTINGS

    documented = [name for names, _ in documented_rows() for name in names]
    assert len(documented) == len(set(documented)), "a variable is listed twice in docs/configuration.md"
    code = read_in_code()
    assert {"FEEDBACK_DATABASE_URL", "FEEDBACK_JOB_BACKOFF", "FEEDBACK_SCORING_WEIGHTS"} <= code  # the scan works
    assert sorted(code - set(documented)) == [], "read in the code but not in docs/configuration.md"
    assert sorted(set(documented) - code) == [], "in docs/configuration.md but read nowhere"
    assert sorted(SETTINGS) == sorted(documented), "service.config.SETTINGS and the docs differ"


def effective_defaults() -> dict:
    """What each setting is when unset, from where it is read."""
    from service.config import Config
    from service.drafts import pipeline
    from service.jobs.queue import backoff_base, sweep_seconds
    from service.reports.deliver import backoff_delay
    from service.roadmap.scoring import settings_from

    config, scoring = Config(), settings_from(None)
    drafts_llm = re.search(r'environ\.get\("FEEDBACK_DRAFTS_LLM", "(\w+)"\)', Path(pipeline.__file__).read_text())
    return {
        "FEEDBACK_HOME": "./instance" if Path(config.FEEDBACK_HOME) == Path("./instance").resolve() else None,
        "FEEDBACK_CHROMA_PREFIX": config.CHROMA_COLLECTION_PREFIX, "FEEDBACK_EMBEDDER": config.EMBEDDER,
        "FEEDBACK_REDIS_QUEUE": config.REDIS_QUEUE, "FEEDBACK_JOB_THREADS": config.JOB_THREADS,
        "FEEDBACK_JOB_BACKOFF": backoff_base(), "FEEDBACK_JOB_SWEEP_SECONDS": sweep_seconds(),
        "FEEDBACK_ASYNC_INGEST_NOTES": config.ASYNC_INGEST_NOTES,
        "FEEDBACK_ASYNC_INGEST_CHARS": config.ASYNC_INGEST_CHARS,
        "FEEDBACK_LLM_TIMEOUT": config.LLM_TIMEOUT, "FEEDBACK_PHONE_REGIONS": ",".join(config.PHONE_REGIONS),
        "FEEDBACK_DRAFTS_LLM": drafts_llm.group(1), "FEEDBACK_MAX_REQUEST_BYTES": config.MAX_CONTENT_LENGTH,
        "FEEDBACK_MAX_NOTES_PER_REQUEST": config.MAX_NOTES_PER_REQUEST, "FEEDBACK_SCORING": scoring.method,
        "FEEDBACK_SCORING_EFFORT_UNIT": scoring.effort_unit,
        "FEEDBACK_REPORT_CRON": config.REPORT_CRON, "FEEDBACK_WEBHOOK_ALLOWED_HOSTS": config.WEBHOOK_ALLOWED_HOSTS,
        "FEEDBACK_WEBHOOK_ALLOW_PRIVATE": int(config.WEBHOOK_ALLOW_PRIVATE),
        "FEEDBACK_LLM_DAILY_BUDGET": config.LLM_DAILY_BUDGET, "FEEDBACK_RATE_LIMIT": config.RATE_LIMIT,
        "FEEDBACK_RATE_LIMIT_HEAVY": config.RATE_LIMIT_HEAVY,
        "FEEDBACK_RATE_LIMIT_ENABLED": int(config.RATE_LIMIT_ENABLED),
        "FEEDBACK_REPORT_WEBHOOK_BACKOFF": backoff_delay(),
    }


def test_every_documented_default_is_the_default(env, monkeypatch, tmp_path):
    monkeypatch.delenv("FEEDBACK_HOME")
    monkeypatch.chdir(tmp_path)  # ./instance, the default home, is made here
    actual = effective_defaults()
    checked = []
    for names, defaults in documented_rows():
        if len(defaults) != len(names):  # "unset", "SQLite in FEEDBACK_HOME", "all 1": said in words
            continue
        for name, default in zip(names, defaults):
            if name in actual:
                value = actual[name]
                assert str(value) == default or (isinstance(value, float) and value == float(default)), name
                checked.append(name)
    assert sorted(set(actual) - set(checked)) == [], "a default the docs do not give as `value`"


def test_the_deployment_env_file_has_known_settings_no_inline_comments_and_is_accepted(env, tmp_path):
    """docs/deployment.md's /etc/feedback.env, as systemd's EnvironmentFile= would read it."""
    from service.config import SETTINGS, Config

    text = (DOCS / "deployment.md").read_text()
    block = text[text.index("One environment file"):].split("```bash", 1)[1].split("```", 1)[0]
    pairs = [line.split("=", 1) for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert {"FEEDBACK_DATABASE_URL", "FEEDBACK_REDIS_URL", "FEEDBACK_CHROMA_URL"} <= {k for k, _ in pairs}
    for name, value in pairs:
        assert name in SETTINGS or name == "OMP_NUM_THREADS", name
        assert "#" not in value, f"{name}: systemd keeps an inline comment in the value"
        env.setenv(name, value)
    config = Config(FEEDBACK_HOME=str(tmp_path / "var"))
    assert config.REDIS_URL == "redis://127.0.0.1:6379/0" and config.CHROMA_URL == "http://127.0.0.1:8000"


# ---- bad values: one error, naming the variable ----------------------------------------------------------------
BAD = [
    ("FEEDBACK_MAX_REQUEST_BYTES", "5MB", "not a whole number"),
    ("FEEDBACK_MAX_REQUEST_BYTES", "-5", "smallest allowed value, 1"),  # was taken: every request a 413
    ("FEEDBACK_MAX_NOTES_PER_REQUEST", "0", "smallest allowed value, 1"),
    ("FEEDBACK_JOB_THREADS", "0", "smallest allowed value, 1"),
    ("FEEDBACK_ASYNC_INGEST_NOTES", "-1", "smallest allowed value, 0"),
    ("FEEDBACK_ASYNC_INGEST_CHARS", "1e5", "not a whole number"),
    ("FEEDBACK_LLM_TIMEOUT", "thirty", "not a number"),
    ("FEEDBACK_LLM_TIMEOUT", "-1", "more than 0"),
    ("FEEDBACK_LLM_TIMEOUT", "nan", "not a finite number"),
    ("FEEDBACK_LLM_DAILY_BUDGET", "lots", "from 0 up, or none"),
    ("FEEDBACK_LLM_DAILY_BUDGET", "-3", "from 0 up, or none"),
    ("FEEDBACK_RETENTION_DAYS", "ninety", "not a whole number"),  # was: retention quietly off
    ("FEEDBACK_RETENTION_DAYS", "0", "smallest allowed value, 1"),
    ("FEEDBACK_EMBEDDER", "gpu", "not one of onnx, onnx-int8"),  # was: a 500 at the first request that embeds
    ("FEEDBACK_EMBEDDING_MODEL", "/nonexistent/model", "not a local model folder"),
    ("FEEDBACK_RATE_LIMIT", "lots", "not a rate limit"),  # was: no rate limit at all, quietly
    ("FEEDBACK_RATE_LIMIT_HEAVY", "0 per minute", "allows no request"),
    ("FEEDBACK_RATE_LIMIT_ENABLED", "maybe", "is not one of 1, true"),
    ("FEEDBACK_WEBHOOK_ALLOW_PRIVATE", "maybe", "is not one of 1, true"),
    ("FEEDBACK_DRAFTS_LLM", "maybe", "is not one of 1, true"),
    ("FEEDBACK_JOB_BACKOFF", "soon", "not a number"),  # was: 2 s, quietly
    ("FEEDBACK_JOB_SWEEP_SECONDS", "0.1", "at least 1"),
    ("FEEDBACK_REPORT_WEBHOOK_BACKOFF", "-1", "at least 0"),
    ("FEEDBACK_PROMPTS_DIR", "/nonexistent/prompts", "not a folder"),
    ("FEEDBACK_CHROMA_PREFIX", "my prefix!", "letters, digits"),  # was: a 500 on every call to the store
    ("FEEDBACK_CHROMA_URL", "127.0.0.1:8000", "should look like http://host:port"),
    ("FEEDBACK_CHROMA_URL", "http://127.0.0.1:99999", "no valid port"),
    ("FEEDBACK_CHROMA_URL", "http://127.0.0.1:8000/api/v2", "no path"),
    ("FEEDBACK_REDIS_URL", "http://127.0.0.1:6379/0", "should look like redis://host:port/db"),
    ("FEEDBACK_REDIS_URL", "redis://127.0.0.1:6379/jobs", "must be a number"),
    ("FEEDBACK_DATABASE_URL", "postgres://feedback@db/feedback", "write postgresql://"),
    ("FEEDBACK_DATABASE_URL", "mysql://feedback@db/feedback", "the mysql database is not supported"),
    ("FEEDBACK_DATABASE_URL", "http://db/feedback", "the http database is not supported"),
    ("FEEDBACK_DATABASE_URL", "feedback.db", "is not a database URL"),
    ("FEEDBACK_SECRET_KEY", "...", "at least 16"),  # the deployment guide's placeholder, copied as it was
    ("FEEDBACK_PHONE_REGIONS", "US,XX", "unknown region code(s) XX"),
    ("FEEDBACK_REDIS_URL", "redis://127.0.0.1:6379/0   # the job queue", "looks like a comment"),
]


@pytest.mark.parametrize("name, value, expected", BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_a_bad_value_is_an_error_naming_the_variable(env, name, value, expected):
    message = problem(**{name: value})
    assert message.startswith(name) and expected in message, message


def test_a_driver_that_is_not_installed_is_named(env):
    if _importable("psycopg2"):
        pytest.skip("psycopg2 is installed here")
    message = problem(FEEDBACK_DATABASE_URL="postgresql+psycopg2://feedback@db/feedback")
    assert "FEEDBACK_DATABASE_URL" in message and "'psycopg2' is not installed" in message


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_half_an_llm_configuration_is_an_error_not_the_template_quietly(env):
    assert "OPENAI_BASE_URL is not" in problem(FEEDBACK_LLM_MODEL="qwen2.5")
    assert "FEEDBACK_LLM_MODEL is not" in problem(OPENAI_BASE_URL="http://127.0.0.1:8080/v1")
    assert problem(OPENAI_BASE_URL="127.0.0.1:8080/v1", FEEDBACK_LLM_MODEL="m").startswith("OPENAI_BASE_URL: ")


def test_several_bad_values_are_listed_in_one_error(env):
    from service.config import ConfigError, Config

    env.setenv("FEEDBACK_MAX_REQUEST_BYTES", "x")
    env.setenv("FEEDBACK_JOB_THREADS", "0")
    with pytest.raises(ConfigError) as caught:
        Config()
    assert [p.split(":")[0] for p in caught.value.problems] == ["FEEDBACK_MAX_REQUEST_BYTES", "FEEDBACK_JOB_THREADS"]
    assert str(caught.value).startswith("2 settings cannot be used: ")


def test_good_values_are_read_as_their_types(env):
    from service.config import Config

    for name, value in {"FEEDBACK_RATE_LIMIT_ENABLED": "off", "FEEDBACK_WEBHOOK_ALLOW_PRIVATE": "on",
                        "FEEDBACK_RETENTION_DAYS": "365", "FEEDBACK_LLM_DAILY_BUDGET": "none",
                        "FEEDBACK_EMBEDDER": "ONNX-int8", "FEEDBACK_DATABASE_URL": "postgresql://u@h:5432/db",
                        "FEEDBACK_REDIS_URL": "rediss://:pw@h:6380/2", "FEEDBACK_CHROMA_URL": "http://h:8000/",
                        "FEEDBACK_RATE_LIMIT": "10/second;500/hour"}.items():
        env.setenv(name, value)
    config = Config()
    # "off" kept rate limits on before: only 0, false and no turned them off
    assert config.RATE_LIMIT_ENABLED is False and config.WEBHOOK_ALLOW_PRIVATE is True
    assert config.RETENTION_DAYS == 365 and config.LLM_DAILY_BUDGET is None and config.EMBEDDER == "onnx-int8"
    assert config.CHROMA_URL == "http://h:8000"


def test_an_override_replaces_the_environments_value_unread(env, tmp_path):
    from service.config import TestConfig

    env.setenv("FEEDBACK_DATABASE_URL", "not a url")
    env.setenv("FEEDBACK_CHROMA_URL", "nonsense")
    assert TestConfig(tmp_path / "t").DATABASE_URL.startswith("sqlite:///")


# ---- secrets ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, value", [
    ("FEEDBACK_DATABASE_URL", f"postgres://feedback:{SECRET}@db:5432/feedback"),
    ("FEEDBACK_DATABASE_URL", f"mysql://feedback:{SECRET}@db/feedback"),
    ("FEEDBACK_DATABASE_URL", f"postgresql://feedback:{SECRET}@db:port/feedback"),  # unreadable: not shown at all
    ("FEEDBACK_REDIS_URL", f"redis://:{SECRET}@127.0.0.1:6379/jobs"),
    ("FEEDBACK_REDIS_URL", f"redis://:{SECRET}@127.0.0.1:99999/0"),
    ("FEEDBACK_CHROMA_URL", f"http://admin:{SECRET}@127.0.0.1:8000"),
    ("FEEDBACK_SECRET_KEY", SECRET),
    ("OPENAI_BASE_URL", f"ftp://user:{SECRET}@llm/v1"),
])
def test_no_error_repeats_a_password_or_key(env, name, value):
    message = problem(**{name: value}, **({"FEEDBACK_LLM_MODEL": "m"} if name == "OPENAI_BASE_URL" else {}))
    assert name in message and SECRET not in message, message


def test_healthz_and_stats_show_no_secret(make_app, closed_port):
    app = make_app(REDIS_URL=f"redis://:{SECRET}@127.0.0.1:{closed_port}/3", OPENAI_API_KEY=f"sk-{SECRET}",
                   SECRET_KEY=f"{SECRET}-0123456789")
    client = app.test_client()
    for path in ("/healthz", "/api/v1/stats"):
        body = client.get(path).get_data(as_text=True)
        assert SECRET not in body and "127.0.0.1" in body if path == "/healthz" else SECRET not in body


def test_the_cli_names_a_bad_setting_without_a_traceback_or_its_password(run_cli, monkeypatch):
    monkeypatch.setenv("FEEDBACK_DATABASE_URL", f"postgres://feedback:{SECRET}@db/feedback")
    result = run_cli("stats")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "FEEDBACK_DATABASE_URL: 'postgres://feedback:***@db/feedback'" in result.stderr
    assert SECRET not in result.output


def test_a_mistyped_setting_is_named_with_the_one_it_probably_meant():
    from service.config import unknown_settings

    environ = {"FEEDBACK_REDIS_URI": "x", "FEEDBACK_HOME": "/x", "FEEDBACK_QUUX": "1", "PATH": "/bin"}
    assert unknown_settings(environ) == ["FEEDBACK_QUUX is not a setting",
                                         "FEEDBACK_REDIS_URI is not a setting (did you mean FEEDBACK_REDIS_URL?)"]


# ---- a Chroma server that does not answer ----------------------------------------------------------------------
def test_a_chroma_server_down_from_the_start_is_a_json_503_on_healthz_and_the_api(make_app, closed_port, caplog):
    """The store used to be made by connecting: down at startup, /healthz answered an HTML error page (its checks
    lost) and the API a 503 without Retry-After."""
    url = f"http://127.0.0.1:{closed_port}"
    client = make_app(CHROMA_URL=url).test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and health.is_json
    assert health.get_json()["error"]["details"] == {"database": "ok", "vector_store": f"unreachable at {url}"}
    stats = client.get("/api/v1/stats")
    assert stats.status_code == 503 and stats.headers.get("Retry-After")
    assert stats.get_json()["error"]["message"] == f"vector store unreachable at {url}"
    assert not any(r.exc_info for r in caplog.records)


def test_a_chroma_server_down_from_the_start_is_one_line_in_the_cli(run_cli, monkeypatch, closed_port):
    monkeypatch.setenv("FEEDBACK_CHROMA_URL", f"http://127.0.0.1:{closed_port}")
    result = run_cli("stats")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith(f"error: no Chroma server answers at http://127.0.0.1:{closed_port}")


def test_a_malformed_chroma_url_given_in_code_is_a_vector_store_error():
    from service.vectorstore import ChromaStore, VectorStoreError

    with pytest.raises(VectorStoreError, match="FEEDBACK_CHROMA_URL must look like http://host:port"):
        ChromaStore.server("http://127.0.0.1:99999")


def _start_chroma(port: int, folder: Path):
    proc = subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(folder), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).ok, 60)
    return proc


def _wait_until(check, seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


@pytest.mark.chroma_server
def test_a_chroma_server_that_starts_late_is_used_without_a_restart(make_app, tmp_path):
    if not (BIN / "chroma").exists():
        pytest.skip("the chroma CLI is not installed in this environment")
    port = free_port()
    client = make_app(CHROMA_URL=f"http://127.0.0.1:{port}").test_client()
    assert client.post("/api/v1/notes", json=[{"id": "n1", "text": "Exports time out."}]).status_code == 503
    proc = _start_chroma(port, tmp_path / "chroma")
    try:
        assert client.get("/healthz").status_code == 200
        assert client.post("/api/v1/notes", json=[{"id": "n1", "text": "Exports time out."}]).status_code == 201
        assert client.get("/api/v1/stats").get_json()["vectors"] == 1
    finally:
        proc.terminate()
        proc.wait(10)


# ---- the web server: gunicorn with wsgi.py ---------------------------------------------------------------------
def _server_env(tmp_path, **values) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACK_", "OPENAI_"))}
    env.update(FEEDBACK_HOME=str(tmp_path / "home"), FEEDBACK_EMBEDDING_MODEL="hashing", **values)
    return env


def _gunicorn(env: dict, port: int, workers: int = 1, **kwargs):
    return subprocess.Popen([str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
                             "--control-socket", str(Path(env["FEEDBACK_HOME"]).parent / "gunicorn.ctl"), "wsgi:app"],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


@pytest.mark.parametrize("values, expected", [
    ({"FEEDBACK_MAX_REQUEST_BYTES": "5MB"}, "error: FEEDBACK_MAX_REQUEST_BYTES: '5MB' is not a whole number"),
    ({"FEEDBACK_SCORING": "magic"}, "error: FEEDBACK_SCORING must be one of rice, given, not 'magic'"),
    ({"FEEDBACK_DATABASE_URL": f"postgresql://feedback:{SECRET}@127.0.0.1:{{port}}/feedback"},
     "error: the database at postgresql://feedback:***@127.0.0.1:{port}/feedback did not answer"),
], ids=["number", "scoring", "database-down"])
def test_gunicorn_refuses_to_start_with_one_line_naming_the_setting(tmp_path, closed_port, values, expected):
    if not (BIN / "gunicorn").exists():
        pytest.skip("gunicorn is not installed in this environment")
    values = {k: v.replace("{port}", str(closed_port)) for k, v in values.items()}
    proc = _gunicorn(_server_env(tmp_path, **values), free_port())
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 4, out  # gunicorn's "App failed to load": the whole server stops
    assert expected.replace("{port}", str(closed_port)) in out and "Traceback" not in out and SECRET not in out, out


def test_wsgi_outside_gunicorn_exits_with_the_message(tmp_path):
    run = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, capture_output=True, text=True, timeout=90,
                         env=_server_env(tmp_path, FEEDBACK_RETENTION_DAYS="ninety"))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip() == "error: FEEDBACK_RETENTION_DAYS: 'ninety' is not a whole number"


def test_gunicorn_starts_with_chroma_and_redis_down_says_so_once_and_answers_503(tmp_path, closed_port):
    """docs/deployment.md's profile with both servers down at startup: two workers start, each logs one line per
    server (no traceback, no password), /healthz names both, and a mistyped setting is a warning."""
    if not (BIN / "gunicorn").exists():
        pytest.skip("gunicorn is not installed in this environment")
    chroma, redis = f"http://127.0.0.1:{closed_port}", f"redis://:{SECRET}@127.0.0.1:{closed_port}/13"
    env = _server_env(tmp_path, FEEDBACK_CHROMA_URL=chroma, FEEDBACK_REDIS_URL=redis, FEEDBACK_REDIS_URI="oops")
    port = free_port()
    proc = _gunicorn(env, port, workers=2)
    try:
        _wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 503, 90)
        body = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
    except AssertionError:
        proc.terminate()
        raise AssertionError(proc.communicate(timeout=30)[0]) from None
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    checks = body["error"]["details"]
    assert checks["database"] == "ok" and checks["vector_store"] == f"unreachable at {chroma}"
    assert checks["job_queue"].startswith(f"unreachable at redis://127.0.0.1:{closed_port}/13")
    assert out.count(f"startup: no Chroma server answers at FEEDBACK_CHROMA_URL={chroma}") == 2, out
    assert out.count(f"startup: Redis does not answer at FEEDBACK_REDIS_URL=redis://127.0.0.1:{closed_port}/13") == 2
    assert "FEEDBACK_REDIS_URI is not a setting (did you mean FEEDBACK_REDIS_URL?)" in out
    assert "Traceback" not in out and SECRET not in out + json.dumps(body)


def test_workers_starting_together_on_a_fresh_database_all_start(tmp_path, closed_port):
    """`gunicorn -w 2 wsgi:app` on a new install (the guide's "several workers" snippet has no `feedback init`): the
    workers applied the migrations at once and all but one failed ("table drafts already exists"), which stopped
    the server. Four processes load wsgi.py at the same instant here."""
    go = tmp_path / "go"
    code = ("import os, time, service, sqlalchemy, alembic, filelock\n"
            f"while not os.path.exists({str(go)!r}): time.sleep(0.005)\n"
            "import wsgi")
    env = _server_env(tmp_path, FEEDBACK_CHROMA_URL=f"http://127.0.0.1:{closed_port}")
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    time.sleep(3)  # every process is waiting with its imports done
    go.touch()
    results = [(proc.wait(120), proc.stderr.read()) for proc in procs]
    assert [code for code, _ in results] == [0, 0, 0, 0], [err[-300:] for _, err in results]


def test_healthz_answers_json_when_the_store_cannot_even_be_opened(app, monkeypatch):
    """Opening the store was outside the check's try: any error there became an HTML 500 page."""
    from service.services import Services

    def broken(self):
        raise RuntimeError("the folder is held by another process")

    monkeypatch.setattr(Services, "store", property(broken))
    resp = app.test_client(anonymous=True).get("/healthz")
    assert resp.status_code == 503 and resp.is_json
    assert "RuntimeError" in resp.get_json()["error"]["details"]["vector_store"]


def test_an_embedding_model_that_cannot_load_is_a_503_not_a_500(app, monkeypatch):
    from service.embedding import EmbeddingModelError
    from service.services import Services

    def broken(self):
        raise EmbeddingModelError("model.safetensors does not match its checksum")

    monkeypatch.setattr(Services, "embedder", property(broken))
    resp = app.test_client(role="sales").post("/api/v1/match", json=["Do you export CSV?"])
    assert resp.status_code == 503 and "checksum" in resp.get_json()["error"]["message"]


def test_the_cli_names_a_bad_setting_in_one_line(run_cli, monkeypatch):
    monkeypatch.setenv("FEEDBACK_MAX_REQUEST_BYTES", "lots")
    result = run_cli("stats", "--json")
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "FEEDBACK_MAX_REQUEST_BYTES" in result.output
    assert "ConfigError" not in result.output and "Traceback" not in result.output


# ---- the secret kept in FEEDBACK_HOME ------------------------------------------------------------------------------
def test_processes_starting_together_on_a_new_install_share_one_complete_private_secret(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from service.config import _secret_from

    home = tmp_path / "home"
    with ThreadPoolExecutor(8) as pool:  # gunicorn's workers on a fresh FEEDBACK_HOME
        secrets_seen = set(pool.map(lambda _: _secret_from(home), range(32)))
    assert len(secrets_seen) == 1 and len(next(iter(secrets_seen))) == 64
    assert (home / "secret_key").stat().st_mode & 0o077 == 0  # never readable by others, not even for a moment
    assert sorted(p.name for p in home.iterdir()) == ["secret_key"]  # no temporary file left behind


def test_an_empty_secret_file_is_named_not_used(tmp_path):
    from service.config import ConfigError, _secret_from

    (tmp_path / "secret_key").write_text("\n")  # e.g. a process stopped while the old code was writing it
    with pytest.raises(ConfigError, match="secret_key holds no usable secret .0 characters.: delete the file"):
        _secret_from(tmp_path)


def test_a_file_system_without_hard_links_still_gets_one_shared_secret(tmp_path, monkeypatch):
    # found in review: os.link failing with anything but "exists" made every process use a random key of its own
    from concurrent.futures import ThreadPoolExecutor

    from service import config

    def no_links(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(config.os, "link", no_links)
    home = tmp_path / "share"
    with ThreadPoolExecutor(8) as pool:
        seen = set(pool.map(lambda _: config._secret_from(home), range(16)))
    assert len(seen) == 1 and (home / "secret_key").read_text() in seen
    assert (home / "secret_key").stat().st_mode & 0o077 == 0
