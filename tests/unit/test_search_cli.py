"""`feedback search`: the --json shape, the human blocks, and usage errors (exit 2) naming the option."""
from __future__ import annotations

import json

from .test_search import FILLER, NOTES


def _seed(run_cli, tmp_path, notes=NOTES):
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join(json.dumps(n) for n in notes) + "\n")
    result = run_cli("ingest", "-q", str(path))
    assert result.exit_code == 0, result.output


def test_search_json_shape(run_cli, tmp_path):
    _seed(run_cli, tmp_path)
    result = run_cli("search", "SCIM provisioning", "--ranking", "hybrid", "--limit", "3", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert set(body) == {"query", "results", "total_candidates", "limit", "offset", "ranking", "notices", "floor",
                         "total_related"}
    assert body["limit"] == 3 and len(body["results"]) == 3 and body["ranking"] == "hybrid"
    top = body["results"][0]
    assert top["note_id"] == "n-2" and top["account"] == "Globex" and "SCIM" in top["text"]
    assert set(top) >= {"statement_id", "date", "source", "score", "similarity", "related", "matched_terms", "theme"}


def test_search_human_output_is_one_block_per_result(run_cli, tmp_path):
    _seed(run_cli, tmp_path)
    result = run_cli("search", "salesforce duplicates", "--account", "acme", "--ranking", "lexical")
    assert result.exit_code == 0, result.output
    assert "1. Acme Corp · 2026-" in result.output and "· note n-" in result.output
    assert '   "Salesforce duplicates again this week; RevOps cleans them up by hand."' in result.output
    assert "statements ranked (lexical)" in result.output


def test_search_on_an_empty_store_says_so(run_cli):
    result = run_cli("search", "SCIM")
    assert result.exit_code == 0 and "no statements to rank" in result.output


def test_usage_errors_exit_2_naming_the_option(run_cli):
    bad_date = run_cli("search", "SCIM", "--since", "2026-02-30")
    assert bad_date.exit_code == 2 and "--since" in bad_date.output
    backwards = run_cli("search", "SCIM", "--since", "2026-09-01", "--until", "2026-08-01")
    assert backwards.exit_code == 2 and "--since" in backwards.output
    too_long = run_cli("search", "x" * 501)
    assert too_long.exit_code == 2 and "QUERY" in too_long.output and "500" in too_long.output
    empty = run_cli("search", "  ")
    assert empty.exit_code == 2 and "QUERY" in empty.output
    limit = run_cli("search", "SCIM", "--limit", "0")
    assert limit.exit_code == 2 and "--limit" in limit.output


def test_search_says_when_no_statement_is_about_the_query(run_cli, tmp_path):
    _seed(run_cli, tmp_path, NOTES + FILLER)
    result = run_cli("search", "blockchain", "--limit", "5")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("No statement is about 'blockchain': the 5 nearest are listed below as weakly "
                                    "related.")
    assert result.output.count("· weakly related") == 5
    assert "1-5 of 42 statements ranked (dense); none is about the query" in result.output


def test_search_marks_the_weakly_related_ones(run_cli, tmp_path):
    _seed(run_cli, tmp_path, NOTES + FILLER)
    result = run_cli("search", "SCIM provisioning", "--limit", "3")
    assert result.exit_code == 0, result.output
    first, rest = result.output.split("\n\n", 1)
    assert "Globex" in first and "weakly related" not in first
    assert rest.count("· weakly related") == 2
    assert "1-3 of 42 statements ranked (dense); 1 about the query, the rest weakly related" in result.output


def test_search_with_no_word_to_look_for_says_so(run_cli, tmp_path):
    _seed(run_cli, tmp_path)
    result = run_cli("search", "the and", "--ranking", "lexical")
    assert result.exit_code == 0
    assert "stop words" in result.output and "none stored" not in result.output
    punctuation = run_cli("search", "?!")
    assert punctuation.exit_code == 2 and "QUERY" in punctuation.output and "letter or digit" in punctuation.output
