"""The /search page (blueprint "search_pages"): a GET form with the query and its filters, and the statements found,
each verbatim with its account, date, source, note and theme. The results are service.search's, as the API's."""
from __future__ import annotations

import re

from flask import Blueprint, render_template, request
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import Length, Optional, ValidationError

from ..models.notes import SOURCE_KINDS
from ..search import DENSE_CANDIDATES, MAX_OFFSET, MAX_QUERY_CHARS, SearchError, search
from ..services import services
from ..text import stem
from .forms import SOURCE_LABELS, IsoDateField, _strip
from .page_data import BadPage, Pager, page_number

bp = Blueprint("search_pages", __name__, template_folder="templates")
PER_PAGE = 20
NO_STORE = {"Cache-Control": "no-store"}  # results quote customers: not kept by a shared cache
_WORD = re.compile(r"[a-z0-9]+", re.I | re.ASCII)  # service.text.words' words, found in the text as written


def init_app(app) -> None:
    app.register_blueprint(bp)


class SearchForm(FlaskForm):
    """GET: no state changes, so no CSRF token, and a search can be shared as its address."""

    class Meta:
        csrf = False

    q = StringField("Search", filters=[_strip], validators=[
        Optional(), Length(max=MAX_QUERY_CHARS, message=f"Use at most {MAX_QUERY_CHARS} characters.")],
        description="Words customers used, or a topic: salesforce duplicates, SCIM, export timeout.")
    since = IsoDateField("From", validators=[Optional()], description="Notes on or after this day.")
    until = IsoDateField("To", validators=[Optional()], description="Notes on or before this day.")
    source = SelectField("Source", choices=[("", "Any source")] + [(k, SOURCE_LABELS.get(k, k)) for k in SOURCE_KINDS],
                         default="", validate_choice=True)
    account = StringField("Account", filters=[_strip], validators=[
        Optional(), Length(max=200, message="Use at most 200 characters for the account name.")])
    submit = SubmitField("Search")

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date.")


def highlight(text: str, terms: list[str]) -> Markup:
    """The text escaped, with the words whose stem is a matched term's inside <mark>: each piece of the text is
    escaped first, and only the <mark> tags are markup of ours."""
    wanted = {stem(t) for t in terms}
    pieces, last = [], 0
    for match in _WORD.finditer(text):
        if stem(match.group().lower()) in wanted:
            pieces += [escape(text[last:match.start()]), Markup("<mark>"), escape(match.group()), Markup("</mark>")]
            last = match.end()
    pieces.append(escape(text[last:]))
    return Markup("").join(pieces)


@bp.get("/search", endpoint="search")  # endpoint "search_pages.search" in the authorization table
def search_page():
    form = SearchForm(request.args)
    try:
        number = page_number(request.args.get("page"))
    except BadPage as exc:
        return _page(form, status=400, error=f"{exc}.")
    if not request.args.get("q", "").strip():
        asked = any(request.args.get(k) for k in ("since", "until", "source", "account"))
        return _page(form, status=422 if asked else 200, error="Type some words to search for." if asked else None)
    if not form.validate():
        return _page(form, status=422)
    offset = (number - 1) * PER_PAGE
    if offset > MAX_OFFSET:
        return _page(form, status=400, error=f"page must be at most {MAX_OFFSET // PER_PAGE + 1:,}.")
    try:
        found = search(services(), form.q.data, account=form.account.data or None, since=form.since.data,
                       until=form.until.data, source=form.source.data or None, limit=PER_PAGE, offset=offset)
    except SearchError as exc:  # the form's checks hold the same limits; this names anything they let through
        return _page(form, status=422, error=f"{exc}.")
    for row in found["results"]:
        row["marked"] = highlight(row["text"], row["matched_terms"])
    pager = Pager(number, PER_PAGE, found["total_candidates"])
    return _page(form, found=found, pager=pager)


def _page(form: SearchForm, *, status: int = 200, error: str | None = None, found: dict | None = None,
          pager: Pager | None = None):
    page = render_template("pages/search.html", form=form, error=error, found=found, pager=pager,
                           dense_candidates=DENSE_CANDIDATES)
    return page, status, NO_STORE


__all__ = ["bp", "init_app", "highlight", "search_page"]
