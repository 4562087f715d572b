"""Pages beyond "paste notes": themes, notes, ask (drafts for sales), roadmap and reports. Blueprint "pages".

Every page is server-rendered and works without JavaScript. Features that are not installed (themes, roadmap,
drafts) give a "not available" page instead of an error; data shaping lives in page_data. This module holds the
blueprint, the helpers its pages share, and the theme, note, roadmap, report and job pages; the ask and draft pages
are in ask_pages, on the same blueprint.
"""
from __future__ import annotations

from datetime import datetime, time
from importlib import import_module

from flask import Blueprint, abort, make_response, redirect, render_template, request, url_for

from ..auth import principal, record_action
from ..jobs import JobNotFound, enqueue, get_job, themes_payload
from ..models import row_number
from ..notes import NotFound, find_note, note_dict
from ..reports.render import with_code_html
from ..reports.store import ReportNotFound, get_report, list_reports
from ..services import services
from . import page_data as data
from .page_data import job_view
from .page_forms import BuildReportForm, ConfirmItemForm, RunThemesForm, ThemeEditForm, ThemeFilterForm

bp = Blueprint("pages", __name__, template_folder="templates")

# The standalone report file carries its own <style>; served for download only, with no script allowed at all.
STANDALONE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
                  "form-action 'none'; frame-ancestors 'none'; sandbox")
NO_STORE = {"Cache-Control": "no-store"}


def init_pages(app) -> None:
    # The ask and draft pages are routes of bp too (endpoints "pages.ask", ...) and import bp from here, so they are
    # loaded now, before bp is registered: Flask takes no new route on a blueprint once it is registered.
    import_module(".ask_pages", __package__)
    app.register_blueprint(bp)


def not_found(title: str, message: str, back: tuple[str, str] | None = None):
    """Stop with a 404 page that names what is missing: the app's generic 404 page shows neither the message given to
    abort() nor which theme, draft or note was asked for."""
    page = render_template("error.html", status=404, title=title, message=message, back=back)
    abort(make_response(page, 404, NO_STORE))


def bad_page(exc: Exception, back: tuple[str, str]):
    """?page= that is no page number: 400, naming the field and what it takes (as the API's ?page=)."""
    page = render_template("error.html", status=400, title="Bad page number", message=f"{exc}.", back=back)
    return page, 400, NO_STORE


def unavailable(feature: str, status: int = 200):
    return render_template("pages/unavailable.html", feature=feature), status


def link_item(item_id: str, via: str, **target) -> None:
    """A page's "yes, this is the right item": the link is the signed-in person's, as through the API; the page it
    came from goes to the audit log."""
    who = principal()
    link = data.roadmap.link(services(), item_id, created_by=who.actor if who else None, **target)
    if link.get("unrejected"):  # a "yes" after a "no" takes the rejection back: logged as the API's DELETE is
        record_action("roadmap_unreject", f"item_id={item_id}", {**target, "via": via})
    if link["created"]:
        record_action("roadmap_link", f"item_id={item_id}", {**target, "via": via})


# ---- themes ---------------------------------------------------------------------------------------------------
@bp.get("/themes")
def themes():
    if data.theme_queries is None:
        return unavailable("Themes")
    try:
        number = data.page_number(request.args.get("page"))
    except data.BadPage as exc:
        return bad_page(exc, (url_for("pages.themes"), "Go to the themes"))
    form = ThemeFilterForm(request.args)
    valid = form.validate() if request.args else True
    run, items = data.theme_list(services(), form if valid else None)
    window = {"since": form.since.data, "until": form.until.data} if valid else {}
    filtered = valid and any(request.args.get(k) for k in ("since", "until", "source", "account"))
    # A year of notes makes hundreds of themes: a page of them at a time, biggest first as the run ranks them.
    pager = data.Pager(number, data.THEMES_PER_PAGE, len(items))
    page = render_template("pages/themes.html", form=form, run=run, themes=pager.rows(items), pager=pager,
                           filtered=filtered, run_form=RunThemesForm(formdata=None, data=window, prefix="run"),
                           ran=request.args.get("ran"))
    return page, 200 if valid else 422


@bp.post("/themes/run")
def run_themes():
    """The run is a job: the page that follows shows its progress and opens the themes when it is done."""
    if data.theme_queries is None:
        return unavailable("Themes")
    form = RunThemesForm(prefix="run")  # the filter form on the same page has since/until fields too
    if form.validate():
        since = datetime.combine(form.since.data, time.min) if form.since.data else None
        until = datetime.combine(form.until.data, time.max) if form.until.data else None
        return _start_job("themes", themes_payload(data.RunOptions(since=since, until=until)))
    run, items = data.theme_list(services(), None)
    pager = data.Pager(1, data.THEMES_PER_PAGE, len(items))
    return render_template("pages/themes.html", form=ThemeFilterForm(formdata=None), run_form=form, run=run,
                           themes=pager.rows(items), pager=pager, filtered=False,
                           run_error="Please correct the dates."), 422


@bp.get("/themes/<int:theme_id>")
def theme(theme_id: int):
    if data.theme_queries is None:
        return unavailable("Themes")
    detail = _theme_or_404(theme_id)
    return _theme_page(detail, refused=_theme_refused(detail, request.args.get("rejected")))


def _theme_refused(detail: dict, item_id: str | None) -> str | None:
    """?rejected=ITEM, confirmed only when that rejection is stored (the address alone must not make the page say a
    person refused an item, as on the follow-ups page)."""
    from ..followups.refusals import theme_rejected

    if not item_id or data.roadmap is None:
        return None
    with services().db.session() as session:
        members = [s["statement_id"] for s in data.theme_queries.theme_statements(session, detail["id"])]
    return item_id if theme_rejected(services(), item_id, members) else None


def _theme_or_404(theme_id: int) -> dict:
    detail = data.theme_page(services(), theme_id)
    if detail is None:
        not_found("No such theme", f"There is no theme {theme_id}; the themes list shows the current ones.",
                  (url_for("pages.themes"), "Go to the themes"))
    return detail


def _theme_page(detail: dict, status: int = 200, **context):
    """The theme page; a PM (or above) also gets the rename, merge, move and hide forms."""
    from ..auth.policy import allows

    who = principal()
    may_edit = bool(who and allows(who.role, "pages.edit_theme"))
    sent = context.get("edit_form")
    keep = tuple(filter(None, map(row_number, (sent.into.data, sent.to.data)))) if sent else ()
    others = data.other_themes(services(), detail["id"], keep) if may_edit else []
    return render_template("pages/theme.html", t=detail, may_edit=may_edit, others=others,
                           choices=data.THEME_CHOICES, **context), status


@bp.post("/themes/<int:theme_id>/edit")
def edit_theme(theme_id: int):
    """Rename, merge, move or hide from the theme page: the same edit as the CLI and API (recorded with the
    signed-in user as its author, then the themes re-run), so it survives later runs."""
    from ..themes.edits import ThemeEditError, edit_and_rerun
    from ..themes.run import ThemeRunError

    if data.theme_queries is None:
        return unavailable("Themes")
    detail = _theme_or_404(theme_id)
    form = ThemeEditForm()
    if not form.validate():
        return _edit_again(detail, form, 422)
    kind = form.action.data
    fields = {"theme_id": theme_id}
    if kind == "rename":
        fields["label"] = form.label.data
    elif kind == "merge":
        fields["target_id"] = _theme_id(_target(form, "into"))
    elif kind == "move":
        to = _target(form, "to")
        fields = {"statement_ids": [_theme_id(i) for i in form.statement_ids.data or []],
                  "target_id": None if to in ("", "none") else _theme_id(to)}
        if not fields["statement_ids"]:
            return _edit_again(detail, form, 422, ("statement_ids", "Tick the statements to move first."))
    try:
        edit_and_rerun(services(), kind, principal().actor, **fields)
    except ThemeEditError as exc:
        return _edit_again(detail, form, exc.status, (exc.field, f"{exc}."))
    except ThemeRunError as exc:  # the edit is not kept when its re-run fails (themes.edits.edit_and_rerun)
        return _edit_again(detail, form, 422, (None, f"The themes could not be re-run with the edit: {exc}."))
    target = fields.get("target_id") if kind == "merge" else theme_id
    return redirect(url_for("pages.theme", theme_id=target, edited=kind, _anchor="edit-h"), 303)


# The theme page's control for each field an edit can be refused for (pages/_theme_edit.html); the ticked statements
# are sent with the move form, whose target select carries their error. Any other field (the action, the theme itself)
# is about the edit as a whole.
EDIT_CONTROLS = {"label": "rename-label", "into": "merge-into", "to": "move-to", "statement_ids": "move-to"}


def _typed(name: str) -> str:
    """The theme id typed next to a target list (into_id, to_id), or ""."""
    return (request.form.get(f"{name}_id") or "").strip()


def _target(form: ThemeEditForm, name: str) -> str:
    """A merge or move target: a typed id wins over the list, which holds only the themes nearest this one."""
    return _typed(name) or form[name].data or ""


def _edit_again(detail: dict, form: ThemeEditForm, status: int, *problems: tuple[str | None, str]):
    """The theme page after a refused edit: each error next to the control it concerns (edit_errors: control id, or
    None for the edit as a whole, -> messages), and the forms keep what the PM sent (edit_form)."""
    controls = {**EDIT_CONTROLS, **{name: f"{EDIT_CONTROLS[name]}-id" for name in ("into", "to") if _typed(name)}}
    errors: dict[str | None, list[str]] = {}
    for name, messages in [*form.errors.items(), *((name, [m]) for name, m in problems)]:
        errors.setdefault(controls.get(name or ""), []).extend(messages)
    return _theme_page(detail, status, edit_form=form, edit_errors=errors,
                       edit_error="Nothing was changed: please correct the edit below.")


def _theme_id(value):
    """A form's theme or statement id as an int when it is one; anything else is passed on for the edit to reject."""
    value = (value or "").strip()
    return row_number(value) or value


@bp.post("/themes/<int:theme_id>/confirm")
def confirm_theme_item(theme_id: int):
    """"Is this the right item?" for an item the matcher picked for a theme: yes links the theme to it; no rejects the
    theme's statements matched to it (followups.refusals.theme_not_about), so coverage stops voting it in."""
    if data.theme_queries is None or data.roadmap is None:
        return unavailable("Themes")
    detail = _theme_or_404(theme_id)
    form = ConfirmItemForm()
    shown = {i["item_id"]: i for i in detail["items"]}
    if not form.validate() or form.item_id.data not in shown:
        return _theme_page(detail, 422, page_error="That item is not shown for this theme; nothing was saved.")
    if form.answer.data == "no":
        return _theme_not_about(detail, form.item_id.data, shown[form.item_id.data])
    try:
        link_item(form.item_id.data, "theme page", theme_id=theme_id)
    except NotFound:  # deleted from the roadmap between the check above and the link
        return _theme_page(detail, 409, page_error=f"Item {form.item_id.data} is no longer on the roadmap; "
                                                   "nothing was saved.")
    return redirect(url_for("pages.theme", theme_id=theme_id, confirmed=form.item_id.data, _anchor="items-h"), 303)


def _theme_not_about(detail: dict, item_id: str, shown: dict):
    from ..followups.refusals import theme_not_about

    if shown.get("via") == "link":  # a person's link: theirs to take back, not a matcher's guess to refuse
        return _theme_page(detail, 409, page_error=f"A person linked this theme to {item_id}; nothing was changed.")
    with services().db.session() as session:
        members = [s["statement_id"] for s in data.theme_queries.theme_statements(session, detail["id"])]
    try:
        done = theme_not_about(services(), item_id, members, by=principal().actor)
    except NotFound:
        return _theme_page(detail, 409, page_error=f"Item {item_id} is no longer on the roadmap; nothing was saved.")
    if done["rejected"]:
        record_action("roadmap_reject", f"item_id={item_id}", {"theme_id": detail["id"], "via": "theme page",
                                                               "statements": done["statements"]})
    return redirect(url_for("pages.theme", theme_id=detail["id"], rejected=item_id, _anchor="items-h"), 303)


# ---- notes ----------------------------------------------------------------------------------------------------
@bp.get("/notes/<path:note_id>")
def note(note_id: str):
    svc = services()
    with svc.db.session() as session:
        try:
            found = note_dict(find_note(session, note_id), statements=True)
        except NotFound:
            not_found("No such note", f"There is no note {note_id[:80]!r}: it may have been deleted or erased, or the "
                                      "address is mistyped.")
    return render_template("pages/note.html", note=found, themes=data.themes_of_note(svc, found["id"]))


# ---- roadmap --------------------------------------------------------------------------------------------------
@bp.get("/roadmap")
def roadmap():
    if data.roadmap is None:
        return unavailable("The roadmap")
    return render_template("pages/roadmap.html", **data.roadmap_page(services()))


# ---- reports --------------------------------------------------------------------------------------------------
@bp.get("/reports")
def reports():
    return render_template("pages/reports.html", reports=list_reports(services(), limit=200), form=BuildReportForm())


@bp.post("/reports")
def build_report():
    form = BuildReportForm()
    if not form.validate():
        return render_template("pages/reports.html", reports=list_reports(services(), limit=200), form=form), 422
    deliver = bool(form.deliver.data and services().config.REPORT_WEBHOOK_URL)  # the job queues the delivery
    return _start_job("build_report", {"period": form.period.data, "deliver": deliver})


@bp.get("/reports/<int:report_id>")
def report(report_id: int):
    row = _report_or_404(report_id)
    return render_template("pages/report.html", report=row, r=with_code_html(row.data), links=True,
                           notes_present=data.report_notes_present(services(), row.data))


@bp.get("/reports/<int:report_id>/report.html")
def report_file(report_id: int):
    """The stored standalone file, as an attachment: its inline <style> needs a CSP of its own, which still
    allows no script, no network and no form (sandbox); the in-app page above needs none of that."""
    row = _report_or_404(report_id)
    name = f"feedback-report-{row.period}-{row.period_end.isoformat()}.html"
    return row.html, 200, {"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": STANDALONE_CSP,
                           "Content-Disposition": f'attachment; filename="{name}"'}


@bp.get("/reports/<int:report_id>/report.md")
def report_markdown(report_id: int):
    row = _report_or_404(report_id)
    return row.markdown, 200, {"Content-Type": "text/markdown; charset=utf-8"}


# ---- jobs -----------------------------------------------------------------------------------------------------
def _start_job(kind: str, payload: dict):
    job = enqueue(services(), kind, payload)
    return redirect(url_for("pages.job", job_id=job["id"]), 303)


@bp.get("/jobs/<job_id>")
def job(job_id: str):
    """A job's status and done/total; the page refreshes itself (a meta refresh: no script needed) until the job
    ends, then opens what it made (the themes, the report) or shows its result or error."""
    try:
        if len(job_id) > 64:
            raise JobNotFound(job_id)
        found = get_job(services(), job_id)
    except JobNotFound:
        not_found("No such job", f"There is no job {job_id[:64]!r}; the address may be mistyped.")
    target = job_target(found)
    if found["status"] == "done" and target:
        return redirect(target, 303)
    return render_template("pages/job.html", job=found, view=job_view(found)), 200, NO_STORE


def job_target(job: dict) -> str | None:
    result = job.get("result") or {}
    if job["kind"] == "themes":
        return url_for("pages.themes", ran=1)
    if job["kind"] == "build_report" and result.get("report_id"):
        return url_for("pages.report", report_id=result["report_id"])
    return None


def _report_or_404(report_id: int):
    try:
        return get_report(services(), report_id)
    except ReportNotFound:
        not_found("No such report", f"There is no report {report_id}; it may have been deleted.",
                  (url_for("pages.reports"), "Go to the reports"))
