"""``aikd export``: every format round-trips with tiny models, and bad input fails cleanly.

Tiny models are MobileFaceNets (1M parameters) and iResNet-18s with small heads whose BatchNorm
statistics are set from smooth random images (:func:`calibrated`), so activations have the scale of
a trained network instead of the 1e7 a random iResNet produces: parity is tested at realistic
magnitudes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from paths import SRC

from aikd_cli.errors import AikdError, CheckpointError, WeightsError
from aikd_cli.models.build import build_model
from aikd_cli.models.checkpoints import canonicalise, read_checkpoint, save_checkpoint
from aikd_cli.models.config import ModelConfig
from aikd_cli.models.inference import TorchFaceModel, open_face_model
from aikd_cli.models.loading import load_network
from aikd_cli.models.onnx_model import OnnxFaceModel
from aikd_cli.tasks.export import FORMATS, ExportOptions, parse_formats
from aikd_cli.tasks.export import run as export
from aikd_cli.tasks.export.errors import VerificationFailed
from aikd_cli.tasks.export.verify import TOLERANCES


def calibrated(config: ModelConfig, seed: int = 0) -> torch.nn.Module:
    """A random network of ``config`` with BatchNorm statistics of (smooth random) images."""
    torch.manual_seed(seed)
    net = build_model(config)
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one pass sets the statistics
    low = torch.rand(4, 3, 7, 7) * 2 - 1
    x = torch.nn.functional.interpolate(low, size=(112, 112), mode="bicubic", align_corners=False)
    net.train()
    with torch.no_grad():
        net(x)
    return net.eval()


def kit_photos(assets: Path, n: int) -> list[Path]:
    return sorted((assets / "faces").glob("deepface__c0*/*.jpg"))[:n]


@pytest.fixture(scope="module")
def mfn_checkpoint(tmp_path_factory) -> Path:
    """An aikd safetensors quality model (MobileFaceNet + MLP head) with provenance, as distill writes it."""
    config = ModelConfig(arch="mobilefacenet", head="mlp", embedding_size=128, head_hidden=32)
    path = tmp_path_factory.mktemp("ckpt") / "best.safetensors"
    info = {"teacher": "ediffiqa-l", "training": {"epochs": 3, "lr": 1e-3}, "metrics": {"edc_auc": 0.0123}}
    save_checkpoint(path, calibrated(config), config, info)
    return path


@pytest.fixture(scope="module")
def crfiqa_checkpoint(tmp_path_factory) -> Path:
    """A CR-FIQA-layout checkpoint (iResNet-18 + ``qs``), saved the way CR-FIQA's repo saves it."""
    net = calibrated(ModelConfig(arch="iresnet18", head="qs", embedding_size=64))
    path = tmp_path_factory.mktemp("ckpt") / "crfiqa_tiny.pth"
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, path)
    return path


@pytest.fixture(scope="module")
def all_formats(mfn_checkpoint, assets, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "student"
    return export(ExportOptions(
        model=mfn_checkpoint, output=out, formats="all", exporter="torchscript", verify_images=kit_photos(assets, 2)
    ))


def test_save_checkpoint_is_the_canonical_format(tmp_path):
    config = ModelConfig(arch="iresnet18", head="mlp", embedding_size=64, head_hidden=32)
    net = build_model(config)
    path = save_checkpoint(tmp_path / "m.safetensors", net, config, {"teacher": "ediffiqa-l"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # no temporary left behind
    assert path.stat().st_mode & 0o044  # readable by others like any file (umask), unlike safetensors' 0600
    state, info = read_checkpoint(path)
    assert info["teacher"] == "ediffiqa-l"
    state, read_config, layout = canonicalise(state, info)
    assert (read_config, layout) == (config, "aikd")
    assert any(k.startswith("feature_extractor.") for k in state) and "quality_head.l1.weight" in state
    for k, v in net.state_dict().items():
        assert torch.equal(state[k], v), k


def test_every_format_is_verified_on_random_and_real_inputs(all_formats):
    result = all_formats
    assert [r.format for r in result.formats] == list(FORMATS)
    folder = result.folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["README.md", "config.json", "export.json", *(f.filename for f in FORMATS.values())]
    )
    assert not list(folder.parent.glob(f".{folder.name}.partial-*"))
    for r in result.formats:
        v = r.verification
        assert v.passed and v.worst.error <= TOLERANCES["fp32"]
        assert 1 in v.batch_sizes and max(v.batch_sizes) > 1
        assert {c.sample.split(",")[0] for c in v.checks} == {"random noise", "random smooth", "real"}
        assert {c.output for c in v.checks} == {"embedding", "quality"}
        assert r.size == (folder / r.path.name).stat().st_size > 0
    report = json.loads((folder / "export.json").read_text())
    assert report["real_images"] == 2 and all(f["verification"]["passed"] for f in report["formats"])
    onnx = next(f for f in report["formats"] if f["format"] == "onnx")
    assert (onnx["exporter"], onnx["opset"]) == ("torchscript", 18)


def test_exports_read_back_with_config_and_provenance(all_formats, mfn_checkpoint):
    folder = all_formats.folder
    record = json.loads((folder / "config.json").read_text())
    config = ModelConfig(arch="mobilefacenet", head="mlp", embedding_size=128, head_hidden=32)
    assert ModelConfig.from_dict(record["config"]) == config
    assert record["source"]["layout"] == "aikd" and record["source"]["file"] == mfn_checkpoint.name
    assert record["teacher"] == "ediffiqa-l" and record["metrics"] == {"edc_auc": 0.0123}
    # the folder loads through the torch path (model.safetensors first), with the same weights
    loaded, original = load_network(folder), load_network(mfn_checkpoint)
    assert loaded.config == original.config == config
    for k, v in original.net.state_dict().items():
        assert torch.equal(loaded.net.state_dict()[k], v), k
    # ONNX: named, batch-dynamic input and outputs, and self-describing metadata
    import onnx

    proto = onnx.load(str(folder / "model.onnx"))
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    assert [(i.name, dims(i)) for i in proto.graph.input] == [("image", ["batch", 3, 112, 112])]
    assert [(o.name, dims(o)) for o in proto.graph.output] == [
        ("embedding", ["batch", 128]),
        ("quality", ["batch"]),
    ]
    meta = json.loads({p.key: p.value for p in proto.metadata_props}["aikd"])
    assert meta["config"] == record["config"] and meta["graph"]["preprocessing"] is False
    # the TorchScript archive carries the same record
    extra = {"aikd.json": ""}
    torch.jit.load(str(folder / "model.torchscript"), _extra_files=extra)
    assert json.loads(extra["aikd.json"])["config"] == record["config"]
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: aikd\nlicense: other\nlicense_name: unstated\n")
    assert (
        "Distilled from teacher `ediffiqa-l`" in card
        and "`edc_auc` | 0.0123" in card
        and "`epochs` | 3" in card
    )
    assert "inherited from the teacher ediffiqa-l" in card and "`model.onnx` | onnx | 4." in card
    assert "on random images and 2 real image(s) at batch sizes 1, 2" in card


def test_onnx_model_matches_torch_model_on_crops(all_formats, mfn_checkpoint):
    crops = torch.randint(
        0, 256, (5, 3, 112, 112), dtype=torch.uint8, generator=torch.Generator().manual_seed(3)
    )
    onnx_model = open_face_model(str(all_formats.folder / "model.onnx"), device="cpu", expect="quality")
    torch_model = TorchFaceModel(load_network(mfn_checkpoint), "cpu", "fp32")
    assert isinstance(onnx_model, OnnxFaceModel) and onnx_model.providers == ["CPUExecutionProvider"]
    a, b = onnx_model(crops), torch_model(crops)
    assert a.embedding.shape == (5, 128) and a.quality.shape == (5,)
    assert_close(a.embedding, b.embedding, "fp32")
    assert_close(a.quality, b.quality, "fp32")
    with pytest.raises(AikdError, match="precision they were exported with"):
        OnnxFaceModel(all_formats.folder / "model.onnx", device="cpu", precision="bf16")
    with pytest.raises(WeightsError, match="is a quality model"):
        OnnxFaceModel(all_formats.folder / "model.onnx", device="cpu", expect="detection")


def assert_close(got: torch.Tensor, want: torch.Tensor, precision: str) -> None:
    """The verification rule: max|got - want| <= tol * max(1, max|want|)."""
    assert float((got - want).abs().max()) <= TOLERANCES[precision] * max(1.0, float(want.abs().max()))


def test_crfiqa_layout_with_the_dynamo_exporter_and_preprocessing_inside(crfiqa_checkpoint, tmp_path):
    """The default exporter (dynamo) on CR-FIQA's own layout (``module.`` prefix, ``qs`` head),
    with the normalisation inside the graph: uint8 RGB NHWC in."""
    result = export(ExportOptions(
        model=crfiqa_checkpoint, output=tmp_path / "edge", formats="onnx", include_preprocessing=True, exporter="dynamo"
    ))
    (r,) = result.formats
    assert r.details["exporter"] == "dynamo" and r.details["preprocessing"] and r.verification.passed
    assert json.loads((tmp_path / "edge" / "config.json").read_text())["source"]["layout"] == "crfiqa"
    model = OnnxFaceModel(r.path, device="cpu")
    assert model.graph.preprocessing and model.config.head == "qs"
    inp = model.session.get_inputs()[0]
    assert (inp.name, inp.type, inp.shape) == ("image", "tensor(uint8)", ["batch", 112, 112, 3])
    assert [(o.name, o.shape) for o in model.session.get_outputs()] == [
        ("embedding", ["batch", 64]),
        ("quality", ["batch"]),
    ]
    crops = torch.randint(
        0, 256, (3, 3, 112, 112), dtype=torch.uint8, generator=torch.Generator().manual_seed(4)
    )
    want = TorchFaceModel(load_network(crfiqa_checkpoint), "cpu", "fp32")(crops)
    got = model(crops)
    assert_close(got.embedding, want.embedding, "fp32")
    assert_close(got.quality, want.quality, "fp32")


def test_fp16_onnx_is_smaller_and_verified_with_the_fp16_tolerance(mfn_checkpoint, all_formats, tmp_path):
    result = export(ExportOptions(model=mfn_checkpoint, output=tmp_path / "half", formats="onnx", fp16=True, exporter="torchscript"))
    (r,) = result.formats
    fp32_size = (all_formats.folder / "model.onnx").stat().st_size
    assert r.details["precision"] == "fp16" and r.verification.tolerance == TOLERANCES["fp16"]
    assert r.verification.passed and r.size < 0.6 * fp32_size
    model = OnnxFaceModel(r.path, device="cpu")
    assert model.session.get_inputs()[0].type == "tensor(float)"  # I/O stays float32 for callers
    with pytest.raises(AikdError, match=r"exported with \(fp16\)"):
        OnnxFaceModel(r.path, device="cpu", precision="fp32")


def test_a_wrong_export_is_refused_and_nothing_is_written(mfn_checkpoint, tmp_path, monkeypatch):
    """Verification is real: an export whose graph differs from the model (here the last layer's
    bias is nudged by 0.01 while the file is written) fails loudly and leaves no folder behind."""
    from aikd_cli.tasks.export import formats, onnx_export

    original = formats.FORMATS["onnx"].export

    def corrupted_export(job, path):
        bias = job.loaded.net.quality_head.l2.bias
        with torch.no_grad():
            bias += 0.01
        try:
            return original(job, path)
        finally:
            with torch.no_grad():
                bias -= 0.01

    monkeypatch.setattr(onnx_export, "export_onnx", corrupted_export)
    with pytest.raises(
        VerificationFailed,
        match=r"model.onnx: does not reproduce the torch model.*'quality'.*tolerance 0.0001",
    ):
        export(ExportOptions(model=mfn_checkpoint, output=tmp_path / "bad", formats="onnx", exporter="torchscript"))
    assert sorted(os.listdir(tmp_path)) == []


def test_existing_output_is_refused_unless_overwrite(mfn_checkpoint, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("keep me unless --overwrite")
    with pytest.raises(AikdError, match="already exists"):
        export(ExportOptions(model=mfn_checkpoint, output=out, formats="safetensors"))
    assert (out / "old.txt").exists()
    stale = tmp_path / ".out.partial-999999999-deadbeef"  # left by a crashed export (no such process)
    stale.mkdir()
    export(ExportOptions(model=mfn_checkpoint, output=out, formats="safetensors", overwrite=True))
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "config.json",
        "export.json",
        "model.safetensors",
    ]
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_options_that_do_not_fit_are_refused(mfn_checkpoint, retinaface_weights, tmp_path):
    with pytest.raises(AikdError, match=r"--fp16 does not apply to safetensors.*onnx"):
        export(ExportOptions(model=mfn_checkpoint, output=tmp_path / "a", formats="safetensors", fp16=True))
    with pytest.raises(AikdError, match="--include-preprocessing does not fit a face detector"):
        export(ExportOptions(model=retinaface_weights, output=tmp_path / "b", formats="onnx", include_preprocessing=True))
    with pytest.raises(AikdError, match="unknown export format 'onxx' \\(did you mean 'onnx'"):
        parse_formats("onxx")
    with pytest.raises(AikdError, match="--exporter must be one of auto, dynamo, torchscript"):
        export(ExportOptions(model=mfn_checkpoint, output=tmp_path / "c", formats="onnx", exporter="jit"))
    assert [f.name for f in parse_formats(["onnx,pt2", "safetensors"])] == ["onnx", "pt2", "safetensors"]
    assert not any(p.exists() for p in (tmp_path / "a", tmp_path / "b", tmp_path / "c"))


def test_bad_checkpoints_name_what_is_wrong(crfiqa_checkpoint, all_formats, tmp_path):
    state = torch.load(crfiqa_checkpoint, weights_only=True)
    state.pop("module.layer1.0.bn1.weight")
    state["module.extra.weight"] = torch.zeros(3)
    broken = tmp_path / "broken.pth"
    torch.save(state, broken)
    with pytest.raises(CheckpointError, match=r"missing: layer1\.0\.bn1\.weight.*unexpected: extra\.weight"):
        export(ExportOptions(model=broken, output=tmp_path / "x", formats="onnx"))
    alien = tmp_path / "alien.safetensors"
    config = ModelConfig(arch="iresnet18", embedding_size=64)
    save_checkpoint(alien, build_model(config), config)
    from safetensors.torch import load_file, save_file

    save_file(
        load_file(alien),
        alien,
        metadata={"aikd": json.dumps({"config": {**config.to_dict(), "arch": "iresnet19"}})},
    )
    with pytest.raises(
        WeightsError, match="unknown architecture 'iresnet19' in model config \\(did you mean 'iresnet18'"
    ):
        export(ExportOptions(model=alien, output=tmp_path / "y", formats="onnx"))
    with pytest.raises(AikdError, match="already an ONNX export"):
        export(ExportOptions(model=all_formats.folder / "model.onnx", output=tmp_path / "z", formats="onnx"))
    assert not any((tmp_path / n).exists() for n in "xyz")


def test_foreign_onnx_files_are_refused(tmp_path):
    """An ONNX file aikd did not write carries no normalisation: refuse it rather than guess."""
    net = build_model(ModelConfig(arch="mobilefacenet", embedding_size=128)).eval()
    path = tmp_path / "foreign.onnx"
    torch.onnx.export(net, (torch.zeros(1, 3, 112, 112),), str(path), dynamo=False, input_names=["image"])
    with pytest.raises(WeightsError, match="carries no aikd metadata"):
        open_face_model(str(path), device="cpu")
    (tmp_path / "junk.onnx").write_bytes(b"not a protobuf")
    with pytest.raises(WeightsError, match="not a readable ONNX model"):
        open_face_model(str(tmp_path / "junk.onnx"))


def test_cli_prints_tolerance_and_sizes(mfn_checkpoint, tmp_path):
    """End to end in a fresh interpreter, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "200"}
    args = [str(mfn_checkpoint), "-f", "onnx,safetensors", "--exporter", "torchscript", "-o", "out"]
    done = subprocess.run(
        [sys.executable, "-m", "aikd_cli", "export", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "model.onnx" in done.stdout and "model.safetensors" in done.stdout and "0.0001" in done.stdout
    assert " MB" in done.stdout and "torchscript, opset 18" in done.stdout and "README.md" in done.stdout
    assert (tmp_path / "out" / "model.onnx").is_file()


def test_cli_errors_are_one_line(mfn_checkpoint, tmp_path):
    from typer.testing import CliRunner

    from aikd_cli.cli.app import app

    (tmp_path / "out").mkdir()
    runner = CliRunner()
    again = runner.invoke(app, ["export", str(mfn_checkpoint), "-o", str(tmp_path / "out")])
    assert again.exit_code == 2 and again.exception is None or isinstance(again.exception, SystemExit)
    assert (
        "out: already exists" in again.output
        and "--overwrite" in again.output
        and "Traceback" not in again.output
    )
    missing = runner.invoke(app, ["export", "no/such/model.pth", "-o", str(tmp_path / "out2")])
    assert missing.exit_code == 2 and "no/such/model.pth: no such file" in missing.output


def test_verify_images_are_real_files_or_arrays(tmp_path):
    from aikd_cli.tasks.export.exporting import load_real_images

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AikdError, match="no images found"):
        load_real_images([empty])
    with pytest.raises(AikdError, match="missing.jpg: no such file or folder"):
        load_real_images([tmp_path / "missing.jpg"])
    assert len(load_real_images([np.zeros((50, 60, 3), np.uint8)] * 6)) == 4  # at most MAX_REAL


def test_ediffiqa_layout_becomes_the_canonical_checkpoint(tiny_quality_checkpoint, tmp_path):
    """eDifFIQA's key names are rewritten to AI-KD's on export (a random, uncalibrated iResNet:
    outputs around 1e7, which the relative tolerance handles)."""
    result = export(ExportOptions(model=tiny_quality_checkpoint, output=tmp_path / "ediffiqa", formats="safetensors"))
    assert result.formats[0].verification.passed
    state, info = read_checkpoint(tmp_path / "ediffiqa" / "model.safetensors")
    assert info["source"]["layout"] == "ediffiqa" and "quality_head.l1.weight" in state
    assert not any(k.startswith(("base_model.", "mlp.")) for k in state)


def test_onnx_execution_providers(monkeypatch):
    """CUDA when present (auto) or asked for, the CPU otherwise; no GPU here, so the provider list
    is faked: this checks the choice, not a CUDA run."""
    import onnxruntime

    from aikd_cli.models.onnx_model import providers_for

    cuda = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: cuda)
    assert providers_for("auto") == cuda
    assert providers_for(torch.device("cuda", 1)) == [
        ("CUDAExecutionProvider", {"device_id": 1}),
        "CPUExecutionProvider",
    ]
    assert providers_for("cpu") == ["CPUExecutionProvider"]
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert providers_for("auto") == ["CPUExecutionProvider"]
    with pytest.raises(AikdError, match="onnxruntime-gpu"):
        providers_for("cuda")
    with pytest.raises(AikdError, match="not supported for ONNX models"):
        providers_for("mps")
