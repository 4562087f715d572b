"""Call notes written as Word documents (.docx) and PDFs: their text is one note, read as a .txt file with that text
would be (front matter and all); bad or hostile files are refused naming the file and what is wrong, and nothing of
the ingest they are part of is stored. Fixture files are built here: python-docx writes the .docx files, and PDFs
are written by hand (no PDF writer is installed; pypdf reads them back)."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from datetime import datetime

import docx
import pypdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.ingest import documents
from service.ingest.errors import IngestError
from service.ingest.readers import FORMATS, STDIN_FORMATS, ReaderError, read_bytes, sniff_suffix
from service.ingest.store import ingest, load_paths
from service.notes import stats

FRONT = ["---", "Account: Acme Logistics", "Date: 2026-11-20", "source: call", "---"]


# ---- fixture files ------------------------------------------------------------------------------------------------
def make_docx(paragraphs=(), *, heading: str | None = None, table=None, after=(), created: datetime | None = None):
    document = docx.Document()
    for line in paragraphs:
        document.add_paragraph(line)
    if heading:
        document.add_heading(heading, level=1)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    for line in after:
        document.add_paragraph(line)
    if created:
        document.core_properties.created = created
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_pdf(pages: list[list[str]], raw_streams: dict[int, tuple[str, bytes]] | None = None) -> bytes:
    """A PDF with one Helvetica text object per page, a line per string; raw_streams puts (extra stream dictionary
    entries, stream bytes) on a page instead. The cross-reference offsets are computed, so pypdf reads it cleanly."""
    raw_streams = raw_streams or {}
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>",
               3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"}
    kids = []
    for i, lines in enumerate(pages):
        page, content = 4 + 2 * i, 5 + 2 * i
        kids.append(f"{page} 0 R")
        extra, stream = raw_streams.get(i, ("", None))
        if stream is None:
            escaped = [s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for s in lines]
            stream = "\n".join(["BT", "/F1 12 Tf", "14 TL", "72 720 Td", *(f"({s}) Tj T*" for s in escaped), "ET"]
                               ).encode("latin-1")
        objects[page] = (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> "
                         f">> /Contents {content} 0 R >>").encode()
        objects[content] = f"<< /Length {len(stream)}{extra} >>\nstream\n".encode() + stream + b"\nendstream"
    objects[2] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>".encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in sorted(objects))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def rezip(raw: bytes, *, drop: str | None = None, add: dict[str, bytes] | None = None) -> bytes:
    """The .docx with a part left out or parts added (deflated, as Word stores them)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename != drop:
                dst.writestr(item, src.read(item))
        for name, body in (add or {}).items():
            dst.writestr(name, body)
    return out.getvalue()


def encrypted_pdf(user_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf([FRONT + ["SSO with Okta fails."]]))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def only_row(raw: bytes, name: str):
    rows, errors = read_bytes(raw, name, name[name.rindex("."):])
    assert errors == [] and len(rows) == 1
    return rows[0].data


# ---- what is read ---------------------------------------------------------------------------------------------------
def test_docx_paragraphs_headings_and_table_rows_come_in_document_order():
    raw = make_docx(["Met their IT lead."], heading="Pain points",
                    table=[["Topic", "Ask"], ["SSO", "Okta login fails"], ["Exports", ""]],
                    after=["Follow up next week."])
    data = only_row(raw, "call.docx")
    assert data["text"] == ("Met their IT lead.\nPain points\nTopic | Ask\nSSO | Okta login fails\nExports\n"
                            "Follow up next week.")


def test_a_merged_table_cell_is_read_once():
    document = docx.Document()
    grid = document.add_table(rows=2, cols=2)
    grid.cell(0, 0).merge(grid.cell(1, 0)).text = "SSO"
    grid.cell(0, 1).text = "Okta login fails"
    grid.cell(1, 1).text = "SCIM for new hires"
    out = io.BytesIO()
    document.save(out)
    assert only_row(out.getvalue(), "m.docx")["text"] == "SSO | Okta login fails\nSCIM for new hires"


@pytest.mark.parametrize("lines, expected", [
    (FRONT + ["Exports time out on big tables."],  # front matter: its fields are read
     {"account": "Acme Logistics", "date": "2026-11-20", "source": "call", "text": "Exports time out on big tables.",
      "id": None}),
    (["Account: Acme Logistics", "Date: 2026-11-20", "Exports time out."],  # bare lines: text, as in a .txt file
     {"text": "Account: Acme Logistics\nDate: 2026-11-20\nExports time out.", "id": None}),
    (["---", "Date: 2026-02-30", "---", "Exports time out."],  # an impossible date: the same error, on its line
     [(2, "date", "invalid date '2026-02-30': day is out of range for month")]),
])
def test_a_docx_and_a_pdf_read_exactly_as_a_txt_file_with_their_text(lines, expected):
    """The one path of a .txt note: the same fields, the same text and the same errors (a line number counts the
    lines of the text read from the document)."""
    def read(raw, name):
        try:
            return only_row(raw, name)
        except ReaderError as exc:
            return [(e.line, e.field, e.reason) for e in exc.errors]

    assert read("\n".join(lines).encode(), "call.txt") == expected
    assert read(make_docx(lines), "call.docx") == expected
    assert read(make_pdf([lines]), "call.pdf") == expected


def test_a_docx_created_date_is_not_taken_as_the_call_date():
    raw = make_docx(["Exports time out."], created=datetime(2019, 5, 1, 9, 30))
    assert docx.Document(io.BytesIO(raw)).core_properties.created.year == 2019
    assert "date" not in only_row(raw, "call.docx")


def test_leading_empty_paragraphs_do_not_hide_the_front_matter():
    data = only_row(make_docx(["", "  ", *FRONT, "SSO fails."]), "call.docx")
    assert (data["account"], data["text"]) == ("Acme Logistics", "SSO fails.")


def test_pdf_pages_in_order_with_wrapped_lines_joined_again():
    raw = make_pdf([["---", "account: Acme", "date: 2026-11-20", "---", "Exports time out on large",
                     "tables and the download never", "finishes.", "Wants offline mode"],
                    ["SSO with Okta fails for new", "hires since the migration."]])
    data = only_row(raw, "call.pdf")
    assert (data["account"], data["date"]) == ("Acme", "2026-11-20")
    assert data["text"] == ("Exports time out on large tables and the download never finishes.\nWants offline mode\n"
                            "SSO with Okta fails for new hires since the migration.")


def test_a_pdf_with_an_empty_user_password_is_read():
    """Owner-only protection (printing or copying restricted) opens without a password: it is read."""
    assert only_row(encrypted_pdf(""), "call.pdf")["account"] == "Acme Logistics"


def test_standard_input_is_recognised_as_docx_or_pdf():
    assert sniff_suffix(make_docx(["x"])) == ".docx"
    assert sniff_suffix(make_pdf([["x"]])) == ".pdf"
    other_zip = io.BytesIO()
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(ReaderError, match="stdin: this is a zip archive but not a Word document"):
        sniff_suffix(other_zip.getvalue())
    assert {".docx", ".pdf"} <= set(FORMATS) and {"docx", "pdf"} <= set(STDIN_FORMATS)


def test_pypdf_warnings_about_an_odd_file_stay_off_stderr():
    """A PDF whose cross-reference offsets are wrong: pypdf repairs it and logs a warning, which Python prints bare
    on stderr when nothing handles it. Read as a note, it is not printed; the text is still read."""
    raw = make_pdf([FRONT + ["SSO fails."]]).replace(b"startxref\n", b"startxref\n9")
    script = ("import sys; from service.ingest.readers import read_bytes; "
              "rows, _ = read_bytes(sys.stdin.buffer.read(), 'odd.pdf', '.pdf'); print(rows[0].data['account'])")
    bare = subprocess.run([sys.executable, "-c", "import io, sys, pypdf; "
                           "[p.extract_text() for p in pypdf.PdfReader(io.BytesIO(sys.stdin.buffer.read())).pages]"],
                          input=raw, capture_output=True, check=True)
    assert b"startxref" in bare.stderr  # pypdf does warn about this file
    ours = subprocess.run([sys.executable, "-c", script], input=raw, capture_output=True, check=True)
    assert ours.stdout.strip() == b"Acme Logistics" and ours.stderr == b""


# ---- through the CLI ------------------------------------------------------------------------------------------------
def _stored(run_cli) -> list[dict]:
    listed = run_cli("notes", "list", "--json")
    assert listed.exit_code == 0, listed.output
    return sorted(json.loads(listed.output)["items"], key=lambda n: n["text"])


def test_cli_ingests_a_folder_of_docx_and_pdf_notes(run_cli, tmp_path):
    folder = tmp_path / "calls"
    (folder / "2026").mkdir(parents=True)
    (folder / "acme.docx").write_bytes(make_docx(FRONT, table=[["SSO", "Okta login fails for new hires."]]))
    (folder / "2026" / "beta.PDF").write_bytes(make_pdf([["---", "account: Beta Bank", "---",
                                                          "Exports time out every quarter close."]]))
    (folder / "skipped.doc").write_bytes(b"\xd0\xcf\x11\xe0")  # not a format ingest reads: skipped in a folder
    result = run_cli("ingest", str(folder))
    assert result.exit_code == 0, result.output
    assert "created 2" in result.stdout
    notes = _stored(run_cli)
    assert [(n["account"], n["source"], (n["date"] or "")[:10], n["text"]) for n in notes] == [
        ("Beta Bank", "other", "", "Exports time out every quarter close."),
        ("Acme Logistics", "call", "2026-11-20", "SSO | Okta login fails for new hires.")]


@pytest.mark.parametrize("fmt", [None, "docx"])
def test_cli_reads_a_docx_from_standard_input(run_cli, fmt):
    args = ["ingest", "-"] + (["--format", fmt] if fmt else [])
    result = run_cli(*args, input=make_docx(FRONT + ["Wants offline mode."]))
    assert result.exit_code == 0, result.output
    assert [(n["account"], n["text"]) for n in _stored(run_cli)] == [("Acme Logistics", "Wants offline mode.")]


# ---- bad input: named, and nothing stored ----------------------------------------------------------------------------
def _bad_files() -> dict[str, tuple[bytes, str]]:
    good = make_docx(["Exports time out."])
    long_line = "Exports time out on big tables again. " * 26  # ~1,000 characters
    return {
        "garbage.docx": (b"these are not the bytes of a zip file",
                         "not a .docx file: a .docx is a zip archive, and this is none"),
        "truncated.docx": (good[: len(good) // 2], "not a .docx file: a .docx is a zip archive, and this is none"),
        "legacy.docx": (documents.OLE_MAGIC + b"\0" * 512, "this is a Word 97-2003 document (.doc), not a .docx"),
        "locked.docx": (documents.OLE_MAGIC + b"\0" * 64 + documents.ENCRYPTED_PACKAGE + b"\0" * 64,
                        "the document is password-protected; save it without a password"),
        "sheet.docx": (rezip(good, drop="word/document.xml"), "not a Word document: the zip archive has no "
                                                               "word/document.xml"),
        "broken.docx": (rezip(good, drop="word/document.xml", add={"word/document.xml": b"<w:document"}),
                        "not a readable Word document: XMLSyntaxError"),
        "blank.docx": (make_docx(["", "   "]), "no text found in the document"),
        "notpdf.pdf": (b"PK\x03\x04 a zip, not a PDF", "not a PDF file: it has no %PDF- header"),
        "cut.pdf": (make_pdf([["Exports time out."]])[:60], "not a readable PDF"),
        "encrypted.pdf": (encrypted_pdf("secret"), "the PDF is encrypted; export it without a password"),
        "scanned.pdf": (make_pdf([[], []]), "no text found: a scanned PDF needs OCR first"),
        "badpage.pdf": (make_pdf([["Exports time out."], []], {1: (" /Filter /LZWDecode", b"\xff" * 20)}),
                        "page 2 of 2: its text could not be read: PdfStreamError"),
        "long.pdf": (make_pdf([[long_line] * 40] * 3), "the text runs past 100,000 characters, the limit of one "
                                                        "note, by page 3 of 3; split the PDF"),
        "pages.pdf": (make_pdf([["x"]] * (documents.MAX_PDF_PAGES + 1)),
                      f"the PDF has {documents.MAX_PDF_PAGES + 1} pages; the limit is {documents.MAX_PDF_PAGES}"),
    }


@pytest.mark.parametrize("name", list(_bad_files()))
def test_bad_documents_are_named_and_nothing_of_the_ingest_is_stored(name, svc, tmp_path):
    raw, reason = _bad_files()[name]
    good = tmp_path / "good.txt"
    good.write_text("---\naccount: Acme\n---\nSSO with Okta fails.\n")
    bad = tmp_path / name
    bad.write_bytes(raw)
    notes, errors = load_paths([str(good), str(bad)], svc.config.MAX_NOTE_CHARS)
    assert len(notes) == 1 and errors, errors
    assert all(e.source == str(bad) for e in errors)
    assert any(reason in str(e) for e in errors), [str(e) for e in errors]
    with pytest.raises(IngestError):
        ingest(svc, notes, errors, skip_invalid=False)
    assert stats(svc)["notes"] == 0


def test_cli_names_a_bad_document_and_stores_nothing(run_cli, tmp_path):
    (tmp_path / "good.docx").write_bytes(make_docx(["SSO with Okta fails."]))
    (tmp_path / "locked.pdf").write_bytes(encrypted_pdf("secret"))
    result = run_cli("ingest", str(tmp_path / "good.docx"), str(tmp_path / "locked.pdf"))
    assert result.exit_code == 1
    assert f"error: {tmp_path / 'locked.pdf'}: the PDF is encrypted; export it without a password" in result.stderr
    assert "Traceback" not in result.output
    assert _stored(run_cli) == []


@pytest.mark.parametrize("part, size, reason", [
    ("word/media/image1.png", documents.MAX_DOCX_UNPACKED, r"unpacks to 64\.\d MiB; the limit is 64\.0 MiB"),
    ("customXml/item9.xml", documents.MAX_DOCX_XML, r"holds 16\.\d MiB of XML; the limit is 16\.0 MiB"),
])
def test_a_zip_bomb_docx_is_refused_before_python_docx_inflates_it(part, size, reason, monkeypatch):
    base = make_docx(["Exports time out."])
    bomb = rezip(base, add={part: b"\0" * size})
    assert len(bomb) - len(base) < size // 500  # tiny on disk, huge unpacked
    opened = []
    monkeypatch.setattr(docx, "Document", lambda *a: opened.append(a))
    with pytest.raises(ReaderError) as info:
        read_bytes(bomb, "bomb.docx", ".docx")
    assert str(info.value).startswith("bomb.docx: the .docx") and re.search(reason, str(info.value))
    assert opened == []


def test_a_doc_file_by_name_is_unsupported_with_a_hint():
    with pytest.raises(ReaderError, match=r"notes\.doc: unsupported file type '\.doc'; .*; save it as \.docx"):
        read_bytes(b"\xd0\xcf\x11\xe0", "notes.doc", ".doc")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([".docx", ".pdf"]), st.data())
def test_damaged_documents_raise_only_reader_errors_naming_the_file(suffix, data):
    good = make_docx(FRONT + ["SSO fails."]) if suffix == ".docx" else make_pdf([FRONT + ["SSO fails."]])
    raw = bytearray(good)
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(raw) // 2, len(raw)))
    try:
        rows, errors = read_bytes(bytes(raw[:cut]), f"fuzz{suffix}", suffix)
    except ReaderError as exc:
        assert exc.errors and all(str(e).startswith(f"fuzz{suffix}") for e in exc.errors)
        return
    assert len(rows) == 1 and isinstance(rows[0].data["text"], str)
