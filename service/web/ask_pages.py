"""The ask pages of blueprint "pages": a question, the draft answer made for it (with the items it cites, each
confirmable), and the rep's rating or edited version of that draft.

The routes are on pages.bp, so their endpoints keep the names "pages.ask", "pages.draft", ... and pages.init_pages
loads this module before it registers the blueprint.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import redirect, render_template, request, url_for

from ..auth import principal, record_action
from ..models import utcnow
from ..notes import NotFound
from ..roadmap.decision import NO_ROADMAP
from ..services import services
from . import page_data as data
from .page_forms import AskForm, ConfirmItemForm, FeedbackForm
from .pages import NO_STORE, bp, link_item, not_found, unavailable

log = logging.getLogger(__name__)

# A second identical form sent this soon after the first (a double click, a resent POST) is the same request: it is
# answered as the first was instead of storing the draft or the rating twice. Later, the same answer is new feedback.
DOUBLE_SUBMIT_SECONDS = 60


@bp.route("/ask", methods=["GET", "POST"])
def ask():
    if data.drafts is None:
        return unavailable("Drafting answers")
    form = AskForm()
    if request.method == "GET" or not form.validate():
        status = 200 if request.method == "GET" else 422
        return render_template("pages/ask.html", form=form, recent=data.recent_drafts(services()),
                               no_roadmap=data.no_roadmap(services())), status
    question, account, audience = form.question.data, form.account.data or None, form.audience.data
    if (same := _just_drafted(question, account, audience)) is not None:
        return redirect(url_for("pages.draft", draft_id=same), 303)
    try:
        draft = data.drafts.create_draft(services(), question, account=account, audience=audience)
    except data.drafts.DraftInputError as exc:
        form.question.errors = list(form.question.errors) + [str(exc)]
        return render_template("pages/ask.html", form=form, recent=[]), 422
    except Exception:  # the roadmap matcher or the LLM failed: keep the question, say what happened
        log.exception("drafting an answer failed")
        return render_template("pages/ask.html", form=form, recent=[], page_error=(
            "The draft could not be made because a service is unavailable. Please try again in a moment.")), 503
    return redirect(url_for("pages.draft", draft_id=draft["id"]), 303)


def _just_drafted(question: str, account: str | None, audience: str) -> int | None:
    """The id of the latest draft when it answers this very question, account and audience and was made moments ago."""
    latest, _ = data.drafts.list_drafts(services(), per_page=1)
    if not latest:
        return None
    d = latest[0]
    same = (d["question"], d["account"], d["audience"]) == (question.strip(), account, audience)
    return d["id"] if same and _recent(d["created_at"]) else None


def _recent(created_at: str | None) -> bool:
    if not created_at:
        return False
    return utcnow() - datetime.fromisoformat(created_at) < timedelta(seconds=DOUBLE_SUBMIT_SECONDS)


@bp.get("/ask/<int:draft_id>")
def draft(draft_id: int):
    if data.drafts is None:
        return unavailable("Drafting answers")
    found = _draft_or_404(draft_id)
    return _draft_page(found, 200, saved=request.args.get("saved"))


def _draft_or_404(draft_id: int) -> dict:
    found = data.draft_page(services(), draft_id)
    if found is None:
        not_found("No such draft", f"There is no draft {draft_id}; it may have been deleted.",
                  (url_for("pages.ask"), "Go to Ask"))
    return found


def _draft_page(found: dict, status: int, form: FeedbackForm | None = None, **context):
    """The draft page. The edit box starts from the rep's latest saved version, so saving twice builds on the first
    edit; what that version says beyond the draft and the roadmap does not back is shown next to it."""
    latest = _latest_edit(found)
    if form is None:
        form = FeedbackForm(formdata=None, data={"edited_text": latest or found["text"]})
    edit_problems = _edit_problems(found, latest) if latest else []
    # A draft made without a roadmap carries that warning itself (shown with its warnings); the page's own notice is
    # for one made with a roadmap since removed.
    no_roadmap = NO_ROADMAP not in found.get("warnings", []) and data.no_roadmap(services())
    page = render_template("pages/draft.html", d=found, form=form, edit_problems=edit_problems,
                           no_roadmap=no_roadmap, **{"saved": None, **context})
    return page, status, NO_STORE


def _latest_edit(found: dict) -> str | None:
    return next((f["edited_text"] for f in reversed(found.get("feedback") or []) if f["edited_text"]), None)


def _edit_problems(found: dict, text: str) -> list[str]:
    try:
        return data.drafts.edit_problems(services(), found, text)
    except Exception:  # a check that cannot run must not hide the draft page
        log.exception("checking a rep's version of draft %s failed", found.get("id"))
        return []


@bp.post("/ask/<int:draft_id>/confirm")
def confirm_draft_item(draft_id: int):
    """"Is this the right item?" for an item a draft cites: yes links the draft to it (its question becomes evidence
    for the item); no removes that link again (whoever made it), rejects the question for the item (the matcher then
    declines the item for questions that read as this one) and is kept as feedback on the draft."""
    if data.drafts is None or data.roadmap is None:
        return unavailable("Drafting answers")
    found = _draft_or_404(draft_id)
    form = ConfirmItemForm()
    cited = {i["id"]: i for i in found["items"]}
    if not form.validate() or form.item_id.data not in cited:
        return _draft_page(found, 422, page_error="That item is not cited by this draft; nothing was saved.")
    item_id = form.item_id.data
    gone = (f"Item {item_id} is no longer on the roadmap (it was archived or deleted since this page was shown), "
            "so the question was not linked to it; nothing was saved.")
    if form.answer.data == "yes":
        if cited[item_id].get("missing") or cited[item_id].get("archived"):
            return _draft_page(found, 409, page_error=gone)
        try:
            link_item(item_id, "draft page", draft_id=draft_id)
        except NotFound:  # deleted between the check above and the link
            return _draft_page(data.draft_page(services(), draft_id) or found, 409, page_error=gone)
    else:  # the link goes and the rejection stays: the item is declined for questions that read as this one
        from ..roadmap.rejections import reject

        try:
            done = reject(services(), item_id, draft_id=draft_id, created_by=principal().actor)
            changed = bool(done["created"] or done["unlinked"])
        except NotFound:  # the item was deleted meanwhile: nothing left to say no to, but the draft was wrong
            done, changed = {"created": 0, "unlinked": False}, True
        if done["unlinked"]:
            record_action("roadmap_unlink", f"item_id={item_id}", {"draft_id": draft_id, "via": "draft page"})
        if done["created"]:
            record_action("roadmap_reject", f"item_id={item_id}", {"draft_id": draft_id, "via": "draft page"})
        if changed:  # a "no" already said (a second click, or two at once: reject takes turns) is not rated again
            _save_feedback_once(found, "down", None, f"not the right item: {item_id}")
    saved = "confirmed" if form.answer.data == "yes" else "rejected"
    return redirect(url_for("pages.draft", draft_id=draft_id, saved=saved, _anchor="cited-h"), 303)


def _save_feedback_once(found: dict, rating: str, edited: str | None, comment: str | None) -> None:
    """Store a rating unless the draft's latest feedback is this very one from this very user, sent moments ago (a
    double submit)."""
    who = principal().actor
    last = (found.get("feedback") or [None])[-1]
    if last and (str(last["rating"]), last["edited_text"], last["comment"], last.get("by")) == (
            rating, edited or None, comment or None, who) and _recent(last["created_at"]):
        return
    data.drafts.save_feedback(services(), found["id"], rating, edited_text=edited, comment=comment, author=who)


@bp.post("/ask/<int:draft_id>/feedback")
def draft_feedback(draft_id: int):
    if data.drafts is None:
        return unavailable("Drafting answers")
    found = _draft_or_404(draft_id)
    form = FeedbackForm()
    if not form.validate():
        hidden = [f"{name}: {errs[0]}" for name, errs in form.errors.items() if name in ("kind", "csrf_token")]
        return _draft_page(found, 422, form=form, page_error="; ".join(hidden) or
                           "Please correct the highlighted fields. Nothing was saved.")
    thumb = form.kind.data == "thumb"
    edited = None if thumb or (form.edited_text.data or "").strip() == found["text"].strip() else form.edited_text.data
    try:
        _save_feedback_once(found, form.rating.data, edited, None if thumb else (form.comment.data or None))
    except data.drafts.DraftInputError as exc:
        return _draft_page(found, 422, form=form, page_error=str(exc))
    saved = "thumb" if thumb else ("edit" if edited else "rating")
    return redirect(url_for("pages.draft", draft_id=draft_id, saved=saved, _anchor="feedback"), 303)
