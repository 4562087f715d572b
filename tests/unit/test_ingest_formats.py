"""Each reader, the splitter's offsets, and validation errors that name file, line and field."""
from __future__ import annotations

import pytest

from service.ingest.readers import ReaderError, read_bytes, sniff_suffix
from service.ingest.split import split_statements, split_with_speakers
from service.ingest.store import load_paths
from service.ingest.validate import normalised_hash, parse_date, validate_row

from ..conftest import DATA


def test_jsonl_rows_keep_metadata_and_lines():
    notes, errors = load_paths([str(DATA / "notes.jsonl")], 100_000)
    assert errors == []
    assert [n.external_id for n in notes] == ["t-1", "t-2", "t-3"]
    assert notes[0].meta == {"arr": 120000}
    assert notes[0].origin.endswith("notes.jsonl:1")
    assert notes[1].source == "interview"
    assert notes[0].occurred_at.date().isoformat() == "2026-10-01"


def test_csv_other_columns_become_metadata():
    notes, errors = load_paths([str(DATA / "notes.csv")], 100_000)
    assert errors == []
    assert notes[0].text == "Exports time out on large datasets, again."
    assert notes[0].meta == {"deal_stage": "renewal"}
    assert notes[1].account == "Delta Freight"


def test_markdown_front_matter():
    (note,), errors = load_paths([str(DATA / "interview.md")], 100_000)
    assert errors == []
    assert note.external_id == "md-1" and note.account == "Echo Analytics" and note.source == "interview"
    assert note.meta == {"arr": 45000}
    assert note.text.startswith("The mobile view is broken")


def test_plain_text_is_one_note():
    (note,), errors = load_paths([str(DATA / "plain.txt")], 100_000)
    assert errors == [] and note.external_id is None and note.source == "other"


def test_vtt_keeps_speaker_turns():
    (note,), errors = load_paths([str(DATA / "call.vtt")], 100_000)
    assert errors == []
    assert note.source == "call" and note.speakers
    assert note.text.splitlines()[0].startswith("Dana Whitfield: Hi, thanks")
    segs = split_with_speakers(note.text)
    assert {s.speaker for s in segs} == {"Dana Whitfield", "Rep"}
    assert any("exports time out" in s.text for s in segs if s.speaker == "Dana Whitfield")
    for s in segs:
        assert note.text[s.start:s.end] == s.text


def test_srt_speakers():
    (note,), _ = load_paths([str(DATA / "call.srt")], 100_000)
    segs = split_with_speakers(note.text)
    assert [s.speaker for s in segs] == ["Customer", "Rep", "Rep"] or segs[0].speaker == "Customer"
    assert segs[0].text == "We need audit logs for our SOC 2 review."


def test_folder_is_read_recursively(tmp_path):
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    (sub / "one.txt").write_text("First note about exports.")
    (tmp_path / "two.md").write_text("Second note about Okta.")
    (tmp_path / "ignored.bin").write_bytes(b"\x00\x01")
    notes, errors = load_paths([str(tmp_path)], 100_000)
    assert errors == []
    assert sorted(n.text for n in notes) == ["First note about exports.", "Second note about Okta."]


def test_stdin_format_is_sniffed():
    assert sniff_suffix(b'{"text": "x"}\n') == ".jsonl"
    assert sniff_suffix(b"id,text\n1,hello\n") == ".csv"
    assert sniff_suffix(b"WEBVTT\n\n") == ".vtt"
    assert sniff_suffix(b"just words") == ".txt"


def test_malformed_jsonl_names_the_line(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"text": "good"}\n{"text": oops}\n{"text": ""}\n{"text": "x", "date": "not a date"}\n')
    notes, errors = load_paths([str(f)], 100_000)
    assert [e.line for e in errors] == [2, 3, 4]
    assert errors[0].reason.startswith("malformed JSON")
    assert errors[1].field == "text" and "missing" in errors[1].reason
    assert errors[2].field == "date" and "unparseable date" in errors[2].reason
    assert str(errors[0]).startswith(f"{f}:2")


def test_malformed_csv_names_the_row(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text('id,text\n1,"fine"\n2,"unterminated\n')
    _, errors = load_paths([str(f)], 100_000)
    assert errors and errors[0].source == str(f) and "CSV" in errors[0].reason


def test_csv_without_text_column(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("id,body\n1,hello\n")
    _, errors = load_paths([str(f)], 100_000)
    assert errors[0].field == "text" and errors[0].line == 1


def test_undecodable_bytes(tmp_path):
    f = tmp_path / "latin.txt"
    f.write_bytes("caf\xe9 notes".encode("latin-1"))
    _, errors = load_paths([str(f)], 100_000)
    assert "undecodable" in errors[0].reason and "UTF-8" in errors[0].reason


def test_text_over_limit_is_rejected():
    note, errors = validate_row({"text": "x" * 101}, "request", 3, max_chars=100)
    assert note is None and errors[0].line == 3 and errors[0].field == "text" and "limit" in errors[0].reason


def test_unknown_source_and_synonyms():
    _, errors = validate_row({"text": "hi there", "source": "carrier pigeon"}, "f", 1)
    assert errors[0].field == "source"
    note, _ = validate_row({"text": "hi there", "source": "Support Ticket"}, "f", 1)
    assert note.source == "ticket"


def test_missing_file_is_an_error():
    _, errors = load_paths(["/nonexistent/notes.csv"], 100_000)
    assert errors[0].reason == "no such file or folder"


def test_unsupported_type():
    with pytest.raises(ReaderError) as info:
        read_bytes(b"x", "notes.xlsx", ".xlsx")
    assert "unsupported file type" in str(info.value)


def test_split_offsets_are_exact_slices():
    text = "Hi team!  Exports time out, e.g. on 50k rows. Okta? \n\nAlso SCIM.\nOk"
    segs = split_statements(text)
    assert [s.text for s in segs] == ["Hi team!", "Exports time out, e.g. on 50k rows.", "Okta?", "Also SCIM."]
    for s in segs:
        assert text[s.start:s.end] == s.text


def test_a_text_of_invisible_characters_is_missing():
    for text in ("\ufeff", "\u200b \ufeff\n"):
        note, errors = validate_row({"text": text}, "f.jsonl", 4)
        assert note is None and [(e.line, e.field, e.reason) for e in errors] == [(4, "text", "missing text")]


def test_normalised_hash_ignores_case_and_punctuation():
    assert normalised_hash("Exports time out!") == normalised_hash("  exports   TIME out ")
    assert normalised_hash("Exports time out") != normalised_hash("Exports are fine")


def test_parse_date_formats():
    assert parse_date("2026-11-27").isoformat() == "2026-11-27T00:00:00"
    assert parse_date("2026-11-27T10:00:00Z").hour == 10
    with pytest.raises(ValueError):
        parse_date("last tuesday")


def test_spreadsheet_headers_in_any_case_are_the_note_fields(tmp_path):
    # Excel-style capitalised headers: "Account" and "Date" were metadata, so the account and date were lost.
    f = tmp_path / "export.csv"
    f.write_bytes(b'\xef\xbb\xbfText,Account,Date,Source,Deal Stage\r\n"Need SSO.\r\nAnd SCIM.",Wayne Corp,2026-03-01,'
                  b'Call,renewal\r\n')
    (note,), errors = load_paths([str(f)], 100_000)
    assert errors == []
    assert (note.text, note.account, note.source) == ("Need SSO.\r\nAnd SCIM.", "Wayne Corp", "call")
    assert note.occurred_at.date().isoformat() == "2026-03-01" and note.meta == {"Deal Stage": "renewal"}
    md = tmp_path / "call.md"
    md.write_text("---\nAccount: Stark\nDATE: 2026-03-02\n---\nWants offline mode.\n")
    (note,), errors = load_paths([str(md)], 100_000)
    assert errors == [] and note.account == "Stark" and note.meta == {}


def test_a_column_named_twice_is_an_error_not_a_silent_overwrite(tmp_path):
    f = tmp_path / "dup.csv"
    f.write_text("id,text,Account,account\n1,hello there,A,B\n")
    notes, errors = load_paths([str(f)], 100_000)
    assert notes == [] and [str(e) for e in errors] == [
        f"{f}:1 [account]: the header names 'account' twice (columns 3 and 4); rename or remove one"]
    md = tmp_path / "dup.md"
    md.write_text("---\nAccount: A\naccount: B\n---\nhello there\n")
    _, errors = load_paths([str(md)], 100_000)
    assert [(e.line, e.field) for e in errors] == [(3, "account")]


@pytest.mark.parametrize("header, name", [("id;account;text", "';'"), ("id\taccount\ttext", "tabs")])
def test_a_csv_file_separated_otherwise_says_so(tmp_path, header, name):
    # The file said "the header row must name a 'text' column" of a header that does name one.
    f = tmp_path / "excel.csv"
    f.write_text(f"{header}\n1;Acme;hello\n")
    _, errors = load_paths([str(f)], 100_000)
    assert errors[0].line == 1 and f"separated by {name}" in errors[0].reason


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_files_with_a_byte_order_mark_are_read(tmp_path, encoding):
    # What Windows PowerShell's `>` and Excel's "Unicode Text" write; it was refused as undecodable bytes.
    body = "id,text,account\r\nps1,Bulk export please,Contoso\r\n"
    raw = body.encode(encoding) if encoding != "utf-16-be" else b"\xfe\xff" + body.encode("utf-16-be")
    f = tmp_path / "notes.csv"
    f.write_bytes(raw)
    (note,), errors = load_paths([str(f)], 100_000)
    assert errors == [] and (note.external_id, note.text, note.account) == ("ps1", "Bulk export please", "Contoso")
    assert sniff_suffix(raw) == ".csv"


def test_a_binary_file_of_an_unsupported_type_is_named_as_such(tmp_path):
    f = tmp_path / "deck.pptx"
    f.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xe2\xe3\xcf\xd3\x00\xff")
    _, errors = load_paths([str(f)], 100_000)
    assert [str(e) for e in errors] == [f"{f}: unsupported file type '.pptx'; use one of .txt, .md, .csv, .jsonl, "
                                        ".vtt, .srt, .docx, .pdf"]


def test_vtt_voice_classes_timestamps_and_escapes_are_read_as_words():
    # "<v.loud Dana>" lost its speaker, a karaoke timestamp stayed in the text and "&amp;" was stored as written.
    body = ("WEBVTT - call\n\n00:01.000 --> 00:04.000 align:start\n<v.loud Dana Whitfield>We need R&amp;D "
            "<00:00:02.000>exports&nbsp;faster &lt;3</v>\n\n00:05.000 --> 00:06.000\n<v Rep>Sure.\n")
    (row,), errors = read_bytes(body.encode(), "call.vtt", ".vtt")
    assert errors == [] and row.data["text"] == "Dana Whitfield: We need R&D exports faster <3\nRep: Sure."
    with pytest.raises(ReaderError, match="must start with 'WEBVTT'"):
        read_bytes(b"WEBVTTX\n\n00:01.000 --> 00:04.000\nhi\n", "x.vtt", ".vtt")
