"""Turn a TensorFlow 1 frozen graph (LightQNet's ``.pb``) into an ONNX file aikd can score, and
check it against TensorFlow itself.

aikd has no TensorFlow dependency: run this in a separate environment that has one, once, then
register the ONNX file with its input spec (docs/models.md, "TF1 frozen graphs")::

    python -m venv tfenv && tfenv/bin/pip install tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnxruntime pillow
    tfenv/bin/python benchmarks/convert_tf_graph.py lightqnet-dm100.pb -o lightqnet-dm100.onnx \
        --input input:0 --output confidence_st:0 --check-images ../shared/assets/lfw
    aikd models add lightqnet lightqnet-dm100.onnx

The check feeds the same float inputs (``--check-images``: photos resized to the graph's input
size, normalised as ``--mean``/``--std`` say; or seeded noise) through TensorFlow and through
onnxruntime and reports the largest absolute difference; it fails above ``--tolerance`` (1e-5).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np


def load_graph_def(path: Path):
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(path.read_bytes())
    return graph_def


def convert(pb: Path, onnx_path: Path, inputs: list[str], outputs: list[str], opset: int) -> None:
    import tf2onnx

    graph_def = load_graph_def(pb)
    model, _ = tf2onnx.convert.from_graph_def(graph_def, input_names=inputs, output_names=outputs, opset=opset)
    meta = model.metadata_props.add()
    meta.key = "converted_from"
    meta.value = json.dumps({"file": pb.name, "sha256": hashlib.sha256(pb.read_bytes()).hexdigest(),
                             "converter": f"tf2onnx {tf2onnx.__version__}", "opset": opset})
    onnx_path.write_bytes(model.SerializeToString())


def check_inputs(shape: list[int], images: Path | None, mean: float, std: float, count: int) -> np.ndarray:
    """``count`` float inputs of the graph's NHWC shape: photos resized to it, or seeded noise."""
    _, h, w, c = shape
    if images is None:
        return np.random.default_rng(0).uniform(-1, 1, size=(count, h, w, c)).astype(np.float32)
    from PIL import Image

    files = sorted(p for p in images.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:count]
    rgb = [np.asarray(Image.open(f).convert("RGB").resize((w, h), Image.BILINEAR), dtype=np.float32) for f in files]
    return ((np.stack(rgb) - mean) / std).astype(np.float32)


def run_tensorflow(pb: Path, x: np.ndarray, input_name: str, output_name: str) -> np.ndarray:
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(load_graph_def(pb), name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        return sess.run(output_name, {input_name: x})


def run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pb", type=Path, help="the frozen GraphDef (.pb)")
    ap.add_argument("-o", "--output-file", type=Path, required=True, help="the ONNX file to write")
    ap.add_argument("--input", default="input:0", help="the graph's image input tensor")
    ap.add_argument("--output", default="confidence_st:0", help="the graph's quality (or embedding) tensor")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--check-images", type=Path, default=None, help="a folder of photos for the check (else noise)")
    ap.add_argument("--check-count", type=int, default=64)
    ap.add_argument("--mean", type=float, default=128.0, help="pixel mean the graph expects (LightQNet: 128)")
    ap.add_argument("--std", type=float, default=128.0, help="pixel std the graph expects (LightQNet: 128)")
    ap.add_argument("--tolerance", type=float, default=1e-5)
    args = ap.parse_args(argv)

    convert(args.pb, args.output_file, [args.input], [args.output], args.opset)
    import onnxruntime as ort

    shape = ort.InferenceSession(str(args.output_file), providers=["CPUExecutionProvider"]).get_inputs()[0].shape
    shape = [d if isinstance(d, int) else 1 for d in shape]
    x = check_inputs(shape, args.check_images, args.mean, args.std, args.check_count)
    want = run_tensorflow(args.pb, x, args.input, args.output)
    got = run_onnx(args.output_file, x)
    diff = float(np.abs(want.astype(np.float64) - got).max())
    print(json.dumps({"onnx": str(args.output_file), "inputs": len(x), "max_abs_diff": diff,
                      "output_range": [float(want.min()), float(want.max())], "tolerance": args.tolerance}))
    if not diff <= args.tolerance:
        print(f"error: ONNX and TensorFlow differ by {diff:.3g} > {args.tolerance:g}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
