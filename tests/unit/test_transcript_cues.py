"""Transcript cues whose words were lost without a word: a cue with timings the reader cannot read (now an error on
its line, and nothing of the file is stored), and the later lines of a cue with a voice span (now that speaker's)."""
from __future__ import annotations

import json

import pytest

from service.ingest.readers import ReaderError, read_bytes
from service.ingest.store import load_paths


def _text(body: str, kind: str = ".vtt") -> str:
    (row,), errors = read_bytes(body.encode("utf-8"), f"call{kind}", kind)
    assert errors == [] and row.speakers and row.default_source == "call"
    return row.data["text"]


def _errors(body: str, kind: str = ".vtt") -> list[str]:
    with pytest.raises(ReaderError) as info:
        read_bytes(body.encode("utf-8"), f"call{kind}", kind)
    return [str(e) for e in info.value.errors]


def test_a_voice_covers_every_line_of_its_cue_and_each_line_may_name_its_own():
    # the second line was stored without a speaker
    body = ("WEBVTT\n\n00:01.000 --> 00:04.000\n<v Dana>We use Okta.\nSSO is a must.\n\n"
            "00:05.000 --> 00:06.000\n<v Rep>Noted.\n<v Dana>Thanks.\n\n00:07.000 --> 00:08.000\nAnna: Bye.\n")
    assert _text(body) == "Dana: We use Okta. SSO is a must.\nRep: Noted.\nDana: Thanks.\nAnna: Bye."


def test_a_voice_and_entities_in_its_name_and_a_wrapped_sentence_read_as_before():
    body = ("WEBVTT\n\n00:01.000 --> 00:02.000\n<v.loud Zo&euml; O&#39;Neil>our exports\n\n"
            "00:02.000 --> 00:03.000\n<v Zo&euml; O&#39;Neil>keep <b>failing</b> &amp; hanging.\n")
    assert _text(body) == "Zoë O'Neil: our exports keep failing & hanging."


def test_srt_text_with_angle_brackets_that_are_not_tags_is_kept():
    body = "1\n00:00:01,000 --> 00:00:03,000\nCustomer: latency < 200ms and > 100 is fine.\n"
    assert _text(body, ".srt") == "Customer: latency < 200ms and > 100 is fine."


@pytest.mark.parametrize("body, kind, expected", [
    ("WEBVTT\n\n00:01.000 --> 00:02.000\nfine\n\n00:03 --> 00:04\nlost words\n", ".vtt",
     ["call.vtt:6: cue timings '00:03 --> 00:04' could not be read; write them as "
      "00:00:01.000 --> 00:00:04.000"]),
    ("1\n00:00:01,000 --> 00:00:02,000\nfine\n\n2\n00:00:03 --> 00:00:04,000\nlost words\n\n"
     "3\n0:0:5 --> 0:0:6\nmore\n", ".srt",
     ["call.srt:6: cue timings '00:00:03 --> 00:00:04,000' could not be read; write them as "
      "00:00:01,000 --> 00:00:04,000",
      "call.srt:10: cue timings '0:0:5 --> 0:0:6' could not be read; write them as 00:00:01,000 --> 00:00:04,000"]),
])
def test_a_cue_whose_timings_cannot_be_read_is_an_error_on_its_line(body, kind, expected):
    # its words were skipped as if they were a cue number or a NOTE block
    assert _errors(body, kind) == expected


def test_an_arrow_inside_a_cues_words_is_words():
    body = "1\n00:00:01,000 --> 00:00:03,000\nCustomer: Click Settings --> Export and it hangs.\n"
    assert _text(body, ".srt") == "Customer: Click Settings --> Export and it hangs."


def test_a_transcript_with_an_unreadable_cue_stores_nothing(tmp_path, run_cli):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"id": "n1", "text": "Exports time out on big reports."}\n')
    (folder / "b.vtt").write_text("WEBVTT\n\n00:01.000 --> 00:02.000\n<v Dana>Hi.\n\n00:03 --> 00:04\n"
                                  "<v Dana>We need SSO.\n")
    notes, errors = load_paths([str(folder)], 100_000)
    assert [(e.source, e.line) for e in errors] == [(str(folder / "b.vtt"), 6)]
    result = run_cli("ingest", str(folder))
    assert result.exit_code == 1 and f"{folder / 'b.vtt'}:6: cue timings" in result.output, result.output
    assert json.loads(run_cli("notes", "list", "--json").output)["items"] == []
