"""The production profile's failure modes (gunicorn + `feedback worker` + PostgreSQL + Redis + a Chroma server):
a collection replaced by another process's reindex, a worker killed mid-job, an outcome the database could not take,
jobs queued while Redis was down, and a database or vector server that is down. Fakes where no server is needed;
the RQ tests use Redis on 127.0.0.1:6379 (db 15) and skip without it."""
from __future__ import annotations

import uuid

import numpy as np
import pytest


# ---- 1. a collection another process replaced ------------------------------------------------------------------
def test_a_collection_replaced_by_another_process_is_reopened_by_name():
    """Two stores on one Chroma (two processes on one server): B reindexes (builds aside, renames in, which deletes
    the collection A holds a handle to). A's next calls get the new collection instead of NotFoundError forever."""
    import chromadb
    from chromadb.config import Settings

    from service.vectorstore import ChromaStore

    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
    prefix = f"t{uuid.uuid4().hex[:8]}"
    web, cli = ChromaStore(client, prefix), ChromaStore(client, prefix)
    vectors = np.eye(4, dtype=np.float32)
    web.add("statements", ["s1"], vectors[:1], [{"n": 1}])
    assert web.count("statements") == 1  # web now holds a handle to this collection
    cli.add("statements_rebuild", ["s1", "s2"], vectors[:2], [{"n": 1}, {"n": 2}])
    cli.rename("statements_rebuild", "statements")

    assert web.count("statements") == 2
    assert [hit[0] for hit in web.query("statements", vectors[1:2], 1)[0]] == ["s2"]
    web.add("statements", ["s3"], vectors[2:3], [{"n": 3}])
    assert sorted(web.ids("statements")) == ["s1", "s2", "s3"] and cli.count("statements") == 3


def test_a_missing_collection_without_a_cached_handle_is_not_retried():
    from chromadb.errors import NotFoundError

    from service.vectorstore import _reopen_if_replaced

    calls = []

    class Store:
        _collections: dict = {}

        @_reopen_if_replaced
        def count(self, collection):
            calls.append(collection)
            raise NotFoundError("Collection [x] does not exist.")

    with pytest.raises(NotFoundError):
        Store().count("statements")
    assert calls == ["statements"]
