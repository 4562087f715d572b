"""Read a roadmap export (CSV or a JSON list) and validate it into item dicts; nothing here touches the database.

Errors are collected for every row, not just the first, so one fix-and-retry round is enough.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

from ..ingest.errors import IngestError, RowError
from ..ingest.validate import id_problem, text_problem
from ..models.roadmap import ROADMAP_STATUSES

FIELDS = ("id", "title", "description", "status", "release", "goal", "score", "reach", "impact", "confidence",
          "effort", "tags", "url", "workaround")
REQUIRED = ("id", "title", "status")
TEXT_LIMITS = {"id": 200, "title": 500, "release": 100, "goal": 500, "url": 2000}

_SYNONYMS = {
    "shipped": ("released", "done", "shipped", "live", "ga", "generally available", "launched", "completed"),
    "in_progress": ("in development", "in progress", "building", "doing", "in dev", "wip"),
    "planned": ("planned", "next", "scheduled", "committed", "later", "up next"),
    "considering": ("backlog", "under consideration", "considering", "exploring", "idea", "discovery", "new", "parked"),
    "not_planned": ("won't do", "wont do", "will not do", "not planned", "rejected", "declined", "won't fix"),
}
STATUS_SYNONYMS = {word: status for status, words in _SYNONYMS.items() for word in words}


def normalise_status(value) -> str | None:
    """Map a tool's stage name to ours; None when unknown. `in_progress` and `In-Progress` both count."""
    if not isinstance(value, str):
        return None
    key = re.sub(r"[\s_\-]+", " ", value.strip().lower().replace("\u2019", "'"))
    if key.replace(" ", "_") in ROADMAP_STATUSES:
        return key.replace(" ", "_")
    return STATUS_SYNONYMS.get(key)


def parse_column_map(spec: str | None) -> dict[str, str]:
    """`title=Name,status=Stage` -> {"title": "Name", "status": "Stage"} (our field -> their column)."""
    mapping: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        ours, sep, theirs = part.partition("=")
        ours, theirs = ours.strip().lower(), theirs.strip()
        if not sep or not ours or not theirs:
            raise ValueError(f"--map entries look like field=Column, not {part.strip()!r}")
        if ours not in FIELDS:
            raise ValueError(f"--map: unknown field {ours!r}; fields are {', '.join(FIELDS)}")
        mapping[ours] = theirs
    return mapping


CSV_SUFFIXES = (".csv", ".tsv")
JSON_SUFFIXES = (".json",)
SNIFFED_SUFFIXES = ("", ".txt")  # read as JSON when the text starts like JSON, else as CSV
DELIMITERS = ",;\t|"  # spreadsheets in many locales save "CSV" with ';', and tab-separated exports are common


def read_file(path: str | Path) -> tuple[list[tuple[int, dict]], str]:
    """(line, row) pairs from a .csv or .json file, and the name to use in error messages."""
    rows, source, _ = load_file(path)
    return rows, source


def load_file(path: str | Path) -> tuple[list[tuple[int, dict]], str, str]:
    """read_file, and which format the file was read as ("csv" or "json": a JSON row's number is its item's)."""
    path = Path(path)
    source = path.name
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES + JSON_SUFFIXES + SNIFFED_SUFFIXES:
        raise IngestError([RowError(source, None, None, f"unsupported file type {suffix!r}: a roadmap is read from "
                                                        "CSV (.csv, .tsv) or JSON (.json, a list of objects)")])
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError([RowError(source, None, None, f"cannot read the file: {exc.strerror or exc}")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise IngestError([RowError(source, 1, None, "the file is UTF-16; save it as UTF-8")]) from None
        raise IngestError([RowError(source, raw[: exc.start].count(b"\n") + 1, None,
                                    f"undecodable bytes at offset {exc.start}; the file must be UTF-8")]) from None
    if suffix in CSV_SUFFIXES or (suffix not in JSON_SUFFIXES and not text.lstrip().startswith(("[", "{"))):
        return read_csv(text, source), source, "csv"
    return read_json(text, source), source, "json"


def read_csv(text: str, source: str) -> list[tuple[int, dict]]:
    header = text.splitlines()[0] if text else ""
    try:
        delimiter = csv.Sniffer().sniff(header, delimiters=DELIMITERS).delimiter
    except csv.Error:  # one column, or nothing to tell by
        delimiter = ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows, line = [], 2
    try:
        if not reader.fieldnames:
            raise IngestError([RowError(source, 1, None, "the file is empty; the first row must name the columns")])
        names = [name.strip() for name in reader.fieldnames if name and name.strip()]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:  # csv.DictReader keeps only the last of two same-named columns: a silent loss
            raise IngestError([RowError(source, 1, name, f"the header names the column {name!r} more than once")
                               for name in twice])
        for record in reader:
            if None in record:  # kept as its error, so `validate` names it beside every other bad row
                rows.append((line, RowError(source, line, None, "more fields than the header names")))
            elif any(v is None for v in record.values()):  # a short row, as notes' CSV refuses: often a broken line
                got = sum(v is not None for v in record.values())
                rows.append((line, RowError(source, line, None, f"{got} field(s) where the header names "
                                                                f"{len(record)} (fewer than the header)")))
            else:
                rows.append((line, {k.strip(): v.strip() if isinstance(v, str) else v for k, v in record.items() if k}))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise IngestError([r for _, r in rows if isinstance(r, RowError)]
                          + [RowError(source, reader.line_num, None, f"malformed CSV: {exc}")])
    return rows


def read_json(text: str, source: str) -> list[tuple[int, dict]]:
    """A JSON list of objects, or {"items": [...]}. Line numbers are item numbers (1-based)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError([RowError(source, exc.lineno, None, f"invalid JSON: {exc.msg}")])
    except RecursionError:
        raise IngestError([RowError(source, None, None, "invalid JSON: nested too deeply")]) from None
    return json_rows(data, source)


def json_rows(data, source: str) -> list[tuple[int, dict]]:
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise IngestError([RowError(source, None, None, 'expected a list of items or {"items": [...]}')])
    return [(i, row) for i, row in enumerate(data, start=1)]


def validate(rows: list[tuple[int, dict]], source: str, column_map: dict[str, str] | None = None) -> list[dict]:
    """Validated item dicts, or IngestError listing every bad row (the caller then stores nothing)."""
    if not rows:
        raise IngestError([RowError(source, None, None, "no roadmap items in the input")])
    missing = _unmapped_columns(rows, column_map or {})
    if missing:
        raise IngestError([RowError(source, 1, field, f"--map names column {column!r}, which the input does not have")
                           for field, column in missing])
    mapped = [(line, _apply_map(row, column_map or {}) if isinstance(row, dict) else row) for line, row in rows]
    absent = _absent_fields(rows, mapped)
    items, errors, seen = [], [], {}
    errors.extend(RowError(source, None, field, reason) for field, reason in absent.items())
    for line, row in mapped:
        if isinstance(row, RowError):  # a row the reader could not split into the header's fields
            errors.append(row)
            continue
        if not isinstance(row, dict):
            errors.append(RowError(source, line, None, "each item must be an object"))
            continue
        item, row_errors = _validate_row(row, source, line, absent)
        if item and item["id"] in seen:
            first = seen[item["id"]]
            row_errors.append(RowError(source, line, "id", f"duplicate id {item['id']!r} (first on line {first})"))
        elif item:
            seen[item["id"]] = line
        errors.extend(row_errors)
        if item and not row_errors:
            items.append(item)
    if errors:
        raise IngestError(errors)
    return items


def _absent_fields(rows, mapped) -> dict[str, str]:
    """Required fields that no row has at all (a missing column, or a file split by another delimiter): one error
    each, instead of "is required" on every line."""
    found = {field for _, row in mapped if isinstance(row, dict) for field in row}
    if not any(isinstance(row, dict) for _, row in mapped):
        return {}
    columns = sorted({str(k).strip() for _, row in rows if isinstance(row, dict) for k in row if str(k).strip()})
    shown = ", ".join(repr(c) for c in columns[:12]) + (" ..." if len(columns) > 12 else "") or "none"
    return {field: f"no column gives the {field}; the columns are {shown} (name one {field!r}; "
                   f"the CLI can also map one: --map {field}=COLUMN)" for field in REQUIRED if field not in found}


def _unmapped_columns(rows, column_map: dict[str, str]) -> list[tuple[str, str]]:
    columns = {str(k).strip().lower() for _, row in rows if isinstance(row, dict) for k in row}
    return [(ours, theirs) for ours, theirs in column_map.items() if theirs.lower() not in columns]


def _apply_map(row: dict, column_map: dict[str, str]) -> dict:
    """Rename their columns to our fields; our own field names match whatever their case or spacing."""
    out = {str(k).strip(): v for k, v in row.items()}
    lowered = {k.lower(): k for k in out}
    taken = set()
    for ours, theirs in column_map.items():
        key = theirs if theirs in out else lowered.get(theirs.lower())
        if key is not None:  # park under a private name so a later rename cannot clobber it
            out[f"\0{ours}"] = out[key]  # one column may feed two fields (--map id=Key,title=Key)
            taken.add(key)
    for key in taken:
        del out[key]
    renamed, origin = {}, {}
    for key, value in out.items():
        field = key[1:] if key.startswith("\0") else re.sub(r"[\s\-]+", "_", key.lower())
        if key.startswith("\0") or (field in FIELDS and field not in column_map):
            if field in origin:  # "title" and "Title": keeping either would silently drop the other
                renamed.setdefault("\0clash", {})[field] = (origin[field], key)
            origin[field] = key
            renamed[field] = value
        else:
            renamed.setdefault("\0extra", {})[key] = value
    return renamed


def _validate_row(row: dict, source: str, line: int, absent=()) -> tuple[dict | None, list[RowError]]:
    errors: list[RowError] = []

    def err(field, reason):
        errors.append(RowError(source, line, field, reason))

    for field, (first, second) in row.get("\0clash", {}).items():
        err(field, f"both {first!r} and {second!r} give the {field}; keep one "
                   f"(the CLI can pick one: --map {field}=COLUMN)")
    item: dict = {}
    for field in ("id", "title", "description", "release", "goal", "url", "workaround"):
        value, reason = _text(field, row.get(field))
        if reason:
            err(field, reason)
        elif value is None and field in REQUIRED and field not in absent:
            err(field, f"{field} is required")
        elif value is not None and len(value) > TEXT_LIMITS.get(field, 100_000):
            err(field, f"{field} is longer than {TEXT_LIMITS[field]} characters")
        item[field] = value
    item["description"] = item["description"] or ""
    raw_status = row.get("status")
    item["status"] = normalise_status(raw_status)
    if raw_status is not None and not isinstance(raw_status, str):
        err("status", f"status must be a string, got {type(raw_status).__name__}")
    elif _text("status", raw_status)[0] is None:
        if "status" not in absent:
            err("status", "status is required")
    elif item["status"] is None:
        err("status", f"unknown status {raw_status!r}; use one of {', '.join(ROADMAP_STATUSES)} "
                      f"or a synonym such as Released, In development, Next, Backlog, Won't do")
    for field in ("score", "reach", "impact", "confidence", "effort"):
        item[field], reason = _number(field, row.get(field))
        if reason:
            err(field, reason)
    item["tags"], reason = _tags(row.get("tags"))
    if reason:
        err("tags", reason)
    item["extra"] = {k: v for k, v in row.get("\0extra", {}).items() if v not in (None, "")}
    for key, value in item["extra"].items():
        if not _finite(value):  # NaN and Infinity are no JSON: stored, they break every --json and API answer
            err(key, f"{key} holds {value!r}, which is not a finite number")
    return (item if item["id"] else None), errors


def _text(field: str, value) -> tuple[str | None, str | None]:
    """(text, None) or (None, reason). Only ids may be numbers (12.0 -> "12" from a JSON export); any other type
    is an error, never stored as its repr."""
    if value is None:
        return None, None
    if field == "id" and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
            and float(value).is_integer():
        value = str(int(value))
    if not isinstance(value, str):
        return None, f"{field} must be a string, got {type(value).__name__}"
    value = value.strip()
    reason = id_problem(value, field) if field == "id" else text_problem(value, field)
    return (None, reason) if reason else (value or None, None)


def _number(field: str, value) -> tuple[float | None, str | None]:
    """Parse one RICE number; confidence accepts 0-1, 0-100 or "80%" and is stored as 0-1."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    percent = isinstance(value, str) and value.strip().endswith("%")
    try:
        number = float(str(value).strip().rstrip("%").replace(",", "")) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or not math.isfinite(number):
        return None, f"{field} must be a number, not {value!r}"
    if field == "confidence":
        if percent or number > 1:
            number /= 100
        if not 0 <= number <= 1:
            return None, f"confidence must be between 0 and 1 (or 0% and 100%), not {value!r}"
    elif field == "effort" and number <= 0:
        return None, f"effort must be greater than 0, not {value!r}"
    elif field in ("reach", "impact") and number < 0:
        return None, f"{field} cannot be negative, not {value!r}"
    return number, None


def _finite(value) -> bool:
    """False when a float inside the value (a JSON export's NaN, Infinity or 1e999) is not finite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _tags(value) -> tuple[list[str], str | None]:
    if value in (None, ""):
        return [], None
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return [], f"tags look like a JSON list but do not parse: {value!r}"
    if isinstance(value, str):
        value = re.split(r"[;,]", value)
    if not isinstance(value, list) or not all(isinstance(t, (str, int, float)) and _finite(t) for t in value):
        return [], "tags must be a list of words or a comma- or semicolon-separated string"
    tags = []
    for tag in (str(t).strip() for t in value):
        if reason := text_problem(tag, "a tag"):
            return [], reason
        if tag and tag not in tags:
            tags.append(tag)
    return tags, None
