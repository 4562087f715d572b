"""Call notes written as Word documents (.docx) or PDFs: their text, read with python-docx and pypdf, is one note
taken exactly as a .txt file is (`read_text_note`: optional YAML front matter carries account, date, source, ...).

The date comes only from what the note says (its front matter), as for a .txt file, whose file dates are never read
either. A .docx's "created" core property is not used: it is when the file was made, often from a template
(python-docx's own template says 2013-12-23), not when the call happened.

These are untrusted files. A .docx is a zip: its table of contents is checked before python-docx inflates anything
(zipfile never inflates a member past the size its directory declares, so the declared sizes bound the work). A PDF
is read page by page up to MAX_PDF_PAGES pages and the note's character limit; pypdf's warnings about odd files are
kept off the user's output and named only in an error they help explain.
"""
from __future__ import annotations

import io
import logging
import re
import threading
import zipfile
from contextlib import contextmanager
from pathlib import Path

from .errors import RowError
from .readers import RawRow, ReaderError, read_text_note
from .validate import CONTROL, MAX_NOTE_CHARS

# A .docx holds a few dozen parts; hundreds with many pictures.
MAX_DOCX_PARTS = 2_000
# Everything python-docx loads (pictures included), by the zip's declared sizes: a phone photo is a few MB.
MAX_DOCX_UNPACKED = 64 * 1024**2
# The XML python-docx parses into trees: a note of MAX_NOTE_CHARS characters with 160 bytes of markup for each
# (Word splits text into runs, each with its formatting) still fits.
MAX_DOCX_XML = 16 * 1024**2
# A note holds MAX_NOTE_CHARS characters, about 40 full pages; sparse pages (slides, forms) leave room up to this.
MAX_PDF_PAGES = 200
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97-2003 files, and Office files saved with a password
ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")  # the stream a password-protected .docx is sealed in
MAIN_PART = "word/document.xml"
# A line of a PDF that a wrap broke off: the next starts in lower case after a line without an end mark. A line that
# starts with a label ("date: ...", "dana: ...") is its own line, as front matter and speaker turns need.
_WRAPPED = re.compile(r"(?<=[\w,;)])\n(?=[a-z])(?![\w .'-]{0,40}:\s)")


def read_document(raw: bytes, source: str, suffix: str) -> list[RawRow]:
    """A .docx or .pdf as one note, read as a .txt file with the document's text would be."""
    text = docx_text(raw, source) if suffix == ".docx" else pdf_text(raw, source)
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
def docx_text(raw: bytes, source: str) -> str:
    """Paragraphs (headings included) and tables in document order, a table row by row with its cells joined by
    " | ". Headers, footers, footnotes, comments and text boxes are not read."""
    from docx import Document

    _check_docx_package(raw, source)
    try:
        document = Document(io.BytesIO(raw))
        lines = _block_lines(document)
    except ValueError as exc:
        found = re.search(r"content type is '([^']*)'", str(exc))
        if found:  # a .docm, a .dotx, or another Office file with a .docx name
            raise _error(source, f"not a Word document (its content type is {found.group(1)}); save it as a Word "
                                 "Document (.docx)") from None
        raise _error(source, f"not a readable Word document: {exc}") from None
    except Exception as exc:  # python-docx on a broken package: KeyError, lxml's XMLSyntaxError, zlib.error, ...
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
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _error(source, f"not a .docx file: a .docx is a zip archive, and this is none ({exc}); is it "
                             "damaged, or another kind of file renamed?") from None
    names = {m.filename for m in members}
    if MAIN_PART not in names:
        raise _error(source, f"not a Word document: the zip archive has no {MAIN_PART}")
    if len(members) > MAX_DOCX_PARTS:
        raise _error(source, f"the .docx holds {len(members):,} parts; the limit is {MAX_DOCX_PARTS:,}")
    if any(m.flag_bits & 0x1 for m in members):
        raise _error(source, "the .docx is encrypted; save it without a password")
    total = sum(m.file_size for m in members)
    xml = sum(m.file_size for m in members if m.filename.endswith((".xml", ".rels")))
    if total > MAX_DOCX_UNPACKED:
        raise _error(source, f"the .docx unpacks to {_mib(total)}; the limit is {_mib(MAX_DOCX_UNPACKED)} (a zip "
                             "bomb, or a document with very large pictures: remove them)")
    if xml > MAX_DOCX_XML:
        raise _error(source, f"the .docx holds {_mib(xml)} of XML; the limit is {_mib(MAX_DOCX_XML)}")


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
    covers (python-docx repeats it for every grid position it spans)."""
    seen = set()
    lines = []
    for row in table.rows:
        cells = []
        for cell in row.cells:
            if cell._tc in seen:
                continue
            seen.add(cell._tc)
            text = "\n".join(_block_lines(cell)).strip()
            if text:
                cells.append(text)
        if cells:
            lines.append(" | ".join(cells))
    return lines


# ---- PDF -------------------------------------------------------------------------------------------------------
def pdf_text(raw: bytes, source: str) -> str:
    """The text of each page in order (pypdf's extract_text), lines a wrap broke joined again."""
    from pypdf import PasswordType, PdfReader

    if b"%PDF-" not in raw[:1024]:  # where the PDF standard lets the header start
        raise _error(source, "not a PDF file: it has no %PDF- header; is it another kind of file renamed?")
    with _pypdf_warnings() as warned:
        try:
            reader = PdfReader(io.BytesIO(raw))
            if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
                raise _error(source, "the PDF is encrypted; export it without a password")
            count = len(reader.pages)
        except ReaderError:
            raise
        except Exception as exc:  # pypdf on a broken file: PdfReadError, and KeyError, ValueError, ... on fuzzed ones
            raise _error(source, f"not a readable PDF: {type(exc).__name__}: {exc}{_said(warned)}") from None
        if count > MAX_PDF_PAGES:
            raise _error(source, f"the PDF has {count:,} pages; the limit is {MAX_PDF_PAGES:,} for one note")
        pages, errors, length = [], [], 0
        for number, page in enumerate(reader.pages, start=1):
            try:
                text = page.extract_text() or ""
            except Exception as exc:
                errors.append(RowError(source, None, None, f"page {number} of {count}: its text could not be "
                                                           f"read: {type(exc).__name__}: {exc}{_said(warned)}"))
                continue
            pages.append(CONTROL.sub("", text))  # glyphs a font maps to control characters are no words
            length += len(pages[-1])
            if length > MAX_NOTE_CHARS:
                raise _error(source, f"the text runs past {MAX_NOTE_CHARS:,} characters, the limit of one note, by "
                                     f"page {number} of {count}; split the PDF", "text")
    if errors:
        raise ReaderError(errors)
    text = _WRAPPED.sub(" ", "\n".join(p.strip("\n") for p in pages))
    if not text.strip():
        raise _error(source, "no text found: a scanned PDF needs OCR first", "text")
    return text


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
