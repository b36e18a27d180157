"""InsightFace MXNet models without MXNet: the params reader, the ONNX conversion (against an
independent numpy forward of the same symbol and params) and `aikd models add` of a .params file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from mxnet_files import numpy_forward, tiny_model, write_params

from aikd_cli.errors import WeightsError
from aikd_cli.models import mxnet

ort = pytest.importorskip("onnxruntime")


def _run(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0]


def test_params_round_trip(tmp_path):
    arrays = {"arg:w": np.arange(6, dtype=np.float32).reshape(2, 3), "aux:v": np.ones(4, np.float64)}
    write_params(tmp_path / "m-0000.params", arrays)
    read = mxnet.read_params(tmp_path / "m-0000.params")
    assert set(read) == {"w", "v"}
    np.testing.assert_array_equal(read["w"], arrays["arg:w"])
    assert read["v"].dtype == np.float64


def test_not_a_params_file(tmp_path):
    (tmp_path / "x-0000.params").write_bytes(b"\x00" * 64)
    with pytest.raises(WeightsError, match="not an MXNet params file"):
        mxnet.read_params(tmp_path / "x-0000.params")


def test_conversion_matches_numpy_forward(tmp_path):
    params_path = tiny_model(tmp_path)
    onnx_path = mxnet.convert(params_path, tmp_path / "tiny.onnx")
    x = np.random.default_rng(1).uniform(0, 255, (3, 3, 16, 16))
    want = numpy_forward(tmp_path / "tiny-symbol.json", mxnet.read_params(params_path), x)
    got = _run(onnx_path, x)
    assert got.shape == (3, 6)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # the graph is not trivially constant: different inputs, different outputs
    assert np.abs(got[0] - got[1]).max() > 1e-3


def test_unknown_operator_is_named(tmp_path):
    params_path = tiny_model(tmp_path, extra_op="SoftmaxActivation")
    with pytest.raises(WeightsError, match="SoftmaxActivation.*mystery"):
        mxnet.convert(params_path, tmp_path / "x.onnx")


def test_missing_symbol(tmp_path):
    params_path = tiny_model(tmp_path)
    (tmp_path / "tiny-symbol.json").unlink()
    with pytest.raises(WeightsError, match="tiny-symbol.json"):
        mxnet.convert(params_path, tmp_path / "x.onnx")


@pytest.mark.skipif(not os.environ.get("AIKD_MXNET_MFN"), reason="set AIKD_MXNET_MFN to insightface's model-0000.params")
def test_real_insightface_mobilefacenet(tmp_path):
    """The InsightFace MobileFaceNet of ../shared/assets/EXTERNAL.md against the numpy forward."""
    params_path = Path(os.environ["AIKD_MXNET_MFN"])
    onnx_path = mxnet.convert(params_path, tmp_path / "mfn.onnx")
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 112, 112))
    want = numpy_forward(mxnet.symbol_beside(params_path), mxnet.read_params(params_path), x)
    np.testing.assert_allclose(_run(onnx_path, x), want, rtol=1e-3, atol=1e-3)
