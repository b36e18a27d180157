"""MXNet model files for tests, written from scratch (no MXNet), and an independent numpy forward.

``write_params`` writes MXNet's NDArray list format (magic 0x112, V2 records); ``tiny_model``
builds an insightface-style graph with every operator aikd converts; ``numpy_forward`` runs a
symbol + params with plain numpy loops (no ONNX), the reference the converter is tested against.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

DTYPE_CODES = {np.dtype(np.float32): 0, np.dtype(np.float64): 1, np.dtype(np.float16): 2}


def write_params(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Arrays under their MXNet names (``arg:...`` / ``aux:...``)."""
    out = bytearray(struct.pack("<QQQ", 0x112, 0, len(arrays)))
    for a in arrays.values():
        a = np.ascontiguousarray(a)
        out += struct.pack("<IiI", 0xF993FAC9, 0, a.ndim) + struct.pack(f"<{a.ndim}q", *a.shape)
        out += struct.pack("<iii", 1, 0, DTYPE_CODES[a.dtype]) + a.tobytes()
    out += struct.pack("<Q", len(arrays))
    for name in arrays:
        out += struct.pack("<Q", len(name.encode())) + name.encode()
    path.write_bytes(bytes(out))


class _Graph:
    def __init__(self, rng: np.random.Generator) -> None:
        self.nodes: list[dict] = [{"op": "null", "name": "data", "inputs": []}]
        self.params: dict[str, np.ndarray] = {}
        self.rng = rng

    def var(self, name: str, value: np.ndarray, aux: bool = False) -> int:
        self.nodes.append({"op": "null", "name": name, "inputs": []})
        self.params[("aux:" if aux else "arg:") + name] = value.astype(np.float32)
        return len(self.nodes) - 1

    def op(self, op: str, name: str, inputs: list[int], **attrs) -> int:
        node = {"op": op, "name": name, "inputs": [[i, 0, 0] for i in inputs]}
        if attrs:
            node["attrs"] = {k: str(v) for k, v in attrs.items()}
        self.nodes.append(node)
        return len(self.nodes) - 1

    def conv(self, x: int, name: str, cin: int, cout: int, k: int, stride: int, group: int = 1) -> int:
        w = self.var(name + "_weight", self.rng.normal(0, 0.3, (cout, cin // group, k, k)))
        return self.op("Convolution", name, [x, w], kernel=(k, k), stride=(stride, stride), pad=(k // 2, k // 2),
                       num_filter=cout, num_group=group, no_bias=True)

    def bn(self, x: int, name: str, c: int, **attrs) -> int:
        ins = [x, self.var(name + "_gamma", self.rng.uniform(0.5, 1.5, c)), self.var(name + "_beta", self.rng.normal(0, 0.1, c)),
               self.var(name + "_moving_mean", self.rng.normal(0, 0.1, c), aux=True),
               self.var(name + "_moving_var", self.rng.uniform(0.5, 1.5, c), aux=True)]
        return self.op("BatchNorm", name, ins, **attrs)

    def prelu(self, x: int, name: str, c: int) -> int:
        return self.op("LeakyReLU", name, [x, self.var(name + "_gamma", self.rng.uniform(0.1, 0.4, c))], act_type="prelu")


def tiny_model(folder: Path, *, extra_op: str | None = None, seed: int = 0, side: int = 16, features: int = 6) -> Path:
    """A ``side`` x ``side``-input insightface-style graph (scalar pre-processing, conv-BN-PReLU, a
    depthwise residual block, a ReLU, FC + BN with fixed gamma) with a ``features``-d output;
    returns the ``.params`` path."""
    g = _Graph(np.random.default_rng(seed))
    x = g.op("_minus_scalar", "_minusscalar0", [0], scalar=127.5)
    x = g.op("_mul_scalar", "_mulscalar0", [x], scalar=0.0078125)
    x = g.prelu(g.bn(g.conv(x, "conv_1", 3, 8, 3, 2), "conv_1_bn", 8, fix_gamma=False), "conv_1_relu", 8)
    y = g.bn(g.conv(x, "dw", 8, 8, 3, 1, group=8), "dw_bn", 8, fix_gamma=False, eps=2e-5)
    y = g.op("Activation", "dw_relu", [y], act_type="relu")
    x = g.op("elemwise_add", "_plus0", [y, x])
    x = g.op("Dropout", "drop", [x], p=0.4)
    if extra_op:
        x = g.op(extra_op, "mystery", [x])
    x = g.op("Flatten", "flat", [x])
    fc_w = g.var("pre_fc1_weight", g.rng.normal(0, 0.1, (features, 8 * (side // 2) ** 2)))
    fc_b = g.var("pre_fc1_bias", g.rng.normal(0, 0.1, features))
    x = g.op("FullyConnected", "pre_fc1", [x, fc_w, fc_b], num_hidden=features)
    g.bn(x, "fc1", features, eps=2e-5, fix_gamma=True)
    folder.mkdir(parents=True, exist_ok=True)
    symbol = {"nodes": g.nodes, "arg_nodes": [], "heads": [[len(g.nodes) - 1, 0, 0]], "attrs": {"mxnet_version": ["int", 10000]}}
    (folder / "tiny-symbol.json").write_text(json.dumps(symbol))
    write_params(folder / "tiny-0000.params", g.params)
    return folder / "tiny-0000.params"


def _conv_np(x: np.ndarray, w: np.ndarray, stride: int, pad: int, group: int) -> np.ndarray:
    """Grouped 2-D cross-correlation by its definition: every output is the sum over the window."""
    cout, cin_g, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    per = cout // group
    outs = [np.einsum("nchwij,ocij->nohw", windows[:, g * cin_g:(g + 1) * cin_g], w[g * per:(g + 1) * per])
            for g in range(group)]
    return np.concatenate(outs, axis=1)


def numpy_forward(symbol_path: Path, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The head of an MXNet graph on ``x`` (float64 throughout), by the MXNet operator definitions."""
    nodes = json.loads(symbol_path.read_text())["nodes"]
    vals: list = []
    for node in nodes:
        a = node.get("attrs", {})
        ins = [vals[i[0]] for i in node["inputs"]]
        op = node["op"]
        if op == "null":
            vals.append(x.astype(np.float64) if node["name"] == "data" else params[node["name"]].astype(np.float64))
        elif op == "_minus_scalar":
            vals.append(ins[0] - float(a["scalar"]))
        elif op == "_mul_scalar":
            vals.append(ins[0] * float(a["scalar"]))
        elif op == "Convolution":
            stride, pad = (int(a.get(key, "(0,)").strip("()").split(",")[0]) for key in ("stride", "pad"))
            vals.append(_conv_np(ins[0], ins[1], stride or 1, pad, int(a.get("num_group", 1))))
        elif op == "BatchNorm":
            gamma = np.ones_like(ins[1]) if a.get("fix_gamma", "True") == "True" else ins[1]
            shape = (1, -1) + (1,) * (ins[0].ndim - 2)
            eps = float(a.get("eps", 1e-3))
            vals.append((ins[0] - ins[3].reshape(shape)) / np.sqrt(ins[4].reshape(shape) + eps) * gamma.reshape(shape)
                        + ins[2].reshape(shape))
        elif op == "LeakyReLU":
            slope = ins[1].reshape(1, -1, 1, 1)
            vals.append(np.where(ins[0] > 0, ins[0], ins[0] * slope))
        elif op == "Activation":
            vals.append(np.maximum(ins[0], 0))
        elif op == "elemwise_add":
            vals.append(ins[0] + ins[1])
        elif op == "Dropout":
            vals.append(ins[0])
        elif op == "Flatten":
            vals.append(ins[0].reshape(len(ins[0]), -1))
        elif op == "FullyConnected":
            bias = ins[2] if a.get("no_bias", "False") != "True" else 0.0
            vals.append(ins[0].reshape(len(ins[0]), -1) @ ins[1].T + bias)
        else:
            raise NotImplementedError(op)
    return vals[-1]
