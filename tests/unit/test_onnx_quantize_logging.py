"""Quieting the int8 quantiser's advice must not silence the process: the root logger's level comes back after it,
also when it fails (it stayed at ERROR, and every later warning of the service was dropped)."""
from __future__ import annotations

import logging
import types

import pytest


@pytest.mark.parametrize("fails", [False, True])
def test_the_root_log_level_is_restored_after_quantizing(monkeypatch, tmp_path, fails):
    import onnx
    import onnxruntime.quantization as quantization

    from service import onnx_embedder

    graph = types.SimpleNamespace(node=[types.SimpleNamespace(name="/layer.0/output/dense/MatMul", op_type="MatMul")])
    monkeypatch.setattr(onnx, "load", lambda *a, **k: types.SimpleNamespace(graph=graph))
    seen = {}

    def quantize(*args, **kwargs):
        seen["level"] = logging.getLogger().level
        if fails:
            raise RuntimeError("quantiser failed")

    monkeypatch.setattr(quantization, "quantize_dynamic", quantize)
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", logging.WARNING)
    if fails:
        with pytest.raises(RuntimeError):
            onnx_embedder._quantize_int8(tmp_path / "fp32.onnx", tmp_path / "int8.onnx")
    else:
        onnx_embedder._quantize_int8(tmp_path / "fp32.onnx", tmp_path / "int8.onnx")
    assert seen["level"] == logging.ERROR and root.level == logging.WARNING
