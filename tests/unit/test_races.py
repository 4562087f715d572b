"""Racing clients: the same text or external id from 16 threads gives one note and 2xx answers, never a 500."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

CLIENTS = 16
TEXTS = [f"Exports of table {i} time out after ten minutes. We need a faster path." for i in range(25)]


def _race(app, payload_for):
    token_client = app.test_client()  # makes the token once, before the threads start

    def post(n):
        client = app.test_client()
        return [client.post("/api/v1/notes", json=payload_for(i, n)).status_code for i in range(len(TEXTS))]

    assert token_client.get("/api/v1/stats").status_code == 200
    with ThreadPoolExecutor(CLIENTS) as pool:
        statuses = [s for batch in pool.map(post, range(CLIENTS)) for s in batch]
    return statuses, app.test_client().get("/api/v1/stats").get_json()


@pytest.mark.slow
def test_the_same_texts_without_ids_from_racing_clients_are_stored_once(app):
    statuses, stats = _race(app, lambda i, n: {"text": TEXTS[i], "account": "Acme"})
    assert set(statuses) <= {200, 201, 409} and len(statuses) == CLIENTS * len(TEXTS)
    assert stats["notes"] == len(TEXTS)


@pytest.mark.slow
def test_the_same_ids_from_racing_clients_are_stored_once(app):
    statuses, stats = _race(app, lambda i, n: {"id": f"ext-{i}", "text": TEXTS[i], "account": f"Acme {i % 3}"})
    assert set(statuses) <= {200, 201, 409}
    assert stats["notes"] == len(TEXTS) and stats["accounts"] == 3
    assert stats["vectors"] == stats["statements"]  # no orphan vectors from the losers


def test_racing_roadmap_imports_of_new_items_never_fail(app):
    items = [{"id": f"RM-{i}", "title": f"Item {i}", "status": "planned"} for i in range(20)]
    app.test_client().get("/api/v1/stats")

    def post(_):
        return app.test_client().post("/api/v1/roadmap/items", json=items).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post, range(8)))
    assert set(statuses) == {201}
    assert app.test_client().get("/api/v1/roadmap/items").get_json()["total"] == 20


class _GatedEmbedder:
    """Blocks while embedding a text containing `gate_word` until released: an ingest stuck in the model."""

    def __init__(self, inner, gate_word: str):
        import threading

        self.inner, self.name, self.dim, self.gate_word = inner, inner.name, inner.dim, gate_word
        self.entered, self.release = threading.Event(), threading.Event()

    def embed(self, texts):
        if any(self.gate_word in t for t in texts):
            self.entered.set()
            assert self.release.wait(60), "the test never released the gated embedder"
        return self.inner.embed(texts)


def test_an_ingest_that_is_embedding_does_not_hold_the_ingest_lock(svc, monkeypatch):
    """A note posted while a large ingest is still in the model is stored before that ingest finishes."""
    import threading

    from service.ingest.store import ingest_notes
    from service.ingest.validate import NoteInput
    from service.notes import stats

    gated = _GatedEmbedder(svc.embedder, "Zanzibar")  # (loads the real one first)
    monkeypatch.setattr(svc, "_embedder", gated)
    slow_result: dict = {}
    slow = threading.Thread(target=lambda: slow_result.update(r=ingest_notes(
        svc, [NoteInput(text="Zanzibar office cannot export invoices.", account="Acme")])))
    slow.start()
    try:
        assert gated.entered.wait(60), "the first ingest never reached the embedder"
        quick = ingest_notes(svc, [NoteInput(text="The dashboard chart is blank on Mondays.", account="Beta")])
        assert quick.created == 1 and slow.is_alive()  # stored while the first one still embeds
    finally:
        gated.release.set()
        slow.join(60)
    assert slow_result["r"].created == 1
    s = stats(svc)
    assert s["notes"] == 2 and s["vectors"] == s["statements"] == 2


def test_racing_ingests_of_one_text_embedded_ahead_store_it_once(svc, monkeypatch):
    """Both ingests embed the text before the lock; the one that gets the lock second finds the note stored."""
    import threading

    from service.ingest.store import ingest_notes
    from service.ingest.validate import NoteInput
    from service.notes import stats

    gated = _GatedEmbedder(svc.embedder, "Zanzibar")  # (loads the real one first)
    monkeypatch.setattr(svc, "_embedder", gated)
    note = NoteInput(text="Zanzibar office cannot export invoices. They asked twice.", account="Acme")
    results: list = []
    first = threading.Thread(target=lambda: results.append(ingest_notes(svc, [note])))
    first.start()
    try:
        assert gated.entered.wait(60)
        gated.gate_word = "never matches"  # the second ingest passes the model at once and stores the note
        results.append(ingest_notes(svc, [note]))
    finally:
        gated.release.set()
        first.join(60)
    assert sorted(r.created for r in results) == [0, 1] and sorted(r.unchanged for r in results) == [0, 1]
    s = stats(svc)
    assert s["notes"] == 1 and s["vectors"] == s["statements"] == 2


def test_texts_the_forecast_missed_are_embedded_under_the_lock(svc, monkeypatch):
    """When the unlocked forecast is wrong (a note changed between it and the lock), nothing goes unembedded."""
    import numpy as np

    from service.ingest import store as ingest_store
    from service.ingest.validate import NoteInput
    from service.vectorstore import STATEMENTS

    monkeypatch.setattr(ingest_store, "_maybe_fresh", lambda services, notes, segments: [])
    report = ingest_store.ingest_notes(svc, [NoteInput(text="Exports time out. SSO breaks on Okta.", account="Acme")])
    assert report.created == 1 and report.statements == 2
    ids, vectors, _ = svc.store.get(STATEMENTS)
    with svc.db.session() as session:
        from service.models import Statement

        texts = {f"s{st.id}": st.text for st in session.query(Statement)}
    expected = svc.embedder.embed([texts[i] for i in ids])
    assert len(ids) == 2 and np.allclose(vectors, expected, atol=1e-5)
