"""Call notes written as Word documents (.docx) or PDFs: their text, read with python-docx and pypdf, is one note
taken exactly as a .txt file is (`read_text_note`: optional YAML front matter carries account, date, source, ...).

The date comes only from what the note says (its front matter), as for a .txt file, whose file dates are never read
either. A .docx's "created" core property is not used: it is when the file was made, often from a template
(python-docx's own template says 2013-12-23), not when the call happened.

These are untrusted files. A .docx is a zip: its table of contents is checked before python-docx inflates anything
(zipfile never inflates a member past the size its directory declares, so the declared sizes bound the work), and
its body's paragraphs, runs and elements are counted before python-docx reads one. A PDF is read page by page up to
MAX_PDF_PAGES pages, MAX_PDF_ITEMS operators and operands, and the note's character limit; pypdf's warnings about odd
files are kept off the user's output and named only in an error they help explain. The documents of one upload share
a Budget of twice these limits.
"""
from __future__ import annotations

import io
import logging
import re
import threading
import time
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

from .errors import RowError
from .readers import RawRow, ReaderError, read_text_note
from .validate import CONTROL, MAX_NOTE_CHARS, SURROGATE

# A .docx holds a few dozen parts; hundreds with many pictures.
MAX_DOCX_PARTS = 2_000
# Everything python-docx loads (pictures included), by the zip's declared sizes: a phone photo is a few MB.
MAX_DOCX_UNPACKED = 64 * 1024**2
# The XML python-docx parses into trees: a note of MAX_NOTE_CHARS characters with 160 bytes of markup for each
# (Word splits text into runs, each with its formatting) still fits.
MAX_DOCX_XML = 16 * 1024**2
# python-docx reads each paragraph, run, link, table row and cell through a proxy object and an XPath query, 15-60 us
# apiece: 16 MiB of XML (the limit above) of empty paragraphs is 2.4 million of them, 47 s. A note of MAX_NOTE_CHARS
# characters written as one formatted run per word is about 20,000. Counted with lxml before python-docx reads any.
MAX_DOCX_ITEMS = 100_000
# Every element of the body: a run's children (text, tabs, breaks) are read one by one too, ~3 us each.
MAX_DOCX_ELEMENTS = 1_000_000
# A note holds MAX_NOTE_CHARS characters, about 40 full pages; sparse pages (slides, forms) leave room up to this.
MAX_PDF_PAGES = 200
# Operators and operands pypdf reads to extract a PDF's text, forms drawn again and again included, at 3-7 us each: a
# 5 kB file of 200 pages sharing one content stream of 400,000 empty text shows took 12 minutes, a form drawn 5,000
# times on one page hours. Real pages hold about one per character of text (two LaTeX manuals: 0.9 and 0.5).
MAX_PDF_ITEMS = 500_000
# pypdf reads the whole page tree to count the pages, up to 100,000 entries (2 s for a 4 kB file); a document of
# MAX_PDF_PAGES pages has a few hundred.
MAX_PDF_TREE_ENTRIES = 10_000
# pypdf inflates a stream up to 75 MB: 200 pages sharing one such stream (a 109 kB file) took 29 s, each page
# inflating it again, and 16 MB of one hex string (a single operand) took 9 s to parse. A page's content is a few kB
# to a few hundred.
MAX_PDF_STREAM_BYTES = 4 * 1024**2
# What no count sees still takes time: white space and comments between operators, a long string operand, pages that
# fail to inflate. Checked before every operator and page, so the reading stops within one stream's parse (at most
# 2.5 s, a 4 MiB hex string) of this. Real PDFs of 100,000 characters read in 0.2 s.
MAX_PDF_SECONDS = 5.0
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97-2003 files, and Office files saved with a password
ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")  # the stream a password-protected .docx is sealed in
MAIN_PART = "word/document.xml"
# A line of a PDF that a wrap broke off: the next starts in lower case after a line without an end mark. A line that
# starts with a label ("date: ...", "dana: ...") is its own line, as front matter and speaker turns need.
_WRAPPED = re.compile(r"(?<=[\w,;)])\n(?=[a-z])(?![\w .'-]{0,40}:\s)")


class Budget:
    """The work all the documents of one upload may take together (service/ingest/uploads.py keeps one per upload):
    twice one document's limits, so a hundred files each within its own limits cannot add up to minutes of a web
    worker. Each document read spends its share; `feedback ingest` holds each file to its own limits only."""

    def __init__(self):
        self.docx_items = self.docx_items_total = 2 * MAX_DOCX_ITEMS
        self.docx_elements = self.docx_elements_total = 2 * MAX_DOCX_ELEMENTS
        self.pdf_items = self.pdf_items_total = 2 * MAX_PDF_ITEMS
        self.pdf_seconds = self.pdf_seconds_total = 2 * MAX_PDF_SECONDS


def read_document(raw: bytes, source: str, suffix: str, budget: Budget | None = None) -> list[RawRow]:
    """A .docx or .pdf as one note, read as a .txt file with the document's text would be."""
    text = docx_text(raw, source, budget) if suffix == ".docx" else pdf_text(raw, source, budget)
    # Word and PDFs often start with empty paragraphs or lines; front matter must open the text.
    return read_text_note(text.lstrip(), source, Path(source).stem)


def looks_like_docx(raw: bytes) -> bool:
    """Whether the bytes are a zip holding a Word document's main part (for standard input)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            return MAIN_PART in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def unpacked_size(raw: bytes) -> int:
    """What a .docx declares it unpacks to (0 for bytes that are no zip): one upload of many small files must not
    add up to many times MAX_DOCX_UNPACKED of work (service/ingest/uploads.py keeps a budget for all of them)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            return sum(m.file_size for m in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0


def _error(source: str, reason: str, field: str | None = None) -> ReaderError:
    return ReaderError([RowError(source, None, field, reason)])


# ---- Word ------------------------------------------------------------------------------------------------------
def docx_text(raw: bytes, source: str, budget: Budget | None = None) -> str:
    """Paragraphs (headings included) and tables in document order, a table row by row with its cells joined by
    " | ". Headers, footers, footnotes, comments and text boxes are not read."""
    from docx import Document

    _check_docx_package(raw, source)
    if budget is not None and min(budget.docx_items, budget.docx_elements) < 0:
        raise _error(source, f"the .docx files of this upload hold more than {budget.docx_items_total:,} paragraphs, "
                             f"runs, links and table cells (or {budget.docx_elements_total:,} XML elements) together; "
                             "send fewer at a time")
    try:
        document = Document(io.BytesIO(raw))
    except ValueError as exc:
        found = re.search(r"content type is '([^']*)'", str(exc))
        if found:  # a .docm, a .dotx, or another Office file with a .docx name
            raise _error(source, f"not a Word document (its content type is {found.group(1)}); save it as a Word "
                                 "Document (.docx)") from None
        raise _error(source, f"not a readable Word document: {exc}") from None
    except Exception as exc:  # python-docx on a broken package: KeyError, lxml's XMLSyntaxError, zlib.error, ...
        raise _error(source, f"not a readable Word document: {type(exc).__name__}: {exc}") from None
    _check_docx_body(document.element.body, source, budget)
    try:
        lines = _block_lines(document)
    except Exception as exc:
        raise _error(source, f"not a readable Word document: {type(exc).__name__}: {exc}") from None
    text = "\n".join(lines)
    if not text.strip():
        raise _error(source, "no text found in the document (text in text boxes, headers, footers and pictures is "
                             "not read)", "text")
    return text


def _check_docx_package(raw: bytes, source: str) -> None:
    """Refuse what is no .docx, or would inflate to more than the limits, before python-docx reads a byte of it."""
    if raw.startswith(OLE_MAGIC):
        if ENCRYPTED_PACKAGE in raw:
            raise _error(source, "the document is password-protected; save it without a password")
        raise _error(source, "this is a Word 97-2003 document (.doc), not a .docx; open it in Word and save it as "
                             "Word Document (.docx)")
    if raw.lstrip().startswith(b"{\\rtf"):
        raise _error(source, "this is an RTF document, not a .docx; save it as Word Document (.docx)")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
            names = {m.filename for m in members}
            if MAIN_PART not in names:
                raise _error(source, f"not a Word document: the zip archive has no {MAIN_PART}")
            if len(members) > MAX_DOCX_PARTS:
                raise _error(source, f"the .docx holds {len(members):,} parts; the limit is {MAX_DOCX_PARTS:,}")
            if any(m.flag_bits & 0x1 for m in members):
                raise _error(source, "the .docx is encrypted; save it without a password")
            xml = sum(m.file_size for m in members if _is_xml(archive, m))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _error(source, f"not a .docx file: a .docx is a zip archive, and this is none ({exc}); is it "
                             "damaged, or another kind of file renamed?") from None
    total = sum(m.file_size for m in members)
    if total > MAX_DOCX_UNPACKED:
        raise _error(source, f"the .docx unpacks to {_mib(total)}; the limit is {_mib(MAX_DOCX_UNPACKED)} (a zip "
                             "bomb, or a document with very large pictures: remove them)")
    if xml > MAX_DOCX_XML:
        raise _error(source, f"the .docx holds {_mib(xml)} of XML; the limit is {_mib(MAX_DOCX_XML)}")


def _is_xml(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bool:
    """Whether python-docx may parse the part as XML: by its first bytes, not its name (python-docx finds the main
    part by its relationship, whatever it is called: 50 MiB of XML named word/body.bin was parsed whole)."""
    if member.filename.endswith((".xml", ".rels")):
        return True
    try:
        with archive.open(member) as part:
            head = part.read(64)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error):
        return False  # unreadable: python-docx cannot parse it either
    return head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").startswith(b"<")  # UTF-8 or UTF-16, a BOM or not


def _check_docx_body(body, source: str, budget: Budget | None) -> None:
    """Refuse a body python-docx would take too long to read, counted by lxml before python-docx reads any of it.
    The document spends its counts from the upload's budget, refused or not (its parsing is done): once the budget is
    spent, the upload's later .docx files are refused before they are parsed."""
    from docx.oxml.ns import qn

    items = sum(1 for _ in body.iter(*(qn(f"w:{tag}") for tag in ("p", "r", "hyperlink", "tbl", "tr", "tc"))))
    elements = sum(1 for _ in body.iter())
    checks = ((items, MAX_DOCX_ITEMS, "paragraphs, runs, links and table cells"),
              (elements, MAX_DOCX_ELEMENTS, "XML elements"))
    left = (budget.docx_items, budget.docx_elements) if budget is not None else (None, None)
    totals = (budget.docx_items_total, budget.docx_elements_total) if budget is not None else (None, None)
    if budget is not None:
        budget.docx_items -= items
        budget.docx_elements -= elements
    for (count, limit, what), still, total in zip(checks, left, totals):
        if count > limit:
            raise _error(source, f"the document holds {count:,} {what}; the limit is {limit:,}")
        if still is not None and count > still:
            raise _error(source, f"the document holds {count:,} {what}, more than the .docx files of this upload may "
                                 f"still hold together ({max(still, 0):,} of {total:,}); send fewer at a time")


def _mib(size: int) -> str:
    return f"{size / 1024**2:,.1f} MiB"


def _block_lines(container) -> list[str]:
    """The lines of a document body or a table cell: a paragraph is a line, a table row is a line."""
    from docx.table import Table

    lines: list[str] = []
    for item in container.iter_inner_content():
        lines.extend(_table_lines(item) if isinstance(item, Table) else [item.text])
    return lines


def _table_lines(table) -> list[str]:
    """One line per row: its cells' text joined by " | ". A merged cell is read once, in the first row and column it
    covers: a cell spanning columns is one <w:tc>, and the rows a vertical merge continues into hold an empty
    placeholder ("continue") for it.

    Read from the table's XML, not python-docx's row.cells: that repeats a cell once per grid column it spans (a
    hostile gridSpan of 2,000,000,000 is a tuple of that many) and finds a vertically merged cell by walking up
    every row above it, for every cell (a merged column of 150 rows took 38 s)."""
    from docx.table import _Cell

    lines = []
    for tr in table._tbl.tr_lst:
        cells = []
        for tc in tr.tc_lst:
            if tc.vMerge == "continue":
                continue
            text = "\n".join(_block_lines(_Cell(tc, table))).strip()
            if text:
                cells.append(text)
        if cells:
            lines.append(" | ".join(cells))
    return lines


# ---- PDF -------------------------------------------------------------------------------------------------------
def pdf_text(raw: bytes, source: str, budget: Budget | None = None) -> str:
    """The text of each page in order (pypdf's extract_text), lines a wrap broke joined again."""
    from pypdf import PasswordType, PdfReader, apply_configuration

    if b"%PDF-" not in raw[:1024]:  # where the PDF standard lets the header start
        raise _error(source, "not a PDF file: it has no %PDF- header; is it another kind of file renamed?")
    if budget is not None and (budget.pdf_items <= 0 or budget.pdf_seconds <= 0):
        spent = (f"{budget.pdf_items_total:,} drawing operations" if budget.pdf_items <= 0
                 else f"{budget.pdf_seconds_total:g} s")
        raise _error(source, f"the PDFs of this upload take more than {spent} to read together; send fewer at a time")
    meter = _Meter(MAX_PDF_ITEMS if budget is None else min(MAX_PDF_ITEMS, budget.pdf_items),
                   MAX_PDF_SECONDS if budget is None else min(MAX_PDF_SECONDS, budget.pdf_seconds))
    # pypdf parses a content stream whole before its first operator is counted: no stream may hold more than a
    # document may, nor inflate past MAX_PDF_STREAM_BYTES, nor the page tree hold many more entries than
    # MAX_PDF_PAGES pages need.
    limits = {"stream_parsing_work_maximum_count": MAX_PDF_ITEMS, "page_tree_maximum_entries": MAX_PDF_TREE_ENTRIES,
              **{f"{kind}_maximum_output_length": MAX_PDF_STREAM_BYTES
                 for kind in ("zlib", "lzw", "run_length", "brotli", "jbig2")},
              "array_based_stream_maximum_output_length": MAX_PDF_STREAM_BYTES}
    try:
        with _pypdf_warnings() as warned, apply_configuration(**limits):
            try:
                reader = PdfReader(io.BytesIO(raw))
                if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
                    raise _error(source, "the PDF is encrypted; export it without a password")
                count = len(reader.pages)
            except ReaderError:
                raise
            except Exception as exc:  # pypdf on a broken file: PdfReadError; KeyError, ValueError, ... on fuzzed ones
                raise _error(source, f"not a readable PDF: {type(exc).__name__}: {exc}{_said(warned)}") from None
            if count > MAX_PDF_PAGES:
                raise _error(source, f"the PDF has {count:,} pages; the limit is {MAX_PDF_PAGES:,} for one note")
            try:
                pages = _pdf_pages(reader, source, count, meter, warned)
            except _TooMuchWork as exc:
                raise _error(source, _too_much(exc, meter, budget, count)) from None
    finally:
        if budget is not None:
            budget.pdf_items -= meter.spent
            budget.pdf_seconds -= meter.elapsed
    text = _WRAPPED.sub(" ", "\n".join(p.strip("\n") for p in pages))
    if not text.strip():
        raise _error(source, "no text found: a scanned PDF needs OCR first", "text")
    return text


def _too_much(stop: _TooMuchWork, meter: _Meter, budget: Budget | None, count: int) -> str:
    """Why the meter stopped: this file's limit, or what the upload's other PDFs left of the budget."""
    where = f"page {stop.page} of {count}"
    if stop.timed:
        if budget is not None and meter.seconds < MAX_PDF_SECONDS:
            return (f"the PDFs of this upload take more than {budget.pdf_seconds_total:g} s to read together (stopped "
                    f"at {where} of this one); send fewer at a time")
        return (f"the PDF takes more than {meter.seconds:g} s to read (stopped at {where}); it is too complex to read "
                "as a note: export its text, or split it")
    if budget is not None and meter.limit < MAX_PDF_ITEMS:
        return (f"the PDFs of this upload take more than {budget.pdf_items_total:,} drawing operations to read "
                f"together (by {where} of this one); send fewer at a time")
    return (f"the PDF takes more than {meter.limit:,} drawing operations to read (by {where}); it is too complex to "
            "read as a note: export its text, or split it")


def _pdf_pages(reader, source: str, count: int, meter: _Meter, warned: list[str]) -> list[str]:
    """Each page's text; every page that cannot be read is named in one ReaderError."""
    pages, errors, length = [], [], 0
    for number, page in enumerate(reader.pages, start=1):
        try:
            meter.check()  # the time the pages before took, those that failed too
            text = page.extract_text(visitor_operand_before=meter.count) or ""
            meter.check()  # pypdf catches what goes wrong inside a form XObject, the meter's stop included
        except _TooMuchWork as exc:
            exc.page = number
            raise
        except Exception as exc:
            errors.append(RowError(source, None, None, f"page {number} of {count}: its text could not be read: "
                                                       f"{type(exc).__name__}: {exc}{_said(warned)}"))
            continue
        # Glyphs a font maps to control characters, or to half a surrogate pair (no text at all, and not storable),
        # are no words.
        pages.append(SURROGATE.sub("", CONTROL.sub("", text)))
        length += len(pages[-1])
        if length > MAX_NOTE_CHARS:
            raise _error(source, f"the text runs past {MAX_NOTE_CHARS:,} characters, the limit of one note, by "
                                 f"page {number} of {count}; split the PDF", "text")
    if errors:
        raise ReaderError(errors)
    return pages


class _TooMuchWork(Exception):
    def __init__(self, timed: bool):
        super().__init__()
        self.timed = timed
        self.page = 0


class _Meter:
    """Counts the operators and operands pypdf reads (pypdf calls `count` before each operator, in forms too) and
    the time taken, and stops the reading past `limit` or `seconds`: every later call raises again, so a stop pypdf
    catches inside a form is raised again by the page's next operator."""

    def __init__(self, limit: int, seconds: float):
        self.limit, self.seconds = limit, seconds
        self.spent = 0
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def count(self, operator, operands, cm, tm) -> None:
        self.spent += 1 + sum(len(o) if isinstance(o, (list, dict)) else 1 for o in operands)
        self.check()

    def check(self) -> None:
        if self.spent > self.limit:
            raise _TooMuchWork(timed=False)
        if self.elapsed > self.seconds:
            raise _TooMuchWork(timed=True)


def _said(warned: list[str]) -> str:
    return f" (pypdf: {warned[0]})" if warned else ""


class _ThreadWarnings(logging.Handler):
    """pypdf's warnings in the thread that reads one PDF (a web server reads others meanwhile)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


@contextmanager
def _pypdf_warnings():
    """pypdf logs a warning for each oddity it reads around ("Ignoring wrong pointing object ..."). With no handler
    on the way, Python prints them bare on stderr; collected here, they are named only in an error. They still
    reach a handler the application set up (a server's log)."""
    logger = logging.getLogger("pypdf")
    handler = _ThreadWarnings()
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
