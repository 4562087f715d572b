"""The ONNX embedder against the torch pipeline it replaces, with the packaged model (exported once, cached)."""
from __future__ import annotations

import numpy as np
import pytest

from service.embedding import get_embedder
from service.onnx_embedder import OnnxExport, cpu_has_vnni

pytestmark = pytest.mark.model

SENTENCES = [
    "Exports time out on large reports every Monday morning.",
    "We cannot log in with Okta since the last release.",
    "Our legal team needs a HIPAA BAA before they sign.",
    "short",
    "The dashboards take forever to load " * 60,  # past the 256-token limit: truncated like sentence-transformers
]


@pytest.fixture(scope="module")
def torch_vectors():
    return get_embedder(kind="torch").embed(SENTENCES)


def test_fp32_matches_torch(torch_vectors):
    emb = get_embedder(kind="onnx-fp32")
    cos = (emb.embed(SENTENCES) * torch_vectors).sum(1)
    assert cos.min() > 0.9999, cos
    assert emb.name == "all-MiniLM-L6-v2"  # the same space as torch: no reindex needed between them


@pytest.mark.skipif(not cpu_has_vnni(), reason="onnx-int8 runs fp32 on a CPU without VNNI")
def test_int8_is_close_to_torch_and_named_apart(torch_vectors):
    emb = get_embedder(kind="onnx-int8")
    vecs = emb.embed(SENTENCES)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    cos = (vecs * torch_vectors).sum(1)
    assert cos.mean() >= 0.98 and cos.min() >= 0.95, cos
    assert emb.name == "all-MiniLM-L6-v2-int8"
    # Order is kept: each vector is nearest to its own sentence's torch vector.
    assert list((vecs @ torch_vectors.T).argmax(1)) == list(range(len(SENTENCES)))


def test_a_corrupt_cached_export_is_made_again(tmp_path):
    from service.embedding import PACKAGED_MODEL_SHA256, packaged_model_dir

    export = OnnxExport(packaged_model_dir(), PACKAGED_MODEL_SHA256, tmp_path)
    path = export.ensure("fp32")
    digest = path.read_bytes()[:64]
    path.write_bytes(b"truncated")
    assert export.ensure("fp32").read_bytes()[:64] == digest
