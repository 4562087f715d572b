"""Rate limits (Flask-Limiter): per API token, signed-in user or client address; 429 with Retry-After.

Counters live in Redis when FEEDBACK_REDIS_URL is set (shared by every worker), else in the process's memory.
Work that holds a worker (drafts, match, theme runs, pasted text, ingest, report builds) has a tighter limit.
"""
from __future__ import annotations

import hashlib

from flask import current_app, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

HEAVY = frozenset({
    "drafts.post_draft", "roadmap.post_match", "themes.post_run", "themes.post_summarize", "notes.post_notes",
    "reports.create", "pages.ask", "pages.run_themes", "pages.build_report", "web.paste", "admin.erase",
    "auth.sign_in", "auth.sign_in_link",  # guessing tokens and codes
})
EXEMPT = frozenset({"healthz", "static"})


def caller_key() -> str:
    """Who is counted: a Bearer token (by its hash), a signed-in session, else the client address."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return "token:" + hashlib.sha256(header[7:].strip().encode("utf-8", "replace")).hexdigest()[:24]
    user = session.get("_user_id") if session else None
    if user:
        return f"session:{user}"
    return f"ip:{get_remote_address()}"


def _limit_for_request() -> str:
    config = current_app.config
    return config["RATE_LIMIT_HEAVY"] if request.endpoint in HEAVY else config["RATE_LIMIT"]


def init_app(app) -> None:
    config = app.config["FEEDBACK_CONFIG"]
    app.config.setdefault("RATE_LIMIT", getattr(config, "RATE_LIMIT", "600 per minute"))
    app.config.setdefault("RATE_LIMIT_HEAVY", getattr(config, "RATE_LIMIT_HEAVY", "60 per minute"))
    app.config.setdefault("RATELIMIT_ENABLED", getattr(config, "RATE_LIMIT_ENABLED", True))
    limiter = Limiter(
        caller_key, app=app, default_limits=[_limit_for_request],
        storage_uri=getattr(config, "REDIS_URL", None) or "memory://",
        headers_enabled=True, strategy="moving-window", swallow_errors=True,
    )
    limiter.request_filter(lambda: request.endpoint in EXEMPT)
    app.extensions["feedback_limiter"] = limiter
