"""Configuration from the environment, with embedded defaults that need no key and no network.

Every value is checked when the Config is built: a value the service cannot use is a ConfigError naming the variable
and what is wrong with it, at startup, instead of a traceback, a silent fallback to the default or a 500 at the
first request that needs it. A secret (a URL's password, a key) is never repeated in the message.
"""
from __future__ import annotations

import difflib
import math
import os
import re
from pathlib import Path
from urllib.parse import urlsplit


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


# Regions (ISO 3166 codes) in which redaction reads a phone number written without "+" ("020 7946 0958").
DEFAULT_PHONE_REGIONS = "US,GB,DE,FR,ES,IT,NL"

# Every environment variable the service reads, as docs/configuration.md lists them (tests/unit/test_config_qa.py
# holds the three together: this list, the docs and the code). Any other FEEDBACK_* name is probably a typo.
SETTINGS = (
    "FEEDBACK_HOME", "FEEDBACK_DATABASE_URL", "FEEDBACK_CHROMA_PATH", "FEEDBACK_CHROMA_URL", "FEEDBACK_CHROMA_PREFIX",
    "FEEDBACK_EMBEDDING_MODEL", "FEEDBACK_EMBEDDER", "FEEDBACK_MODEL_CACHE", "FEEDBACK_REDIS_URL",
    "FEEDBACK_REDIS_QUEUE", "FEEDBACK_JOB_THREADS", "FEEDBACK_JOB_BACKOFF", "FEEDBACK_JOB_SWEEP_SECONDS",
    "FEEDBACK_ASYNC_INGEST_NOTES", "FEEDBACK_ASYNC_INGEST_CHARS", "OPENAI_BASE_URL", "OPENAI_API_KEY",
    "FEEDBACK_LLM_MODEL", "FEEDBACK_LLM_TIMEOUT", "FEEDBACK_PHONE_REGIONS", "FEEDBACK_DRAFTS_LLM",
    "FEEDBACK_PROMPTS_DIR", "FEEDBACK_SECRET_KEY", "FEEDBACK_MAX_REQUEST_BYTES", "FEEDBACK_MAX_NOTES_PER_REQUEST",
    "FEEDBACK_SCORING", "FEEDBACK_SCORING_WEIGHTS", "FEEDBACK_SCORING_EFFORT_UNIT", "FEEDBACK_REPORT_CRON",
    "FEEDBACK_REPORT_WEBHOOK_URL", "FEEDBACK_WEBHOOK_ALLOWED_HOSTS", "FEEDBACK_WEBHOOK_ALLOW_PRIVATE",
    "FEEDBACK_LLM_DAILY_BUDGET", "FEEDBACK_RATE_LIMIT", "FEEDBACK_RATE_LIMIT_HEAVY", "FEEDBACK_RATE_LIMIT_ENABLED",
    "FEEDBACK_RETENTION_DAYS", "FEEDBACK_REPORT_WEBHOOK_BACKOFF", "FEEDBACK_DATASETS", "FEEDBACK_DEBUG",
    "FEEDBACK_SECURE_COOKIES",
)
SECRETS = ("OPENAI_API_KEY", "FEEDBACK_SECRET_KEY")  # never quoted in a message, whatever is wrong with them
# A shell drops "  # note" after a value; systemd's EnvironmentFile= and docker's --env-file keep it in the value.
INLINE_COMMENT = re.compile(r"\s#.*$")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
MIN_SECRET_KEY = 16  # characters; the deployment guide's "..." placeholder must not sign sessions
DATABASE_HINT = "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB"
# Chroma wants collection names of 3-512 characters from [a-zA-Z0-9._-] that start and end with a letter or digit;
# ours are PREFIX_statements and the like.
CHROMA_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,479}")


class ConfigError(ValueError):
    """Settings the service cannot use. `problems` has one sentence per variable, each naming it."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        head = "" if len(problems) == 1 else f"{len(problems)} settings cannot be used: "
        super().__init__(head + "; ".join(problems))


def phone_regions(value=None) -> tuple[str, ...]:
    """FEEDBACK_PHONE_REGIONS (or `value`: a comma/space-separated string or a list) as upper-case region codes."""
    if value is None:
        value = _env("FEEDBACK_PHONE_REGIONS", DEFAULT_PHONE_REGIONS)
    items = value.replace(",", " ").split() if isinstance(value, str) else [str(v).strip() for v in value]
    regions = tuple(dict.fromkeys(r.upper() for r in items if r))
    import phonenumbers  # only here: the rest of the configuration does not need it

    unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise ValueError(f"FEEDBACK_PHONE_REGIONS: unknown region code(s) {', '.join(unknown)} "
                         "(use ISO 3166 codes such as US, GB, DE)")
    return regions


class Config:
    """One object read from the environment; create_app() copies its upper-case attributes.

    Overrides (tests, embedding apps) replace the environment's value of that attribute, which is then not read."""

    def __init__(self, **overrides):
        read = _Reader(overrides)
        home = Path(overrides.pop("FEEDBACK_HOME", None) or read.text("FEEDBACK_HOME") or "./instance").resolve()
        self.FEEDBACK_HOME = str(home)
        self.DATABASE_URL = read("DATABASE_URL", "FEEDBACK_DATABASE_URL", database_url,
                                 f"sqlite:///{home / 'feedback.db'}")
        self.CHROMA_URL = read("CHROMA_URL", "FEEDBACK_CHROMA_URL", chroma_url)
        self.CHROMA_PATH = _env("FEEDBACK_CHROMA_PATH", str(home / "chroma"))
        self.CHROMA_COLLECTION_PREFIX = read("CHROMA_COLLECTION_PREFIX", "FEEDBACK_CHROMA_PREFIX", chroma_prefix,
                                             "feedback")
        # None: the packaged all-MiniLM-L6-v2
        self.EMBEDDING_MODEL = read("EMBEDDING_MODEL", "FEEDBACK_EMBEDDING_MODEL", embedding_model)
        # onnx (default: fp32, torch's vectors), onnx-int8 (faster where the CPU has VNNI, slightly other vectors),
        # torch
        self.EMBEDDER = read("EMBEDDER", "FEEDBACK_EMBEDDER", embedder_kind, "onnx")
        self.MODEL_CACHE = _env("FEEDBACK_MODEL_CACHE")  # None: ~/.cache/feedback-service (the ONNX export)
        self.OPENAI_BASE_URL = read("OPENAI_BASE_URL", "OPENAI_BASE_URL", http_url)
        self.OPENAI_API_KEY = _env("OPENAI_API_KEY")
        self.LLM_MODEL = _env("FEEDBACK_LLM_MODEL")
        self.LLM_TIMEOUT = read("LLM_TIMEOUT", "FEEDBACK_LLM_TIMEOUT", number(above=0), "30")
        # Regions in which redaction reads a phone number without "+" before text goes to the LLM endpoint.
        self.PHONE_REGIONS = read("PHONE_REGIONS", "FEEDBACK_PHONE_REGIONS", _phone_regions, DEFAULT_PHONE_REGIONS)
        # LLM calls per API token or signed-in user per UTC day (drafts fall back to the template past it);
        # "none" lifts the limit. The CLI, the scheduler and jobs are the operator's and are not counted.
        self.LLM_DAILY_BUDGET = read("LLM_DAILY_BUDGET", "FEEDBACK_LLM_DAILY_BUDGET", daily_budget, "200")
        self.SECRET_KEY = read("SECRET_KEY", "FEEDBACK_SECRET_KEY", secret_key) or _secret_from(home)
        # Behind a TLS proxy: the session cookie is sent over HTTPS only (off by default: the demo and a loopback
        # install are plain http://127.0.0.1, where a Secure cookie would never come back).
        self.SESSION_COOKIE_SECURE = read("SESSION_COOKIE_SECURE", "FEEDBACK_SECURE_COOKIES", flag, "0")
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.MAX_CONTENT_LENGTH = read("MAX_CONTENT_LENGTH", "FEEDBACK_MAX_REQUEST_BYTES", whole(1), str(5 * 1024**2))
        self.MAX_NOTES_PER_REQUEST = read("MAX_NOTES_PER_REQUEST", "FEEDBACK_MAX_NOTES_PER_REQUEST", whole(1), "2000")
        self.MAX_NOTE_CHARS = 100_000
        # Checked where they are used (`feedback schedule`, report delivery), which names them in their errors.
        self.REPORT_CRON = _env("FEEDBACK_REPORT_CRON", "0 6 * * *")
        self.REPORT_WEBHOOK_URL = _env("FEEDBACK_REPORT_WEBHOOK_URL")
        # Hosts a webhook named in an API request may point at (comma-separated). The API must not become a way to
        # make this server POST to internal addresses; the configured webhook's host is always allowed.
        self.WEBHOOK_ALLOWED_HOSTS = _env("FEEDBACK_WEBHOOK_ALLOWED_HOSTS", "hooks.slack.com")
        # The operator's own webhook (CLI, schedule) may be on the local network when this is set; an API caller's
        # never may.
        self.WEBHOOK_ALLOW_PRIVATE = read("WEBHOOK_ALLOW_PRIVATE", "FEEDBACK_WEBHOOK_ALLOW_PRIVATE", flag, "0")
        # Requests per caller (token, session or address): FEEDBACK_RATE_LIMIT for every route, the _HEAVY one
        # for routes that hold a worker. Counters in Redis when FEEDBACK_REDIS_URL is set, else in memory.
        self.RATE_LIMIT = read("RATE_LIMIT", "FEEDBACK_RATE_LIMIT", rate_limit, "600 per minute")
        self.RATE_LIMIT_HEAVY = read("RATE_LIMIT_HEAVY", "FEEDBACK_RATE_LIMIT_HEAVY", rate_limit, "60 per minute")
        self.RATE_LIMIT_ENABLED = read("RATE_LIMIT_ENABLED", "FEEDBACK_RATE_LIMIT_ENABLED", flag, "1")
        self.REDIS_URL = read("REDIS_URL", "FEEDBACK_REDIS_URL", redis_url)  # None: a thread pool in the process
        # The nightly job erases notes older than this many days; None keeps them.
        self.RETENTION_DAYS = read("RETENTION_DAYS", "FEEDBACK_RETENTION_DAYS", whole(1))
        self.REDIS_QUEUE = _env("FEEDBACK_REDIS_QUEUE", "feedback")  # several installs can share one Redis
        self.JOB_THREADS = read("JOB_THREADS", "FEEDBACK_JOB_THREADS", whole(1), "2")
        # An API ingest above either size is queued as a job and answered 202 (a 100,000-character note takes
        # seconds to embed; a web worker must not hold the request that long).
        self.ASYNC_INGEST_NOTES = read("ASYNC_INGEST_NOTES", "FEEDBACK_ASYNC_INGEST_NOTES", whole(0), "200")
        self.ASYNC_INGEST_CHARS = read("ASYNC_INGEST_CHARS", "FEEDBACK_ASYNC_INGEST_CHARS", whole(0), "50000")
        # Read from the environment where they are used (service.jobs.queue, service.reports.deliver,
        # service.drafts.pipeline, service.prompts), which would quietly take the default for a bad value.
        read.check("FEEDBACK_JOB_BACKOFF", number(at_least=0))
        read.check("FEEDBACK_JOB_SWEEP_SECONDS", number(at_least=1))
        read.check("FEEDBACK_REPORT_WEBHOOK_BACKOFF", number(at_least=0))
        read.check("FEEDBACK_DRAFTS_LLM", flag)
        read.check("FEEDBACK_PROMPTS_DIR", folder)
        self.TESTING = False
        self.WTF_CSRF_ENABLED = True
        for key, value in overrides.items():
            setattr(self, key, value)
        read.check_llm(self)
        if read.problems:
            raise ConfigError(read.problems)

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}

    @property
    def llm_configured(self) -> bool:
        return bool(self.OPENAI_BASE_URL and self.LLM_MODEL)


class _Reader:
    """Reads one variable at a time with its parser, collecting every problem so that one error lists them all."""

    def __init__(self, overrides: dict):
        self.overrides = overrides
        self.problems: list[str] = []
        self.commented = {name for name in SETTINGS if self._commented(name)}

    def _commented(self, name: str) -> bool:
        raw = _env(name)
        comment = INLINE_COMMENT.search(raw) if raw and name not in SECRETS and name not in self.overrides else None
        if comment:
            self.problems.append(f"{name}: the value ends in what looks like a comment "
                                 f"({comment.group(0).strip()[:40]!r}); systemd's EnvironmentFile= and "
                                 "`docker run --env-file` keep it in the value: put comments on lines of their own")
        return comment is not None

    def text(self, name: str) -> str | None:
        return None if name in self.commented else _env(name)

    def __call__(self, attribute: str, name: str, parse, default: str | None = None):
        if attribute in self.overrides or name in self.commented:  # an override replaces the environment's value
            return None
        raw = _env(name)
        try:
            return parse(raw if raw is not None else default) if (raw or default) is not None else None
        except ValueError as exc:
            self.problems.append(f"{name}: {exc}" if not str(exc).startswith(name) else str(exc))
            return None

    def check(self, name: str, parse) -> None:
        if _env(name) is not None:
            self(name, name, parse)

    def check_llm(self, config: Config) -> None:
        """Half an LLM configuration would quietly mean no LLM at all."""
        if {"OPENAI_BASE_URL", "LLM_MODEL"} & set(self.overrides) or self.problems:
            return
        if config.LLM_MODEL and not config.OPENAI_BASE_URL:
            self.problems.append("FEEDBACK_LLM_MODEL is set but OPENAI_BASE_URL is not: set the endpoint "
                                 "(e.g. http://127.0.0.1:8080/v1), or unset FEEDBACK_LLM_MODEL to draft without an LLM")
        elif config.OPENAI_BASE_URL and not config.LLM_MODEL:
            self.problems.append("OPENAI_BASE_URL is set but FEEDBACK_LLM_MODEL is not: set the model the endpoint "
                                 "serves, or unset OPENAI_BASE_URL to draft without an LLM")


# ---- parsers: a value, or ValueError saying what is wrong (never repeating a secret) --------------------------
def whole(minimum: int):
    def parse(value: str) -> int:
        text = value.strip().replace("_", "")
        if not (text.isascii() and text.lstrip("+-").isdigit()):
            raise ValueError(f"{value!r} is not a whole number")
        if int(text) < minimum:
            raise ValueError(f"{value!r} is below the smallest allowed value, {minimum}")
        return int(text)
    return parse


def number(*, above: float | None = None, at_least: float | None = None):
    def parse(value: str) -> float:
        try:
            result = float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
        if not math.isfinite(result):
            raise ValueError(f"{value!r} is not a finite number")
        if above is not None and result <= above:
            raise ValueError(f"{value!r} must be more than {above:g}")
        if at_least is not None and result < at_least:
            raise ValueError(f"{value!r} must be at least {at_least:g}")
        return result
    return parse


def flag(value: str) -> bool:
    text = value.strip().lower()
    if text not in TRUE + FALSE:
        raise ValueError(f"{value!r} is not one of {', '.join(TRUE)} (on) or {', '.join(FALSE)} (off)")
    return text in TRUE


def folder(value: str) -> str:
    if not Path(value).is_dir():
        raise ValueError(f"{value!r} is not a folder")
    return value


def daily_budget(value: str) -> int | None:
    text = value.strip().lower()
    if text in ("none", "unlimited", "off"):
        return None
    try:
        return whole(0)(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a number of calls from 0 up, or none") from None


def secret_key(value: str) -> str:
    if len(value.strip()) < MIN_SECRET_KEY:
        raise ValueError(f"the key has {len(value.strip())} characters; use at least {MIN_SECRET_KEY} random ones, "
                         "e.g. from `python -c 'import secrets; print(secrets.token_hex(32))'`")
    return value


def embedder_kind(value: str) -> str:
    from .embedding import EMBEDDERS

    kind = value.strip().lower()
    if kind not in EMBEDDERS:
        raise ValueError(f"{value!r} is not one of {', '.join(EMBEDDERS)}")
    return kind


def embedding_model(value: str) -> str:
    from .embedding import PACKAGED_MODEL_NAME

    if value in ("hashing", PACKAGED_MODEL_NAME):
        return value
    if not Path(value).is_dir():
        raise ValueError(f"{value!r} is not a local model folder (nothing is downloaded); unset it for the "
                         f"packaged {PACKAGED_MODEL_NAME}")
    if not (Path(value) / "model.safetensors").is_file():
        raise ValueError(f"{value!r} holds no model.safetensors (a sentence-transformers folder saved with "
                         "safetensors is needed)")
    return value


def chroma_prefix(value: str) -> str:
    if not CHROMA_PREFIX.fullmatch(value):
        raise ValueError(f"{value!r} must be letters, digits, '.', '_' or '-', start with a letter or digit "
                         "and have at most 480 characters (Chroma's rule for collection names)")
    return value


def rate_limit(value: str) -> str:
    from limits import parse_many

    try:
        limits = parse_many(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a rate limit such as '600 per minute' or '10/second;500/hour'") from None
    if any(limit.amount < 1 for limit in limits):
        raise ValueError(f"{value!r} allows no request at all; set FEEDBACK_RATE_LIMIT_ENABLED=0 to turn limits off")
    return value


def _phone_regions(value: str) -> tuple[str, ...]:
    return phone_regions(value)


def masked(url: str) -> str:
    """The URL with any password replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    try:
        password = parts.password
    except ValueError:
        password = None
    if not password:
        return url
    user = f"{parts.username}:" if parts.username else ":"
    return parts._replace(netloc=parts.netloc.replace(f"{user}{password}@", f"{user}***@", 1)).geturl()


def _server(value: str, schemes: tuple[str, ...], example: str):
    """urlsplit() of a URL that must name one of `schemes` and a host, with a valid port."""
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number from 0 to 65535)
    except ValueError:
        raise ValueError(f"{masked(value)!r} has no valid port; it should look like {example}") from None
    if parts.scheme.lower() not in schemes or not parts.hostname:
        raise ValueError(f"{masked(value)!r} should look like {example}")
    return parts


def http_url(value: str) -> str:
    _server(value, ("http", "https"), "http://host:port/v1")
    return value.strip()


def chroma_url(value: str) -> str:
    """The `chroma run` server: scheme, host and port only (the client has no path and takes no credentials)."""
    parts = _server(value, ("http", "https"), "http://host:port (a `chroma run` server)")
    if parts.username or parts.password:
        raise ValueError("must not carry a user or password (a `chroma run` server on a private network takes none; "
                         "the service sends none)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{value!r} should be only http://host:port (no path or query)")
    return value.strip().rstrip("/")


def redis_url(value: str) -> str:
    """redis:// or rediss:// (the job queue and the rate limiter both take those), with a database number."""
    parts = _server(value, ("redis", "rediss"), "redis://host:port/db")
    db = parts.path.strip("/")
    if db and not (db.isascii() and db.isdigit()):
        raise ValueError(f"{masked(value)!r}: the database after the last / must be a number (redis://host:port/0)")
    return value.strip()


def database_url(value: str) -> str:
    """SQLite or PostgreSQL through a driver that is installed and not async (the service's engine is not)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = make_url(value.strip())
    except (ArgumentError, ValueError):  # the value itself is not repeated: it may hold a password
        raise ValueError(f"is not a database URL; {DATABASE_HINT}") from None
    shown = url.render_as_string(hide_password=True)
    backend = url.get_backend_name()
    if backend == "postgres":
        raise ValueError(f"{shown!r} uses the scheme postgres://, which SQLAlchemy does not know; write postgresql://")
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"{shown!r}: the {backend} database is not supported; {DATABASE_HINT}")
    try:
        dialect = url.get_dialect()
        dialect.import_dbapi()
    except (NoSuchModuleError, ImportError) as exc:
        raise ValueError(f"{shown!r}: the driver {url.get_driver_name()!r} is not installed ({exc}); write "
                         f"{backend}:// for the installed one") from None
    if getattr(dialect, "is_async", False):
        raise ValueError(f"{shown!r}: the driver {url.get_driver_name()!r} is async; write {backend}://")
    return value.strip()


def unknown_settings(environ=None) -> list[str]:
    """FEEDBACK_* variables the service does not read (a typo leaves the setting at its default), each with the
    setting it probably meant."""
    names = sorted(n for n in (os.environ if environ is None else environ) if n.startswith("FEEDBACK_"))
    out = []
    for name in (n for n in names if n not in SETTINGS):
        close = difflib.get_close_matches(name, SETTINGS, n=1, cutoff=0.8)
        out.append(f"{name} is not a setting" + (f" (did you mean {close[0]}?)" if close else ""))
    return out


def check_settings_in_use(config) -> None:
    """FEEDBACK_SCORING and its weights, which the roadmap reads at each use (a bad value there is a 503 naming it),
    checked once more when the web server starts. `feedback schedule` checks its own (the cron, the webhook)."""
    from .roadmap.scoring import settings_from

    try:
        settings_from(config)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None


def _secret_from(home: Path) -> str:
    """A per-installation secret kept in FEEDBACK_HOME, so sessions survive restarts without configuration.

    Made whole in a private temporary file and put in place with os.link, which fails when the file exists: of
    several processes starting at once on a new install (gunicorn's workers), one writes it and every one reads that
    one. Writing it in place let a second process read it half written (an empty key) or keep its own key, and the
    file was readable by others until the chmod."""
    import tempfile

    path = home / "secret_key"
    try:
        if not path.is_file():
            home.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=home, prefix=".secret_key.")  # mode 0600
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(os.urandom(32).hex())
                os.link(temporary, path)
            except FileExistsError:
                pass  # another process put its key in place first: read that one
            except OSError:  # a file system without hard links (some network shares): create it exclusively instead
                _create_exclusively(path)
            finally:
                os.unlink(temporary)
        secret = _read_whole(path)
    except OSError:
        return os.urandom(32).hex()
    if len(secret) < MIN_SECRET_KEY:
        raise ConfigError([f"{path} holds no usable secret ({len(secret)} characters): delete the file to have a "
                           "new one made, or set FEEDBACK_SECRET_KEY"])
    return secret


def _create_exclusively(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as fh:
        fh.write(os.urandom(32).hex())


def _read_whole(path: Path) -> str:
    """The key, waiting a moment for a process that created the file exclusively and is still writing it."""
    import time

    for _ in range(20):
        secret = path.read_text().strip()
        if len(secret) >= MIN_SECRET_KEY:
            return secret
        time.sleep(0.05)
    return secret


class TestConfig(Config):
    """Isolated data folder, the fast fake embedder unless a test asks for the real one."""

    __test__ = False  # a configuration, not a test class, whatever pytest makes of its name

    def __init__(self, home: str | Path, **overrides):
        overrides.setdefault("EMBEDDING_MODEL", "hashing")
        overrides.setdefault("CHROMA_URL", None)
        overrides.setdefault("DATABASE_URL", f"sqlite:///{Path(home) / 'test.db'}")
        overrides.setdefault("CHROMA_PATH", str(Path(home) / "chroma"))
        overrides.setdefault("OPENAI_BASE_URL", None)
        overrides.setdefault("LLM_MODEL", None)
        overrides.setdefault("REDIS_URL", None)
        # Tests post the sample notes and expect 201; the tests of the 202 path lower these themselves.
        overrides.setdefault("ASYNC_INGEST_NOTES", 10**9)
        overrides.setdefault("ASYNC_INGEST_CHARS", 10**12)
        super().__init__(FEEDBACK_HOME=str(home), **overrides)
        self.TESTING = True
        self.WTF_CSRF_ENABLED = overrides.get("WTF_CSRF_ENABLED", False)
        # Suites send thousands of requests a minute with one token; tests/unit/test_limits.py turns limits on.
        self.RATE_LIMIT_ENABLED = overrides.get("RATE_LIMIT_ENABLED", False)
