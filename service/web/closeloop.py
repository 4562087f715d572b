"""Pages that close the loop for sales: an item's follow-ups (who asked, their words, a draft each, "told") and an
account brief before a call. Blueprint "closeloop"; data from service.followups, the same functions as the API."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from ..followups.brief import brief as build_brief
from ..followups.service import FollowupInputError, followups as build_followups, mark_told, parse_since
from ..ingest.validate import year_problem
from ..notes import NotFound
from ..services import services

bp = Blueprint("closeloop", __name__, template_folder="templates")
NO_STORE = {"Cache-Control": "no-store"}


class ToldForm(FlaskForm):
    account = HiddenField(validators=[DataRequired(), Length(max=200)])


def init_app(app) -> None:
    app.register_blueprint(bp)


def _since():
    try:
        since = parse_since(request.args.get("since"))
    except FollowupInputError as exc:
        return None, str(exc)
    if since is not None and (problem := year_problem(since, "since")):
        return None, problem
    return since, None


@bp.get("/roadmap/items/<item_id>/followups")
def followups(item_id: str):
    since, error = _since()
    try:
        data = build_followups(services(), item_id, since=since)
    except NotFound:
        abort(404)
    return render_template("pages/followups.html", f=data, form=ToldForm(formdata=None), page_error=error,
                           told=request.args.get("told")), 422 if error else 200, NO_STORE


@bp.post("/roadmap/items/<item_id>/followups/told")
def followup_told(item_id: str):
    form = ToldForm()
    if not form.validate():
        abort(400)
    try:
        mark_told(services(), item_id, form.account.data, told_by=_who())
    except FollowupInputError:
        abort(400)
    except NotFound:
        abort(404)
    return redirect(url_for("closeloop.followups", item_id=item_id, told=form.account.data), 303)


@bp.get("/accounts/<path:name>/brief")
def brief(name: str):
    since, error = _since()
    try:
        data = build_brief(services(), name, since=since)
    except NotFound:
        abort(404)
    return render_template("pages/brief.html", b=data, page_error=error), 422 if error else 200, NO_STORE


def _who() -> str | None:
    from ..auth import principal

    who = principal()
    return getattr(who, "actor", None) if who else None
