"""Readers per format. Each yields raw rows with their line numbers; validation happens elsewhere."""
from __future__ import annotations

import codecs
import csv
import html
import io
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import yaml

from .errors import RowError
from .validate import KNOWN_FIELDS

FORMATS = (".txt", ".md", ".csv", ".jsonl", ".vtt", ".srt", ".docx", ".pdf")  # .docx, .pdf: service/ingest/documents.py
STDIN_FORMATS = ("csv", "jsonl", "txt", "md", "vtt", "srt", "docx", "pdf")  # `feedback ingest --format`
# The csv module refuses fields over 131,072 characters, a guard for streamed input; ours is in memory already, so a
# long note reaches validation and gets the documented "text has N characters; the limit is ..." (the app's
# MAX_NOTE_CHARS). The module keeps one limit per process; this only ever raises it.
CSV_FIELD_LIMIT = 2**31 - 1
if csv.field_size_limit() < CSV_FIELD_LIMIT:
    csv.field_size_limit(CSV_FIELD_LIMIT)
# Only these end a line of JSON Lines, CSV or a transcript; str.splitlines() also splits on U+2028, U+2029, U+0085
# and other characters that json.dumps(ensure_ascii=False) leaves raw inside strings.
LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class RawRow:
    data: dict
    line: int | None
    speakers: bool = False
    default_source: str = "other"


# Windows PowerShell 5 writes `>` redirections and Out-File as UTF-16 with a byte-order mark, and so does Excel's
# "Unicode Text": the mark says which encoding it is, so such a file is read, not refused as undecodable bytes.
# UTF-32's marks start with UTF-16's, so they are tried first.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def decode(raw: bytes, source: str) -> str:
    """UTF-8 (a byte-order mark is dropped), or UTF-16/UTF-32 when the input starts with their byte-order mark."""
    encoding = next((name for bom, name in _BOMS if raw.startswith(bom)), "utf-8-sig")
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        if encoding == "utf-8-sig":
            line = raw[: exc.start].count(b"\n") + 1
            reason = f"undecodable bytes at offset {exc.start}; files must be UTF-8"
        else:
            line = raw[: exc.start].decode(encoding, "replace").count("\n") + 1
            reason = f"undecodable bytes at offset {exc.start} of a file marked as {encoding.upper()}; save it as UTF-8"
        raise ReaderError([RowError(source, line, None, reason)]) from None


class ReaderError(Exception):
    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__(str(errors[0]) if errors else "unreadable input")


def read_text_note(text: str, source: str, stem: str | None) -> list[RawRow]:
    """A .txt/.md file is one note; optional YAML front matter between --- lines carries its fields."""
    data: dict = {}
    body = text
    m = re.match(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", text, re.S)
    if m:
        data.update(_front_matter(m.group(1), source))
        body = text[m.end():]
    data["text"] = body.strip()
    if stem and "id" not in data:
        data["id"] = None  # files without an id are deduped by text per account
    return [RawRow(data, 1)]


def _front_matter(block: str, source: str) -> dict:
    """The front matter's fields as JSON values: YAML's dates become ISO strings and sets sorted lists, because the
    note's metadata is stored as JSON; binary values are an error on the field's line."""
    loader = yaml.SafeLoader(block)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:  # PyYAML composes nested collections recursively
            raise ReaderError([RowError(source, 1, None, "invalid front matter: nested too deeply")]) from None
        if node is None:
            return {}
        if not isinstance(node, yaml.MappingNode):
            raise ReaderError([RowError(source, 1, None, "front matter must be key: value pairs")])
        too_big = _too_big(node)
        if too_big:
            raise ReaderError([RowError(source, 1, None, f"invalid front matter: {too_big}")])
        front = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        raise ReaderError([RowError(source, line, None, f"invalid front matter: {getattr(exc, 'problem', exc)}")])
    except ValueError:  # YAML reads `2026-11-31` as a date and fails to build it: name the value, not a traceback
        raise ReaderError(_bad_values(loader, node, source)) from None
    finally:
        loader.dispose()
    lines = {str(key.value): value.start_mark.line + 2 for key, value in node.value}  # line 1 is the opening ---
    out, errors, named = {}, [], {}
    for key, value in front.items():
        name = _field_name(str(key))  # "Account:" is the account, as in a CSV header, not metadata
        if name in named:
            errors.append(RowError(source, lines.get(str(key), 1), name,
                                   f"{key!s} names the field {name!r} again ({named[name]} did already)"))
            continue
        named[name] = str(key)
        try:
            out[name] = _json_value(value)
        except ValueError as exc:
            errors.append(RowError(source, lines.get(str(key), 1), name, str(exc)))
    if errors:
        raise ReaderError(errors)
    return out


# A note's fields are a handful; YAML aliases (*name) repeat a whole anchored value, so nine levels of ten in 440 bytes
# are a billion values (8 GB), built by PyYAML and again as JSON. As deep as a JSON body may nest (MAX_JSON_DEPTH).
MAX_FRONT_MATTER_VALUES = 10_000
MAX_FRONT_MATTER_DEPTH = 32


def _too_big(node: yaml.Node) -> str | None:
    """Why the composed front matter is too big to build (aliases expanded, as building them would), or None."""
    count, stack = 0, [(node, 1)]
    while stack:
        current, depth = stack.pop()
        count += 1
        if count > MAX_FRONT_MATTER_VALUES:
            return (f"more than {MAX_FRONT_MATTER_VALUES:,} values (an alias, *name, repeats a whole anchored value; "
                    "write the fields out)")
        if depth > MAX_FRONT_MATTER_DEPTH:
            return f"nested deeper than {MAX_FRONT_MATTER_DEPTH} levels"
        if isinstance(current, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in current.value)
        elif isinstance(current, yaml.MappingNode):
            stack.extend((child, depth + 1) for pair in current.value for child in pair)
    return None


def _bad_values(loader: yaml.SafeLoader, node: yaml.MappingNode, source: str) -> list[RowError]:
    """The front matter dates YAML resolves but cannot build (`2026-11-31`), each named on its own line."""
    errors = []
    for key, value in node.value:
        for scalar in _scalars(value):
            if scalar.tag != "tag:yaml.org,2002:timestamp":
                continue
            try:
                loader.construct_yaml_timestamp(scalar)
            except ValueError as exc:
                errors.append(RowError(source, scalar.start_mark.line + 2, _field_name(str(key.value)),
                                       f"invalid date {scalar.value!r}: {exc}"))
    return errors or [RowError(source, 1, None, "invalid front matter: a value cannot be read")]


def _scalars(node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        yield node
    elif isinstance(node, yaml.SequenceNode):
        for child in node.value:
            yield from _scalars(child)
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            yield from _scalars(k)
            yield from _scalars(v)


def _json_value(value):
    """A YAML value as one JSON can hold; ValueError for one it cannot."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted((_json_value(v) for v in value), key=str)
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(_json_value(k)): _json_value(v) for k, v in value.items()}
    if isinstance(value, bytes):
        raise ValueError("a binary (!!binary) value cannot be stored as metadata; write the value as text")
    return value


def read_csv(text: str, source: str) -> tuple[list[RawRow], list[RowError]]:
    """Rows keyed by the header, and an error for every malformed row (each at the line its record starts on): a bad
    row does not hide the others, and --skip-invalid keeps the good ones."""
    rows: list[RawRow] = []
    errors: list[RowError] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = None
    while True:
        line = reader.line_num + 1  # where the record about to be read starts
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if header is None:
                raise ReaderError([RowError(source, line, None, f"malformed CSV header: {exc}")]) from None
            errors.append(RowError(source, line, None, f"malformed CSV: {exc}"))
            continue
        if not record:
            continue  # a blank line
        if header is None:
            header = _csv_header(record, source, line)
            continue
        if len(record) != len(header):
            n, more = len(record), len(record) > len(header)
            errors.append(RowError(source, line, None, f"{n} field{'' if n == 1 else 's'} where the header names "
                                                       f"{len(header)} ({'more' if more else 'fewer'} than the header)"))
            continue
        rows.append(RawRow({k: v.strip() for k, v in zip(header, record)}, line))
    if header is None:
        raise ReaderError([RowError(source, 1, "text", "the header row must name a 'text' column")])
    return rows, errors


def _field_name(name: str) -> str:
    """A column or front-matter key as a note field: "Account", "DATE" and " text " are the fields account, date and
    text (spreadsheets capitalise headers; taken as metadata, the account and date were silently lost). Other names
    are metadata, kept as written."""
    folded = name.strip().lower()
    return folded if folded in KNOWN_FIELDS else name.strip()


def _csv_header(record: list[str], source: str, line: int) -> list[str]:
    """The header's column names; a header without a text column, or naming a column twice, rejects the file."""
    header = [_field_name(f) for f in record]
    if "text" not in header:
        other = _other_delimiter(",".join(record))
        reason = (f"the header is a table separated by {other}; ingest reads comma-separated CSV (in Excel: Save As "
                  "\"CSV UTF-8 (Comma delimited)\")") if other else "the header row must name a 'text' column"
        raise ReaderError([RowError(source, line, "text", reason)])
    seen: dict[str, int] = {}
    errors = []
    for column, name in enumerate(header, start=1):
        if name and name in seen:  # the later column silently replaced the earlier one's values
            errors.append(RowError(source, line, name, f"the header names {name!r} twice (columns {seen[name]} and "
                                                       f"{column}); rename or remove one"))
        seen.setdefault(name, column)
    if errors:
        raise ReaderError(errors)
    return header


def _other_delimiter(first_line: str) -> str | None:
    """How a header row that names a text column is separated, when that is not by commas: "';'" or "tabs"."""
    for delimiter, name in ((";", "';'"), ("\t", "tabs")):
        try:
            cells = next(csv.reader(io.StringIO(first_line, newline=""), delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        if len(cells) > 1 and "text" in (c.strip().lower() for c in cells):
            return name
    return None


def read_jsonl(text: str, source: str) -> tuple[list[RawRow], list[RowError]]:
    rows: list[RawRow] = []
    errors: list[RowError] = []
    for number, line in enumerate(LINE_BREAK.split(text), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except RecursionError:
            errors.append(RowError(source, number, None, "the JSON is nested too deeply"))
            continue
        except json.JSONDecodeError as exc:
            errors.append(RowError(source, number, None, f"malformed JSON: {exc.msg} at column {exc.colno}"))
            continue
        if not isinstance(data, dict):
            errors.append(RowError(source, number, None, "each line must be a JSON object"))
            continue
        rows.append(RawRow(data, number))
    return rows, errors


_TIMING = re.compile(r"^\s*(\d{1,2}:)?\d{1,2}:\d{2}[.,]\d{1,3}\s*-->\s*(\d{1,2}:)?\d{1,2}:\d{2}[.,]\d{1,3}")
# A voice span may carry classes ("<v.loud Dana>"); the speaker's name follows the first white space.
_VTT_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>")
# Markup inside a cue: tags such as <i>, </v>, <c.yellow>, <lang en> and karaoke timestamps (<00:00:01.500>).
_CUE_TAG = re.compile(r"</?(?:[a-z][^>]*|(?:\d+:)?\d{2}:\d{2}[.,]\d{3})>", re.I)
_VTT_HEADER = re.compile(r"\ufeff?WEBVTT(?:[ \t]|$)")
# "Name: words": the speaker convention of SRT files and of WebVTT cues without a voice span; service/ingest/split.py
# reads turns by the same pattern.
_SPEAKER_LABEL = re.compile(r"^([A-Z][\w .'-]{0,40}):\s")
_TIMINGS_EXAMPLE = {".vtt": "00:00:01.000 --> 00:00:04.000", ".srt": "00:00:01,000 --> 00:00:04,000"}


def read_transcript(text: str, source: str, kind: str) -> list[RawRow]:
    """A .vtt/.srt file is one call note; each cue becomes "Speaker: words" on its own line.

    Read here, not with webvtt-py (0.6.0, tried 2026-12-01): it skips a cue whose timings it cannot read, words and
    all, without saying which line; it drops the text between a "<" and a ">" in SRT cue text ("latency < 200ms and
    > 100"), where SRT has no escapes; and it reads a voice only on a cue's first line. Working around those took
    more code than this reader."""
    lines = LINE_BREAK.split(text)
    if kind == ".vtt" and (not lines or not _VTT_HEADER.match(lines[0])):
        raise ReaderError([RowError(source, 1, None, "a WebVTT file must start with 'WEBVTT' (alone on its line, or "
                                                     "followed by a space and a title)")])
    turns: list[str] = []
    errors: list[RowError] = []
    in_cue = False
    saw_timing = False
    voice = None  # a cue's voice span holds for its later lines too
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if _TIMING.match(stripped):
            in_cue, saw_timing, voice = True, True, None
            continue
        if not stripped:
            in_cue = False
            continue
        if not in_cue:
            if "-->" in stripped and not (kind == ".vtt" and number == 1):  # a cue whose words would be lost
                errors.append(RowError(source, number, None, f"cue timings {stripped[:80]!r} could not be read; "
                                                             f"write them as {_TIMINGS_EXAMPLE[kind]}"))
            continue  # cue numbers, NOTE blocks, headers
        found = _VTT_VOICE.match(stripped)
        if found:
            voice = found.group(1).strip()
            stripped = _VTT_VOICE.sub("", stripped)
        stripped = _CUE_TAG.sub("", stripped).strip()
        if kind == ".vtt":  # WebVTT escapes &, < and > in cue text (&amp; &lt; &gt;; also &nbsp; and others)
            stripped = html.unescape(stripped).replace("\xa0", " ")
            speaker = html.unescape(voice).replace("\xa0", " ") if voice else None
        else:
            speaker = voice
        if not stripped:
            continue
        if speaker and (found or not _SPEAKER_LABEL.match(stripped)):  # a later line may name its own speaker
            stripped = f"{speaker}: {stripped}"
        if turns and not _SPEAKER_LABEL.match(stripped) and not turns[-1].endswith((".", "?", "!")):
            turns[-1] += " " + stripped  # a cue wrapped over two lines
        else:
            turns.append(stripped)
    if errors:
        raise ReaderError(errors)
    if not saw_timing:
        raise ReaderError([RowError(source, 1, None, f"no cue timings found; is this really a {kind} file?")])
    merged: list[str] = []
    for turn in turns:  # consecutive cues of one speaker become one turn
        m = _SPEAKER_LABEL.match(turn)
        if merged and m and merged[-1].startswith(m.group(0)):
            merged[-1] += " " + turn[m.end():]
        else:
            merged.append(turn)
    return [RawRow({"text": "\n".join(merged)}, 1, speakers=True, default_source="call")]


def read_bytes(raw: bytes, source: str, suffix: str, budget=None) -> tuple[list[RawRow], list[RowError]]:
    """Rows and per-row parse errors of one input; a wholly unreadable input raises ReaderError. `budget`: what the
    documents of one upload may still take together (service.ingest.documents.Budget)."""
    suffix = suffix.lower()
    if not suffix:
        raise ReaderError([RowError(source, None, None, "the file name has no type suffix; name it by its type: "
                                                        f"{', '.join(FORMATS[:-1])} or {FORMATS[-1]}")])
    if suffix not in FORMATS + (".ndjson",):  # named as such, not as the undecodable bytes of a picture
        hint = "; save it as .docx" if suffix == ".doc" else ""
        raise ReaderError([RowError(source, None, None, f"unsupported file type {suffix!r}; use one of "
                                                        f"{', '.join(FORMATS)}{hint}")])
    if suffix in (".docx", ".pdf"):
        from .documents import read_document

        return read_document(raw, source, suffix, budget), []
    text = decode(raw, source)
    if suffix in (".txt", ".md"):
        return read_text_note(text, source, Path(source).stem), []
    if suffix == ".csv":
        return read_csv(text, source)
    if suffix in (".jsonl", ".ndjson"):
        return read_jsonl(text, source)
    return read_transcript(text, source, suffix), []


def sniff_suffix(text_start: bytes, source: str = "stdin") -> str:
    """For standard input (all of it: a zip's directory is at its end): the format from the first bytes, read as a
    file of that type would be. Input that looks structured but is no format we read (a JSON array, a table split
    by ';' or tabs, a zip that is no .docx) is an error, never one note."""
    if text_start.startswith(b"%PDF-"):
        return ".pdf"
    if text_start.startswith(b"PK\x03\x04"):  # a zip: a .docx when it holds a Word document's main part
        from .documents import looks_like_docx

        if looks_like_docx(text_start):
            return ".docx"
        raise ReaderError([RowError(source, None, None, "this is a zip archive but not a Word document (.docx); "
                                                        "ingest reads no other zip files")])
    encoding = next((name for bom, name in _BOMS if text_start.startswith(bom)), None)
    head = (text_start[:16384].decode(encoding, "replace") if encoding
            else text_start.lstrip(b"\xef\xbb\xbf \t\r\n")[:4096].decode("utf-8", "replace"))
    head = head.lstrip("\ufeff \t\r\n")[:4096]
    if head.startswith("{"):
        return ".jsonl"
    if head.startswith("["):
        raise _not_readable(source, "a JSON array; ingest reads JSON Lines (one object per line), "
                                    "e.g. `jq -c '.[]' notes.json | feedback ingest -`")
    if head.startswith("WEBVTT"):
        return ".vtt"
    lines = LINE_BREAK.split(head, maxsplit=2)
    if len(lines) > 1 and lines[0].strip().isdigit() and _TIMING.match(lines[1]):
        return ".srt"
    for delimiter, name in ((",", "commas"), (";", "';'"), ("\t", "tabs")):
        try:
            cells = next(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        if len(cells) > 1 and "text" in (c.strip().lower() for c in cells):
            if delimiter == ",":
                return ".csv"
            raise _not_readable(source, f"a table separated by {name}; ingest reads comma-separated CSV with a "
                                        "'text' column")
    return ".txt"


def _not_readable(source: str, looks_like: str) -> ReaderError:
    return ReaderError([RowError(source, 1, None, f"this looks like {looks_like}; or use --format txt to store it "
                                                  "as one note")])


def expand_paths(paths: list[str]) -> tuple[list[Path | str], list[RowError]]:
    """Folders are read recursively (known formats only, sorted for a stable order); '-' is standard input.
    A folder without one file of a known format is an error, not a silent "created 0"."""
    out: list[Path | str] = []
    errors: list[RowError] = []
    for p in paths:
        if p == "-":
            out.append("-")
            continue
        path = Path(p)
        if path.is_dir():
            found = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in FORMATS + (".ndjson",))
            if not found:
                errors.append(RowError(str(path), None, None, f"no files to ingest in this folder (looked for "
                                                              f"{', '.join(FORMATS)}, also in subfolders)"))
            out.extend(found)
        else:
            out.append(path)
    return out, errors
