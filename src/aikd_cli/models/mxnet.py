"""InsightFace's classic MXNet models (``model-symbol.json`` + ``model-0000.params``) without MXNet.

MXNet no longer installs on current Pythons, yet insightface's model zoo (MobileFaceNet "y1",
iResNet "r50/r100"), SER-FIQ, FaceQAN and PFE ship in its format. Both files are simple: the
``.params`` file is MXNet's NDArray list (magic ``0x112``), read here with numpy; the symbol JSON is
a list of nodes. :func:`convert` writes the graph once as ONNX (numpy + onnx only) for onnxruntime
to run; an operator outside :data:`OPS` is refused by name rather than guessed.
"""

from __future__ import annotations

import ast
import json
import struct
from pathlib import Path

import numpy as np

from aikd_cli.errors import WeightsError

LIST_MAGIC = 0x112
#: NDArray record magics: V1 (dense, uint32 dims), V2/V3 (storage type, int64 dims).
ND_MAGICS = {0xF993FAC8: 1, 0xF993FAC9: 2, 0xF993FACA: 3}
DTYPES = {0: np.float32, 1: np.float64, 2: np.float16, 3: np.uint8, 4: np.int32, 5: np.int8, 6: np.int64}
#: MXNet's own defaults for attributes a symbol file may leave out.
BN_EPS, PRELU_SLOPE = 1e-3, 0.25


class _Reader:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise WeightsError(f"{self.path}: truncated MXNet params file")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values if len(values) > 1 else values[0]

    def array(self, dtype, shape: tuple[int, ...]) -> np.ndarray:
        count = int(np.prod(shape)) if shape else 1
        nbytes = count * np.dtype(dtype).itemsize
        if self.pos + nbytes > len(self.data):
            raise WeightsError(f"{self.path}: truncated MXNet params file")
        out = np.frombuffer(self.data, dtype, count, self.pos).reshape(shape).copy()
        self.pos += nbytes
        return out


def read_params(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an MXNet ``.params`` file by name, without the ``arg:``/``aux:`` prefixes."""
    path = Path(path)
    r = _Reader(path.read_bytes(), path)
    if r.take("<Q") != LIST_MAGIC:
        raise WeightsError(f"{path}: not an MXNet params file (wrong magic number)")
    r.take("<Q")  # reserved
    arrays = [_read_ndarray(r) for _ in range(r.take("<Q"))]
    names = []
    for _ in range(r.take("<Q")):
        length = r.take("<Q")
        names.append(r.data[r.pos : r.pos + length].decode("utf-8"))
        r.pos += length
    if len(names) != len(arrays):
        raise WeightsError(f"{path}: {len(arrays)} arrays but {len(names)} names")
    return {name.partition(":")[2] if ":" in name else name: a for name, a in zip(names, arrays)}


def _read_ndarray(r: _Reader) -> np.ndarray:
    magic = r.take("<I")
    version = ND_MAGICS.get(magic)
    if version is None:
        raise WeightsError(f"{r.path}: unsupported NDArray record (magic {magic:#x})")
    if version >= 2 and r.take("<i") != 0:
        raise WeightsError(f"{r.path}: sparse NDArrays are not supported")
    ndim = r.take("<I")
    shape = tuple(int(d) for d in np.atleast_1d(r.take(f"<{ndim}{'q' if version >= 2 else 'I'}"))) if ndim else ()
    if not ndim:
        return np.zeros((0,), np.float32)
    r.take("<ii")  # the context it was saved from
    type_flag = r.take("<i")
    if type_flag not in DTYPES:
        raise WeightsError(f"{r.path}: unsupported NDArray dtype code {type_flag}")
    return r.array(DTYPES[type_flag], shape)


def read_symbol(path: str | Path) -> dict:
    path = Path(path)
    try:
        symbol = json.loads(path.read_text(encoding="utf-8"))
        symbol["nodes"], symbol["heads"]  # noqa: B018
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WeightsError(f"{path}: not an MXNet symbol file ({exc})") from None
    return symbol


def symbol_beside(params: Path) -> Path:
    """``model-symbol.json`` for ``model-0000.params`` (the epoch suffix is MXNet's convention)."""
    stem = params.stem.rpartition("-")[0] or params.stem
    return params.with_name(f"{stem}-symbol.json")


def _tuple(text: str | None, default: tuple[int, ...]) -> list[int]:
    if text is None:
        return list(default)
    value = ast.literal_eval(text)
    return list(value) if isinstance(value, tuple | list) else [int(value)]


def _true(text: str | None, default: bool) -> bool:
    return default if text is None else str(text).lower() in ("true", "1")


class _Builder:
    """Translates symbol nodes into ONNX nodes, one MXNet operator at a time."""

    def __init__(self, symbol: dict, params: dict[str, np.ndarray], where: str) -> None:
        self.nodes, self.params, self.where = symbol["nodes"], params, where
        self.onnx_nodes: list = []
        self.initializers: dict[str, np.ndarray] = {}
        self.names: list[str] = []

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers[name] = np.asarray(value, dtype=np.float32)
        return name

    def param(self, entry: list[int]) -> np.ndarray:
        name = self.nodes[entry[0]]["name"]
        if name not in self.params:
            raise WeightsError(f"{self.where}: the params file has no array {name!r}")
        return self.params[name].astype(np.float32)

    def add(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        from onnx import helper

        self.onnx_nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def build(self, node: dict, index: int) -> str:
        op, attrs, name = node["op"], node.get("attrs", node.get("param", {})) or {}, node["name"]
        handler = OPS.get(op)
        if handler is None:
            raise WeightsError(
                f"{self.where}: MXNet operator {op!r} (node {name!r}) is not supported",
                hint=f"aikd converts {', '.join(sorted(OPS))}",
            )
        return handler(self, node, attrs, name)

    def data(self, node: dict, k: int = 0) -> str:
        return self.names[node["inputs"][k][0]]


def _conv(b: _Builder, node, attrs, name) -> str:
    weight = b.param(node["inputs"][1])
    kernel = _tuple(attrs.get("kernel"), (1, 1))
    inputs = [b.data(node), b.const(name + "_weight", weight)]
    if not _true(attrs.get("no_bias"), False):
        inputs.append(b.const(name + "_bias", b.param(node["inputs"][2])))
    pad = _tuple(attrs.get("pad"), (0,) * len(kernel))
    return b.add("Conv", inputs, name, kernel_shape=kernel, strides=_tuple(attrs.get("stride"), (1,) * len(kernel)),
                 pads=pad + pad, dilations=_tuple(attrs.get("dilate"), (1,) * len(kernel)),
                 group=int(attrs.get("num_group", 1)))


def _batchnorm(b: _Builder, node, attrs, name) -> str:
    gamma, beta, mean, var = (b.param(e) for e in node["inputs"][1:5])
    if _true(attrs.get("fix_gamma"), True):  # MXNet's default: gamma is held at 1
        gamma = np.ones_like(gamma)
    if int(attrs.get("axis", 1)) != 1:
        raise WeightsError(f"{b.where}: BatchNorm {name!r} over axis {attrs['axis']} is not supported")
    inputs = [b.data(node)] + [b.const(f"{name}_{k}", v) for k, v in
                               (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var))]
    return b.add("BatchNormalization", inputs, name, epsilon=float(attrs.get("eps", BN_EPS)))


def _leaky(b: _Builder, node, attrs, name) -> str:
    kind = attrs.get("act_type", "leaky")
    if kind == "prelu":
        slope = b.param(node["inputs"][1])
        return b.add("PRelu", [b.data(node), b.const(name + "_slope", slope.reshape(-1, 1, 1))], name)
    if kind == "leaky":
        return b.add("LeakyRelu", [b.data(node)], name, alpha=float(attrs.get("slope", PRELU_SLOPE)))
    raise WeightsError(f"{b.where}: LeakyReLU act_type {kind!r} (node {name!r}) is not supported")


def _activation(b: _Builder, node, attrs, name) -> str:
    ops = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}
    kind = attrs.get("act_type")
    if kind not in ops:
        raise WeightsError(f"{b.where}: Activation act_type {kind!r} (node {name!r}) is not supported")
    return b.add(ops[kind], [b.data(node)], name)


def _add(b: _Builder, node, attrs, name) -> str:
    return b.add("Add", [b.data(node, 0), b.data(node, 1)], name)


def _fully_connected(b: _Builder, node, attrs, name) -> str:
    x = b.data(node)
    if _true(attrs.get("flatten"), True):
        x = b.add("Flatten", [x], name + "_flat", axis=1)
    inputs = [x, b.const(name + "_weight", b.param(node["inputs"][1]))]
    if not _true(attrs.get("no_bias"), False):
        inputs.append(b.const(name + "_bias", b.param(node["inputs"][2])))
    return b.add("Gemm", inputs, name, transB=1)


def _flatten(b: _Builder, node, attrs, name) -> str:
    return b.add("Flatten", [b.data(node)], name, axis=1)


def _identity(b: _Builder, node, attrs, name) -> str:  # Dropout at inference
    return b.add("Identity", [b.data(node)], name)


def _scalar(op: str):
    def handler(b: _Builder, node, attrs, name) -> str:
        scalar = b.const(name + "_scalar", np.float32(float(attrs["scalar"])))
        return b.add(op, [b.data(node), scalar], name)

    return handler


OPS = {
    "Convolution": _conv,
    "BatchNorm": _batchnorm,
    "LeakyReLU": _leaky,
    "Activation": _activation,
    "elemwise_add": _add,
    "_Plus": _add,
    "broadcast_add": _add,
    "FullyConnected": _fully_connected,
    "Flatten": _flatten,
    "Dropout": _identity,
    "_minus_scalar": _scalar("Sub"),
    "_plus_scalar": _scalar("Add"),
    "_mul_scalar": _scalar("Mul"),
    "_div_scalar": _scalar("Div"),
}


def convert(params_path: str | Path, output: str | Path, *, opset: int = 17) -> Path:
    """Write the MXNet model ``params_path`` (its ``-symbol.json`` beside it) as ONNX to ``output``.

    The graph keeps MXNet's input (``data``, NCHW float, the pixel values the model was trained on;
    its side is left open, as the symbol file does not state it) and its first head as the output.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    params_path = Path(params_path)
    symbol_path = symbol_beside(params_path)
    if not symbol_path.is_file():
        raise WeightsError(f"{params_path}: no {symbol_path.name} beside it (MXNet models come as two files)")
    symbol, params = read_symbol(symbol_path), read_params(params_path)
    builder = _Builder(symbol, params, str(symbol_path))
    inputs = []
    for index, node in enumerate(symbol["nodes"]):
        if node["op"] == "null":
            if node["name"] not in params and index not in _param_inputs(symbol):
                inputs.append(node["name"])
            builder.names.append(node["name"])
            continue
        builder.names.append(builder.build(node, index))
    if len(inputs) != 1:
        raise WeightsError(f"{symbol_path}: expected one image input, found {inputs or 'none'}")
    head = builder.names[symbol["heads"][0][0]]
    graph = helper.make_graph(
        builder.onnx_nodes, params_path.stem,
        [helper.make_tensor_value_info(inputs[0], TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info(head, TensorProto.FLOAT, ["N", None])],
        [numpy_helper.from_array(v, k) for k, v in builder.initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="aikd mxnet")
    model.ir_version = min(model.ir_version, 8)
    onnx.checker.check_model(model)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    from aikd_cli.utils.atomic import atomic_write

    atomic_write(output, model.SerializeToString())
    return output


def _param_inputs(symbol: dict) -> set[int]:
    """Indices of ``null`` nodes feeding a weight slot (anything but an operator's first input)."""
    return {entry[0] for node in symbol["nodes"] if node["op"] != "null" for entry in node["inputs"][1:]}
