"""Sign-in pages: paste an API token or a one-time code, or follow a one-time link; sign out."""
from __future__ import annotations

import logging

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField
from wtforms.validators import InputRequired, Length

from ..services import services
from .store import check_sign_in_code, end_sessions, redeem_sign_in_code, token_principal

bp = Blueprint("auth", __name__, template_folder="../web/templates")
log = logging.getLogger(__name__)

SIGNED_OUT = {  # ?signed_out= on the sign-in page: which notice it shows (a fixed text, never the parameter itself)
    "everywhere": "You are signed out on every device: every browser signed in as you must sign in again.",
    "here": "You are signed out.",
}


class SignInForm(FlaskForm):
    secret = PasswordField("API token or sign-in code", validators=[InputRequired(), Length(max=200)],
                           description="An API token (`feedback tokens create`) or the code of a one-time link "
                                       "(`feedback users link EMAIL`).")
    next = HiddenField()


class LinkSignInForm(FlaskForm):
    """The one-time link's button: the code is in the URL, only this POST uses it (a link scanner's GET must not)."""

    next = HiddenField()


def _sign_in(who, target: str, via: str):
    from . import SESSION_GENERATION, record_action, safe_next

    session.clear()  # a new session (and CSRF token): nothing from before the sign-in carries over
    login_user(who)
    if who.kind == "user":  # valid until the user's generation moves on (sign-out anywhere, disabling)
        session[SESSION_GENERATION] = who.generation
    g.principal = who
    record_action("sign_in", None, {"via": via})
    return redirect(safe_next(target))


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    form = SignInForm(next=request.args.get("next", "/"))
    error = None
    if form.validate_on_submit():
        db = services().db
        secret = form.secret.data.strip()
        who, via = token_principal(db, secret), "form (API token)"
        if who is None:
            who, via = redeem_sign_in_code(db, secret), "form (one-time code)"
        if who is not None:
            return _sign_in(who, form.next.data, via)
        error = "That token or code is not valid (revoked, expired or already used)."
        # The server log, not the audit log (guesses would flood it): enough to see guessing from one address.
        log.warning("sign-in refused from %s: not a valid API token or sign-in code", request.remote_addr)
    status = 401 if error else 200
    notice = None if form.is_submitted() else SIGNED_OUT.get(request.args.get("signed_out", ""))
    return render_template("sign_in.html", form=form, error=error, notice=notice), status


@bp.route("/sign-in/<code>", methods=["GET", "POST"])
def sign_in_link(code: str):
    """GET (and HEAD) only shows whom the link signs in, with a button; the button's POST (CSRF-checked like every
    page form) uses the code. Mail scanners and chat previews fetch links before the person clicks them."""
    db = services().db
    form = LinkSignInForm(next=request.args.get("next", "/"))
    if request.method == "POST":
        if not form.validate():  # the app's CSRF check has run already; this is the form's own, kept as a backstop
            from ..web import CSRF_MESSAGE

            return _link_page(form, code, None, CSRF_MESSAGE, 400)
        who = redeem_sign_in_code(db, code)  # one statement checks and marks it: two racing POSTs sign in once
        if who is not None:
            return _sign_in(who, form.next.data, "one-time link")
        problem = check_sign_in_code(db, code).problem or "was just used or expired"
        return _link_page(form, code, None, f"That sign-in link {problem}. Nobody was signed in.", 401)
    found = check_sign_in_code(db, code)
    if found.principal is None:
        return _link_page(form, code, None, f"That sign-in link {found.problem}.", 401)
    return _link_page(form, code, found, None, 200)


def _link_page(form, code: str, found, error: str | None, status: int):
    page = render_template("sign_in_link.html", form=form, code=code, found=found, error=error)
    # The URL holds a live secret: no cache (a shared proxy, the back button) may keep the page or its form.
    return page, status, {"Cache-Control": "no-store"}


@bp.post("/sign-out")
def sign_out():
    who = current_user._get_current_object() if current_user.is_authenticated else None
    everywhere = who is not None and who.kind == "user"
    if everywhere:
        # The cookie is signed, not stored: a copy made before now would still work. Raising the user's generation
        # ends that copy and every other session of theirs, on every device.
        end_sessions(services().db, who.id)
    session.clear()  # the CSRF token too: the next person at this browser starts afresh
    logout_user()  # after clear(): it may leave a note to clear a remember-me cookie
    return redirect(url_for("auth.sign_in", signed_out="everywhere" if everywhere else "here"))
