"""The disk cache of small embedder calls: same vectors, fewer model calls, never an error."""
from __future__ import annotations

import numpy as np

from service.embed_cache import MAX_CALL, CachedEmbedder
from service.embedding import HashingEmbedder


class Counting(HashingEmbedder):
    def __init__(self):
        super().__init__(384)
        self.seen: list[str] = []

    def embed(self, texts):
        self.seen += list(texts)
        return super().embed(texts)


def test_a_second_process_gets_the_cached_vectors(tmp_path):
    path = tmp_path / "cache.sqlite3"
    texts = ["SCIM provisioning", "exports time out", "SCIM provisioning"]
    first_inner = Counting()
    first = CachedEmbedder(first_inner, path).embed(texts)
    second_inner = Counting()  # a new process: nothing in memory
    second = CachedEmbedder(second_inner, path).embed(texts + ["a new text"])
    assert np.allclose(first, HashingEmbedder().embed(texts)) and np.allclose(second[:3], first)
    assert second_inner.seen == ["a new text"]


def test_large_calls_bypass_the_cache_and_a_broken_cache_is_a_miss(tmp_path):
    inner = Counting()
    cached = CachedEmbedder(inner, tmp_path / "cache.sqlite3")
    many = [f"statement {i}" for i in range(MAX_CALL + 1)]
    cached.embed(many)
    import sqlite3

    with sqlite3.connect(tmp_path / "cache.sqlite3") as conn:  # nothing stored: ingest vectors live in the index
        stored = conn.execute("SELECT name FROM sqlite_master WHERE name = 'vectors'").fetchall()
    assert stored == [] and len(inner.seen) == MAX_CALL + 1
    (tmp_path / "broken").write_text("not a database")
    broken = CachedEmbedder(Counting(), tmp_path / "broken")
    assert np.allclose(broken.embed(["still works"]), HashingEmbedder().embed(["still works"]))


def test_a_home_that_is_gone_is_a_miss_and_is_not_made_again(tmp_path):
    import shutil

    home = tmp_path / "home"
    home.mkdir()
    cached = CachedEmbedder(Counting(), home / "embedding-cache.sqlite3")
    cached.embed(["exports time out"])
    shutil.rmtree(home)  # a temporary home cleaned up while its embedder is still used
    assert np.allclose(cached.embed(["exports time out", "sso"]), HashingEmbedder().embed(["exports time out", "sso"]))
    assert not home.exists()
