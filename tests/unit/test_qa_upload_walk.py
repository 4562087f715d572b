"""A hostile and a clumsy user's walk through the document readers (.docx, .pdf) and note uploads (the paste page's
file input, multipart POST /api/v1/notes): every problem found there, pinned.

Word files and PDFs are tiny on the wire and can cost minutes of a web worker to read: a vertically merged table, a
cell spanning two billion columns, hundreds of thousands of empty paragraphs or links, a page whose content stream
shows empty strings 400,000 times, shared by 200 pages. Each is now refused (or read) within bounds that hold for one
file and for all the files of one upload together."""
from __future__ import annotations

import io
import time
import zipfile

import docx
import pytest

from service.ingest import documents
from service.ingest.readers import ReaderError, read_bytes
from service.ingest.uploads import Upload, load_uploads, upload_name
from tests.unit.test_ingest_documents import FRONT, make_docx, make_pdf

NOTES = "/api/v1/notes"
W_NS = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


# ---- fixture files ------------------------------------------------------------------------------------------------
def docx_with_body(body: bytes) -> bytes:
    """A .docx made by python-docx whose document.xml body is `body` (raw WordprocessingML)."""
    xml = b"<w:document " + W_NS + b"><w:body>" + body + b"</w:body></w:document>"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(make_docx(["x"]))) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, xml if item.filename == documents.MAIN_PART else src.read(item))
    return out.getvalue()


def para(text: str) -> bytes:
    return b'<w:p><w:r><w:t xml:space="preserve">' + text.encode() + b"</w:t></w:r></w:p>"


def cell(inner: bytes, props: bytes = b"") -> bytes:
    return b"<w:tc>" + (b"<w:tcPr>" + props + b"</w:tcPr>" if props else b"") + inner + b"</w:tc>"


def merged_table(rows: int, cols: int) -> bytes:
    """A table whose every column is one cell merged down all its rows (Word's "Merge Cells" on a column)."""
    first = b"<w:tr>" + b"".join(cell(para(f"col {c}"), b'<w:vMerge w:val="restart"/>') for c in range(cols)) + b"</w:tr>"
    later = b"<w:tr>" + cell(b"<w:p/>", b"<w:vMerge/>") * cols + b"</w:tr>"
    return (b"<w:tbl><w:tblGrid>" + b"<w:gridCol/>" * cols + b"</w:tblGrid>" + first + later * rows + b"</w:tbl>")


def pdf_sharing_one_content_stream(pages: int, content: bytes) -> bytes:
    """`pages` pages that all draw the one (deflated) content stream `content`."""
    import zlib

    packed = zlib.compress(content, 9)
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>", 3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               5: b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"}
    for i in range(pages):
        objects[10 + i] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R "
                           b">> >> /Contents 5 0 R >>")
    objects[2] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (10 + i) for i in range(pages)) +
                  b"] /Count %d >>" % pages)
    return _pdf(objects)


def pdf_invoking_a_form(times: int, form_content: bytes) -> bytes:
    """One page that draws one form XObject `times` times (pypdf reads a form again at each invocation)."""
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>", 2: b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
               3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               4: (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> "
                   b"/XObject << /X0 6 0 R >> >> /Contents 5 0 R >>")}
    calls = b"/X0 Do\n" * times
    objects[5] = b"<< /Length %d >>\nstream\n" % len(calls) + calls + b"\nendstream"
    objects[6] = (b"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                  b"/Length %d >>\nstream\n" % len(form_content) + form_content + b"\nendstream")
    return _pdf(objects)


def pdf_with_to_unicode(cmap_pairs: bytes, shown: bytes) -> bytes:
    """A page showing `shown` in a font whose /ToUnicode maps codes as `cmap_pairs` (bfchar lines) say."""
    cmap = (b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /X def 1 begincodespacerange "
            b"<00> <FF> endcodespacerange %d beginbfchar " % cmap_pairs.count(b"\n") + cmap_pairs +
            b" endbfchar endcmap CMapName currentdict /CMap defineresource pop end end")
    content = b"BT /F1 12 Tf 72 720 Td (" + shown + b") Tj ET"
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>", 2: b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
               3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
               4: (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                   b"/Contents 5 0 R >>"),
               5: b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
               6: b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream"}
    return _pdf(objects)


def _pdf(objects: dict[int, bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref, size = len(out), max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offsets[n] if n in offsets else b"0000000000 65535 f \n"
                    for n in range(1, size))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out)


def read_one(raw: bytes, name: str) -> str:
    rows, errors = read_bytes(raw, name, name[name.rindex("."):])
    assert errors == [] and len(rows) == 1
    return rows[0].data["text"]


def timed(function, *args):
    start = time.perf_counter()
    try:
        return function(*args), time.perf_counter() - start
    except ReaderError as exc:
        return exc, time.perf_counter() - start


def _files(*named: tuple[str, bytes]) -> list[tuple[io.BytesIO, str]]:
    return [(io.BytesIO(data), name) for name, data in named]


def _count(client) -> int:
    return client.get("/api/v1/stats").get_json()["notes"]


# ---- Word: tables -------------------------------------------------------------------------------------------------
def test_a_table_with_a_column_merged_down_many_rows_is_read_at_once():
    """python-docx's row.cells finds a vertically merged cell by walking up through every row above, for every cell:
    a 37 KB document with a merged column of 150 rows took 38 s, one of 500 rows nearly 10 minutes. Read from the
    table's XML, each cell once."""
    raw = docx_with_body(para("Pricing call") + merged_table(rows=40, cols=20))
    text, seconds = timed(read_one, raw, "merged.docx")
    assert text == "Pricing call\n" + " | ".join(f"col {c}" for c in range(20))
    assert seconds < 1.0


def test_a_cell_spanning_two_billion_columns_is_read_once_without_building_the_span():
    """python-docx repeats a cell once per grid column it spans: gridSpan="2000000000" built a tuple of two billion
    (16 GB) for one row; 20 million took seconds and 160 MB."""
    span = b'<w:gridSpan w:val="%d"/>'
    body = (b"<w:tbl><w:tblGrid><w:gridCol/></w:tblGrid>"
            b"<w:tr>" + cell(para("SSO fails for new hires."), span % 20_000_000) + b"</w:tr>"
            b"<w:tr>" + cell(para("Exports time out."), span % 2_000_000_000) + cell(para("Q3")) + b"</w:tr></w:tbl>")
    text, seconds = timed(read_one, docx_with_body(body), "wide.docx")
    assert text == "SSO fails for new hires.\nExports time out. | Q3"
    assert seconds < 1.0


def test_merged_and_nested_tables_read_as_before():
    """The XML walk gives what python-docx's cells gave: a merged cell once, nested tables inside their cell."""
    document = docx.Document()
    grid = document.add_table(rows=3, cols=3)
    grid.cell(0, 0).merge(grid.cell(2, 0)).text = "Acme"
    grid.cell(0, 1).merge(grid.cell(0, 2)).text = "SSO"
    grid.cell(1, 1).text = "Okta"
    inner = grid.cell(2, 2).add_table(rows=1, cols=2)
    inner.cell(0, 0).text, inner.cell(0, 1).text = "in 1", "in 2"
    out = io.BytesIO()
    document.save(out)
    assert read_one(out.getvalue(), "t.docx") == "Acme | SSO\nOkta\nin 1 | in 2"


def test_a_continued_merge_in_the_first_row_is_no_error():
    """A vertical merge that "continues" a row that is not there: python-docx raised "no tr above topmost tr"; the
    placeholder cell holds nothing to read."""
    body = (b"<w:tbl><w:tblGrid><w:gridCol/><w:gridCol/></w:tblGrid><w:tr>" + cell(b"<w:p/>", b"<w:vMerge/>") +
            cell(para("Exports time out.")) + b"</w:tr></w:tbl>")
    assert read_one(docx_with_body(body), "t.docx") == "Exports time out."


# ---- Word: documents too complex to read --------------------------------------------------------------------------
@pytest.mark.parametrize("what, body", [
    ("empty paragraphs", b"<w:p/>" * 150_000 + para("SSO fails.")),
    ("empty links", b"<w:p>" + b"<w:hyperlink/>" * 150_000 + b"</w:p>" + para("SSO fails.")),
    ("empty runs", b"<w:p>" + b"<w:r/>" * 150_000 + b"</w:p>" + para("SSO fails.")),
])
def test_a_docx_of_too_many_paragraphs_runs_or_links_is_refused_before_reading_them(what, body):
    """16 MiB of XML (the limit) of empty paragraphs is 2.4 million of them: 47 s and 600 MB to read, 53 s of empty
    links. A document holding more than MAX_DOCX_ITEMS is refused as soon as it is parsed, saying why."""
    raw = docx_with_body(body)
    assert len(raw) < 60_000  # python-docx's template and a few kB of body
    error, seconds = timed(read_one, raw, "many.docx")
    assert isinstance(error, ReaderError), error
    assert str(error).startswith("many.docx: the document holds 150,00")
    assert f"paragraphs, runs, links and table cells; the limit is {documents.MAX_DOCX_ITEMS:,}" in str(error)
    assert seconds < 1.5


def test_a_docx_of_too_many_xml_elements_is_refused():
    """Run children (tabs, breaks, empty text) are read one by one too: a million of them took 3 s."""
    raw = docx_with_body(b"<w:p><w:r>" + b"<w:tab/>" * (documents.MAX_DOCX_ELEMENTS + 1) + b"</w:r></w:p>")
    error, seconds = timed(read_one, raw, "tabs.docx")
    assert isinstance(error, ReaderError), error
    assert f"XML elements; the limit is {documents.MAX_DOCX_ELEMENTS:,}" in str(error)
    assert seconds < 2.0


def docx_with_main_part_named(name: str, body: bytes) -> bytes:
    """A .docx whose main document part is `name` (its package relationship and content type say so), holding
    `body`, with python-docx's word/document.xml left beside it unused."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(make_docx(["Call notes."]))) as src:
        parts = {item.filename: src.read(item) for item in src.infolist()}
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b'PartName="/word/document.xml"',
                                                                        f'PartName="/{name}"'.encode())
    parts["_rels/.rels"] = parts["_rels/.rels"].replace(b'Target="word/document.xml"', f'Target="{name}"'.encode())
    folder, _, file = name.rpartition("/")
    parts[f"{folder}/_rels/{file}.rels"] = parts["word/_rels/document.xml.rels"]
    parts[name] = b"<w:document " + W_NS + b"><w:body>" + body + b"</w:body></w:document>"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for part, data in parts.items():
            dst.writestr(part, data)
    return out.getvalue()


def test_xml_is_counted_by_its_content_not_its_part_name(monkeypatch):
    """The 16 MiB XML limit counted parts named .xml or .rels, but python-docx finds the main part by its
    relationship: 50 MiB of XML as "word/body.bin" in a 114 kB file was parsed whole (4.6 s, 1.3 GB)."""
    raw = docx_with_main_part_named("word/body.bin", b"<w:p/>" * (documents.MAX_DOCX_XML // 6 + 1))
    opened = []
    monkeypatch.setattr(docx, "Document", lambda *a: opened.append(a))
    error, _ = timed(read_one, raw, "renamed.docx")
    assert isinstance(error, ReaderError), error
    assert "of XML; the limit is 16.0 MiB" in str(error) and opened == []


def test_a_main_part_of_another_name_is_still_read():
    assert read_one(docx_with_main_part_named("word/body.bin", para("SSO fails.")), "renamed.docx") == "SSO fails."


def test_a_long_real_document_is_within_the_docx_limits():
    """A note of 100,000 characters (the limit of one note) in 2,000 paragraphs of one formatted run per word."""
    document = docx.Document()
    words = ("Exports", "time", "out", "above", "fifty", "thousand", "rows", "again.")
    for _ in range(2_000):
        paragraph = document.add_paragraph()
        for word in words * 2:
            paragraph.add_run(word + " ").bold = word == "rows"
    out = io.BytesIO()
    document.save(out)
    text = read_one(out.getvalue(), "long.docx")
    assert len(text) > 100_000 and text.count("\n") == 1_999


# ---- PDF: pages too costly to read --------------------------------------------------------------------------------
EMPTY_SHOWS = b"BT /F1 12 Tf\n" + b"() Tj\n" * 4_000 + b"ET"  # 8,000 operators and operands, no text


def test_a_pdf_whose_pages_take_too_many_operations_is_refused(monkeypatch):
    """A 5.6 kB PDF of 10 pages sharing one content stream of 400,000 empty text shows took 37 s to read (200 pages:
    12 minutes) and was then "no text found". Every operator and operand read counts; past MAX_PDF_ITEMS for the
    document it is refused, naming the page."""
    monkeypatch.setattr(documents, "MAX_PDF_ITEMS", 20_000)
    raw = pdf_sharing_one_content_stream(5, EMPTY_SHOWS)
    error, _ = timed(read_one, raw, "heavy.pdf")
    assert isinstance(error, ReaderError), error
    assert str(error) == ("heavy.pdf: the PDF takes more than 20,000 drawing operations to read (by page 3 of 5); it is "
                          "too complex to read as a note: export its text, or split it")


def test_form_xobjects_drawn_again_and_again_count_too(monkeypatch):
    """pypdf reads a form XObject again at each of up to 5,000 invocations per page, and catches what goes wrong
    inside one: the count still stops the page."""
    monkeypatch.setattr(documents, "MAX_PDF_ITEMS", 20_000)
    raw = pdf_invoking_a_form(50, EMPTY_SHOWS)
    assert len(raw) < 40_000
    error, seconds = timed(read_one, raw, "forms.pdf")
    assert isinstance(error, ReaderError), error
    assert "more than 20,000 drawing operations to read (by page 1 of 1)" in str(error)
    assert seconds < 2.0


def test_one_content_stream_is_not_parsed_past_the_limit(monkeypatch):
    """pypdf parses a page's whole content stream before the first operator is counted: its own parse limit is held
    to ours, so a page of 2 million items is not parsed whole before being refused."""
    monkeypatch.setattr(documents, "MAX_PDF_ITEMS", 20_000)
    content = b"BT /F1 12 Tf\n" + b"() Tj\n" * 600_000 + b"ET"
    error, seconds = timed(read_one, pdf_sharing_one_content_stream(1, content), "one.pdf")
    assert isinstance(error, ReaderError), error
    assert "page 1 of 1" in str(error) and seconds < 1.5


def test_a_content_stream_is_not_inflated_past_its_limit():
    """pypdf inflates a stream up to 75 MB before its own limit: 200 pages sharing one such stream (a 109 kB file)
    took 29 s, each page inflating it again; 16 MB of one hex string of zeros, a single operand, took 9 s to parse. A
    page's content is a few kB to a few hundred: 4 MiB is the limit."""
    error, seconds = timed(read_one, pdf_sharing_one_content_stream(1, b" " * (documents.MAX_PDF_STREAM_BYTES + 1)),
                           "big.pdf")
    assert isinstance(error, ReaderError), error
    assert str(error).startswith("big.pdf: page 1 of 1: its text could not be read: LimitReachedError")
    assert seconds < 1.0


def test_pdf_reading_stops_at_its_time_limit(monkeypatch):
    """What no count sees (white space, comments, a long string operand, pages that fail to inflate) takes time:
    past MAX_PDF_SECONDS the reading stops between operators or pages. 20 pages of 4 MB of spaces took 6 s; a 36 kB
    file of 200 pages sharing one stream of 4 MiB, one hex string, would take 8 minutes (2.4 s a page)."""
    monkeypatch.setattr(documents, "MAX_PDF_SECONDS", 0.5)
    content = b"BT /F1 12 Tf 72 720 Td (SSO fails.) Tj ET\n" + b" " * 4_000_000
    error, seconds = timed(read_one, pdf_sharing_one_content_stream(20, content), "slow.pdf")
    assert isinstance(error, ReaderError), error
    assert str(error).startswith("slow.pdf: the PDF takes more than 0.5 s to read (stopped at page ")
    assert str(error).endswith(" of 20); it is too complex to read as a note: export its text, or split it")
    assert seconds < 2.0


def test_the_pdfs_of_one_upload_share_one_time_budget():
    budget = documents.Budget()
    budget.pdf_seconds = 0
    with pytest.raises(ReaderError) as info:
        documents.pdf_text(make_pdf([["SSO fails."]]), "late.pdf", budget)
    assert str(info.value) == (f"late.pdf: the PDFs of this upload take more than {2 * documents.MAX_PDF_SECONDS:g} s "
                               "to read together; send fewer at a time")


def test_real_pdfs_are_far_within_the_operation_limit():
    """A dense page of make_pdf's lines costs a few hundred items; 40 such pages of 2,500 characters each are the
    100,000 characters of one note."""
    line = "Exports time out above fifty thousand rows and the download never finishes again"
    raw = make_pdf([[line] * 30] * 40)
    assert len(read_one(raw, "dense.pdf")) > 90_000


def test_a_glyph_mapped_to_a_lone_surrogate_is_dropped_not_a_refused_note():
    """A font whose ToUnicode maps a code to half a UTF-16 surrogate pair gave text that cannot be stored: the note
    was refused as "the row holds a lone surrogate ... send valid Unicode", about a PDF nobody can edit. Such a glyph
    is no word, as one mapped to a control character is not."""
    raw = pdf_with_to_unicode(b"<41> <D800>\n<42> <0053>\n<43> <0053>\n<44> <004F>\n", b"BCDA")
    assert read_one(raw, "glyphs.pdf") == "SSO"


# ---- front matter (.txt, .md, .docx, .pdf) -----------------------------------------------------------------------------
def alias_bomb(levels: int) -> bytes:
    """Front matter whose YAML aliases repeat a list of ten ten times per level: 10**levels values in a few hundred
    bytes."""
    lines = ["---", "a0: &a0 [" + ",".join(['"lol"'] * 10) + "]"]
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines + ["---", "SSO fails for new hires."]).encode()


def test_front_matter_aliases_are_not_expanded_into_millions_of_values():
    """388 bytes of front matter (7 levels) took 5.9 s and 431 MB to read; these 9 levels would need 8 GB: a worker
    killed by one small upload. Counted, aliases expanded, before any value is built."""
    raw = alias_bomb(9)
    assert len(raw) < 600
    error, seconds = timed(read_one, raw, "bomb.txt")
    assert isinstance(error, ReaderError), type(error)
    assert str(error) == ("bomb.txt:1: invalid front matter: more than 10,000 values (an alias, *name, repeats a whole "
                          "anchored value; write the fields out)")
    assert seconds < 1.0


def test_deeply_nested_front_matter_is_an_error_not_a_crash(client):
    """500 nested lists: PyYAML's RecursionError reached the caller (a 500 from the API, a traceback from the CLI)."""
    for depth, reason in ((500, "nested too deeply"), (40, "nested deeper than 32 levels")):
        raw = b"---\nmeta: " + b"[" * depth + b"]" * depth + b"\n---\nSSO fails."
        with pytest.raises(ReaderError) as info:
            read_one(raw, "deep.txt")
        assert str(info.value).startswith("deep.txt:1: invalid front matter: ") and reason in str(info.value)
    r = client.post(NOTES, data={"file": _files(("deep.md", b"---\na: " + b"[" * 500 + b"]" * 500 + b"\n---\nx"))},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and r.get_json()["error"]["details"]["unreadable"] == ["deep.md"]


def test_front_matter_may_still_use_an_alias_or_two():
    raw = b"---\naccount: &who Acme Logistics\ncontacts: [*who, Dana]\n---\nSSO fails."
    rows, _ = read_bytes(raw, "a.txt", ".txt")
    assert rows[0].data["account"] == "Acme Logistics" and rows[0].data["contacts"] == ["Acme Logistics", "Dana"]


# ---- one upload's documents together -------------------------------------------------------------------------------
def test_the_pdfs_of_one_upload_share_one_operation_budget(monkeypatch):
    """Each PDF within its own limit, a hundred of them were a hundred times that: the PDFs of one upload share
    twice the limit of one, as the .docx files share their unpacked size."""
    monkeypatch.setattr(documents, "MAX_PDF_ITEMS", 20_000)
    each = pdf_sharing_one_content_stream(1, b"BT /F1 12 Tf 72 720 Td (SSO fails.) Tj\n" + b"() Tj\n" * 7_000 + b"ET")
    loaded = load_uploads([Upload(f"call-{n}.pdf", each) for n in range(1, 5)], 100_000)
    assert [n.text for n in loaded.notes] == ["SSO fails."] * 2
    assert loaded.unreadable == ["call-3.pdf", "call-4.pdf"]
    assert [str(e) for e in loaded.errors] == [
        "call-3.pdf: the PDFs of this upload take more than 40,000 drawing operations to read together (by page 1 of "
        "1 of this one); send fewer at a time",
        "call-4.pdf: the PDFs of this upload take more than 40,000 drawing operations to read together; send fewer "
        "at a time"]


def test_the_docx_files_of_one_upload_share_one_item_budget(monkeypatch):
    monkeypatch.setattr(documents, "MAX_DOCX_ITEMS", 1_000)
    each = docx_with_body(b"<w:p/>" * 600 + para("SSO fails."))
    loaded = load_uploads([Upload(f"call-{n}.docx", each) for n in range(1, 6)], 100_000)
    assert [n.text for n in loaded.notes] == ["SSO fails."] * 3
    assert loaded.unreadable == ["call-4.docx", "call-5.docx"]
    assert [str(e) for e in loaded.errors] == [
        "call-4.docx: the document holds 602 paragraphs, runs, links and table cells, more than the .docx files of "
        "this upload may still hold together (194 of 2,000); send fewer at a time",
        # parsed, call-4 spent its share: call-5 is refused before python-docx parses it
        "call-5.docx: the .docx files of this upload hold more than 2,000 paragraphs, runs, links and table cells (or "
        "2,000,000 XML elements) together; send fewer at a time"]


def test_the_cli_reads_each_file_on_its_own_limits(monkeypatch, svc, tmp_path):
    """Not one upload: `feedback ingest` of a folder holds each file to its own limits only."""
    from service.ingest.store import load_paths

    monkeypatch.setattr(documents, "MAX_DOCX_ITEMS", 1_000)
    for n in range(1, 5):
        (tmp_path / f"call-{n}.docx").write_bytes(docx_with_body(b"<w:p/>" * 600 + para(f"SSO fails {n}.")))
    notes, errors = load_paths([str(tmp_path)], svc.config.MAX_NOTE_CHARS)
    assert errors == [] and len(notes) == 4


# ---- file names ---------------------------------------------------------------------------------------------------
def test_a_long_file_name_keeps_its_type():
    """Cut to 200 characters, "xxx....txt" lost its ".txt" and was refused as "unsupported file type ''"."""
    label = upload_name("meeting-notes-" + "x" * 250 + ".txt", 1)
    assert len(label) == 200 and label.endswith("….txt")


def test_a_long_file_name_uploads(client):
    r = client.post(NOTES, data={"file": _files(("notes-" + "x" * 250 + ".txt", b"SSO fails for new hires."))},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()


@pytest.mark.parametrize("given, label", [
    ("report\u202etxt.exe", "reporttxt.exe"),  # a right-to-left override would show "exe.txt" reversed
    ("a\u200bb.txt", "ab.txt"),  # zero-width space
    ("c\x85d\x9b.txt", "cd.txt"),  # C1 control characters (NEL, CSI)
])
def test_invisible_and_control_characters_are_dropped_from_names(given, label):
    assert upload_name(given, 1) == label


def test_two_files_of_one_name_are_told_apart():
    """Two "notes.txt" from two folders: the summary said "notes.txt: 2 notes" and an error "notes.txt:1" named
    either. The second is labelled as a browser saves a second download."""
    loaded = load_uploads([Upload("notes.txt", b"SSO fails."), Upload("notes.txt", b"Exports time out."),
                           Upload("notes.txt", b"")], 100_000)
    assert loaded.notes_per_file == {"notes.txt": 1, "notes (2).txt": 1, "notes (3).txt": 0}
    assert [str(e) for e in loaded.errors] == ["notes (3).txt:1 [text]: missing text"]


def test_two_files_of_one_name_on_the_page(client):
    r = client.post("/", data={"source": "call", "files": _files(("a/notes.txt", b"SSO fails."),
                                                                  ("b/notes.txt", b"Exports time out."))},
                    content_type="multipart/form-data")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "<li>notes.txt: 1 note</li>" in html and "<li>notes (2).txt: 1 note</li>" in html


def test_a_file_without_a_type_suffix_is_named_as_such():
    with pytest.raises(ReaderError) as info:
        read_bytes(b"SSO fails.", "notes", "")
    assert str(info.value) == ("notes: the file name has no type suffix; name it by its type: .txt, .md, .csv, .jsonl, "
                               ".vtt, .srt, .docx or .pdf")


def test_an_api_file_part_with_an_empty_file_name_is_named_as_such(client):
    r = client.post(NOTES, data={"file": (io.BytesIO(b"SSO fails."), "")}, content_type="multipart/form-data")
    assert r.status_code == 400
    assert r.get_json()["error"]["details"]["errors"][0]["reason"].startswith("the file name has no type suffix")


# ---- the API's multipart body ---------------------------------------------------------------------------------------
def _raw_multipart(client, parts: list[tuple[bytes, bytes]]):
    body = b"".join(b"--qa-boundary\r\n" + headers + b"\r\n\r\n" + data + b"\r\n" for headers, data in parts)
    return client.post(NOTES, data=body + b"--qa-boundary--\r\n",
                       content_type="multipart/form-data; boundary=qa-boundary")


def test_a_repeated_default_field_is_a_400_naming_it(client):
    """-F date=2026-11-20 -F date=2026-11-21 silently took the first."""
    r = client.post(NOTES, data={"file": _files(("n.txt", b"SSO fails.")), "date": ["2026-11-20", "2026-11-21"]},
                    content_type="multipart/form-data")
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert error["details"]["field"] == "date" and "'date' is given 2 times" in error["message"]
    assert _count(client) == 0


def test_a_default_field_sent_as_a_file_is_named_as_such(client):
    """curl -F account=@acme.txt: the account was called an "unknown part", though account is one of the fields."""
    r = client.post(NOTES, data={"file": _files(("n.txt", b"SSO fails.")), "account": (io.BytesIO(b"Acme"), "a.txt")},
                    content_type="multipart/form-data")
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert error["details"]["field"] == "account"
    assert error["message"] == "the part 'account' is a file; send account as a plain field (curl -F account=Acme)"


def test_a_multipart_body_that_cannot_be_read_is_not_called_empty(client):
    """A file name in Latin-1 (not UTF-8): Werkzeug drops the whole form, and the answer said "no files: send each
    file as a part named 'file'" to a caller who had."""
    r = _raw_multipart(client, [(b'Content-Disposition: form-data; name="file"; filename="caf\xe9.txt"', b"SSO fails.")])
    assert r.status_code == 400
    message = r.get_json()["error"]["message"]
    assert message.startswith("the multipart body could not be read") and "UTF-8" in message


def test_a_utf8_file_name_and_one_in_rfc_2231_form_are_read(client):
    r = _raw_multipart(client, [(b'Content-Disposition: form-data; name="file"; filename="caf\xc3\xa9.txt"', b"One."),
                                (b"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt",
                                 b"Two.")])
    assert r.status_code == 201 and r.get_json()["created"] == 2


def test_more_parts_than_werkzeug_parses_is_a_413_about_parts_not_bytes(client):
    """1,100 tiny files (a few kB): "request body is larger than the limit of 5,242,880 bytes" was false."""
    r = client.post(NOTES, data={"file": _files(*[(f"n{i}.txt", b"x") for i in range(1_100)])},
                    content_type="multipart/form-data")
    assert r.status_code == 413
    message = r.get_json()["error"]["message"]
    assert "more than 1,000 parts" in message and "bytes" not in message


def test_more_parts_than_werkzeug_parses_on_the_page(client):
    r = client.post("/", data={"source": "call", "files": _files(*[(f"n{i}.txt", b"x") for i in range(1_100)])},
                    content_type="multipart/form-data")
    assert r.status_code == 413
    html = r.get_data(as_text=True)
    assert "more than 1,000 parts" in html and "larger than the limit" not in html


# ---- the page: every error at once -----------------------------------------------------------------------------------
def test_a_bad_form_date_does_not_hide_the_pasted_notes_errors(client):
    """The form's date in the future refused the files at once, and the pasted note's own bad "Date:" line was not
    said until the next try."""
    r = client.post("/", data={"text": "Date: someday\nThe export is slow.", "source": "call", "date": "2099-01-01",
                               "files": _files(("crm.csv", b"text\nA\n"))}, content_type="multipart/form-data")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    errors = html[html.index('id="date-error"'):]
    assert errors.count("2099-01-01 is in the future") == 1
    assert "unparseable date &#39;someday&#39;" in errors
    assert _count(client) == 0


# ---- the same bytes through the CLI and an upload --------------------------------------------------------------------
def test_cli_and_upload_store_the_same_notes(make_app, run_cli, tmp_path):
    import json

    named = {
        "a.docx": make_docx(FRONT + ["Exports time out above 50k rows."], table=[["SSO", "Okta fails"]]),
        "b.pdf": make_pdf([["---", "id: p-1", "account: Initech", "date: 2026-11-21", "arr: 1200", "---",
                            "Okta SSO fails for users", "in two groups."]]),
        "c.txt": b"Onboarding took two weeks.",
        "crm.csv": b"id,account,date,text,deal_stage\nc-1,Globex,2026-11-18,SSO took weeks.,won\n",
        "t.vtt": b"WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Dana>The export times out.\n",
    }
    for name, data in named.items():
        (tmp_path / name).write_bytes(data)
    assert run_cli("ingest", *[str(tmp_path / n) for n in named]).exit_code == 0
    by_cli = json.loads(run_cli("notes", "list", "--json").output)["items"]
    client = make_app().test_client()
    assert client.post(NOTES, data={"file": _files(*named.items())}, content_type="multipart/form-data"
                       ).status_code == 201
    by_upload = client.get(f"{NOTES}?per_page=200").get_json()["items"]
    fields = ("id", "external_id", "text", "account", "date", "source", "meta")
    assert len(by_cli) == len(named)
    assert sorted(tuple(str(n.get(f)) for f in fields) for n in by_cli) == \
        sorted(tuple(str(n.get(f)) for f in fields) for n in by_upload)


def test_the_same_document_uploaded_four_times_at_once_is_stored_once(app):
    import threading

    raw = make_docx(FRONT + ["Exports time out above 50k rows."])
    statuses: list[int] = []

    def upload(client):
        r = client.post(NOTES, data={"file": _files(("a.docx", raw))}, content_type="multipart/form-data")
        statuses.append(r.status_code)

    threads = [threading.Thread(target=upload, args=(app.test_client(),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * 4
    assert _count(app.test_client()) == 1
