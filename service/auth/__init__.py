"""Who may do what: API tokens (Bearer) and signed-in sessions (Flask-Login), checked against one table.

`init_app` installs the one guard every request passes (policy.REQUIRED_ROLE keyed by endpoint), the sign-in
pages and the audit of changes. API calls authenticated by the session cookie need the CSRF token (header
X-CSRFToken), like forms; Bearer calls do not (a browser never adds that header by itself).

A user's session also holds their session generation from sign-in (SESSION_GENERATION); the user loader refuses it
once the user's generation has moved on (sign-out on any device, disabling), so a copied cookie dies with the rest.
"""
from __future__ import annotations

from flask import current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user

from ..api.errors import error_body
from ..services import services
from .audit import record
from .policy import PUBLIC, allows, refusal, roles_allowed
from .store import Principal, load_principal, token_principal

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
AUDITED = {  # endpoint -> action written to the audit log when the request succeeds
    "notes.post_notes": "ingest", "web.paste": "ingest", "notes.merge_accounts": "account_merge", "themes.post_summarize": "paste_summarize",
    "notes.delete_note": "note_delete", "roadmap.post_items": "roadmap_import", "roadmap.post_link": "roadmap_link",
    "themes.post_run": "themes_run", "pages.run_themes": "themes_run", "reports.create": "report_build",
    "pages.build_report": "report_build", "admin.erase": "account_erase", "admin.delete_one_draft": "draft_delete",
    "admin.delete_one_report": "report_delete", "followups.post_told": "followup_told",
    "closeloop.followup_told": "followup_told", "followups.delete_told": "followup_untold",
    "closeloop.followup_untold": "followup_untold", "roadmap.post_rejection": "roadmap_reject",
    "roadmap.delete_rejection": "roadmap_unreject", "roadmap.delete_link": "roadmap_unlink", "followups.post_not_asking": "roadmap_reject",
    "closeloop.followup_not_asking": "roadmap_reject", "followups.delete_not_asking": "roadmap_unreject",
    "closeloop.merge_accounts": "account_merge",
}  # sign-ins (only the view knows who signed in, and how) and the pages' item links (yes or no) are logged by their
# views: record_action

SESSION_GENERATION = "_user_generation"  # next to Flask-Login's "_user_id"; see store.end_sessions

login_manager = LoginManager()
login_manager.session_protection = "strong"


@login_manager.user_loader
def _load(ident: str):
    # A session stored before sessions carried a generation counts as generation 0, the one migration 0020 gave
    # every user: it keeps working until that user's first sign-out (or disabling) ends it like any other. Treating
    # it as signed out instead would cost every user a new sign-in link from an admin after the upgrade.
    return load_principal(services().db, ident, session.get(SESSION_GENERATION, 0))


def is_api() -> bool:
    return request.path.startswith("/api/")


def principal() -> Principal | None:
    """The caller of this request, once the guard has run (None for a public endpoint called anonymously)."""
    return g.get("principal")


MAX_SHOWN_PATH = 100  # a refusal names the address asked for, cut: a long one is not echoed whole


def bearer_secret() -> str | None:
    """The secret of an `Authorization: Bearer` header ("" when it holds none), or None without one. Another scheme
    is not ours: a reverse proxy's Basic sign-in makes the browser send its header on every page, and the session
    must still count."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else None


def _refuse(status: int, message: str, details: dict | None = None):
    if is_api() or bearer_secret() is not None:
        headers = {"WWW-Authenticate": 'Bearer realm="feedback"'} if status == 401 else {}
        return jsonify(error_body(status, message, details)), status, headers
    if status == 401:
        return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
    return render_template("error.html", status=status, message=message[:1].upper() + message[1:]), status


def _forbidden(role: str, endpoint: str):
    """403 naming what was refused (the method and address) and the roles that may do it."""
    path = request.path if len(request.path) <= MAX_SHOWN_PATH else request.path[:MAX_SHOWN_PATH] + "…"
    allowed = roles_allowed(endpoint)
    return _refuse(403, refusal(role, endpoint, f"{request.method} {path}"),
                   {"role": role, "required_role": allowed[0] if allowed else None, "allowed_roles": allowed})


def _authenticate():
    """(principal, via_session) from the Bearer header or the session; (None, False) when neither."""
    secret = bearer_secret()
    if secret is not None:
        found = token_principal(services().db, secret)
        return (found, False) if found else (False, False)
    if current_user.is_authenticated:
        return current_user._get_current_object(), True
    return None, False


def guard():
    endpoint = request.endpoint
    if endpoint is None:  # no such route: let routing answer 404/405
        return None
    who, via_session = _authenticate()
    if endpoint in PUBLIC:
        g.principal = who or None
        return None
    if who is False:
        return _refuse(401, "the API token is invalid or revoked")
    g.principal = who
    if who is None:
        return _refuse(401, "sign in, or send an API token as 'Authorization: Bearer TOKEN'")
    if not allows(who.role, endpoint):
        return _forbidden(who.role, endpoint)
    if via_session and is_api() and request.method in UNSAFE and current_app.config.get("WTF_CSRF_ENABLED", True):
        from flask_wtf.csrf import ValidationError, validate_csrf

        try:
            validate_csrf(request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token"))
        except ValidationError as exc:
            return jsonify(error_body(400, f"CSRF check failed: {exc}; send the page's token as X-CSRFToken")), 400
    return None


def audit(response):
    action = AUDITED.get(request.endpoint or "")
    if action and request.method in UNSAFE and response.status_code < 400 and not g.get("audit_unchanged"):
        who = principal() or (current_user._get_current_object() if current_user.is_authenticated else None)
        from ..erase import fingerprint

        args = dict(request.view_args or {})
        if "name" in args:  # an erased account is never named in the log
            args["name"] = fingerprint(str(args["name"]))
        target = ",".join(f"{k}={v}" for k, v in args.items()) or None
        route = request.url_rule.rule if request.url_rule else None  # the template: never an erased name
        details = {"status": response.status_code, "route": route}
        details.update({k: v for k, v in request.args.items() if k in ("sync", "prune", "store")})
        details.update(g.get("audit_details") or {})
        record(services().db, who.actor if who else "anonymous", action, target, details)
    return response


def audit_this(*, unchanged: bool = False, **details) -> None:
    """From a view: what its audit entry should add (e.g. an account's fingerprint, never its name), or that the
    request changed nothing (a mark made twice) and logs no entry."""
    g.audit_unchanged = unchanged
    g.audit_details = {**(g.get("audit_details") or {}), **details}


def record_action(action: str, target: str | None = None, details: dict | None = None) -> None:
    """Log an action of this request's caller from its view: for a sign-in (the log names the way in) and for a form
    whose action depends on its answer (a page's "Is this the right item?")."""
    who = principal()
    record(services().db, who.actor if who else "anonymous", action, target, details)


def safe_next(target: str | None) -> str:
    """Only a local path: the sign-in page must not become an open redirect. A path starting with one "/" and holding
    no backslash and no control character is local. Nothing is parsed, since parsers disagree: "//[" makes urlsplit
    raise, browsers drop tabs and line breaks (so "/<TAB>//evil.example" would leave the site), and a line break
    cannot go in the Location header at all."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target \
            or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return "/"
    return target


def init_app(app) -> None:
    from .views import bp

    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    app.before_request(guard)
    app.after_request(audit)
    app.register_blueprint(bp)

    @app.context_processor
    def _who():
        return {"signed_in": principal() or (current_user if current_user.is_authenticated else None)}
