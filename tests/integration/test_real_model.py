"""End to end with the packaged model and a real embedded Chroma store."""
from __future__ import annotations

import numpy as np
import pytest

from service.embedding import PACKAGED_MODEL_SHA256, EmbeddingModelError, SentenceTransformerEmbedder, get_embedder
from service.vectorstore import STATEMENTS

from ..conftest import DATA

pytestmark = pytest.mark.model


def test_ingest_and_semantic_query_with_the_real_model(make_app):
    app = make_app(EMBEDDING_MODEL=None)
    svc = app.extensions["feedback"]
    client = app.test_client()
    files = [(DATA / "notes.jsonl"), (DATA / "notes.csv")]
    import json
    notes = [json.loads(l) for l in files[0].read_text().splitlines()]
    assert client.post("/api/v1/notes", json=notes).status_code == 201
    assert svc.embedder.name.startswith("all-MiniLM-L6-v2") and svc.embedder.dim == 384
    query = svc.embedder.embed(["our data downloads keep failing because they take too long"])
    hits = svc.store.query(STATEMENTS, query, k=1)[0]
    assert hits and "exports time out" in client.get(f"/api/v1/notes/{_note_of(client, hits[0])}").get_json()["text"]
    assert hits[0][2]["account"] == "Acme Logistics"


def _note_of(client, hit):
    internal = hit[2]["note_id"]
    for item in client.get("/api/v1/notes?per_page=200").get_json()["items"]:
        if item["internal_id"] == internal:
            return item["id"]
    raise AssertionError("hit has no note")


@pytest.mark.parametrize("kind", ["torch", "onnx-fp32"])
def test_vectors_are_unit_length_and_order_preserved(kind):
    emb = get_embedder(kind=kind)
    texts = ["a much longer sentence about dashboards loading slowly every morning", "short", "Okta login"]
    vecs = emb.embed(texts)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    single = emb.embed([texts[1]])
    assert np.allclose(vecs[1], single[0], atol=1e-5)


def test_weights_hash_mismatch_refuses_to_load(tmp_path):
    from service.embedding import packaged_model_dir

    fake = tmp_path / "model"
    fake.mkdir()
    (fake / "model.safetensors").write_bytes(b"not the weights")
    with pytest.raises(EmbeddingModelError, match="does not match"):
        SentenceTransformerEmbedder(str(fake), expected_sha256=PACKAGED_MODEL_SHA256)
    assert (packaged_model_dir() / "model.safetensors").is_file()
