"""The vector index records which embedder built it and refuses to mix vector spaces (fast fake embedders)."""
from __future__ import annotations

import pytest

from service import create_app
from service.config import TestConfig
from service.embedding import HashingEmbedder, embedder_name
from service.ingest.store import ingest, load_paths, reindex
from service.notes import stats
from service.vectorstore import STATEMENTS, IndexMismatchError

from ..conftest import DATA


class OtherEmbedder(HashingEmbedder):
    """Same dimension, another space: exactly the case a dimension check cannot catch."""

    def __init__(self):
        super().__init__(384)
        self.name = "other-384"


def _app(home, embedder=None):
    return create_app(TestConfig(home), embedder=embedder)


def test_switching_embedders_refuses_until_reindex(tmp_path):
    home = tmp_path / "home"
    first = _app(home)
    svc = first.extensions["feedback"]
    notes, errors = load_paths([str(DATA / "notes.jsonl")], 100_000)
    ingest(svc, notes, errors, skip_invalid=False)
    assert stats(svc)["embedder"] == "hashing-384"
    svc.close()

    second = _app(home, OtherEmbedder())
    other = second.extensions["feedback"]
    with pytest.raises(IndexMismatchError, match=r"built with the 'hashing-384' embedder.*feedback reindex"):
        other.store.count(STATEMENTS)
    response = second.test_client().get("/api/v1/stats")
    assert response.status_code == 503 and "feedback reindex" in response.get_json()["error"]["message"]

    total = reindex(other)
    assert total == stats(other)["statements"] == stats(other)["vectors"] > 0
    assert stats(other)["embedder"] == "other-384"
    other.close()


def test_an_empty_index_adopts_the_new_embedder(tmp_path):
    home = tmp_path / "home"
    svc = _app(home).extensions["feedback"]
    assert svc.store.count(STATEMENTS) == 0
    svc.close()
    other = _app(home, OtherEmbedder()).extensions["feedback"]
    assert other.store.count(STATEMENTS) == 0  # nothing to mix: no refusal
    other.close()


def test_the_name_is_known_without_loading_the_model():
    assert embedder_name("hashing") == "hashing-384"
    assert embedder_name(None, "torch") == "all-MiniLM-L6-v2"
    assert embedder_name(None, "onnx-fp32") == embedder_name(None, "onnx") == "all-MiniLM-L6-v2"
    from service.onnx_embedder import cpu_has_vnni

    assert embedder_name(None, "onnx-int8") == ("all-MiniLM-L6-v2-int8" if cpu_has_vnni() else "all-MiniLM-L6-v2")


def test_the_onnx_variant_follows_cpu_features():
    from service.embedding import EmbeddingModelError
    from service.onnx_embedder import choose_variant, cpu_has_vnni

    assert cpu_has_vnni("processor\t: 0\nflags\t\t: fpu sse avx2 avx512_vnni\n")
    assert not cpu_has_vnni("flags\t\t: fpu sse avx2\n")  # avx2-only int8 was measured no faster than fp32
    assert choose_variant("int8") == ("int8" if cpu_has_vnni() else "fp32")
    assert choose_variant(None) == "fp32"  # the default keeps torch's vectors
    with pytest.raises(EmbeddingModelError, match="unknown ONNX variant"):
        choose_variant("int4")
