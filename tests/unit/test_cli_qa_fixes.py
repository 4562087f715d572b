"""Regressions from a QA pass of the CLI and ingest: each test names the problem it keeps fixed."""
from __future__ import annotations

import json

import pytest

from service.ingest.readers import ReaderError, read_bytes, sniff_suffix
from service.ingest.store import ingest, load_paths

from .test_followups import NOTES as ASKS, ROADMAP, SHIPPED


def _write(tmp_path, name: str, body: str | bytes):
    path = tmp_path / name
    path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    return path


def _stored(run_cli) -> dict[str, dict]:
    return {n["id"]: n for n in json.loads(run_cli("notes", "list", "--json").output)["items"]}


# 1. front matter typed by YAML as date, set or binary ---------------------------------------------------------------
def test_front_matter_dates_and_sets_are_stored_as_json_and_binary_names_line_and_field(tmp_path, run_cli):
    folder = tmp_path / "notes"
    folder.mkdir()
    _write(folder, "a.md", "---\nid: md1\nmeeting_on: 2026-11-02\nat: 2026-11-02 10:30:00\ntags: !!set {b, a}\n---\n"
                           "The export keeps timing out on big accounts.\n")
    _write(folder, "b.md", "---\nid: md2\nblob: !!binary aGVsbG8=\n---\nAnother note body.\n")
    _write(folder, "c.csv", "id,text\ng1,Dashboards load slowly.\n")
    (rows,), _ = read_bytes((folder / "a.md").read_bytes(), "a.md", ".md")
    assert rows.data["meeting_on"] == "2026-11-02" and rows.data["at"] == "2026-11-02T10:30:00"
    assert rows.data["tags"] == ["a", "b"]
    with pytest.raises(ReaderError) as info:
        read_bytes((folder / "b.md").read_bytes(), "b.md", ".md")
    assert str(info.value.errors[0]).startswith("b.md:3 [blob]: a binary")

    result = run_cli("ingest", str(folder), "--skip-invalid")
    assert result.exit_code == 0 and "created 2" in result.stdout, result.output
    assert "b.md:3 [blob]" in result.stderr and "StatementError" not in result.output
    stored = _stored(run_cli)
    assert set(stored) == {"md1", "g1"} and stored["md1"]["metadata"]["meeting_on"] == "2026-11-02"


def test_front_matter_date_goes_through_a_background_ingest(tmp_path, run_cli):
    note = _write(tmp_path, "x.md", "---\nid: md1\nmeeting_on: 2026-11-02\n---\nbody of the note\n")
    assert run_cli("ingest", str(note), "--background").exit_code == 0
    assert run_cli("worker", "--burst").exit_code == 0
    assert _stored(run_cli)["md1"]["metadata"] == {"meeting_on": "2026-11-02"}


# 2. one visible id, one note ----------------------------------------------------------------------------------------
def test_an_id_equal_to_a_generated_id_updates_that_note(tmp_path, run_cli):
    assert run_cli("ingest", str(_write(tmp_path, "a.txt", "Exports are slow."))).exit_code == 0
    (generated,) = _stored(run_cli)
    again = _write(tmp_path, "b.jsonl", json.dumps({"id": generated, "text": "Exports are slow for everyone."}))
    result = run_cli("ingest", str(again))
    assert "created 0, updated 1" in result.stdout
    stored = _stored(run_cli)
    assert list(stored) == [generated] and stored[generated]["text"] == "Exports are slow for everyone."


def test_a_generated_id_never_takes_a_number_used_as_an_external_id(svc, tmp_path):
    # Note 1 is "2" externally, so the next note without an id must not be shown as 2 as well.
    for name, body in (("a.jsonl", '{"id": "2", "text": "An external note."}'), ("b.txt", "A plain note."),
                       ("c.txt", "Another plain note.")):
        notes, errors = load_paths([str(_write(tmp_path, name, body))], 100_000)
        ingest(svc, notes, errors, skip_invalid=False)
    from service.models import Note

    with svc.db.session() as s:
        shown = [n.public_id for n in s.query(Note).all()]
    assert sorted(shown) == sorted(set(shown)) and len(shown) == 3


# 3. follow-ups: all accounts or none ---------------------------------------------------------------------------------
def test_told_marks_every_account_or_none(run_cli, tmp_path):
    files = {"notes.jsonl": "\n".join(json.dumps(n) for n in ASKS), "roadmap.json": json.dumps(ROADMAP),
             "later.json": json.dumps(SHIPPED)}
    paths = {name: _write(tmp_path, name, body) for name, body in files.items()}
    assert run_cli("ingest", str(paths["notes.jsonl"])).exit_code == 0
    assert run_cli("roadmap", "import", str(paths["roadmap.json"])).exit_code == 0
    assert run_cli("roadmap", "import", str(paths["later.json"])).exit_code == 0
    bad = run_cli("followups", "RM-104", "--told", "Velo Commerce", "--told", "Nobody Inc")
    assert bad.exit_code == 1 and "'Nobody Inc' has not asked" in bad.stderr and "nothing was marked" in bad.stderr
    after = json.loads(run_cli("followups", "RM-104", "--json", "--no-drafts").output)
    assert after["told"] == [] and "Velo Commerce" in [a["account"] for a in after["accounts"]]
    assert json.loads(run_cli("drafts", "list", "--json").output)["total"] == 0
    good = run_cli("followups", "RM-104", "--told", "Velo Commerce", "--told", "Acme Logistics", "--json")
    assert [m["account"] for m in json.loads(good.output)["told"]] == ["Velo Commerce", "Acme Logistics"]


# 5. CSV: every bad row, and the good ones kept -------------------------------------------------------------------
def test_csv_names_every_malformed_row_and_skip_invalid_keeps_the_rest(tmp_path, run_cli):
    path = _write(tmp_path, "bad.csv", 'id,text\ng1,First good row.\ng2,too,many\ng3,Third good row.\ng4\n'
                                       'g5,"bad"quote\ng6,Sixth good row.\n')
    notes, errors = load_paths([str(path)], 100_000)
    assert [n.external_id for n in notes] == ["g1", "g3", "g6"]
    assert [e.line for e in errors] == [3, 5, 6] and "more" in errors[0].reason and "fewer" in errors[1].reason
    strict = run_cli("ingest", str(path))
    assert strict.exit_code == 1 and all(f"bad.csv:{n}" in strict.stderr for n in (3, 5, 6))
    assert run_cli("ingest", str(path), "--skip-invalid").exit_code == 0
    assert set(_stored(run_cli)) == {"g1", "g3", "g6"}


def test_a_csv_field_over_the_csv_modules_limit_gets_the_note_length_message(tmp_path):
    path = _write(tmp_path, "big.csv", 'id,text\nbig,"' + "word " * 28_000 + '"\n')
    _, errors = load_paths([str(path)], 100_000)
    assert [(e.line, e.field) for e in errors] == [(2, "text")]
    assert errors[0].reason == "text has 139,999 characters; the limit is 100,000"


# 6. JSON Lines split on line ends only ---------------------------------------------------------------------------
def test_jsonl_strings_may_hold_unicode_line_separators(tmp_path):
    text = "Exports\u2028time out\u2029every day\u0085again."
    body = json.dumps({"id": "ls1", "text": text}, ensure_ascii=False) + "\r\n" + '{"id": "ls2", "text": "ok"}\n'
    notes, errors = load_paths([str(_write(tmp_path, "ls.jsonl", body))], 100_000)
    assert errors == [] and [n.text for n in notes] == [text, "ok"]


# 7. standard input read as the file would be --------------------------------------------------------------------
@pytest.mark.parametrize("body, suffix", [
    (b"id,text\r\nc1,CRLF row one.\r\nc2,CRLF row two.\r\n", ".csv"),
    (b'"id","text"\n"q1","Quoted header."\n', ".csv"),
    (b"\xef\xbb\xbfid,text\n1,hello\n", ".csv"),
    (b"1\n00:00:01,000 --> 00:00:02,000\nAnna: We need SSO.\n", ".srt"),
    (b"We talked about text, and more text.\nNo table here.", ".txt"),
])
def test_stdin_format_is_sniffed_like_a_file(body, suffix):
    assert sniff_suffix(body) == suffix


@pytest.mark.parametrize("body", [b'[{"text": "a"}]', b"id;text\n1;hello\n", b"id\ttext\n1\thello\n"])
def test_structured_stdin_we_cannot_read_is_an_error_not_one_note(body):
    with pytest.raises(ReaderError) as info:
        sniff_suffix(body)
    assert "--format txt" in str(info.value)


def test_stdin_through_the_cli(run_cli):
    crlf = run_cli("ingest", "-", input=b"id,text\r\nc1,CRLF row one.\r\nc2,CRLF row two.\r\n")
    assert crlf.exit_code == 0 and "created 2" in crlf.stdout
    array = run_cli("ingest", "-", input=b'[{"text": "a note"}]')
    assert array.exit_code == 1 and "stdin:1: this looks like a JSON array" in array.stderr
    forced = run_cli("ingest", "-", "--format", "txt", input=b'[{"text": "a note"}]')
    assert forced.exit_code == 0 and "created 1" in forced.stdout
    assert set(_stored(run_cli)) >= {"c1", "c2"} and len(_stored(run_cli)) == 3
    assert run_cli("ingest", "notes.csv", "--format", "csv").exit_code == 2  # --format is for standard input


# 11. ids beyond SQL's INTEGER ------------------------------------------------------------------------------------
def test_theme_edit_ids_out_of_range_are_usage_errors(run_cli, svc):
    huge = "99999999999999999999"
    for args in (("themes", "merge", "16", "--into", huge), ("themes", "move", huge, "--to", "1"),
                 ("themes", "rename", huge, "x"), ("themes", "hide", huge)):
        result = run_cli(*args)
        assert result.exit_code == 2 and "OverflowError" not in result.output and "range" in result.output
    from service.themes.edits import ThemeEditError, record

    with svc.db.session() as s, pytest.raises(ThemeEditError) as info:
        record(s, "merge", "pm", theme_id=int(huge), target_id=1)
    assert info.value.field == "theme_id"
    with svc.db.session() as s, pytest.raises(ThemeEditError):
        record(s, "move", "pm", statement_ids=[int(huge)], target_id=None)


# 12. output and input files named before any work ----------------------------------------------------------------
def test_report_out_is_checked_before_the_report_is_stored(run_cli, tmp_path):
    result = run_cli("report", "--out", str(tmp_path / "missing" / "r.md"))
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert json.loads(run_cli("reports", "list", "--json").output)["total"] == 0
    folder = run_cli("report", "--out", str(tmp_path))
    assert folder.exit_code == 2 and json.loads(run_cli("reports", "list", "--json").output)["total"] == 0
    assert run_cli("reports", "show", "1", "--out", str(tmp_path / "missing" / "r.md")).exit_code == 2


def test_drafts_rate_edited_file_that_is_not_utf8_names_the_file(run_cli, tmp_path):
    latin = _write(tmp_path, "latin1.txt", "caf\xe9 ok".encode("latin-1"))
    result = run_cli("drafts", "rate", "1", "--up", "--edited", str(latin))
    assert result.exit_code == 1 and f"{latin}:1: undecodable bytes" in result.stderr
    assert "UnicodeDecodeError" not in result.output


# 13. dates in the future -----------------------------------------------------------------------------------------
def test_a_future_date_is_rejected_with_its_place_unless_allowed(tmp_path, run_cli):
    path = _write(tmp_path, "fut.jsonl", '{"id": "a", "text": "Fine note.", "date": "2026-01-05"}\n'
                                         '{"id": "b", "text": "Mistyped year.", "date": "2062-11-20"}\n')
    result = run_cli("ingest", str(path))
    assert result.exit_code == 1 and "fut.jsonl:2 [date]: 2062-11-20 is in the future" in result.stderr
    assert "--allow-future" in result.stderr and _stored(run_cli) == {}
    assert run_cli("ingest", str(path), "--allow-future").exit_code == 0
    assert set(_stored(run_cli)) == {"a", "b"}


def test_the_trend_window_is_not_anchored_on_a_future_note(svc):
    from datetime import datetime

    from service.ingest.store import ingest_notes
    from service.ingest.validate import NoteInput
    from service.themes.run import RunOptions, run_themes

    from .test_theme_determinism import TOPICS, _notes

    notes = _notes(TOPICS)
    for note in notes:
        note.occurred_at = datetime(2026, 6, 10)
    notes[0].occurred_at = datetime(2062, 11, 20)
    ingest_notes(svc, notes + [NoteInput(text="Okta sso login is missing for us too.", external_id="late",
                                         account="Acme", occurred_at=datetime(2026, 6, 12))])
    window = run_themes(svc, RunOptions(include_all=True, use_llm=False))["trend_window"]
    assert "2062" not in window and "2026-06-12" in window


# 14. smaller ones ------------------------------------------------------------------------------------------------
@pytest.fixture
def themed(svc):
    from service.ingest.store import ingest_notes
    from service.themes.run import RunOptions, run_themes

    from .test_theme_determinism import TOPICS, _notes

    ingest_notes(svc, _notes(TOPICS))
    return svc, [t["id"] for t in run_themes(svc, RunOptions(include_all=True, use_llm=False))["themes"]]


def test_theme_edits_say_which_way_round_and_what_they_do(themed):
    from service.themes.edits import ThemeEditError, edit_and_rerun

    svc, (a, b, c, *_) = themed
    assert edit_and_rerun(svc, "merge", "pm", theme_id=a, target_id=b)["notices"] == []
    with pytest.raises(ThemeEditError, match=f"theme {a} is already part of theme {b}"):
        edit_and_rerun(svc, "merge", "pm", theme_id=b, target_id=a)
    with pytest.raises(ThemeEditError, match=f"theme {a} was merged into theme {b}; rename theme {b} instead") as info:
        edit_and_rerun(svc, "rename", "pm", theme_id=a, label="New name")
    assert info.value.status == 409
    edit_and_rerun(svc, "hide", "pm", theme_id=c)
    out = edit_and_rerun(svc, "merge", "pm", theme_id=b, target_id=c)
    assert out["notices"] == [f"theme {c} is hidden, so theme {b} is hidden with it now (unhide theme {c} to show both)"]


def test_match_and_drafts_options(run_cli, tmp_path):
    requests = _write(tmp_path, "req.jsonl", '{"id": "r1", "text": "SSO please"}\n{"id": "r2", "text": "  "}\n')
    empty = run_cli("match", "--file", str(requests))
    assert empty.exit_code == 1 and "req.jsonl:2 [text]: the request text is empty" in empty.stderr
    assert run_cli("match", "").exit_code == 2
    nan = run_cli("match", "SSO please", "--min-score", "nan")
    assert nan.exit_code == 2 and "from 0 to 1" in nan.stderr
    both = run_cli("drafts", "rate", "1", "--up", "--down")
    assert both.exit_code == 2 and "exactly one of --up, --down or --score" in both.stderr
    questions = _write(tmp_path, "q.jsonl", '{"id": "q1", "question": 123}\n')
    typed = run_cli("draft", "--file", str(questions), "--no-llm")
    assert typed.exit_code == 1 and "q.jsonl:1 [question]: question must be a string, got int" in typed.stderr
    assert run_cli("draft", "   ", "--no-llm").exit_code == 2


def test_a_folder_without_notes_is_an_error(run_cli, tmp_path):
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    _write(tmp_path / "docs" / "sub", "slides.pptx", b"PK\x03\x04")
    result = run_cli("ingest", str(tmp_path / "docs"))
    assert result.exit_code == 1 and "no files to ingest in this folder" in result.stderr


def test_brief_of_an_account_without_notes(run_cli, tmp_path):
    path = _write(tmp_path, "one.jsonl", '{"id": "only", "account": "Lonely Co", "text": "We need SSO."}\n')
    assert run_cli("ingest", str(path)).exit_code == 0 and run_cli("notes", "delete", "only").exit_code == 0
    out = run_cli("brief", "Lonely Co")
    assert out.exit_code == 0 and "None" not in out.output and "0 notes, nothing heard yet" in out.output


def test_a_closed_pipe_ends_quietly(cli_env):
    from click.testing import CliRunner

    from service.cli import cli

    @cli.command("_pipe_test")
    def _pipe_test():
        raise BrokenPipeError(32, "Broken pipe")

    try:
        result = CliRunner().invoke(cli, ["_pipe_test"])
    finally:
        cli.commands.pop("_pipe_test")
    assert result.exit_code == 1 and "error" not in result.output


def test_exit_codes_follow_clicks_convention(run_cli):
    assert run_cli("jobs", "show", "x").exit_code == 1  # not found
    assert run_cli("notes", "show", "x").exit_code == 1
    assert run_cli("match", "  ").exit_code == 2  # an argument no command can use
    assert run_cli("draft", "  ", "--no-llm").exit_code == 2
