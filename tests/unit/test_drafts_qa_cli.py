"""QA pass on `feedback draft`: a row's id in a JSON Lines file must be a name or a number (it comes back to match
results to rows), request_id has one type on every result, and an empty question is named as such."""
from __future__ import annotations

import json

import pytest

from tests.unit.test_drafts_api import NOTES, ROOT, SNOWFLAKE


@pytest.fixture
def cli(run_cli, tmp_path):
    notes = tmp_path / "notes.jsonl"
    notes.write_text("\n".join(json.dumps(n) for n in NOTES) + "\n")
    assert run_cli("ingest", str(notes), "--quiet").exit_code == 0
    assert run_cli("roadmap", "import", str(ROOT / "service" / "sample_data" / "roadmap.json")).exit_code == 0
    return run_cli


@pytest.mark.parametrize("bad, kind", [({"x": 1}, "dict"), ([1, 2], "list"), (True, "bool"), (1.5, "float")])
def test_a_row_id_that_is_not_a_name_or_number_is_named_with_file_and_line(cli, tmp_path, bad, kind):
    rows = tmp_path / "questions.jsonl"
    rows.write_text(json.dumps({"id": "q-1", "question": SNOWFLAKE}) + "\n"
                    + json.dumps({"id": bad, "question": SNOWFLAKE}) + "\n")
    result = cli("draft", "--file", str(rows), "--json", "--no-llm")
    assert result.exit_code == 1
    assert f"{rows}:2 [id]: id must be a string or a whole number, got {kind}" in result.output
    assert "nothing was drafted" in result.output
    assert json.loads(cli("drafts", "list", "--json").output)["total"] == 0


def test_request_id_has_one_type_on_every_result(cli, tmp_path):
    plain = tmp_path / "questions.txt"
    plain.write_text(f"{SNOWFLAKE}\n{'x' * 4001}\n")
    result = cli("draft", "--file", str(plain), "--jsonl", "--no-llm")
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [r["request_id"] for r in out] == ["1", "2"] and "limit is 4,000" in out[1]["error"]


def test_an_empty_question_is_named_as_empty(cli):
    for question in ("", "   "):
        result = cli("draft", question, "--no-llm")
        assert result.exit_code == 2 and "question is required" in result.output
    assert "give a question or --file" in cli("draft", "--no-llm").output
