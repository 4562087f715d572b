"""`feedback draft` and `feedback drafts list|show|rate` through the real CLI, in-process, on a temp home."""
from __future__ import annotations

import json

import pytest

from tests.unit.test_drafts_api import NOTES, ROOT, SNOWFLAKE


@pytest.fixture
def cli(run_cli, tmp_path):
    notes = tmp_path / "notes.jsonl"
    notes.write_text("\n".join(json.dumps(n) for n in NOTES) + "\n")
    assert run_cli("ingest", str(notes), "--quiet").exit_code == 0
    result = run_cli("roadmap", "import", str(ROOT / "service" / "sample_data" / "roadmap.json"))
    assert result.exit_code == 0, result.output
    return run_cli


def test_draft_one_question_as_json_and_text(cli):
    result = cli("draft", SNOWFLAKE, "--account", "Acme Logistics", "--json", "--no-llm")
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    assert d["verdict"] == "in_progress" and d["cited_item_ids"] == ["RM-105"] and d["mode"] == "grounded-template"
    assert d["evidence"][0]["account"] == "Acme Logistics"
    text = cli("draft", SNOWFLAKE, "--audience", "internal", "--no-llm")
    assert text.exit_code == 0 and "RM-105" in text.output and "verdict in_progress" in text.output


def test_draft_file_jsonl_and_plain_lines(cli, tmp_path):
    rows = tmp_path / "questions.jsonl"
    rows.write_text(json.dumps({"id": "q-1", "question": SNOWFLAKE, "account": "Acme Logistics"}) + "\n"
                    + json.dumps({"id": "q-2", "text": "Can you cater our offsite lunch next week?", "audience": "internal"}) + "\n"
                    + json.dumps({"id": "q-3", "question": ""}) + "\n")
    result = cli("draft", "--file", str(rows), "--json", "--no-llm")
    assert result.exit_code == 1  # one row had no question; the others were still drafted
    out = json.loads(result.output)
    assert [r["request_id"] for r in out] == [r["id"] for r in out] == ["q-1", "q-2", "q-3"]
    assert isinstance(out[0]["draft_id"], int) and out[0]["draft_id"] != out[1]["draft_id"]  # the stored rows
    assert out[0]["verdict"] == "in_progress" and out[1]["audience"] == "internal" and out[1]["cited_item_ids"] == []
    assert "question is required" in out[2]["error"]
    plain = tmp_path / "questions.txt"
    plain.write_text(f"{SNOWFLAKE}\n\n# a comment\nIs there a native iPhone app?\n")
    lines = cli("draft", "--file", str(plain), "--jsonl", "--no-llm")
    assert lines.exit_code == 0
    parsed = [json.loads(line) for line in lines.output.splitlines()]
    assert [p["question"] for p in parsed] == [SNOWFLAKE, "Is there a native iPhone app?"]


def test_drafts_list_show_and_rate(cli, tmp_path):
    first = json.loads(cli("draft", SNOWFLAKE, "--json", "--no-llm").output)
    listing = json.loads(cli("drafts", "list", "--json").output)
    assert listing["total"] == 1 and listing["items"][0]["id"] == first["id"]
    edited = tmp_path / "sent.txt"
    edited.write_text("What I actually sent.")
    assert cli("drafts", "rate", str(first["id"]), "--up", "--comment", "good").exit_code == 0
    assert cli("drafts", "rate", str(first["id"]), "--score", "2", "--edited", str(edited)).exit_code == 0
    shown = json.loads(cli("drafts", "show", str(first["id"]), "--json").output)
    assert shown["text"] == first["text"]
    assert [(f["rating"], f["comment"], f["edited_text"]) for f in shown["feedback"]] == [
        ("up", "good", None), (2, None, "What I actually sent.")]
    assert all(f["by"].startswith("cli:") for f in shown["feedback"])  # who rated: the login name


def test_cli_usage_errors(cli):
    assert cli("draft").exit_code == 2
    assert cli("draft", "x" * 4001, "--no-llm").exit_code == 2
    assert cli("drafts", "show", "999").exit_code == 1  # a well-formed id no draft has
    for args in (("drafts", "show", "abc"), ("drafts", "rate", "abc", "--up"), ("drafts", "show", "0")):
        result = cli(*args)  # not an id at all: a usage error naming the argument, as themes and reports say it
        assert result.exit_code == 2 and "Invalid value for 'DRAFT_ID'" in result.output, (args, result.output)
    assert cli("drafts", "rate", "1").exit_code == 2  # neither --up, --down nor --score
    assert cli("draft", "Is there SSO?", "--audience", "board").exit_code == 2
