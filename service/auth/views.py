"""Sign-in pages: paste an API token or a one-time code, or follow a one-time link; sign out."""
from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, session
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField
from wtforms.validators import InputRequired, Length

from ..services import services
from .store import redeem_sign_in_code, token_principal

bp = Blueprint("auth", __name__, template_folder="../web/templates")


class SignInForm(FlaskForm):
    secret = PasswordField("API token or sign-in code", validators=[InputRequired(), Length(max=200)],
                           description="An API token (`feedback tokens create`) or the code of a one-time link "
                                       "(`feedback users link EMAIL`).")
    next = HiddenField()


def _sign_in(who, target: str, via: str):
    from . import record_action, safe_next

    session.clear()  # a new session (and CSRF token): nothing from before the sign-in carries over
    login_user(who)
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
    status = 401 if error else 200
    return render_template("sign_in.html", form=form, error=error), status


@bp.get("/sign-in/<code>")
def sign_in_link(code: str):
    who = redeem_sign_in_code(services().db, code)
    if who is None:
        form = SignInForm(next="/")
        return render_template("sign_in.html", form=form,
                               error="That sign-in link is not valid (expired or already used)."), 401
    return _sign_in(who, request.args.get("next", "/"), "one-time link")


@bp.post("/sign-out")
def sign_out():
    session.clear()  # the CSRF token too: the next person at this browser starts afresh
    logout_user()  # after clear(): it may leave a note to clear a remember-me cookie
    return redirect("/sign-in")
