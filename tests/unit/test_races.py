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
