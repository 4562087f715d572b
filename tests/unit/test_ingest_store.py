"""Dedupe, update, atomicity, deletion and reindex through the real SQLite + Chroma store (fast embedder)."""
from __future__ import annotations

import numpy as np
from sqlalchemy import select

from service.ingest.errors import IngestError
from service.ingest.store import ingest, load_paths, reindex
from service.ingest.validate import NoteInput
from service.models import Note, Statement
from service.notes import delete_note_by_id, stats
from service.vectorstore import STATEMENTS

from ..conftest import DATA


def _ingest_file(svc, path, skip_invalid=False):
    notes, errors = load_paths([str(path)], 100_000)
    return ingest(svc, notes, errors, skip_invalid=skip_invalid)


def test_ingest_twice_keeps_counts(svc):
    first = _ingest_file(svc, DATA / "notes.jsonl")
    second = _ingest_file(svc, DATA / "notes.jsonl")
    assert (first.created, second.created, second.unchanged) == (3, 0, 3)
    s = stats(svc)
    assert s["notes"] == 3 and s["vectors"] == s["statements"] > 3 and s["accounts"] == 3


def test_same_text_same_account_without_id_is_not_stored_twice(svc):
    a = NoteInput(text="Exports time out again!", account="Acme")
    b = NoteInput(text="exports   time out again", account="Acme")
    c = NoteInput(text="exports time out again", account="Other Co")
    report = ingest(svc, [a, b, c], [], skip_invalid=False)
    assert report.created == 2 and report.unchanged == 1


def test_texts_without_letters_or_digits_are_not_copies_of_each_other(svc):
    first = ingest(svc, [NoteInput(text="\U0001f44d", account="Acme")], [], skip_invalid=False)
    second = ingest(svc, [NoteInput(text="\U0001f44e\U0001f44e\U0001f44e ???", account="Acme", external_id="e2")], [],
                    skip_invalid=False)
    again = ingest(svc, [NoteInput(text=" \U0001f44d ", account="Acme")], [], skip_invalid=False)
    assert (first.created, second.created, again.unchanged) == (1, 1, 1)


def test_changed_text_updates_and_reembeds_only_that_note(svc):
    _ingest_file(svc, DATA / "notes.jsonl")
    with svc.db.session() as s:
        other_ids = set(s.scalars(select(Statement.id).join(Note).where(Note.external_id != "t-3")))
    report = ingest(svc, [NoteInput(text="New text. Now about BigQuery instead.", external_id="t-3", account="Cobalt Retail")], [], skip_invalid=False)
    assert report.updated == 1 and report.created == 0 and report.statements == 2
    with svc.db.session() as s:
        note = s.scalars(select(Note).where(Note.external_id == "t-3")).one()
        assert [st.text for st in note.statements] == ["New text.", "Now about BigQuery instead."]
        assert other_ids == set(s.scalars(select(Statement.id).join(Note).where(Note.external_id != "t-3")))
        new_ids = [f"s{st.id}" for st in note.statements]
    ids, vecs, metas = svc.store.get(STATEMENTS, new_ids)
    assert sorted(ids) == sorted(new_ids) and vecs.shape == (2, svc.embedder.dim)
    assert stats(svc)["vectors"] == stats(svc)["statements"]


def test_one_bad_line_rejects_the_whole_file(svc, tmp_path):
    _ingest_file(svc, DATA / "notes.jsonl")
    before = stats(svc)
    bad = tmp_path / "mixed.jsonl"
    bad.write_text('{"id": "m1", "text": "valid one"}\n{"id": "m2", "text": \n{"id": "m3", "text": "valid three"}\n')
    notes, errors = load_paths([str(bad)], 100_000)
    try:
        ingest(svc, notes, errors, skip_invalid=False)
        raised = None
    except IngestError as exc:
        raised = exc
    assert raised is not None and raised.errors[0].line == 2
    assert stats(svc) == before


def test_skip_invalid_stores_valid_rows_and_lists_rejects(svc, tmp_path):
    bad = tmp_path / "mixed.jsonl"
    bad.write_text('{"id": "m1", "text": "valid one"}\n{"id": "m2"}\n{"id": "m3", "text": "valid three"}\n')
    report = _ingest_file(svc, bad, skip_invalid=True)
    assert report.created == 2 and [e.line for e in report.rejected] == [2]


def test_vector_store_failure_leaves_sql_untouched(svc, monkeypatch):
    _ingest_file(svc, DATA / "notes.jsonl")
    before = stats(svc)

    def boom(*a, **k):
        raise RuntimeError("index down")

    monkeypatch.setattr(svc.store, "add", boom)
    monkeypatch.setattr(svc.store, "upsert", boom)  # ingest writes with upsert (see _add)
    try:
        ingest(svc, [NoteInput(text="A brand new note about audit logs.", external_id="z-1")], [], skip_invalid=False)
    except RuntimeError:
        pass
    monkeypatch.undo()
    assert stats(svc) == before


def test_delete_removes_statements_and_vectors(svc):
    _ingest_file(svc, DATA / "notes.jsonl")
    before = stats(svc)
    delete_note_by_id(svc, "t-1")
    after = stats(svc)
    assert after["notes"] == before["notes"] - 1
    assert after["statements"] < before["statements"] and after["vectors"] == after["statements"]


def test_reindex_rebuilds_a_lost_collection(svc):
    _ingest_file(svc, DATA / "notes.jsonl")
    _ingest_file(svc, DATA / "notes.csv")
    expected = stats(svc)["vectors"]
    svc.store.reset(STATEMENTS)  # the folder case runs in separate processes: tests/integration/test_cli.py
    assert stats(svc)["vectors"] == 0
    assert reindex(svc) == expected
    assert stats(svc)["vectors"] == expected


def test_vectors_are_read_with_or_without_metadata_and_in_the_statements_order(svc):
    """`store.get(..., metadatas=False)` gives the same vectors; a theme run's `load_vectors` puts them in the order
    of its statements and embeds a statement whose vector is gone."""
    from sqlalchemy import select

    from service.ingest.store import ingest
    from service.ingest.validate import NoteInput
    from service.models import Statement
    from service.themes.run import load_vectors
    from service.vectorstore import STATEMENTS

    ingest(svc, [NoteInput(text=f"Exports time out for team {i}. SSO breaks for team {i}.", account="Acme")
                 for i in range(4)], [], skip_invalid=False)
    ids, vectors, metas = svc.store.get(STATEMENTS)
    bare_ids, bare, none = svc.store.get(STATEMENTS, list(reversed(ids)), metadatas=False)
    assert none == [] and len(metas) == len(ids) == 8 and all(m.get("account") == "Acme" for m in metas)
    by_id = dict(zip(ids, vectors))
    assert all(np.array_equal(by_id[i], v) for i, v in zip(bare_ids, bare))
    with svc.db.session() as session:
        statements = list(session.scalars(select(Statement).order_by(Statement.id.desc())))
    svc.store.delete(STATEMENTS, [f"s{statements[2].id}"])
    loaded = load_vectors(svc, statements)
    expected = [by_id[f"s{st.id}"] for st in statements]
    assert loaded.shape == (8, svc.embedder.dim)
    assert all(np.allclose(row, want, atol=1e-6) for row, want in zip(loaded, expected))
