"""Turn raw rows from any reader into validated NoteInput values, collecting every error with its place."""
from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from ..models.notes import SOURCE_KINDS
from ..themes.measure import parse_arr
from .errors import RowError

MAX_NOTE_CHARS = 100_000
MIN_YEAR, MAX_YEAR = 1900, 2200
SURROGATE = re.compile("[\ud800-\udfff]")
# Control characters except tab, line feed, vertical tab, form feed and carriage return, plus DEL: NUL cannot be
# stored by PostgreSQL, and the others garble pages, Markdown and terminals.
CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
# An id is one segment of a URL path (/notes/<id>): no "/" and no control character at all, line breaks included.
ID_FORBIDDEN = re.compile("[/\x00-\x1f\x7f]")
MAX_ARR = 1e12  # a trillion dollars a year: anything above is a typo, and sums of such values overflow to infinity
ARR_KEYS = ("arr", "ARR", "annual_recurring_revenue")  # the metadata keys themes.measure.parse_arr reads
KNOWN_FIELDS = {"id", "text", "account", "source", "author", "date"}
SOURCE_SYNONYMS = {
    "sales call": "call", "sales_call": "call", "phone": "call", "meeting": "call", "demo": "call",
    "customer interview": "interview", "user interview": "interview", "research": "interview",
    "mail": "email", "e-mail": "email", "support": "ticket", "support ticket": "ticket", "zendesk": "ticket",
}


@dataclass
class NoteInput:
    text: str
    external_id: str | None = None
    account: str | None = None
    source: str = "other"
    author: str | None = None
    occurred_at: datetime | None = None
    meta: dict = field(default_factory=dict)
    speakers: bool = False  # transcripts: keep "Speaker:" prefixes as statement speakers
    origin: str = ""  # "file:line" for messages
    written_account: str | None = None  # the account as written, once the ingest filed it under a stored spelling

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def norm_hash(self) -> str:
        return normalised_hash(self.text)


def _blank(text: str) -> bool:
    """Only white space and invisible format characters (a byte-order mark, zero-width spaces)."""
    return all(c.isspace() or unicodedata.category(c) == "Cf" for c in text)


def normalised_hash(text: str) -> str:
    """Dedupe key: case, punctuation and white space do not make a note new. A text with no letter or digit
    (an emoji, "???") keeps its symbols, or every such text would be a copy of every other."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    norm = re.sub(r"[^\w]+", " ", folded).strip() or " ".join(folded.split())
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def parse_date(value: Any) -> datetime:
    """ISO dates and datetimes; naive results are UTC. Raises ValueError with a readable message."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:  # a Unix timestamp; 1e20, Infinity and NaN are not dates
            dt = datetime.fromtimestamp(value, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{value!r} is not a date; use ISO 8601 such as 2026-11-27") from None
    elif isinstance(value, str):
        raw = value.strip()
        if raw.endswith("Z"):
            raw = raw[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(raw)
        except ValueError:
            dt = None
            for fmt in ("%Y/%m/%d", "%d %b %Y", "%b %d, %Y", "%Y-%m-%d %H:%M"):
                try:
                    dt = datetime.strptime(raw, fmt)
                    break
                except ValueError:
                    continue
            if dt is None:
                raise ValueError(f"unparseable date {value!r}; use ISO 8601 such as 2026-11-27")
    else:
        raise ValueError(f"unparseable date {value!r}; use ISO 8601 such as 2026-11-27")
    if dt.tzinfo is not None:
        try:
            dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:
            raise ValueError(f"{value!r} is out of range") from None
    if year_problem(dt, "date"):
        raise ValueError(f"{value!r} is not a plausible date (years {MIN_YEAR} to {MAX_YEAR})")
    return dt


def year_problem(when: date, name: str) -> str | None:
    """Why a date is not one a note, a filter or a `since` may name (0001-01-01 is a typo), or None."""
    if MIN_YEAR <= when.year <= MAX_YEAR:
        return None
    return f"{name} must be a date in the years {MIN_YEAR} to {MAX_YEAR}, not {when.isoformat()}"


def text_problem(value: str, name: str) -> str | None:
    """Why a user-supplied string cannot be stored, or None: the one check every string field of every input passes
    (notes, roadmap items, theme labels, API bodies)."""
    found = CONTROL.search(value)
    if found is None:
        return None
    char = found.group()
    what = "a NUL byte" if char == "\x00" else f"the control character U+{ord(char):04X}"
    return f"{name} contains {what} (character {found.start() + 1})"


def id_problem(value: str, name: str = "id") -> str | None:
    """Why a user-supplied id cannot be stored, or None. Ids become one segment of a URL path, so "/", line breaks,
    "." and ".." would make the thing unreachable (or a link point somewhere else)."""
    if value in (".", ".."):
        return f"{name} cannot be {value!r}: an id is one segment of a URL path"
    found = ID_FORBIDDEN.search(value)
    if found is None:
        return None
    if found.group() == "/":
        return f"{name} cannot contain '/': an id is one segment of a URL path"
    return f"{name} contains the control character U+{ord(found.group()):04X} (character {found.start() + 1})"


def arr_problem(meta: dict) -> tuple[str, str] | None:
    """(field, reason) when a note states an ARR that parses (as parse_arr reads it) to something other than a
    finite amount from 0 to MAX_ARR, else None. Text that is no amount at all ("n/a") is kept as metadata and never
    summed, as before."""
    for key in ARR_KEYS:
        raw = meta.get(key)
        value = None if raw in (None, "") or isinstance(raw, bool) else parse_arr({key: raw})
        if value is not None and not (math.isfinite(value) and 0 <= value <= MAX_ARR):
            return key, f"{key} must be an amount from 0 to {MAX_ARR:,.0f}, not {str(raw)[:40]}"
    return None


def _clean_str(value: Any) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _has_surrogate(value, depth: int = 0) -> bool:
    if isinstance(value, str):
        return SURROGATE.search(value) is not None
    if depth > 50:
        return False
    if isinstance(value, dict):
        return any(_has_surrogate(k, depth + 1) or _has_surrogate(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_surrogate(v, depth + 1) for v in value)
    return False


def _text_field(row: dict, name: str, err) -> str | None:
    """A string field (a whole number is accepted for ids); any other type is an error, never stored as its repr."""
    value = row.get(name)
    if value is None or isinstance(value, str) or (name == "id" and isinstance(value, int) and not isinstance(value, bool)):
        value = _clean_str(value)
        problem = value and (id_problem(value, name) if name == "id" else text_problem(value, name))
        if problem:
            err(name, problem)
            return None
        return value
    err(name, f"{name} must be a string, got {type(value).__name__}")
    return None


def validate_row(
    row: dict, source: str, line: int | None, *, default_source: str = "other", max_chars: int = MAX_NOTE_CHARS,
    speakers: bool = False,
) -> tuple[NoteInput | None, list[RowError]]:
    errors: list[RowError] = []

    def err(field_name, reason):
        errors.append(RowError(source, line, field_name, reason))

    if not isinstance(row, dict):
        err(None, f"expected an object with a 'text' field, got {type(row).__name__}")
        return None, errors
    if _has_surrogate(row):
        err(None, "the row holds a lone surrogate (\\ud800-\\udfff), which is not text; send valid Unicode")
        return None, errors
    text = row.get("text")
    if text is None or (isinstance(text, str) and _blank(text)):
        err("text", "missing text")
    elif not isinstance(text, str):
        err("text", f"text must be a string, got {type(text).__name__}")
    elif len(text) > max_chars:
        err("text", f"text has {len(text):,} characters; the limit is {max_chars:,}")
    elif problem := text_problem(text, "text"):
        err("text", problem)

    kind = (_text_field(row, "source", err) or default_source).lower()
    kind = SOURCE_SYNONYMS.get(kind, kind)
    if kind not in SOURCE_KINDS:
        err("source", f"unknown source {row.get('source')!r}; expected one of {', '.join(SOURCE_KINDS)}")

    occurred = None
    if _clean_str(row.get("date")) is not None or isinstance(row.get("date"), (int, float)):
        try:
            occurred = parse_date(row["date"])
        except ValueError as exc:
            err("date", str(exc))

    ext_id = _text_field(row, "id", err)
    if ext_id is not None and len(ext_id) > 200:
        err("id", "id longer than 200 characters")
    account = _text_field(row, "account", err)
    if account is not None and len(account) > 200:
        err("account", "account longer than 200 characters")
    author = _text_field(row, "author", err)
    if author is not None and len(author) > 200:
        author = author[:200]

    meta = {k: v for k, v in row.items() if k not in KNOWN_FIELDS and v not in (None, "")}
    if arr := arr_problem(meta):
        err(*arr)
    if errors:
        return None, errors
    return (
        NoteInput(
            text=text.strip("\ufeff"), external_id=ext_id, account=account, source=kind, author=author,
            occurred_at=occurred, meta=meta, speakers=speakers, origin=f"{source}:{line}" if line else source,
        ),
        [],
    )
