"""Any face model, declared once: `aikd models add NAME FILE` with an input spec (ONNX of any layout
and normalisation, torch files of unknown origin), MXNet models converted without MXNet, run folders,
user defaults, and the `aikd models` table and `show`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from mxnet_files import numpy_forward, tiny_model
from paths import SRC
from typer.testing import CliRunner

from aikd_cli.cli.app import app
from aikd_cli.errors import WeightsError
from aikd_cli.models import adding, mxnet, user_models
from aikd_cli.models.declared import InputDeclaration
from aikd_cli.models.inference import open_face_model

ort = pytest.importorskip("onnxruntime")
runner = CliRunner()


def nhwc_quality_graph(path, side: int = 96) -> None:
    """A TensorFlow-style graph: NHWC float input, quality = a fixed weighting of the mean colour
    (so the colour order and the normalisation change the answer)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("input:0", TensorProto.FLOAT, ["N", side, side, 3])
    w = numpy_helper.from_array(np.array([[1.0], [0.0], [-2.0]], np.float32), "w")
    nodes = [helper.make_node("ReduceMean", ["input:0"], ["m"], axes=[1, 2], keepdims=0),
             helper.make_node("MatMul", ["m", "w"], ["confidence_st:0"])]
    out = helper.make_tensor_value_info("confidence_st:0", TensorProto.FLOAT, ["N", 1])
    model = helper.make_model(helper.make_graph(nodes, "tf", [x], [out], [w]), opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_declared_nhwc_onnx_is_fed_as_declared(config, tmp_path):
    nhwc_quality_graph(tmp_path / "q.onnx")
    declared = InputDeclaration(task="quality", size=96, colour="bgr", mean=(128,), std=(64,), layout="nhwc",
                                output="confidence_st:0")
    entry, _ = adding.add("my-fiqa", tmp_path / "q.onnx", declared)
    assert entry.task == "quality" and entry.declaration == declared
    model = open_face_model("my-fiqa", device="cpu", expect="quality")
    crops = torch.randint(0, 256, (3, 3, 96, 96), dtype=torch.uint8)
    got = model(crops).quality.numpy()
    # independently: BGR, (x - 128) / 64, NHWC, then the graph's own arithmetic
    x = (crops.flip(1).permute(0, 2, 3, 1).numpy().astype(np.float64) - 128) / 64
    want = x.mean(axis=(1, 2)) @ np.array([1.0, 0.0, -2.0])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # the registration survives a new process (the record is on disk)
    assert json.loads(config.read_text())["models"]["my-fiqa"]["declared"]["layout"] == "nhwc"


def test_a_spec_the_graph_cannot_take_is_one_error_at_add(config, tmp_path):
    nhwc_quality_graph(tmp_path / "q.onnx")
    for declared, why in ((InputDeclaration(task="quality", size=96), "does not take"),
                          (InputDeclaration(task="quality", size=112, layout="nhwc"), "does not take"),
                          (InputDeclaration(task="quality", size=96, layout="nhwc", output=3), "none at index 3"),
                          (InputDeclaration(task="quality", size=96, layout="nhwc", output="nope"), "no graph output named")):
        with pytest.raises(WeightsError, match=why):
            adding.add("bad", tmp_path / "q.onnx", declared)
    assert not config.exists()
    result = runner.invoke(app, ["models", "add", "x", str(tmp_path / "q.onnx"), "--size", "96"])
    assert result.exit_code == 2 and "--task" in result.stderr


def test_an_onnx_file_without_spec_or_declaration_is_refused_with_the_way_out(config, tmp_path):
    nhwc_quality_graph(tmp_path / "q.onnx")
    with pytest.raises(WeightsError, match="no aikd metadata"):
        adding.add("undeclared", tmp_path / "q.onnx")


def test_mxnet_params_are_converted_and_run_by_name(config, tmp_path):
    params = tiny_model(tmp_path / "mx")
    declared = InputDeclaration(task="recognition", size=16, mean=(0,), std=(1,))
    entry, _ = adding.add("tiny-mx", params, declared)
    assert entry.source == str(params.resolve()) and entry.path.endswith(".onnx") and entry.arch == "external"
    model = open_face_model("tiny-mx", device="cpu", expect="recognition")
    crops = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    got = model(crops).embedding.numpy()
    want = numpy_forward(tmp_path / "mx" / "tiny-symbol.json", mxnet.read_params(params), crops.numpy())
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_registry_name_with_a_foreign_file_says_how_to_keep_it(config, retinaface_weights):
    result = runner.invoke(app, ["models", "add", "retinaface-mnet025", str(retinaface_weights)])
    assert result.exit_code == 2 and "checksum mismatch" in result.stderr
    assert "aikd models add my-retinaface-mnet025" in result.stderr and "download again" not in result.stderr


def test_registry_entry_spec_cannot_be_redeclared(config, tmp_path):
    nhwc_quality_graph(tmp_path / "q.onnx")
    with pytest.raises(WeightsError, match="fixed by the registry"):
        adding.add("lightqnet", tmp_path / "q.onnx", InputDeclaration(task="quality", size=96, layout="nhwc"))


def test_lightqnet_onnx_must_come_from_the_published_graph(config, tmp_path):
    nhwc_quality_graph(tmp_path / "q.onnx")  # carries no converted_from record
    with pytest.raises(WeightsError, match="converted_from"):
        adding.add("lightqnet", tmp_path / "q.onnx")
    (tmp_path / "lightqnet-dm100.pb").write_bytes(b"\x00")
    with pytest.raises(WeightsError, match="TensorFlow graph"):
        adding.add("my-lq", tmp_path / "lightqnet-dm100.pb")


def test_a_run_folder_is_added_like_model_takes_it(config, tiny_quality_checkpoint, tmp_path):
    from aikd_cli.models.checkpoints import save_checkpoint
    from aikd_cli.models.loading import load_network

    loaded = load_network(tiny_quality_checkpoint)
    run = tmp_path / "run"
    run.mkdir()
    save_checkpoint(run / "best.safetensors", loaded.net, loaded.config)
    entry, _ = adding.add("my-student", run)
    assert entry.path == str(run / "best.safetensors") and entry.task == "quality"


def test_torch_file_gets_a_declared_colour_order(config, tiny_quality_checkpoint):
    entry, _ = adding.add("bgr-teacher", tiny_quality_checkpoint,
                               InputDeclaration(task="quality", colour="bgr", mean=(127.5,), std=(128,)))
    model = open_face_model("bgr-teacher", device="cpu", expect="quality")
    assert model.config.preprocess.colour == "BGR" and model.config.preprocess.std == (128.0,) * 3
    with pytest.raises(WeightsError, match="not a recognition model"):
        adding.add("x", tiny_quality_checkpoint, InputDeclaration(task="recognition"))


def test_defaults_are_the_users_in_every_command(config, tiny_quality_checkpoint, tmp_path):
    adding.add("my-teacher", tiny_quality_checkpoint)
    with pytest.raises(WeightsError, match="not a detection model"):
        user_models.set_default("detection", "my-teacher")
    with pytest.raises(WeightsError, match="neither a registry name"):
        user_models.set_default("quality", "nothing-here")
    assert user_models.set_default("quality", "my-teacher") == "my-teacher"
    assert user_models.registered()  # setting a default keeps the registrations
    env = {**os.environ, "AIKD_CONFIG_DIR": str(config.parent), "PYTHONPATH": str(SRC), "COLUMNS": "200"}
    code = "from aikd_cli import ScoreOptions; print(ScoreOptions(inputs=['x']).model)"
    api = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert api.stdout.strip() == "my-teacher", api.stderr
    cli = subprocess.run([sys.executable, "-m", "aikd_cli", "score", "--help"], env=env, capture_output=True, text=True)
    assert "my-teacher" in cli.stdout
    table = subprocess.run([sys.executable, "-m", "aikd_cli", "models"], env=env, capture_output=True, text=True)
    assert "my-teacher*" in table.stdout and "ediffiqa-l*" not in table.stdout
    user_models.set_default("quality", None)
    api = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert api.stdout.strip() == "ediffiqa-l"


def test_models_table_fits_80_columns_and_show_has_the_rest(config):
    table = runner.invoke(app, ["models"], env={"COLUMNS": "80"})
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert max(len(x) for x in lines) <= 80 and "…" not in table.stdout
    assert any(x.split()[:1] == ["insightface-mfn"] and "4.1 MB" in x for x in lines)
    shown = runner.invoke(app, ["models", "show", "lightqnet"])
    assert shown.exit_code == 0
    assert "96x96 RGB, (x - [128,128,128]) / [128,128,128], NHWC" in shown.stdout and "057b8ea2" in shown.stdout
    missing = runner.invoke(app, ["models", "show", "lightqnett"])
    assert missing.exit_code == 2 and "did you mean 'lightqnet'" in missing.stderr
