"""Server-rendered pages: blueprint "web", CSRF for forms (not for the JSON API), security headers.

Adding a page (any blueprint):
- extend ``base.html`` and fill ``{% block title %}`` and ``{% block content %}``;
- forms: a Flask-WTF ``FlaskForm`` rendered with ``{{ form.hidden_tag() }}`` (every non-/api/ POST is
  CSRF-checked), fields with ``{% from "_macros.html" import field %}{{ field(form.x) }}``;
- the CSP allows no inline ``<script>``, ``style=`` or ``on*=`` attributes: styles go in ``static/app.css``,
  behaviour in ``static/app.js`` (and pages must work without it);
- Jinja globals: ``bar_chart``, ``sparkline``, ``trend_badge``, ``status_badge`` (see ``service.web.charts``);
  ``may(endpoint)``: offer a link or form only when the signed-in role may use it; the filter ``arr`` writes an ARR
  figure.
"""
from __future__ import annotations

import math
from pathlib import Path

from flask import current_app, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from . import charts

STATIC_DIR = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

CSRF_MESSAGE = "The form expired or was sent from another site. Go back, reload the page and try again."

csrf = CSRFProtect()


def arr_text(value) -> str:
    """`{{ x|arr }}`: "ARR $120,000", or "ARR unknown" when there is no figure (or only an overflowed one)."""
    if value is None or not math.isfinite(value):
        return "ARR unknown"
    return f"ARR ${value:,.0f}"


def may(endpoint: str) -> bool:
    """Whether the caller of this request may use `endpoint` (the guard's own table): pages offer a link or a form only
    to those it works for, rather than a link to a refusal. The caller is the guard's, or the session's user on a page
    the guard did not check (a 404); nobody known may do nothing."""
    from flask_login import current_user

    from ..auth import principal
    from ..auth.policy import allows

    who = principal() or (current_user if current_user.is_authenticated else None)
    return bool(who) and allows(getattr(who, "role", None), endpoint)


def is_api_request() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def init_app(app) -> None:
    from .views import bp

    # The pages own the static files: /static/<file> serves service/web/static (service/static does not exist).
    app.static_folder = str(STATIC_DIR)

    # CSRF: check forms on every non-API request ourselves, so JSON API blueprints registered later are
    # exempt too; views or blueprints marked with csrf.exempt() stay exempt.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    csrf.init_app(app)

    @app.before_request
    def _protect_forms():
        if is_api_request():
            return None
        # Pasted notes may be up to 100,000 characters each: let forms use the whole request size limit
        # instead of Werkzeug's 500 kB default for form fields.
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if limit:
            request.max_form_memory_size = limit
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect(apply_exemptions=True)
        return None

    @app.after_request
    def _security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.errorhandler(CSRFError)
    def _csrf_failed(_exc):
        return render_template("error.html", status=400, message=CSRF_MESSAGE), 400

    app.jinja_env.globals.update(
        bar_chart=charts.bar_chart, sparkline=charts.sparkline,
        trend_badge=charts.trend_badge, status_badge=charts.status_badge, may=may,
    )
    app.jinja_env.filters["arr"] = arr_text
    app.register_blueprint(bp)
    from .pages import init_pages  # themes, notes, ask, roadmap and reports pages (blueprint "pages")
    init_pages(app)
    from .closeloop import init_app as init_closeloop  # follow-ups and account briefs (blueprint "closeloop")
    init_closeloop(app)
    from .search_pages import init_app as init_search  # search across all feedback (blueprint "search_pages")
    init_search(app)
