"""Roadmap import: CSV and JSON, status synonyms, column maps, every bad row named, atomicity, upsert, archive, prune."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from service.ingest.errors import IngestError
from service.models import RoadmapItem, RoadmapLink
from service.roadmap import importer, service


def _items(svc, include_archived=False):
    with svc.db.session() as session:
        return {i.id: service.item_dict(i) for i in service.load_items(session, include_archived)}


def _errors(exc_info) -> list[tuple]:
    return [(e.line, e.field) for e in exc_info.value.errors]


def test_json_import_normalises_synonyms_tags_and_confidence(svc, tmp_path):
    rows = [
        {"id": "A", "title": "Exports", "status": "Released", "tags": "exports; CSV, large", "confidence": "80%"},
        {"id": "B", "title": "SCIM", "status": "In development", "tags": ["scim", "okta"], "confidence": 70},
        {"id": "C", "title": "BigQuery", "status": "next", "effort": "2", "reach": "1,200"},
        {"id": "D", "title": "Lineage", "status": "Under consideration", "confidence": 0.4},
        {"id": "E", "title": "IE11", "status": "Won\u2019t do", "owner": "Sam"},
        {"id": 7, "title": "GA thing", "status": "GA"},
    ]
    path = tmp_path / "roadmap.json"
    path.write_text(json.dumps(rows))
    rows, source = importer.read_file(path)
    report = service.import_items(svc, rows, source=source)
    assert report["created"] == 6
    items = _items(svc)
    assert [items[k]["status"] for k in "ABCDE"] == ["shipped", "in_progress", "planned", "considering", "not_planned"]
    assert items["7"]["status"] == "shipped"
    assert items["A"]["tags"] == ["exports", "CSV", "large"] and items["B"]["tags"] == ["scim", "okta"]
    assert items["A"]["confidence"] == pytest.approx(0.8) and items["B"]["confidence"] == pytest.approx(0.7)
    assert items["C"]["reach"] == 1200 and items["C"]["effort"] == 2
    assert items["E"]["extra"] == {"owner": "Sam"}


def test_csv_import_keeps_unknown_columns_in_extra(svc, tmp_path):
    path = tmp_path / "roadmap.csv"
    path.write_text("id,title,status,description,Owner,tags\n"
                    "RM-1,Audit log,Doing,Who changed what,Ana,\"audit, compliance\"\n"
                    "RM-2,Offline mode,Idea,,,\n")
    rows, source = importer.read_file(path)
    assert [line for line, _ in rows] == [2, 3]
    service.import_items(svc, rows, source=source)
    items = _items(svc)
    assert items["RM-1"]["status"] == "in_progress" and items["RM-1"]["extra"] == {"Owner": "Ana"}
    assert items["RM-1"]["tags"] == ["audit", "compliance"]
    assert items["RM-2"]["status"] == "considering" and items["RM-2"]["extra"] == {}


def test_aha_style_csv_with_a_column_map(svc, tmp_path):
    path = tmp_path / "aha.csv"
    path.write_text("Reference #,Name,Stage,Release,Score\n"
                    "FEAT-12,Background exports,Shipped,2026.08,42\n"
                    "FEAT-13,SCIM provisioning,Scheduled,Q1 2027,17.5\n")
    mapping = importer.parse_column_map("id=Reference #,title=Name,status=Stage")
    rows, source = importer.read_file(path)
    service.import_items(svc, rows, source=source, column_map=mapping)
    items = _items(svc)
    assert set(items) == {"FEAT-12", "FEAT-13"}
    assert items["FEAT-12"]["title"] == "Background exports" and items["FEAT-12"]["release"] == "2026.08"
    assert items["FEAT-13"]["status"] == "planned" and items["FEAT-13"]["score"] == 17.5


def test_column_map_errors():
    with pytest.raises(ValueError, match="unknown field 'name'"):
        importer.parse_column_map("name=Title")
    with pytest.raises(ValueError, match="field=Column"):
        importer.parse_column_map("title")
    with pytest.raises(IngestError, match="'Nmae'"):
        importer.validate([(2, {"Name": "x", "id": "1", "status": "done"})], "f.csv", {"title": "Nmae"})


def test_every_bad_row_is_named_and_nothing_is_stored(svc, tmp_path):
    service.import_items(svc, [{"id": "KEEP", "title": "Kept", "status": "planned"}])
    path = tmp_path / "bad.csv"
    path.write_text("id,title,status,effort,confidence\n"
                    "A,Fine,planned,2,0.5\n"
                    "B,Someday item,Someday,,\n"
                    "C,,planned,,\n"
                    "A,Again,planned,,\n"
                    "D,Zero effort,planned,0,\n"
                    "E,Too sure,planned,1,150%\n"
                    "F,Words,planned,lots,\n")
    rows, source = importer.read_file(path)
    with pytest.raises(IngestError) as exc_info:
        service.import_items(svc, rows, source=source)
    assert _errors(exc_info) == [(3, "status"), (4, "title"), (5, "id"), (6, "effort"), (7, "confidence"), (8, "effort")]
    status_error = str(exc_info.value.errors[0])
    assert status_error.startswith("bad.csv:3 [status]") and "'Someday'" in status_error
    assert all(s in status_error for s in ("shipped", "in_progress", "planned", "considering", "not_planned"))
    assert "first on line 2" in str(exc_info.value.errors[2])
    assert set(_items(svc, include_archived=True)) == {"KEEP"}
    assert _items(svc)["KEEP"]["archived"] is False


def test_a_csv_row_with_extra_fields_is_named_beside_every_other_bad_row(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("id,title,status\n"
                    "A,Fine,planned\n"
                    "B,Too,many,fields\n"
                    "C,,planned\n"
                    "D,Again,too,many,fields\n")
    rows, source = importer.read_file(path)
    with pytest.raises(IngestError) as exc_info:
        importer.validate(rows, source)
    assert _errors(exc_info) == [(3, None), (4, "title"), (5, None)]
    assert "more fields than the header names" in str(exc_info.value.errors[0])


def test_one_column_can_feed_two_fields(svc, tmp_path):
    path = tmp_path / "jira.csv"
    path.write_text("Key,Stage\nPROJ-1,Done\n")
    mapping = importer.parse_column_map("id=Key,title=Key,status=Stage")
    rows, source = importer.read_file(path)
    service.import_items(svc, rows, source=source, column_map=mapping)
    assert _items(svc)["PROJ-1"]["title"] == "PROJ-1"


def test_a_duplicate_of_an_invalid_row_is_still_named():
    rows = [(2, {"id": "A", "title": "", "status": "planned"}), (3, {"id": "A", "title": "Again", "status": "planned"})]
    with pytest.raises(IngestError) as exc_info:
        importer.validate(rows, "f.csv")
    assert _errors(exc_info) == [(2, "title"), (3, "id")]


def test_reimport_upserts_archives_then_prunes_with_links(svc, client):
    assert client.post("/api/v1/notes", json={"id": "n1", "text": "We need exports."}).status_code == 201
    first = [{"id": i, "title": f"Item {i}", "status": "planned"} for i in "ABC"]
    assert service.import_items(svc, first)["created"] == 3
    service.link(svc, "C", note_id="n1")
    second = [{"id": "A", "title": "Item A renamed", "status": "shipped"}, {"id": "B", "title": "Item B", "status": "planned"}]
    report = service.import_items(svc, second)  # a plain import never archives: it says what sync would
    assert (report["created"], report["updated"], report["unchanged"], report["archived"]) == (0, 1, 1, 0)
    assert report["would_archive"] == ["C"] and set(_items(svc)) == {"A", "B", "C"}
    report = service.import_items(svc, second, sync=True)
    assert (report["updated"], report["unchanged"], report["archived"]) == (0, 2, 1)
    assert set(_items(svc)) == {"A", "B"} and _items(svc)["A"]["title"] == "Item A renamed"
    archived = _items(svc, include_archived=True)["C"]
    assert archived["archived"] is True
    assert service.import_items(svc, first)["updated"] == 2  # A changed back, C restored
    assert _items(svc)["C"]["archived"] is False
    report = service.import_items(svc, second, prune=True)
    assert report["deleted"] == 1
    with svc.db.session() as session:
        assert session.get(RoadmapItem, "C") is None
        assert session.scalar(select(func.count(RoadmapLink.id))) == 0


def test_empty_and_malformed_inputs(tmp_path):
    with pytest.raises(IngestError, match="no roadmap items"):
        importer.validate([], "x.json")
    path = tmp_path / "broken.json"
    path.write_text('[{"id": "A",}]')
    with pytest.raises(IngestError, match="invalid JSON"):
        importer.read_file(path)
    with pytest.raises(IngestError, match="expected a list"):
        importer.json_rows({"id": "A"}, "request")


@pytest.mark.parametrize("raw,expected", [
    ("Released", "shipped"), ("LIVE", "shipped"), ("in-progress", "in_progress"), ("Building", "in_progress"),
    ("Committed", "planned"), ("Exploring", "considering"), ("Discovery", "considering"), ("wont do", "not_planned"),
    ("Declined", "not_planned"), ("not_planned", "not_planned"), ("Soon", None), (3, None),
])
def test_status_synonyms(raw, expected):
    assert importer.normalise_status(raw) == expected
