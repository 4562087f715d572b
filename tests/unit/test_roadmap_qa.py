"""QA pass on roadmap import and scoring: delimiters, colliding or missing columns, unsupported files, non-finite
numbers, scoring overflow and invalid weights. Each test failed before its fix."""
from __future__ import annotations

import json

import pytest

from service.ingest.errors import IngestError
from service.roadmap import importer
from service.roadmap.scoring import Settings, fmt, score_items, settings_from


def _strict_json(text: str):
    """json.loads that refuses NaN and Infinity, as a strict client does."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("name,text", [
    ("excel.csv", "id;title;status\nA;Alpha, with a comma;planned\nB;Beta;Released\n"),
    ("export.tsv", "id\ttitle\tstatus\nA\tAlpha, with a comma\tplanned\nB\tBeta\tReleased\n"),
])
def test_semicolon_and_tab_separated_exports_are_read(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    rows, source = importer.read_file(path)
    items = importer.validate(rows, source)
    assert [(i["id"], i["title"], i["status"]) for i in items] == [
        ("A", "Alpha, with a comma", "planned"), ("B", "Beta", "shipped")]


def test_a_missing_required_column_is_one_error_naming_the_columns(tmp_path):
    path = tmp_path / "nostatus.csv"
    path.write_text("id,title\n" + "".join(f"I{n},Item {n}\n" for n in range(50)))
    rows, source = importer.read_file(path)
    with pytest.raises(IngestError) as exc_info:
        importer.validate(rows, source)
    errors = exc_info.value.errors
    assert len(errors) == 1 and errors[0].field == "status"
    assert "'id', 'title'" in errors[0].reason and "--map status=" in errors[0].reason


def test_a_column_named_twice_in_the_header_is_an_error(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("id,title,status,title\nA,First,planned,Second\n")
    with pytest.raises(IngestError) as exc_info:
        importer.read_file(path)
    assert [(e.line, e.field) for e in exc_info.value.errors] == [(1, "title")]


def test_two_keys_for_one_field_are_an_error_not_a_silent_choice(client):
    resp = client.post("/api/v1/roadmap/items", json=[{"id": "A", "title": "one", "Title": "two", "status": "planned"}])
    assert resp.status_code == 422
    error = resp.get_json()["error"]["details"]["errors"][0]
    assert error["field"] == "title" and "'title'" in error["reason"] and "'Title'" in error["reason"]
    assert client.get("/api/v1/roadmap/items").get_json()["total"] == 0


def test_an_unsupported_file_type_says_which_are_read(tmp_path):
    path = tmp_path / "roadmap.yaml"
    path.write_text("id: A\ntitle: Alpha\nstatus: planned\n")
    with pytest.raises(IngestError, match=r"unsupported file type '\.yaml'.*CSV.*JSON"):
        importer.read_file(path)


def test_a_utf16_file_is_named_as_such(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("id,title,status\nA,Alpha,planned\n".encode("utf-16"))
    with pytest.raises(IngestError, match="UTF-16; save it as UTF-8"):
        importer.read_file(path)


def test_nan_or_infinity_in_a_json_export_is_rejected_before_it_is_stored(run_cli, tmp_path):
    path = tmp_path / "roadmap.json"
    path.write_text('[{"id": "A", "title": "Alpha", "status": "planned", "owner": NaN},\n'
                    ' {"id": "B", "title": "Beta", "status": "planned", "tags": [1e999]}]')
    result = run_cli("roadmap", "import", str(path))
    assert result.exit_code == 1
    assert "roadmap.json, item 1 [owner]" in result.stderr and "roadmap.json, item 2 [tags]" in result.stderr
    assert _strict_json(run_cli("roadmap", "list", "--json").stdout)["total"] == 0


def test_a_failed_reimport_keeps_the_roadmap_and_its_history(run_cli, tmp_path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("id,title,status,release\nA,Alpha,planned,Q1\nB,Beta,planned,\n")
    assert run_cli("roadmap", "import", str(good)).exit_code == 0
    bad.write_text("id,title,status,release,title\nA,Alpha,shipped,Q2,x\n")
    assert run_cli("roadmap", "import", str(bad)).exit_code == 1
    items = {i["id"]: i for i in json.loads(run_cli("roadmap", "list", "--json").stdout)["items"]}
    assert (items["A"]["status"], items["A"]["release"]) == ("planned", "Q1") and set(items) == {"A", "B"}
    good.write_text("id,title,status,release\nA,Alpha,shipped,Q2\nB,Beta,planned,\n")
    assert run_cli("roadmap", "import", str(good)).exit_code == 0
    changes = _strict_json(run_cli("roadmap", "history", "A", "--json").stdout)["changes"]
    assert [(c["kind"], c["old_status"], c["new_status"], c["old_release"], c["new_release"]) for c in changes] == [
        ("created", None, "planned", None, "Q1"), ("changed", "planned", "shipped", "Q1", "Q2")]


def test_a_rice_product_too_large_for_a_float_is_unscored_not_infinity():
    item = {"id": "H", "status": "planned", "reach": 1e300, "impact": 1e10, "confidence": 1, "effort": 1}
    result = score_items([item])[0]
    assert result["score"] is None and "too large" in result["reason"]
    heavy = Settings(weights={"reach": 1000, "impact": 1, "confidence": 1, "effort": 1})
    item = {"id": "W", "status": "planned", "reach": 10, "impact": 1, "confidence": 1, "effort": 1}
    assert score_items([item], settings=heavy)[0]["score"] is None  # 10 ** 1000 raised OverflowError


def test_scores_json_of_an_overflowing_item_is_valid_json(run_cli, tmp_path):
    path = tmp_path / "huge.json"
    path.write_text(json.dumps([{"id": "H", "title": "Huge", "status": "planned", "reach": 1e300, "impact": 1e10,
                                 "confidence": 1, "effort": 1}]))
    assert run_cli("roadmap", "import", str(path)).exit_code == 0
    scores = _strict_json(run_cli("roadmap", "scores", "--json").stdout)
    assert scores["items"][0]["score"] is None
    assert "score: not scored" in run_cli("roadmap", "show", "H").stdout


@pytest.mark.parametrize("weights", ['{"reach": -1}', '{"reach": NaN}', '{"reach": Infinity}', '{"reach": true}'])
def test_invalid_weights_are_a_clear_error(monkeypatch, weights):
    monkeypatch.setenv("FEEDBACK_SCORING_WEIGHTS", weights)
    with pytest.raises(ValueError, match="weight for reach must be a number from 0 up"):
        settings_from(None)


def test_invalid_weights_exit_2_on_the_cli(run_cli, monkeypatch):
    monkeypatch.setenv("FEEDBACK_SCORING_WEIGHTS", '{"reach": 1000000}')
    assert run_cli("roadmap", "scores").exit_code == 0  # large but valid: overflowing items are just unscored
    monkeypatch.setenv("FEEDBACK_SCORING_WEIGHTS", '{"reach": -1}')
    result = run_cli("roadmap", "scores")
    assert result.exit_code == 2 and "weight for reach" in result.stderr


def test_huge_numbers_are_written_with_an_exponent():
    assert fmt(1e300) == "1e+300" and fmt(1234.5) == "1,234"


def test_import_help_names_the_formats_and_json_flag(run_cli):
    text = run_cli("roadmap", "import", "-h").stdout
    assert ".tsv" in text and '{"items": [...]}' in text and "Print the result as JSON" in text



def test_an_item_restored_with_a_new_status_counts_as_moved(svc):
    from datetime import datetime

    from service.roadmap import history, service

    start = datetime(2000, 1, 1)
    service.import_items(svc, [{"id": "A", "title": "Alpha", "status": "planned"},
                               {"id": "B", "title": "Beta", "status": "planned"}])
    service.import_items(svc, [{"id": "B", "title": "Beta", "status": "planned"}], sync=True)  # A archived
    service.import_items(svc, [{"id": "A", "title": "Alpha", "status": "Released"},
                               {"id": "B", "title": "Beta", "status": "planned"}])  # back, and shipped
    with svc.db.session() as session:
        moved = history.moved_since(session, start)
        last = history.last_status_change(session, "A")
        assert [(m["item_id"], m["old_status"], m["new_status"]) for m in moved] == [("A", "planned", "shipped")]
        assert (last.kind, last.old_status, last.new_status) == ("restored", "planned", "shipped")


def test_a_csv_row_with_fewer_fields_than_the_header_is_named_and_nothing_is_stored(tmp_path):
    from service.roadmap.importer import read_file, validate

    path = tmp_path / "short.csv"
    path.write_text("id,title,status,description\nA1,Alpha,planned,desc\nA2,Beta,planned\n")
    rows, source = read_file(path)
    with pytest.raises(IngestError) as caught:
        validate(rows, source)
    assert [(e.line, "fewer than the header" in e.reason) for e in caught.value.errors] == [(3, True)]
