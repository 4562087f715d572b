"""A missing input file ends every command the same way: exit code 1 and one line naming the file (docs/getting-
started.md: "1 the command ran and failed (bad input in a file ..., not found"), whether the file is an argument or an
option's value."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("args", [
    ("ingest", "{missing}"),
    ("roadmap", "import", "{missing}"),
    ("match", "--file", "{missing}"),
    ("draft", "--file", "{missing}"),
    ("drafts", "rate", "1", "--up", "--edited", "{missing}"),
])
def test_a_missing_input_file_exits_1_naming_it(run_cli, tmp_path, args):
    missing = tmp_path / "nowhere" / "input.jsonl"
    result = run_cli(*(a.format(missing=missing) for a in args))
    assert result.exit_code == 1, result.output
    assert "input.jsonl" in result.stderr and "Traceback" not in result.output


def test_a_row_id_that_is_not_a_number_is_named_as_an_id(run_cli):
    result = run_cli("reports", "show", "abc")
    assert result.exit_code == 2 and "'abc' is not a valid id (a whole number)" in result.output
    assert "integer range" not in result.output
