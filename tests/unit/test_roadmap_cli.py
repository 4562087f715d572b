"""`feedback roadmap ...` and `feedback match` in-process: outputs, JSON shapes and exit codes."""
from __future__ import annotations

import json

import pytest

from ..conftest import DATA
from .test_roadmap_api import ITEMS as ROADMAP

@pytest.fixture
def roadmap_file(tmp_path):
    path = tmp_path / "roadmap.json"
    path.write_text(json.dumps(ROADMAP))
    return path


@pytest.fixture
def loaded(run_cli, roadmap_file):
    assert run_cli("ingest", str(DATA / "notes.jsonl"), "-q").exit_code == 0
    result = run_cli("roadmap", "import", str(roadmap_file), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["created"] == 10
    return run_cli


def test_import_list_and_archive(loaded, roadmap_file, tmp_path):
    listed = json.loads(loaded("roadmap", "list", "--status", "in_progress", "--json").stdout)
    assert [i["id"] for i in listed["items"]] == ["SCIM", "SNOW"]
    smaller = tmp_path / "smaller.json"
    smaller.write_text(json.dumps(ROADMAP[:2]))
    plain = loaded("roadmap", "import", str(smaller)).stdout
    assert "archived 0" in plain and "8 item(s) are not in" in plain and "--sync archives them" in plain
    assert "LIN" in loaded("roadmap", "list").stdout
    assert loaded("roadmap", "import", str(smaller), "--prune").exit_code == 2  # prune needs --sync
    assert "archived 8" in loaded("roadmap", "import", str(smaller), "--sync").stdout
    assert "LIN" not in loaded("roadmap", "list").stdout
    assert "(archived)" in loaded("roadmap", "list", "--all").stdout
    assert "deleted 8" in loaded("roadmap", "import", str(smaller), "--sync", "--prune").stdout
    assert "LIN" not in loaded("roadmap", "list", "--all").stdout


def test_bad_file_exits_1_listing_every_error(run_cli, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,title,status\nA,Fine,done\nB,,done\nC,Later,Someday\n")
    result = run_cli("roadmap", "import", str(path))
    assert result.exit_code == 1
    assert "bad.csv:3 [title]" in result.stderr and "bad.csv:4 [status]" in result.stderr
    assert "nothing was stored" in result.stderr
    assert json.loads(run_cli("roadmap", "list", "--json").stdout)["total"] == 0


def test_column_map_for_an_aha_export_and_bad_map(run_cli, tmp_path):
    path = tmp_path / "aha.csv"
    path.write_text("Key,Name,Stage,Release\nF-1,Dark mode,Shipped,2026.09\nF-2,Offline mode,Won't do,\n")
    result = run_cli("roadmap", "import", str(path), "--map", "id=Key,title=Name,status=Stage", "--json")
    assert result.exit_code == 0, result.output
    items = {i["id"]: i for i in json.loads(run_cli("roadmap", "list", "--json").stdout)["items"]}
    assert items["F-1"]["release"] == "2026.09" and items["F-2"]["status"] == "not_planned"
    assert run_cli("roadmap", "import", str(path), "--map", "colour=Name").exit_code == 2


def test_link_show_and_scores(loaded):
    result = loaded("roadmap", "link", "EXP", "--note", "t-1")
    assert result.exit_code == 0 and "linked note t-1 to EXP" in result.stdout
    assert "already linked" in loaded("roadmap", "link", "EXP", "--note", "t-1").stdout
    assert loaded("roadmap", "link", "EXP").exit_code == 2
    assert loaded("roadmap", "link", "EXP", "--note", "nope").exit_code == 1
    shown = json.loads(loaded("roadmap", "show", "EXP", "--json").stdout)
    assert shown["links"][0]["note_id"] == "t-1"
    assert shown["scoring"]["score"] == 0.5 and shown["scoring"]["inputs"]["reach_source"] == "accounts"
    assert shown["scoring"]["reason"] == ("scores 0.5 (reach 1 account x impact 2 x confidence 0.5 / effort 2 months), "
                                          "against 40 for the one item in development")
    text = loaded("roadmap", "show", "EXP").stdout
    assert "score: scores 0.5" in text and "linked note t-1" in text
    assert loaded("roadmap", "show", "NOPE").exit_code == 1
    scores = json.loads(loaded("roadmap", "scores", "--json").stdout)
    assert [r["item_id"] for r in scores["items"]][:3] == ["SCIM", "LIN", "EXP"]
    assert scores["items"][-1]["score"] is None and "not scored" in scores["items"][-1]["reason"]


def test_match_text_and_files(loaded, tmp_path):
    one = json.loads(loaded("match", "Background CSV exports for large reports", "--json").stdout)
    assert len(one) == 1 and set(one[0]) == {"id", "verdict", "matches"}
    assert one[0]["verdict"] == "available" and one[0]["matches"][0]["item_id"] == "EXP"
    jsonl = tmp_path / "requests.jsonl"
    jsonl.write_text('{"id": "q1", "text": "SCIM user provisioning from Okta please"}\n\n'
                     '{"id": "q2", "text": "the coffee machine in the kitchen is broken"}\n')
    lines = loaded("match", "--file", str(jsonl), "--jsonl").stdout.splitlines()
    results = [json.loads(line) for line in lines]
    assert [(r["id"], r["verdict"]) for r in results] == [("q1", "in_progress"), ("q2", "not_on_roadmap")]
    assert results[0]["matches"][0] == {**results[0]["matches"][0], "item_id": "SCIM", "status": "in_progress"}
    plain = tmp_path / "requests.txt"
    plain.write_text("Column lineage view\n\nthe coffee machine in the kitchen is broken\n")
    listed = json.loads(loaded("match", "--file", str(plain), "--json").stdout)
    assert [r["id"] for r in listed] == ["1", "3"] and listed[0]["verdict"] == "under_consideration"
    human = loaded("match", "Column lineage view").stdout
    assert "under_consideration" in human and "LIN Column lineage view" in human


def test_match_usage_errors(loaded, tmp_path):
    assert loaded("match").exit_code == 2
    assert loaded("match", "x", "--file", str(DATA / "plain.txt")).exit_code == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    result = loaded("match", "--file", str(bad))
    assert result.exit_code == 1 and "bad.jsonl:1" in result.stderr


def test_coverage_without_a_theme_run(loaded):
    data = json.loads(loaded("roadmap", "coverage", "--json").stdout)
    assert data["themes"] == [] and data["gaps"] == [] and data["note"]
    assert len(data["items"]) == 10 and all(i["demand"]["accounts"] == 0 for i in data["items"])
    out = loaded("roadmap", "coverage").stdout
    assert "no gaps" not in out and "gaps: not known until a theme run" in out
