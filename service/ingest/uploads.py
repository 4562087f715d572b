"""Files sent over HTTP (the paste page's file input; POST /api/v1/notes as multipart/form-data) read as `feedback
ingest` reads files: the same readers and validation (store.load_bytes), then the same atomic ingest.

A file's name is the caller's and untrusted: without its folders it is only the label of the file's notes and errors
(`source`, as a path is for the CLI), never a path; nothing is written to disk.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from .documents import MAX_DOCX_UNPACKED, Budget, unpacked_size
from .errors import RowError
from .readers import FORMATS, RawRow, ReaderError
from .store import load_bytes, validate_rows
from .validate import NoteInput

# Files in one upload. The request size limit (MAX_CONTENT_LENGTH) bounds their bytes; this bounds the work of
# opening them (each .docx or .pdf is inflated and parsed within its own limits, service/ingest/documents.py).
MAX_UPLOAD_FILES = 100
# What all the .docx files of one upload may unpack to together: each is checked against MAX_DOCX_UNPACKED (64 MiB)
# on its own, and a hundred small zip bombs inside the request limit would be a hundred times that work.
MAX_UPLOAD_UNPACKED = 2 * MAX_DOCX_UNPACKED
MAX_NAME_CHARS = 200
MAX_SUFFIX_CHARS = 16  # a longer "suffix" of a cut name is no file type; it is cut with the rest
DEFAULT_FIELDS = ("account", "source", "date")  # the form fields a file's rows take where they give none
ACCEPT = ",".join(FORMATS)  # the file input's accept attribute


@dataclass(frozen=True)
class Upload:
    name: str  # the file's name without folders: the label of its notes and errors
    data: bytes


@dataclass
class LoadedUploads:
    notes: list[NoteInput] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # files that could not be read at all (wrong type, damaged)
    notes_per_file: dict[str, int] = field(default_factory=dict)


def upload_name(filename: str | None, number: int) -> str:
    """The label of an uploaded file: its name without folders ("C:\\calls\\acme.txt" and "../acme.txt" are
    "acme.txt"), control and invisible format characters dropped (a right-to-left override, U+202E, would show
    "report<U+202E>txt.exe" as "reportexe.txt"); "file N" when nothing is left. A name cut to MAX_NAME_CHARS keeps
    its type suffix, which says how the file is read."""
    name = re.split(r"[/\\]", filename or "")[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf")).strip()
    if name in ("", ".", ".."):
        return f"file {number}"
    if len(name) <= MAX_NAME_CHARS:
        return name
    suffix = PurePosixPath(name).suffix
    suffix = suffix if len(suffix) <= MAX_SUFFIX_CHARS else ""
    return name[: MAX_NAME_CHARS - 1 - len(suffix)] + "…" + suffix


def _unique(name: str, taken: set[str]) -> str:
    """The name, or "notes (2).txt", "notes (3).txt", ... as a browser saves a second download of one name: two
    files called notes.txt (from two folders) are told apart in the summary and in every error."""
    suffix = PurePosixPath(name).suffix
    stem = name[: len(name) - len(suffix)]
    number = 1
    while name in taken:
        number += 1
        name = f"{stem} ({number}){suffix}"
    taken.add(name)
    return name


def from_storages(storages) -> list[Upload]:
    """Werkzeug FileStorage objects (request.files, a MultipleFileField's data) as uploads, read into memory: the
    request size limit bounds them."""
    return [Upload(upload_name(s.filename, i), s.read()) for i, s in enumerate(storages, start=1)]


def check_defaults(defaults: dict, *, allow_future: bool, future_hint: str | None) -> list[RowError]:
    """Errors of the defaults themselves (source "form", no line), checked once by the rules every row passes: a bad
    account, source or date is named as the form field it is, not once per row of every file."""
    given = {k: v for k, v in defaults.items() if v is not None}
    if not given:
        return []
    _, errors = validate_rows([RawRow({**given, "text": "-"}, None)], "form", 1, allow_future=allow_future,
                              future_hint=future_hint)
    return [e for e in errors if e.field in DEFAULT_FIELDS]


def load_uploads(uploads: list[Upload], max_chars: int, *, defaults: dict | None = None, allow_future: bool = False,
                 future_hint: str | None = None) -> LoadedUploads:
    """Every file's valid notes and every error, each named by file and line. A file of a type ingest does not
    read, or that cannot be read at all, is listed in `unreadable`; a file that holds no note is an error too (an
    empty .jsonl, a CSV header alone), never a silent "0 stored". The documents (.docx, .pdf) of the upload share
    one Budget of work, and the .docx files one of unpacked bytes."""
    out = LoadedUploads()
    unpacked = MAX_UPLOAD_UNPACKED
    budget = Budget()
    names: set[str] = set()
    for upload in uploads:
        name = _unique(upload.name, names)
        suffix = PurePosixPath(name).suffix
        if suffix.lower() == ".docx":
            unpacked -= unpacked_size(upload.data)
            if unpacked < 0:
                out.errors.append(RowError(name, None, None, f"the .docx files of this upload unpack to more than "
                                                             f"{MAX_UPLOAD_UNPACKED // 1024**2} MiB together; send "
                                                             "fewer at a time"))
                out.unreadable.append(name)
                continue
        try:
            notes, errors = load_bytes(upload.data, name, suffix, max_chars, defaults=defaults,
                                       allow_future=allow_future, future_hint=future_hint, budget=budget)
        except ReaderError as exc:
            out.errors.extend(exc.errors)
            out.unreadable.append(name)
            continue
        if not notes and not errors:
            errors = [RowError(name, None, None, "no notes in this file (an empty file, or a CSV header without "
                                                 "rows)")]
        out.notes.extend(notes)
        out.errors.extend(errors)
        out.notes_per_file[name] = len(notes)
    return out
