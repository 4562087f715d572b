"""Configuration from the environment, with embedded defaults that need no key and no network."""
from __future__ import annotations

import os
from pathlib import Path


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


# Regions (ISO 3166 codes) in which redaction reads a phone number written without "+" ("020 7946 0958").
DEFAULT_PHONE_REGIONS = "US,GB,DE,FR,ES,IT,NL"


def phone_regions(value=None) -> tuple[str, ...]:
    """FEEDBACK_PHONE_REGIONS (or `value`: a comma/space-separated string or a list) as upper-case region codes."""
    if value is None:
        value = _env("FEEDBACK_PHONE_REGIONS", DEFAULT_PHONE_REGIONS)
    items = value.replace(",", " ").split() if isinstance(value, str) else [str(v).strip() for v in value]
    regions = tuple(dict.fromkeys(r.upper() for r in items if r))
    import phonenumbers  # only here: the rest of the configuration does not need it

    unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise ValueError(f"FEEDBACK_PHONE_REGIONS: unknown region code(s) {', '.join(unknown)} (use ISO 3166 codes such as US, GB, DE)")
    return regions


class Config:
    """One object read from the environment; create_app() copies its upper-case attributes."""

    def __init__(self, **overrides):
        home = Path(overrides.pop("FEEDBACK_HOME", None) or _env("FEEDBACK_HOME", "./instance")).resolve()
        self.FEEDBACK_HOME = str(home)
        self.DATABASE_URL = _env("FEEDBACK_DATABASE_URL", f"sqlite:///{home / 'feedback.db'}")
        self.CHROMA_URL = _env("FEEDBACK_CHROMA_URL")
        self.CHROMA_PATH = _env("FEEDBACK_CHROMA_PATH", str(home / "chroma"))
        self.CHROMA_COLLECTION_PREFIX = _env("FEEDBACK_CHROMA_PREFIX", "feedback")
        self.EMBEDDING_MODEL = _env("FEEDBACK_EMBEDDING_MODEL")  # None: the packaged all-MiniLM-L6-v2
        # onnx (default: fp32, torch's vectors), onnx-int8 (faster where the CPU has VNNI, slightly other vectors), torch
        self.EMBEDDER = _env("FEEDBACK_EMBEDDER", "onnx")
        self.MODEL_CACHE = _env("FEEDBACK_MODEL_CACHE")  # None: ~/.cache/feedback-service (the ONNX export)
        self.OPENAI_BASE_URL = _env("OPENAI_BASE_URL")
        self.OPENAI_API_KEY = _env("OPENAI_API_KEY")
        self.LLM_MODEL = _env("FEEDBACK_LLM_MODEL")
        self.LLM_TIMEOUT = float(_env("FEEDBACK_LLM_TIMEOUT", "30"))
        # Regions in which redaction reads a phone number without "+" before text goes to the LLM endpoint.
        self.PHONE_REGIONS = phone_regions()
        # LLM calls per API token or signed-in user per UTC day (drafts fall back to the template past it);
        # "none" lifts the limit. The CLI, the scheduler and jobs are the operator's and are not counted.
        budget = (_env("FEEDBACK_LLM_DAILY_BUDGET", "200") or "200").strip().lower()
        self.LLM_DAILY_BUDGET = None if budget in ("none", "unlimited", "off") else int(budget)
        self.SECRET_KEY = _env("FEEDBACK_SECRET_KEY") or _secret_from(home)
        self.MAX_CONTENT_LENGTH = int(_env("FEEDBACK_MAX_REQUEST_BYTES", str(5 * 1024 * 1024)))
        self.MAX_NOTES_PER_REQUEST = int(_env("FEEDBACK_MAX_NOTES_PER_REQUEST", "2000"))
        self.MAX_NOTE_CHARS = 100_000
        self.REPORT_CRON = _env("FEEDBACK_REPORT_CRON", "0 6 * * *")
        self.REPORT_WEBHOOK_URL = _env("FEEDBACK_REPORT_WEBHOOK_URL")
        # Hosts a webhook named in an API request may point at (comma-separated). The API must not become a way to
        # make this server POST to internal addresses; the configured webhook's host is always allowed.
        self.WEBHOOK_ALLOWED_HOSTS = _env("FEEDBACK_WEBHOOK_ALLOWED_HOSTS", "hooks.slack.com")
        # The operator's own webhook (CLI, schedule) may be on the local network when this is set; an API caller's
        # never may.
        self.WEBHOOK_ALLOW_PRIVATE = _env("FEEDBACK_WEBHOOK_ALLOW_PRIVATE", "0").lower() in ("1", "true", "yes")
        # Requests per caller (token, session or address): FEEDBACK_RATE_LIMIT for every route, the _HEAVY one
        # for routes that hold a worker. Counters in Redis when FEEDBACK_REDIS_URL is set, else in memory.
        self.RATE_LIMIT = _env("FEEDBACK_RATE_LIMIT", "600 per minute")
        self.RATE_LIMIT_HEAVY = _env("FEEDBACK_RATE_LIMIT_HEAVY", "60 per minute")
        self.RATE_LIMIT_ENABLED = _env("FEEDBACK_RATE_LIMIT_ENABLED", "1").lower() not in ("0", "false", "no")
        self.REDIS_URL = _env("FEEDBACK_REDIS_URL")  # None: jobs run on a thread pool in the process
        retention = _env("FEEDBACK_RETENTION_DAYS")  # the nightly job erases notes older than this many days
        self.RETENTION_DAYS = int(retention) if retention and retention.isascii() and retention.isdigit() and int(retention) > 0 else None
        self.REDIS_QUEUE = _env("FEEDBACK_REDIS_QUEUE", "feedback")  # several installs can share one Redis
        self.JOB_THREADS = int(_env("FEEDBACK_JOB_THREADS", "2"))
        # An API ingest above either size is queued as a job and answered 202 (a 100,000-character note takes
        # seconds to embed; a web worker must not hold the request that long).
        self.ASYNC_INGEST_NOTES = int(_env("FEEDBACK_ASYNC_INGEST_NOTES", "200"))
        self.ASYNC_INGEST_CHARS = int(_env("FEEDBACK_ASYNC_INGEST_CHARS", "50000"))
        self.TESTING = False
        self.WTF_CSRF_ENABLED = True
        for key, value in overrides.items():
            setattr(self, key, value)

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}

    @property
    def llm_configured(self) -> bool:
        return bool(self.OPENAI_BASE_URL and self.LLM_MODEL)


def _secret_from(home: Path) -> str:
    """A per-installation secret kept in FEEDBACK_HOME, so sessions survive restarts without configuration."""
    path = home / "secret_key"
    try:
        if path.is_file():
            return path.read_text().strip()
        home.mkdir(parents=True, exist_ok=True)
        secret = os.urandom(32).hex()
        path.write_text(secret)
        path.chmod(0o600)
        return secret
    except OSError:
        return os.urandom(32).hex()


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
