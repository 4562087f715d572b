"""The packaged MiniLM on onnxruntime: exported once from the verified weights, cached, int8 where the CPU has VNNI.

Why: embedding is most of the cost of every job, and torch takes seconds to import. The ONNX graph holds the
transformer plus sentence-transformers' mean pooling and L2 normalisation, so the vectors match the torch
pipeline (fp32: cosine 1.0000; int8: about 0.992, measured by `python -m eval.bench_embedder`). Only the export
needs torch; after it a process loads onnxruntime and the tokenizer, nothing else.

The cache key is the sha256 of the source weights plus the export recipe, so new weights or a new recipe export
again and nothing stale is ever loaded. A manifest records the sha256 of each exported file and is checked on load.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from .embedding import EmbeddingModelError, sha256_file, verify_weights

log = logging.getLogger(__name__)

RECIPE = "v1"  # bump when the export or quantisation below changes: it is part of the cache key
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SMALL_BATCH = 8  # a request's question or two: one thread answers sooner on a busy machine (see embedding.py)


def cpu_has_vnni(cpuinfo: str | None = None) -> bool:
    """int8 matrix products only pay off with VNNI (measured: avx2-only int8 gave no gain over fp32)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})


def choose_variant(requested: str | None) -> str:
    """'fp32' (the default: the same vectors as torch) or 'int8' where the CPU has VNNI.

    int8 is opt-in (FEEDBACK_EMBEDDER=onnx-int8): it is about 2.5x faster than fp32 here, but its vectors move
    enough (mean cosine 0.992 to torch) to fail the drafts eval gate and the theme-id stability tests."""
    requested = (requested or "fp32").lower()
    if requested not in ("int8", "fp32"):
        raise EmbeddingModelError(f"unknown ONNX variant {requested!r}; use int8 or fp32")
    if requested == "int8" and not cpu_has_vnni():
        log.warning("FEEDBACK_EMBEDDER=onnx-int8: this CPU has no VNNI, where int8 is no faster; using fp32")
        return "fp32"
    return requested


def onnx_name(name: str, variant: str) -> str:
    """fp32 vectors match torch's (cosine 1.0000), so they share its name and index; int8 ones do not."""
    return name if variant == "fp32" else f"{name}-int8"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "feedback-service"


def _max_seq_length(model_dir: Path) -> int:
    try:
        return int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, KeyError, ValueError):
        return 256  # all-MiniLM-L6-v2's own setting


def _check_mean_pooling(model_dir: Path) -> None:
    """The graph bakes in mean pooling + normalisation; refuse a model folder that pools otherwise."""
    config = model_dir / "1_Pooling" / "config.json"
    try:
        pooling = json.loads(config.read_text())
    except (OSError, ValueError) as exc:
        raise EmbeddingModelError(f"{config}: cannot read the pooling config ({exc}); use FEEDBACK_EMBEDDER=torch")
    others = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v and k != "pooling_mode_mean_tokens"]
    if not pooling.get("pooling_mode_mean_tokens") or others:
        raise EmbeddingModelError(f"{config}: the ONNX embedder supports mean pooling only; use FEEDBACK_EMBEDDER=torch")


def _export_fp32(model_dir: Path, out: Path) -> None:
    """Trace the transformer with pooling and normalisation on top (needs torch, once)."""
    import torch
    from transformers import AutoModel

    from .embedding import _quiet_transformers

    _quiet_transformers()

    class Pooled(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    model = Pooled(AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval())
    sample = torch.ones(2, 16, dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    axes["embedding"] = {0: "batch"}
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about python branches that do not depend on shapes here
        # The TorchScript exporter (dynamo=False) needs no onnxscript and handles this encoder with dynamic axes.
        torch.onnx.export(model, (sample, sample, torch.zeros_like(sample)), str(out), input_names=list(INPUTS),
                          output_names=["embedding"], dynamic_axes=axes, opset_version=17, dynamo=False)


def _quantize_int8(fp32: Path, out: Path) -> None:
    """Dynamic int8 of the weight matrix products, per channel (per tensor gave cosine 0.956 to torch).

    The first layer's feed-forward output projection stays fp32: it is the most sensitive one (hwu64, 1,000
    utterances: mean cosine 0.9908 -> 0.9923 for about 8% of the int8 speed-up)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(fp32), load_external_data=False).graph
    matmuls = [n.name for n in graph.node if n.op_type == "MatMul"]
    ffn_out = [n for n in matmuls if n.endswith("/output/dense/MatMul") and "/attention/" not in n]
    keep_fp32 = ffn_out[:1]
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser's advice to pre-process is noise here; only while it runs, or
    try:  # every warning of this process would be silenced from then on
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=keep_fp32)
    finally:
        root.setLevel(level)


class OnnxExport:
    """The cache folder of one source model: <cache>/onnx/<weights sha256[:16]>-<recipe>/model-<variant>.onnx."""

    def __init__(self, model_dir: Path, weights_sha256: str, cache_dir: Path):
        self.model_dir = model_dir
        self.folder = Path(cache_dir) / "onnx" / f"{weights_sha256[:16]}-{RECIPE}"
        self.weights_sha256 = weights_sha256

    def path(self, variant: str) -> Path:
        return self.folder / f"model-{variant}.onnx"

    def ensure(self, variant: str) -> Path:
        """The exported file, made once under a file lock (several gunicorn workers may start together)."""
        from filelock import FileLock

        target = self.path(variant)
        if self._valid(target):
            return target
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbeddingModelError(f"cannot create the embedder cache {self.folder}: {exc} "
                                      "(set FEEDBACK_MODEL_CACHE to a writable folder)") from exc
        with FileLock(str(self.folder / ".lock"), timeout=600):
            if self._valid(target):
                return target
            fp32 = self.path("fp32")
            if not self._valid(fp32):
                log.info("exporting %s to ONNX (once)", self.model_dir)
                self._write(fp32, lambda tmp: _export_fp32(self.model_dir, tmp))
            if variant == "int8":
                self._write(target, lambda tmp: _quantize_int8(fp32, tmp))
        return target

    def _write(self, target: Path, make) -> None:
        tmp = target.with_suffix(f".tmp{os.getpid()}.onnx")
        try:
            make(tmp)
            digest = sha256_file(tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        manifest = self._manifest()
        manifest[target.name] = digest
        manifest["source_weights_sha256"] = self.weights_sha256
        manifest["recipe"] = RECIPE
        tmp_manifest = self.folder / f"manifest.json.tmp{os.getpid()}"
        tmp_manifest.write_text(json.dumps(manifest, indent=2))
        os.replace(tmp_manifest, self.folder / "manifest.json")

    def _manifest(self) -> dict:
        try:
            return json.loads((self.folder / "manifest.json").read_text())
        except (OSError, ValueError):
            return {}

    def _valid(self, target: Path) -> bool:
        """Present and byte-for-byte what we exported (a truncated or altered file is exported again)."""
        expected = self._manifest().get(target.name)
        return bool(expected) and target.is_file() and sha256_file(target) == expected


class OnnxEmbedder:
    """Mean-pooled, normalised MiniLM vectors from onnxruntime; same interface as the torch embedder."""

    def __init__(self, model_dir: Path, *, name: str, expected_sha256: str | None, cache_dir: Path | None = None,
                 variant: str | None = None, threads: int | None = None, batch_size: int = 32):
        verify_weights(model_dir, expected_sha256)
        _check_mean_pooling(model_dir)
        weights_sha = expected_sha256 or sha256_file(model_dir / "model.safetensors")
        self.variant = choose_variant(variant)
        self.name = onnx_name(name, self.variant)
        self.batch_size = batch_size
        export = OnnxExport(model_dir, weights_sha, Path(cache_dir or default_cache_dir()))
        self.model_path = export.ensure(self.variant)
        self._tokenizer = _load_tokenizer(model_dir)
        self.threads = threads or max(1, min(4, os.cpu_count() or 1))
        self._sessions: dict[int, object] = {}
        self._sessions_lock = threading.Lock()
        self.dim = int(self._session(1).get_outputs()[0].shape[1])

    def _session(self, threads: int):
        """One session per thread count, made on first use (a CLI query never pays for the wide one)."""
        with self._sessions_lock:
            if threads not in self._sessions:
                self._sessions[threads] = _session(self.model_path, threads)
            return self._sessions[threads]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        session = self._session(1 if len(texts) <= SMALL_BATCH else self.threads)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # little padding per batch
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            encoded = self._tokenizer.encode_batch([texts[i] for i in idx])
            feed = {
                "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
            }
            out[idx] = session.run(None, feed)[0]
        return out


def _load_tokenizer(model_dir: Path):
    from tokenizers import Tokenizer

    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise EmbeddingModelError(f"no tokenizer.json in {model_dir}; use FEEDBACK_EMBEDDER=torch")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=_max_seq_length(model_dir))  # as sentence-transformers truncates
    pad_id = tokenizer.token_to_id("[PAD]") or 0
    tokenizer.enable_padding(pad_id=pad_id, pad_token="[PAD]")
    return tokenizer


def _session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Busy-waiting threads would burn the cores other workers and processes need between batches.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
