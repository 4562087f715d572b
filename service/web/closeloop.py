"""Pages that close the loop for sales: an item's follow-ups (who asked, their words, a draft each, "told") and an
account brief before a call. Blueprint "closeloop"; data from service.followups, the same functions as the API."""
from __future__ import annotations

from importlib import import_module

from flask import Blueprint, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from ..auth import audit_this
from ..erase import fingerprint
from ..followups.brief import brief as build_brief
from ..followups.refusals import not_asking, rejected_for
from ..followups.service import (FollowupInputError, ItemArchived, add_drafts, followups as build_followups,
                                 mark_told, parse_since, unmark_told)
from ..ingest.validate import year_problem
from ..notes import NotFound
from ..services import services
from .page_data import ACCOUNTS_PER_PAGE, BadPage, Pager, page_number

bp = Blueprint("closeloop", __name__, template_folder="templates")
NO_STORE = {"Cache-Control": "no-store"}


class ToldForm(FlaskForm):
    account = HiddenField(validators=[DataRequired(), Length(max=200)])


def init_app(app) -> None:
    # the accounts page (account_pages) is a route of bp too: loaded now, since Flask takes no new route on a
    # blueprint once it is registered
    import_module(".account_pages", __package__)
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
    if error:  # as the API: 400, and no unfiltered list under an address that asks for a filtered one
        return _bad_since(item_id, error)
    try:
        number = page_number(request.args.get("page"))
    except BadPage as exc:
        return _problem(400, f"{exc}.", title="Bad page number",
                        back=(url_for("closeloop.followups", item_id=item_id), "Show the first page"))
    try:  # every account that asked (cheap), then a checked draft for those on this page only
        data = build_followups(services(), item_id, since=since, drafts=False)
    except NotFound:
        return _missing_item(item_id)
    pager = Pager(number, ACCOUNTS_PER_PAGE, len(data["accounts"]))
    shown = pager.rows(data["accounts"])
    add_drafts(services(), item_id, shown)
    # Only a mark that is stored is confirmed: the "told" of the address is a name to look up, never a message.
    told = request.args.get("told")
    told = told if told and any(t["account"] == told for t in data["told"]) else None
    untold = request.args.get("untold")  # likewise: confirmed only when the account is listed again
    untold = untold if untold and any(a["account"] == untold for a in data["accounts"]) else None
    rejected = request.args.get("rejected")  # confirmed only when that rejection is stored
    rejected = rejected if rejected and rejected_for(services(), item_id, rejected) else None
    return render_template("pages/followups.html", f=data, shown=shown, pager=pager, form=ToldForm(formdata=None),
                           told=told, untold=untold, rejected=rejected), 200, NO_STORE


def _bad_since(item_id: str, error: str):
    """A `since` that is no date: say which field is wrong and how to write it, and offer the whole list instead."""
    message = (f"Nothing is listed: the since field of the address is wrong ({error}). Write it as YYYY-MM-DD, "
               "for example ?since=2026-06-01, or leave it out to list every account that asked.")
    return _problem(400, message, title="Bad since date",
                    back=(url_for("closeloop.followups", item_id=item_id), "Show all follow-ups"))


@bp.post("/roadmap/items/<item_id>/followups/told")
def followup_told(item_id: str):
    form = ToldForm()
    if not form.validate():
        return _problem(400, "Nothing was marked: the account field must name the account told, in 1 to 200 "
                             "characters. Go back, reload the follow-ups page and try again.")
    try:
        mark = mark_told(services(), item_id, form.account.data, told_by=_who())
    except FollowupInputError as exc:
        return _problem(400, f"Nothing was marked: {exc}.")
    except NotFound as exc:
        return _not_found(item_id, exc, "No such account among the follow-ups")
    except ItemArchived as exc:
        return _problem(409, f"{exc}.", title="Archived roadmap item")
    audit_this(unchanged=not mark["created"], account=fingerprint(mark["account"]))
    # The name as stored (trimmed), so the page finds the mark it confirms.
    return redirect(url_for("closeloop.followups", item_id=item_id, told=mark["account"]), 303)


@bp.post("/roadmap/items/<item_id>/followups/not-asking")
def followup_not_asking(item_id: str):
    """"Not asking for this": the account's matched quotes are rejected for the item (they and near copies in other
    accounts' notes stop counting as asks for it)."""
    form = ToldForm()
    if not form.validate():
        return _problem(400, "Nothing was changed: the account field must name the account, in 1 to 200 characters. "
                             "Go back, reload the follow-ups page and try again.")
    try:
        done = not_asking(services(), item_id, form.account.data, by=_who())
    except FollowupInputError as exc:
        return _problem(400, f"Nothing was changed: {exc}.")
    except NotFound as exc:
        return _not_found(item_id, exc, "Nothing to reject")
    audit_this(unchanged=not done["rejected"], account=fingerprint(done["account"]), statements=done["statements"])
    return redirect(url_for("closeloop.followups", item_id=item_id, rejected=done["account"]), 303)


@bp.post("/roadmap/items/<item_id>/followups/untold")
def followup_untold(item_id: str):
    """Undo a mark made by mistake: the account is listed again, and the draft stored as sent goes."""
    form = ToldForm()
    if not form.validate():
        return _problem(400, "Nothing was changed: the account field must name the account, in 1 to 200 characters. "
                             "Go back, reload the follow-ups page and try again.")
    try:
        undone = unmark_told(services(), item_id, form.account.data)
    except FollowupInputError as exc:
        return _problem(400, f"Nothing was changed: {exc}.")
    except NotFound as exc:
        return _not_found(item_id, exc, "No such mark")
    audit_this(account=fingerprint(undone["account"]))
    return redirect(url_for("closeloop.followups", item_id=item_id, untold=undone["account"]), 303)


@bp.app_template_global()
def brief_url(account: str) -> str:
    """The address of an account's brief, for every link to one: the name goes in the query string
    (/accounts/brief?account=NAME), where any name arrives as written. In the path, a name "." or ".." (also written
    %2E, which browsers decode first) is removed by browsers and HTTP clients, and a name that starts or ends with
    "/" or holds "//" is merged into another account's address by the router."""
    return url_for("closeloop.brief", account=account)


@bp.app_template_global()
def may_read_notes() -> bool:
    """Quotes link to their note for those who may open it (PM and above); a sales rep sees the note id alone
    rather than a link to a refusal."""
    from . import may

    return may("pages.note")


@bp.get("/accounts/brief")
@bp.get("/accounts/<path:name>/brief")
def brief(name: str | None = None):
    """/accounts/brief?account=NAME (what pages link to), or /accounts/NAME/brief for a name typed by hand."""
    if name is None:
        name = request.args.get("account")
        if not name or not name.strip():
            return _problem(400, "Which account? This address names none: a brief is at /accounts/brief?account=NAME "
                                 "(the name as in the notes).", title="No account given")
    since, error = _since()
    try:
        data = build_brief(services(), name, since=since)
    except NotFound:
        return _problem(404, f"No notes name an account called \u201c{name[:200]}\u201d, so there is nothing to brief. "
                             "Check the spelling (names are matched exactly), or the account may have been erased.",
                        title="No such account")
    return render_template("pages/brief.html", b=data, page_error=error), 422 if error else 200, NO_STORE


def _item_exists(item_id: str) -> bool:
    from ..roadmap.service import get_item

    with services().db.session() as session:
        try:
            get_item(session, item_id)
        except NotFound:
            return False
    return True


def _not_found(item_id: str, exc: NotFound, title: str):
    """No such item, or (the item exists) the account or mark the form named: the message names it and says that
    nothing was changed."""
    if not _item_exists(item_id):
        return _missing_item(item_id)
    message = str(exc)
    return _problem(404, message[:1].upper() + message[1:] + ".", title=title)


def _missing_item(item_id: str):
    return _problem(404, f"There is no roadmap item {item_id[:80]!r}: it may have been deleted from the roadmap, "
                         "or the address is mistyped.", title="No such roadmap item")


def _problem(status: int, message: str, title: str | None = None, back: tuple[str, str] | None = None):
    """The error page, saying in words what went wrong with this request (the generic 404 cannot name it)."""
    page = render_template("error.html", status=status, message=message, title=title or "That did not work",
                           back=back or (url_for("pages.roadmap"), "Go to the roadmap"))
    return page, status, NO_STORE


def _who() -> str | None:
    from ..auth import principal

    who = principal()
    return getattr(who, "actor", None) if who else None
