"""The "paste notes" page and its summary."""
from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from urllib.parse import quote as url_quote

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from ..accounts import account_key
from ..auth import audit_this
from ..ingest.readers import RawRow
from ..ingest.store import ingest, validate_rows
from ..ingest.uploads import MAX_UPLOAD_FILES, LoadedUploads, check_defaults, from_storages, load_uploads
from ..jobs import enqueue, is_large_ingest, notes_payload
from ..models import Account, Note
from ..notes import NotFound, find_note, note_dict
from ..services import services
from .forms import SOURCE_LABELS, PasteForm, note_headers

log = logging.getLogger(__name__)

bp = Blueprint("web", __name__, template_folder="templates")

MAX_NOTES_SHOWN = 200
FIELD_FOR_ROW_ERROR = {"text": "text", "account": "account", "source": "source", "date": "date"}


@bp.get("/")
def index():
    return render_template("paste.html", form=PasteForm())


@bp.post("/")
def paste():
    form = PasteForm()
    if not form.validate():
        return _form_again(form, "Please correct the highlighted fields. Nothing was stored.", 422)

    # A note's own Account:/Date:/Source: lines (several calls pasted at once) override the form's fields, and so do
    # an uploaded file's front matter, columns or keys (service.ingest.uploads).
    defaults = {"account": form.account.data or None, "source": form.source.data,
                "date": form.date.data.isoformat() if form.date.data else None}
    rows, own = [], set()
    for line, pasted in enumerate(form.notes, start=1):
        headers, text = note_headers(pasted)
        rows.append(RawRow({**defaults, **headers, "text": text}, line))
        own.update((line, field) for field in headers)
    svc = services()
    notes, errors = validate_rows(rows, "paste", svc.config.MAX_NOTE_CHARS, allow_future=False, future_hint=None)
    uploaded = _read_uploads(form, defaults, len(notes))
    if uploaded is None:  # the pasted notes' own errors are said now too, not after the next try
        _attach_row_errors(form, errors, several=len(rows) > 1, own=frozenset(own))
        return _form_again(form, "Please correct the highlighted fields. Nothing was stored.", 422)
    notes = notes + uploaded.notes
    if errors or uploaded.errors:  # atomic, as `feedback ingest`: one bad row or file and nothing is stored
        _attach_row_errors(form, errors, several=len(rows) > 1, own=frozenset(own))
        form.files.errors = list(form.files.errors) + [str(e) for e in uploaded.errors]
        return _form_again(form, "Please correct the highlighted fields. Nothing was stored.", 422)
    if uploaded.notes_per_file:
        audit_this(files=len(uploaded.notes_per_file))
    if notes and is_large_ingest(current_app.config, notes):
        # a large paste or upload is embedded by a job; its page shows the progress (the theme summary is for small
        # ones)
        job = enqueue(svc, "ingest", notes_payload(notes))
        return redirect(url_for("pages.job", job_id=job["id"]), 303)
    try:
        report = ingest(svc, notes, [], skip_invalid=False)
    except Exception:  # the database or vector store is down: keep the user's text, say what happened
        log.exception("storing pasted notes failed")
        return _form_again(
            form, "The notes could not be stored because a storage service is unavailable. "
            "Nothing was stored; please try again in a moment.", 503,
        )

    accounts = [n.account for n in notes]  # one per note when the notes name their own
    themes, theme_message = _theme_summary(
        svc, [n.text for n in notes], account=accounts if len(set(accounts)) > 1 else (accounts or [None])[0],
        source=form.source.data, date=form.date.data.isoformat() if form.date.data else None,
    )
    stored, more = _load_notes(svc, report.note_ids)
    if themes:
        _link_quotes(themes, _public_ids(svc, notes), {n["id"]: f"note-{i}" for i, n in enumerate(stored, 1)})
    sources = sorted({SOURCE_LABELS.get(n.source, n.source) for n in notes})  # uploaded files may each say theirs
    dates = {n.occurred_at.date() if n.occurred_at else None for n in notes}
    response = render_template(
        "paste_summary.html", report=report, pasted=len(rows), files=uploaded.notes_per_file, total=len(notes),
        themes=themes, theme_message=theme_message, stored=stored, more_notes=more,
        account=accounts[0] if len(set(accounts)) == 1 else None,
        source=sources[0] if len(sources) == 1 else ", ".join(sources),
        date=dates.pop() if len(dates) == 1 else None,
    )
    return response, 200, {"Cache-Control": "no-store"}


def _read_uploads(form: PasteForm, defaults: dict, pasted: int) -> LoadedUploads | None:
    """The form's files read as `feedback ingest` reads files, the form's account, source and date filling what their
    notes leave out; None when the upload as a whole is refused (the reason is on the files field)."""
    files = form.files.data or []
    if not files:
        return LoadedUploads()
    bad = check_defaults(defaults, allow_future=False, future_hint=None)
    for err in bad:  # said once, under the form's field, not once per note of every file
        field = getattr(form, err.field)
        field.errors = list(field.errors) + [err.reason]
    if bad:
        return None
    max_notes = current_app.config["MAX_NOTES_PER_REQUEST"]
    loaded = load_uploads(from_storages(files), current_app.config["MAX_NOTE_CHARS"], defaults=defaults,
                          allow_future=False)
    if pasted + len(loaded.notes) > max_notes:
        form.files.errors = list(form.files.errors) + [
            f"The files hold {len(loaded.notes):,} notes{f' and the paste {pasted:,}' if pasted else ''}; store at "
            f"most {max_notes:,} at a time (or use the feedback ingest command for bigger imports)."]
        return None
    return loaded


@bp.errorhandler(CSRFError)
def csrf_failed(exc):
    """An expired or missing form token: on the paste page keep the user's text and ask to submit again."""
    if request.endpoint == "web.paste":
        form = PasteForm()
        files = " and choose the files again" if form.files.data else ""  # a browser never keeps a file input's files
        return _form_again(
            form, "The form expired before it was sent, so nothing was stored. "
            f"Your text is still below: please submit it again{files}.", 400,
        )
    from . import CSRF_MESSAGE

    return render_template("error.html", status=400, message=CSRF_MESSAGE), 400


@bp.errorhandler(413)
def too_large(exc):
    """A paste or upload over the request size limit (MAX_CONTENT_LENGTH): the form again, saying the limit. The
    request's fields cannot be read (werkzeug refuses to parse it), so the form comes back empty."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if request.endpoint != "web.paste" or not limit:
        from ..api.errors import given_description

        return render_template("error.html", status=413, message=given_description(exc) or "The request is too "
                               "large."), 413
    if request.content_length is not None and request.content_length <= limit:
        # werkzeug's 413 for a form of more than MAX_FORM_PARTS parts (files and fields): the size is within the limit
        return _form_again(
            PasteForm(formdata=None),
            f"The form holds more than {request.max_form_parts:,} parts (files and fields), so nothing was stored. "
            f"Upload at most {MAX_UPLOAD_FILES} files at a time, or use the feedback ingest command for big imports.",
            413,
        )
    return _form_again(
        PasteForm(formdata=None),
        f"The paste and files are larger than the limit of {_size(limit)} for one request, so nothing was stored. "
        "Upload fewer or smaller files at a time, or use the feedback ingest command for big imports.", 413,
    )


def _size(limit: int) -> str:
    return f"{limit / 1024**2:,.1f} MiB ({limit:,} bytes)" if limit >= 1024**2 else f"{limit:,} bytes"


def _form_again(form: PasteForm, message: str, status: int):
    return render_template("paste.html", form=form, page_error=message), status, {"Cache-Control": "no-store"}


def _attach_row_errors(form: PasteForm, errors, *, several: bool, own: frozenset = frozenset()) -> None:
    """Row errors under the form field they concern. `own`: (note, field) pairs a note set itself with a header
    line, so their errors name the note; an error of the form's own field is the same for every note, said once
    (also when the field says it already, as the uploads' check of the form's fields does)."""
    seen = {(name, message) for name in set(FIELD_FOR_ROW_ERROR.values()) for message in getattr(form, name).errors}
    for err in errors:
        name = FIELD_FOR_ROW_ERROR.get(err.field or "", "text")
        mine = name == "text" or (err.line, err.field) in own
        prefix = f"Note {err.line}: " if mine and several and err.line else ""
        message = prefix + err.reason
        if (name, message) in seen:  # account/source/date errors repeat once per note
            continue
        seen.add((name, message))
        field = getattr(form, name)
        field.errors = list(field.errors) + [message]


def _theme_summary(svc, texts: list[str], **context) -> tuple[list[dict] | None, str | None]:
    """Themes of the pasted texts from the themes stage when it is installed: (themes, message).
    themes is None when the summary is unavailable (stage not installed, or it failed)."""
    from ..api.themes import MAX_SUMMARIZE_CHARS

    if sum(len(t) for t in texts) > MAX_SUMMARIZE_CHARS:  # the summary would outlast the worker timeout
        return [], (f"the paste is over {MAX_SUMMARIZE_CHARS:,} characters, too long to summarise at once; "
                    "run themes to see it in the theme list")
    try:
        from service.themes.summary import summarize_texts
    except ModuleNotFoundError as exc:
        if exc.name not in ("service.themes.summary", "service.themes"):
            log.warning("theme summary unavailable: %s", exc)
        return None, None
    kwargs = {"store": False}
    try:  # pass the paste's account/source/date when the function takes them ("also raised by N *other* accounts")
        params = inspect.signature(summarize_texts).parameters
        any_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        kwargs.update({k: v for k, v in context.items() if k in params or any_kw})
    except (TypeError, ValueError):
        pass
    try:
        result = summarize_texts(svc, texts, **kwargs)
    except Exception:
        log.exception("theme summary of a paste failed")
        return None, None
    message = None
    items = result
    if isinstance(result, Mapping):  # {"themes": [...], "message": ...}
        items, message = result.get("themes"), result.get("message")
    if items is None:
        return None, None
    try:
        return [_theme(item) for item in items], (str(message) if message else None)
    except (TypeError, ValueError):
        log.exception("theme summary returned an unexpected shape")
        return None, None


def _get(obj, key, default=None):
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _count(value) -> int:
    if value is None:
        return 0
    if isinstance(value, (int, float)):
        return int(value)
    return len(value)


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _theme(item) -> dict:
    """Normalise one theme to {label, mentions, quotes: [{text, note_id, paste_index}],
    corpus_theme: {id, label, accounts, url, trend, status}|None}; accounts counts the *other* accounts."""
    quotes = []
    for entry in _get(item, "quotes") or []:
        if isinstance(entry, str):
            quotes.append({"text": entry, "note_id": None, "paste_index": None})
        else:
            quotes.append({"text": str(_get(entry, "text", "")), "note_id": _get(entry, "note_id"),
                           "paste_index": _int_or_none(_get(entry, "paste_index"))})
    corpus = _get(item, "corpus_theme")
    corpus_theme = None
    if corpus:
        theme_id = _get(corpus, "id")
        others = _get(corpus, "other_accounts")
        corpus_theme = {
            "id": theme_id,
            "label": str(_get(corpus, "label") or f"theme {theme_id}"),
            "accounts": _count(others if others is not None else _get(corpus, "accounts")),
            "url": f"/themes/{url_quote(str(theme_id), safe='')}" if theme_id is not None else None,
            "trend": _get(corpus, "trend"),
            "status": _get(corpus, "status"),
        }
    return {
        "label": str(_get(item, "label") or "Untitled theme"),
        "mentions": _int_or_none(_get(item, "mentions")),
        "quotes": quotes,
        "corpus_theme": corpus_theme,
    }


def _public_ids(svc, notes) -> list[str | None]:
    """The public id of each pasted note, new or deduplicated against one stored before (same account and text; the
    account by its key, as the ingest files "ACME corp." under "Acme Corp")."""
    hashes = sorted({n.norm_hash for n in notes})
    found: dict[tuple[str | None, str], str] = {}
    with svc.db.session() as session:
        for start in range(0, len(hashes), 500):
            rows = session.execute(
                select(Note.norm_hash, Account.key, Note.id, Note.external_id)
                .outerjoin(Account, Note.account_id == Account.id)
                .where(Note.norm_hash.in_(hashes[start:start + 500]))
            ).all()
            for norm_hash, account, note_id, external_id in rows:
                found[(account, norm_hash)] = external_id or str(note_id)
    return [found.get((account_key(n.account) if n.account else None, n.norm_hash)) for n in notes]


def _link_quotes(themes: list[dict] | None, pasted_ids: list[str | None], anchors: dict[str, str]) -> None:
    """Quotes name the stored note they come from, and link to its card on the page when it is shown."""
    for theme in themes or []:
        for q in theme["quotes"]:
            index = q.get("paste_index")
            if q["note_id"] is None and index is not None and 1 <= index <= len(pasted_ids):
                q["note_id"] = pasted_ids[index - 1]
            q["anchor"] = anchors.get(str(q["note_id"])) if q["note_id"] is not None else None


def _load_notes(svc, note_ids: list[str]) -> tuple[list[dict], int]:
    shown, more = note_ids[:MAX_NOTES_SHOWN], max(len(note_ids) - MAX_NOTES_SHOWN, 0)
    out = []
    with svc.db.session() as session:
        for note_id in shown:
            try:
                out.append(note_dict(find_note(session, note_id), statements=True))
            except NotFound:
                continue
    return out, more
