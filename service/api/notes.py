from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Integer, List, String
from flask import current_app, request
from marshmallow import INCLUDE, missing
from werkzeug.exceptions import RequestEntityTooLarge

from ..ingest.errors import IngestError, RowError
from ..ingest.store import ingest, validate_rows
from ..jobs import is_large_ingest
from ..ingest.readers import RawRow
from ..models.notes import SOURCE_KINDS
from ..notes import NotFound, delete_note_by_id, find_note, list_notes, note_dict, parse_filter_date, stats
from ..services import services
from .errors import APIError
from .fields import Body, Id, Text
from .hygiene import MAX_PAGE, accepts_files, check_body, query_flag, query_int
from .openapi import query_parameters
from .queries import MAX_PER_PAGE, IngestQuery, NotesQuery

bp = APIBlueprint("notes", __name__, url_prefix="/api/v1", tag="Notes")
bp.before_request(check_body)  # JSON, parsed and within limits, once the caller is known


class NoteIn(Body):
    """One note. service.ingest.validate checks it (the same rules as `feedback ingest`); this documents it. Other
    fields are kept as the note's metadata; arr (the account's ARR) must be an amount from 0 to 1e12."""

    class Meta:
        unknown = INCLUDE  # other fields are kept as the note's metadata

    id = Id(metadata={"description": "your id for the note; re-sending it with new text updates the note. No '/' "
                                    "(it is a URL path segment)"})
    text = Text(required=True, metadata={"description": "the note, up to 100,000 characters"})
    account = Text()
    source = Text(metadata={"enum": list(SOURCE_KINDS)})
    author = Text()
    date = Text(metadata={"description": "ISO 8601 date"})


class IngestOut(Schema):
    created = Integer()
    updated = Integer()
    unchanged = Integer()
    statements_embedded = Integer()
    note_ids = List(String())
    rejected = List(Dict())
    accounts_filed = List(Dict(), metadata={"description": "[{written, account}]: an account name written another way "
                                                            "than a stored (or earlier) account's, filed under that one "
                                                            "(same name without legal form, case, accents, punctuation)"})


def bool_arg(name: str) -> bool:
    return query_flag(name)


@bp.post("/notes")
@accepts_files
@query_parameters(IngestQuery)
@bp.input(NoteIn(many=True), location="json", validation=False, arg_name="body")
@bp.doc(summary="Ingest one note or a list of notes as JSON, or note files as multipart/form-data (parts named "
                "'file'; read as `feedback ingest` reads files). Atomic unless ?skip_invalid=true; a date more than "
                "a day ahead is an error unless ?allow_future=true",
        responses={201: "stored", 202: "large: queued as a job (poll /api/v1/jobs/<id>)",
                   400: "malformed JSON; or a file that cannot be read (details.errors names it), no 'file' part, "
                        "a part without a file name, an unknown part, account/source/date sent twice or as a file, a "
                        "multipart body that cannot be parsed (nothing stored)",
                   413: "too large: the body, more than 2,000 notes, more than 100 files or 1,000 parts",
                   415: "neither application/json nor multipart/form-data",
                   422: "invalid rows (nothing stored); details.errors: [{source, line, field, reason}]"})
def post_notes(body):
    # Both switches first: a bad value is a 400 whichever way the notes go (a large ingest was queued without
    # looking at ?skip_invalid=).
    allow_future, skip_invalid = bool_arg("allow_future"), bool_arg("skip_invalid")
    if request.mimetype == "multipart/form-data":
        return _post_files(allow_future, skip_invalid)
    if isinstance(body, dict) and isinstance(body.get("notes"), list):
        body = body["notes"]
    # No body at all (marshmallow's `missing`) or JSON null: nothing was sent, not a row of the wrong type.
    items = [] if body is None or body is missing else body if isinstance(body, list) else [body]
    limit = current_app.config["MAX_NOTES_PER_REQUEST"]
    if len(items) > limit:
        raise APIError(413, f"{len(items)} notes in one request; the limit is {limit}", {"limit": limit})
    if not items:
        raise APIError(422, "no notes given: send a note, a list of notes or {\"notes\": [...]} as JSON",
                       {"errors": []})
    rows = [RawRow(item, i) for i, item in enumerate(items, start=1)]
    notes, errors = validate_rows(rows, "request", current_app.config["MAX_NOTE_CHARS"],
                                  allow_future=allow_future, future_hint="?allow_future=true")
    if notes and is_large_ingest(current_app.config, notes) and (not errors or skip_invalid):
        return _queued_ingest(notes, errors)
    try:
        report = ingest(services(), notes, errors, skip_invalid=skip_invalid)
    except IngestError as exc:
        raise APIError(422, f"{len(exc.errors)} invalid note(s); nothing was stored",
                       {"errors": [e.as_dict() for e in exc.errors]})
    return report.as_dict(), 201


def _post_files(allow_future: bool, skip_invalid: bool):
    """Note files (parts named "file"), with optional form fields account, source and date that fill what a file's
    notes leave out. Read by service.ingest.uploads, as `feedback ingest` reads files; stored as JSON notes are."""
    from ..auth import audit_this
    from ..ingest.uploads import DEFAULT_FIELDS, MAX_UPLOAD_FILES, check_defaults, from_storages, load_uploads

    files, form = _form_parts(MAX_UPLOAD_FILES)
    parts = files.getlist("file")
    # A part whose name the parser cannot read (name="a\\" escapes its own closing quote) comes as None.
    unknown = sorted({_part_name(n) for n in files if n != "file" and n not in DEFAULT_FIELDS}
                     | {_part_name(n) for n in form if n not in DEFAULT_FIELDS and n != "file"})
    if "file" in form:  # curl -F file=notes.txt (no @): a field, not a file
        raise APIError(400, "the part 'file' has no file name: send each file as a file part (curl -F "
                            "file=@notes.txt)", {"field": "file"})
    for name in DEFAULT_FIELDS:
        if name in files:  # curl -F account=@acme.txt
            raise APIError(400, f"the part '{name}' is a file; send {name} as a plain field (curl -F "
                                f"{name}={_EXAMPLES[name]})", {"field": name})
        if len(form.getlist(name)) > 1:  # which one was meant? (the first was taken without a word)
            raise APIError(400, f"the field '{name}' is given {len(form.getlist(name))} times; send it once",
                           {"field": name})
    if unknown:
        raise APIError(400, f"unknown part(s) {', '.join(repr(n[:40]) for n in unknown)}: send files as parts named "
                            f"'file' and optionally the fields {', '.join(DEFAULT_FIELDS)}",
                       {"field": unknown[0][:40], "allowed": ["file", *DEFAULT_FIELDS]})
    if not parts and not form and _parts_sent():  # werkzeug drops the whole form when one part is malformed
        raise APIError(400, "the multipart body could not be read: a part is malformed, or a part's headers (a file "
                            "name, say) are not UTF-8; send file names as UTF-8, or in the filename*=UTF-8'' form",
                       {"field": "file"})
    if not parts:
        raise APIError(400, "no files: send each file as a multipart part named 'file' (curl -F file=@notes.txt)",
                       {"field": "file"})
    if len(parts) > MAX_UPLOAD_FILES:
        raise APIError(413, f"{len(parts)} files in one request; the limit is {MAX_UPLOAD_FILES}",
                       {"limit": MAX_UPLOAD_FILES})
    defaults = {k: form.get(k) or None for k in DEFAULT_FIELDS}
    bad = check_defaults(defaults, allow_future=allow_future, future_hint="?allow_future=true")
    if bad:
        raise APIError(422, "; ".join(f"{e.field}: {e.reason}" for e in bad), {"field": bad[0].field,
                                                                              "errors": [e.as_dict() for e in bad]})
    config = current_app.config
    loaded = load_uploads(from_storages(parts), config["MAX_NOTE_CHARS"], defaults=defaults,
                          allow_future=allow_future, future_hint="?allow_future=true")
    if len(loaded.notes) > config["MAX_NOTES_PER_REQUEST"]:
        limit = config["MAX_NOTES_PER_REQUEST"]
        raise APIError(413, f"the files hold {len(loaded.notes)} notes; the limit is {limit} per request",
                       {"limit": limit})
    errors = [e.as_dict() for e in loaded.errors]
    if loaded.unreadable and not skip_invalid:
        names = ", ".join(loaded.unreadable[:5]) + (f" and {len(loaded.unreadable) - 5} more"
                                                     if len(loaded.unreadable) > 5 else "")
        raise APIError(400, f"{len(loaded.unreadable)} file(s) could not be read ({names}); nothing was stored",
                       {"errors": errors, "unreadable": loaded.unreadable})
    audit_this(files=len(parts))
    if loaded.notes and is_large_ingest(config, loaded.notes) and (not loaded.errors or skip_invalid):
        return _queued_ingest(loaded.notes, loaded.errors)
    try:
        report = ingest(services(), loaded.notes, loaded.errors, skip_invalid=skip_invalid)
    except IngestError as exc:
        raise APIError(422, f"{len(exc.errors)} invalid note(s); nothing was stored",
                       {"errors": [e.as_dict() for e in exc.errors]})
    return report.as_dict(), 201


_EXAMPLES = {"account": "Acme", "source": "call", "date": "2026-11-20"}


def _form_parts(max_files: int):
    """request.files and request.form. The body is within the size limit here (check_body), so werkzeug's bare 413
    while parsing it means too many parts (MAX_FORM_PARTS) or a field too long (MAX_FORM_MEMORY_SIZE): said as
    such, not as a body over a size it is not over."""
    try:
        return request.files, request.form
    except RequestEntityTooLarge:
        sent, most = _parts_sent(), request.max_form_parts
        if most is not None and sent > most:
            raise APIError(413, f"{sent:,} parts in one request; more than {most:,} parts (files and fields together) "
                                f"are not read: send at most {max_files} files at a time", {"limit": most}) from None
        longest = request.max_form_memory_size
        raise APIError(413, f"a form field is longer than {longest:,} bytes; account, source and date are short "
                            "(send notes as files)", {"limit": longest}) from None


def _parts_sent() -> int:
    """How many parts the multipart body holds, by its boundary lines (check_body has read the body)."""
    boundary = request.mimetype_params.get("boundary", "").encode()
    return max(request.get_data(cache=True).count(b"--" + boundary) - 1, 0) if boundary else 0


def _part_name(name) -> str:
    return name if isinstance(name, str) else "(a part without a readable name)"


def _queued_ingest(notes, errors):
    """Validated now (a bad row is still an immediate 422), embedded by a job: 202 with the job to poll."""
    from ..jobs import enqueue, notes_payload

    job = enqueue(services(), "ingest", notes_payload(notes, errors))
    return {"job": job, "status_url": f"/api/v1/jobs/{job['id']}"}, 202, {"Location": f"/api/v1/jobs/{job['id']}"}


@bp.get("/notes")
@query_parameters(NotesQuery)
@bp.doc(summary="List notes, newest first. Filters: account, source, since, until; page, per_page (<= 200)")
def get_notes():
    page = query_int("page", 1, 1, MAX_PAGE)
    per_page = query_int("per_page", 50, 1, MAX_PER_PAGE)
    source = request.args.get("source")
    if source and source not in SOURCE_KINDS:
        raise APIError(400, f"unknown source {source!r}", {"field": "source", "allowed": list(SOURCE_KINDS)})
    dates = {}
    for name in ("since", "until"):
        try:
            dates[name] = parse_filter_date(request.args.get(name), name, end_of_day=name == "until")
        except ValueError as exc:
            raise APIError(400, str(exc), {"field": name})
    since, until = dates["since"], dates["until"]
    with services().db.session() as session:
        rows, total = list_notes(session, account=request.args.get("account"), source=source, since=since,
                                 until=until, page=page, per_page=per_page)
        items = [note_dict(n) for n in rows]
    return {"items": items, "page": page, "per_page": per_page, "total": total}


@bp.get("/notes/<path:note_id>")  # path: notes stored before '/' was refused stay reachable
@bp.doc(summary="One note with its statements", responses={404: "no such note"})
def get_note(note_id: str):
    with services().db.session() as session:
        try:
            return note_dict(find_note(session, note_id), statements=True)
        except NotFound as exc:
            raise APIError(404, str(exc))


@bp.delete("/notes/<path:note_id>")
@bp.doc(summary="Delete a note with its statements and vectors", responses={404: "no such note"})
def delete_note(note_id: str):
    try:
        delete_note_by_id(services(), note_id)
    except NotFound as exc:
        raise APIError(404, str(exc))
    return {"deleted": note_id}


class MergeIn(Body):
    source = Text(required=True, data_key="from",
                  metadata={"description": "the account to merge, its name as listed (feedback accounts list)"})
    into = Text(required=True, metadata={"description": "the account to keep"})


@bp.post("/accounts/merge")
@bp.input(MergeIn, location="json", arg_name="body")
@bp.doc(summary="File every note of one account under another and forget the first (one customer written two "
                "ways the names do not join; case, punctuation and a legal form such as Inc join by themselves). "
                "Drafts and told marks move too; no undo",
        responses={200: "merged: {merged, into, notes, drafts, told_marks}", 404: "no such account",
                   422: "a name missing or too long, or both names are one account"})
def merge_accounts(body):
    from ..accounts import AccountError, merge
    from ..auth import audit_this
    from ..erase import fingerprint

    try:
        result = merge(services(), body["source"], body["into"])
    except AccountError as exc:
        raise APIError(422, str(exc))
    except NotFound as exc:
        raise APIError(404, str(exc))
    audit_this(account=fingerprint(result["merged"]), into=fingerprint(result["into"]), notes=result["notes"])
    return result


@bp.get("/stats")
@bp.doc(summary="Counts of notes, statements, vectors and accounts")
def get_stats():
    return stats(services())


__all__ = ["bp", "RowError"]
