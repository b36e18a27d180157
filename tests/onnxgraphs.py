"""Tiny hand-built ONNX graphs without aikd metadata, standing in for third-party models
(eDifFIQA(T), insightface's ArcFace): small, exact, and with a numpy reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_graph(path: Path, kind: str, batch: int | str = "N", seed: int = 0) -> np.ndarray:
    """Write ``kind`` ("quality": one output, the mean pixel; "embedding": one 512-d output, the
    mean colour times a fixed matrix) to ``path``; returns the matrix (``None`` for quality)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [batch, 3, 112, 112])
    if kind == "quality":
        nodes = [helper.make_node("ReduceMean", ["input.1"], ["score"], axes=[1, 2, 3], keepdims=0)]
        outputs = [helper.make_tensor_value_info("score", TensorProto.FLOAT, [batch])]
        inits, weight = [], None
    else:
        weight = np.random.default_rng(seed).standard_normal((3, 512)).astype(np.float32)
        nodes = [
            helper.make_node("GlobalAveragePool", ["input.1"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w"], ["683"]),
        ]
        outputs = [helper.make_tensor_value_info("683", TensorProto.FLOAT, [batch, 512])]
        inits = [numpy_helper.from_array(weight, "w")]
    graph = helper.make_graph(nodes, "third-party", [x], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return weight
