"""Forms for the pages (Flask-WTF: CSRF token included when CSRF is enabled)."""
from __future__ import annotations

import re
from datetime import datetime

from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import DateField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError

from ..ingest.uploads import ACCEPT, MAX_UPLOAD_FILES
from ..models.notes import SOURCE_KINDS

SEPARATOR = re.compile(r"^[ \t]*---[ \t]*$", re.M)
SOURCE_LABELS = {"call": "Call", "interview": "Interview", "email": "Email", "ticket": "Support ticket", "other": "Other"}
DEFAULT_MAX_NOTE_CHARS = 100_000
DEFAULT_MAX_NOTES = 2000


def split_notes(text: str | None) -> list[str]:
    """One note, or several separated by a line containing only ``---``; blank parts are dropped."""
    if not text:
        return []
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [part.strip() for part in SEPARATOR.split(text) if part.strip()]


HEADER = re.compile(r"[ \t]*(account|date|source)[ \t]*:[ \t]*(\S[^\n]{0,199})[ \t]*$", re.I)


def note_headers(note: str) -> tuple[dict[str, str], str]:
    """A pasted note's own `Account:`, `Date:` and `Source:` lines at its top, and the note without them: several
    calls' notes pasted at once, each naming its account. Only these three names, each once, and only when text
    follows them ("Account: Acme is unhappy" alone is a note, not a header)."""
    lines = note.split("\n")
    fields: dict[str, str] = {}
    for n, line in enumerate(lines):
        found = HEADER.fullmatch(line)
        if found is None or found[1].lower() in fields:
            body = "\n".join(lines[n:]).strip()
            return (fields, body) if fields and body else ({}, note)
        fields[found[1].lower()] = found[2].strip()
    return {}, note


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _numbers(items: list[int], limit: int = 5) -> str:
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


class IsoDateField(DateField):
    """A date input (type=date) with a message that says which format to use."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        raw = valuelist[0].strip()
        try:
            self.data = datetime.strptime(raw, "%Y-%m-%d").date()
        except ValueError:
            self.data = None
            raise ValueError("Use a date like 2026-11-27 (year-month-day).") from None


def at_most_files(limit: int):
    """A MultipleFileField validator: no more than `limit` files at once."""
    def check(form, field):
        count = len(field.data or [])
        if count > limit:
            raise ValidationError(f"That is {count:,} files; upload at most {limit:,} at a time (or use the "
                                  "feedback ingest command, which reads whole folders).")
    return check


class PasteForm(FlaskForm):
    text = TextAreaField(
        "Notes",
        description="One note, or several separated by a line containing only ---. A note may start with its own "
        "Account:, Date: (YYYY-MM-DD) and Source: lines, which override the fields below for that note. "
        "Up to 100,000 characters per note.",
    )
    account = StringField(
        "Account",
        filters=[_strip],
        validators=[Optional(), Length(max=200, message="Use at most 200 characters for the account name.")],
        description="Optional: the customer the notes are about.",
    )
    source = SelectField(
        "Source",
        choices=[(kind, SOURCE_LABELS.get(kind, kind.title())) for kind in SOURCE_KINDS],
        default="call",
        validate_choice=True,
        description="Where the notes come from.",
    )
    date = IsoDateField(
        "Date",
        validators=[Optional()],
        description="Optional: when it happened.",
    )
    # Read by service.ingest.uploads as `feedback ingest` reads files; a file's own front matter, columns or keys
    # win over the account, source and date, which fill only what a note leaves out (as a pasted note's header lines).
    files = MultipleFileField(
        "Or upload files",
        validators=[at_most_files(MAX_UPLOAD_FILES)],
        render_kw={"accept": ACCEPT},
        description=f"Text, Markdown, CSV, JSON Lines, WebVTT/SRT transcripts, Word (.docx) or PDF; up to "
        f"{MAX_UPLOAD_FILES} files. A file's own account, source and date (front matter, columns) win over the "
        "fields below, which fill only what a note leaves out.",
    )
    submit = SubmitField("Store notes")

    notes: list[str]

    def validate_text(self, field):
        max_chars = int(current_app.config.get("MAX_NOTE_CHARS", DEFAULT_MAX_NOTE_CHARS))
        max_notes = int(current_app.config.get("MAX_NOTES_PER_REQUEST", DEFAULT_MAX_NOTES))
        self.notes = split_notes(field.data)
        if not self.notes and not self.files.data:
            raise ValidationError("Paste at least one note.")
        if len(self.notes) > max_notes:
            raise ValidationError(
                f"That is {len(self.notes):,} notes; store at most {max_notes:,} at a time."
            )
        too_long = [i for i, note in enumerate(self.notes, start=1) if len(note) > max_chars]
        if too_long:
            if len(self.notes) == 1:
                raise ValidationError(
                    f"The note has {len(self.notes[0]):,} characters; the limit is {max_chars:,} per note."
                )
            raise ValidationError(
                f"Note{'s' if len(too_long) > 1 else ''} {_numbers(too_long)} "
                f"{'are' if len(too_long) > 1 else 'is'} longer than {max_chars:,} characters, the limit per note."
            )
