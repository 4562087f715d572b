"""Rate limits (Flask-Limiter): per API token, signed-in user or client address; 429 with Retry-After.

Counters live in Redis when FEEDBACK_REDIS_URL is set (shared by every worker), else in the process's memory.
Work that holds a worker (drafts, match, theme runs, pasted text, ingest, report builds) has a tighter limit.
LLMBudget counts LLM calls per caller and UTC day in the database (FEEDBACK_LLM_DAILY_BUDGET).
"""
from __future__ import annotations

import hashlib
from datetime import datetime, time, timedelta, timezone

from flask import current_app, g, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user

HEAVY = frozenset({
    "drafts.post_draft", "roadmap.post_match", "themes.post_run", "themes.post_summarize", "notes.post_notes",
    "reports.create", "pages.ask", "pages.run_themes", "pages.build_report", "web.paste", "admin.erase",
    "auth.sign_in", "auth.sign_in_link",  # guessing tokens and codes
})
EXEMPT = frozenset({"healthz", "static"})


def caller_key() -> str:
    """Who is counted: a valid Bearer token (by its hash), a signed-in session, else the client address. A token that
    is not valid counts against the address: a guesser who sends a new one each time must not get a new counter."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        secret = header[7:].strip()
        if _valid_token(secret):
            return "token:" + hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()[:24]
        return f"ip:{get_remote_address()}"
    user = session.get("_user_id") if session else None
    # The user loader (one query, cached for the request) refuses a session that was signed out, disabled or ended
    # everywhere: a copy of such a cookie must count against its address, not use up the real user's allowance.
    if user and current_user.is_authenticated:
        return f"session:{user}"
    return f"ip:{get_remote_address()}"


def _valid_token(secret: str) -> bool:
    """Looked up once per request (the limiter asks for the key once per limit)."""
    if "rate_token_valid" not in g:
        from .auth.store import token_is_valid
        from .services import services

        g.rate_token_valid = token_is_valid(services().db, secret)
    return g.rate_token_valid


def _limit_for_request() -> str:
    config = current_app.config
    return config["RATE_LIMIT_HEAVY"] if request.endpoint in HEAVY else config["RATE_LIMIT"]


def init_app(app) -> None:
    config = app.config["FEEDBACK_CONFIG"]
    app.config.setdefault("RATE_LIMIT", getattr(config, "RATE_LIMIT", "600 per minute"))
    app.config.setdefault("RATE_LIMIT_HEAVY", getattr(config, "RATE_LIMIT_HEAVY", "60 per minute"))
    app.config.setdefault("RATELIMIT_ENABLED", getattr(config, "RATE_LIMIT_ENABLED", True))
    # Registered before the limiter's own hook, so it runs after it (Flask runs after_request hooks last first).
    app.after_request(_retry_after_only_when_refused)
    limiter = Limiter(
        caller_key, app=app, default_limits=[_limit_for_request],
        storage_uri=getattr(config, "REDIS_URL", None) or "memory://",
        headers_enabled=True, strategy="moving-window", swallow_errors=True,
    )
    limiter.request_filter(lambda: request.endpoint in EXEMPT)
    app.extensions["feedback_limiter"] = limiter


def _retry_after_only_when_refused(response):
    """Flask-Limiter's headers put Retry-After (the window's reset) on every answer, a 201 and a 202 included; a
    client reads it as "come back later". It stays on a 429 and a 503, where it means that; the X-RateLimit-* stay."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


# ---- the daily LLM call budget ---------------------------------------------------------------------------------
class LLMBudget:
    """LLM calls per caller (an API token or a signed-in user) per UTC day, counted in the database, so every
    worker process shares one count. Calls made outside a request (CLI, scheduler, jobs) are not counted."""

    def __init__(self, db, daily: int | None, *, today=None):
        self.db = db
        self.daily = daily
        self._today = today or (lambda: datetime.now(timezone.utc).date())

    @staticmethod
    def caller() -> str | None:
        """The request's principal as "token:ID" / "user:ID" (never the secret), or None outside a request."""
        from flask import g, has_request_context

        principal = g.get("principal") if has_request_context() else None
        return principal.get_id() if principal is not None else None

    def used(self, caller: str) -> int:
        from .models import LLMUsage

        with self.db.session() as session:
            row = session.get(LLMUsage, (caller, self._today()))
            return row.calls if row else 0

    def spent(self, caller: str | None = None) -> bool:
        caller = caller or self.caller()
        return caller is not None and self.daily is not None and self.used(caller) >= self.daily

    def charge(self, caller: str | None = None) -> bool:
        """Count one call for the caller; False (nothing counted) when today's budget is spent."""
        from sqlalchemy import update
        from sqlalchemy.exc import IntegrityError

        from .models import LLMUsage

        caller = caller or self.caller()
        if caller is None or self.daily is None:
            return True
        day = self._today()
        for _ in range(2):  # a racing first call of the day may insert the row between our update and insert
            try:
                with self.db.transaction() as session:
                    done = session.execute(update(LLMUsage).where(
                        LLMUsage.caller == caller, LLMUsage.day == day, LLMUsage.calls < self.daily)
                        .values(calls=LLMUsage.calls + 1)).rowcount
                    if done:
                        return True
                    if session.get(LLMUsage, (caller, day)) is not None or self.daily < 1:
                        return False
                    session.add(LLMUsage(caller=caller, day=day, calls=1))
                return True
            except IntegrityError:
                continue
        return False

    def message(self) -> str:
        return (f"the daily LLM budget of {self.daily} call(s) for this caller is spent; it resets at 00:00 UTC "
                f"(FEEDBACK_LLM_DAILY_BUDGET)")

    def retry_after(self) -> int:
        """Seconds until the budget resets at the next UTC midnight."""
        now = datetime.now(timezone.utc)
        return max(1, int((datetime.combine(now.date() + timedelta(days=1), time.min, timezone.utc) - now).total_seconds()))
