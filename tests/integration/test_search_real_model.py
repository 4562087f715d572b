"""Search with the packaged model and a real embedded Chroma store, on the bundled sample notes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.search import search

pytestmark = pytest.mark.model
SAMPLE = Path(__file__).resolve().parents[2] / "service" / "sample_data" / "notes.jsonl"


def test_search_finds_statements_by_meaning_and_by_exact_product_name(make_app):
    app = make_app(EMBEDDING_MODEL=None)
    svc = app.extensions["feedback"]
    notes = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    assert app.test_client().post("/api/v1/notes", json=notes).status_code == 201
    # by meaning: "dupes" and "duplicate leads" for a query that says neither word
    dense = search(svc, "salesforce creating duplicate records", limit=5)
    assert dense["ranking"] == "dense" and all("Salesforce" in r["text"] for r in dense["results"][:3])
    # an exact product name: the hybrid puts every statement naming it first
    hybrid = search(svc, "SCIM", ranking="hybrid", limit=6)
    assert all("SCIM" in r["text"] and r["matched_terms"] == ["scim"] for r in hybrid["results"])
    only_call = search(svc, "SCIM", source="call", since="2026-08-01", limit=20)
    assert only_call["results"] and all(r["source"] == "call" and r["date"] >= "2026-08-01"
                                        for r in only_call["results"])


def test_the_relevance_floor_with_the_packaged_model(make_app):
    app = make_app(EMBEDDING_MODEL=None)
    svc = app.extensions["feedback"]
    notes = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    assert app.test_client().post("/api/v1/notes", json=notes).status_code == 201
    about = search(svc, "salesforce duplicates", limit=5)
    assert about["total_related"] >= 5 and all(r["related"] for r in about["results"])
    assert all("Salesforce" in r["text"] or "dup" in r["text"] for r in about["results"])
    nothing = search(svc, "the and", limit=5)  # no meaning to stand out: every result weakly related
    assert nothing["total_related"] == 0 and [r["related"] for r in nothing["results"]] == [False] * 5
    assert about["floor"] != nothing["floor"]  # each query's own floor, from the same stored sample
