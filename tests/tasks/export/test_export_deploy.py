"""Using the exports: real weights from the kit through ONNX (detector boxes and landmarks, quality
ranking on aligned kit faces), and publishing to a stand-in Hub that then loads back via hf://.

What the Hub tests run: huggingface_hub's real ``create_repo`` + ``upload_folder`` code over
loopback HTTP against ``hubserver.FakeHub`` (repo creation, model-card validation, preupload,
git-LFS batch + PUT + verify, NDJSON commit), with ``HF_HUB_DISABLE_XET`` so the LFS path is used.
Not run: the Xet storage path (the default when ``hf_xet`` is installed; it talks to a separate CAS
service not emulated here) and the real huggingface.co (no network here). Loading back goes through
the real offline download code on a Hub cache seeded with exactly the bytes the server received.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hubcache import seed_hub_cache
from hubserver import FakeHub

from aikd_cli.errors import AikdError
from aikd_cli.faces.align import align_faces
from aikd_cli.faces.detector import load_detector
from aikd_cli.images.decode import load_image
from aikd_cli.models.checkpoints import save_checkpoint
from aikd_cli.models.config import ModelConfig
from aikd_cli.models.heads import MLPHead, QualityRegressor
from aikd_cli.models.inference import TorchFaceModel, open_face_model
from aikd_cli.models.loading import load_network
from aikd_cli.models.onnx_model import OnnxFaceModel, OnnxRetinaFace
from aikd_cli.tasks.export import ExportOptions
from aikd_cli.tasks.export import run as export


def kit_photos(assets, n: int, step: int = 7) -> list:
    return sorted((assets / "faces").rglob("*.jpg"))[::step][:n]


@pytest.fixture(scope="module")
def aligned_crops(detector, assets) -> torch.Tensor:
    """The most confident face of 24 kit photos, aligned to 112x112 with the kit's RetinaFace."""
    crops = []
    for path in kit_photos(assets, 24):
        image = load_image(path)
        faces = detector.detect([image])[0]
        if faces:
            best = max(faces, key=lambda f: f.score)
            crop, _ = align_faces(
                torch.from_numpy(image).permute(2, 0, 1), torch.from_numpy(best.landmarks)[None]
            )
            crops.append(crop)
    assert len(crops) >= 20
    return torch.cat(crops)


@pytest.fixture(scope="module")
def quality_export(mobilefacenet_weights, aligned_crops, tmp_path_factory):
    """A quality model on real features (the kit's MobileFaceNet + a seeded MLP head) exported to
    ONNX and safetensors, verified on real aligned crops."""
    backbone = load_network(mobilefacenet_weights, expect="recognition")
    torch.manual_seed(0)
    head = MLPHead(128, 64)
    config = ModelConfig(
        arch="mobilefacenet",
        head="mlp",
        embedding_size=128,
        head_hidden=64,
        preprocess=backbone.config.preprocess,
    )
    root = tmp_path_factory.mktemp("quality")
    checkpoint = save_checkpoint(
        root / "student.safetensors",
        QualityRegressor(backbone.net, head),
        config,
        {"license": "Apache-2.0", "teacher": "kit MobileFaceNet"},
    )
    real = [c.permute(1, 2, 0).numpy() for c in aligned_crops[:4]]
    export(ExportOptions(model=checkpoint, output=root / "export", formats="onnx,safetensors", exporter="torchscript", verify_images=real))
    return checkpoint, root / "export"


def test_detector_exported_to_onnx_finds_the_same_boxes_and_landmarks(
    retinaface_weights, detector, assets, tmp_path
):
    photos = [load_image(p) for p in kit_photos(assets, 6, step=29)]
    result = export(ExportOptions(
        model=retinaface_weights, output=tmp_path / "rf", formats="onnx", exporter="torchscript", verify_images=photos[:2]
    ))
    assert result.formats[0].verification.passed
    onnx_detector = load_detector(tmp_path / "rf")  # the folder resolves to its model.onnx
    assert isinstance(onnx_detector.model, OnnxRetinaFace)
    total = 0
    for batch in (photos, photos[:1]):  # padded batches of several sizes, and one image alone
        for want, got in zip(detector.detect(batch), onnx_detector.detect(batch), strict=True):
            assert len(got) == len(want)
            total += len(want)
            for a, b in zip(want, got, strict=True):
                assert np.abs(np.subtract(a.box, b.box)).max() < 0.01  # pixels
                assert np.abs(a.landmarks - b.landmarks).max() < 0.01
                assert abs(a.score - b.score) < 1e-4
    assert total >= 6
    with pytest.raises(AikdError, match="is a face detector"):
        open_face_model(str(tmp_path / "rf" / "model.onnx"))


def test_onnx_scores_rank_kit_faces_like_torch(quality_export, aligned_crops):
    checkpoint, folder = quality_export
    onnx_model = open_face_model(str(folder / "model.onnx"), device="cpu", expect="quality")
    torch_model = open_face_model(str(checkpoint), device="cpu", precision="fp32", expect="quality")
    assert isinstance(onnx_model, OnnxFaceModel) and isinstance(torch_model, TorchFaceModel)
    a, b = onnx_model(aligned_crops), torch_model(aligned_crops)
    assert torch.equal(torch.argsort(a.quality), torch.argsort(b.quality))
    assert float((a.quality - b.quality).abs().max()) < 1e-4 * max(1.0, float(b.quality.abs().max()))
    # the FR side agrees too: same cosine similarities between all pairs of kit faces
    cos = lambda e: torch.nn.functional.normalize(e, dim=1) @ torch.nn.functional.normalize(e, dim=1).T  # noqa: E731
    assert float((cos(a.embedding) - cos(b.embedding)).abs().max()) < 1e-5
    assert a.quality.std() > 0  # a non-degenerate ranking


def test_push_to_hub_then_load_back_with_hf_uri(
    quality_export, aligned_crops, hf_cache, monkeypatch, tmp_path
):
    from huggingface_hub import constants

    checkpoint, _ = quality_export
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")  # "the usual places": the environment
    with FakeHub() as hub:
        monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
        result = export(ExportOptions(
            model=checkpoint,
            output=tmp_path / "pub",
            formats="onnx,safetensors",
            exporter="torchscript",
            push_to_hub="my-org/student",
            private=True,
        ))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert result.hub_url.startswith(f"{hub.endpoint}/my-org/student/commit/")
    repo = hub.repos["my-org/student"]
    assert repo["private"] is True and len(repo["commits"]) == 1
    local = {p.name: p.read_bytes() for p in (tmp_path / "pub").iterdir()}
    assert repo["files"] == local  # every file arrived byte for byte
    assert all(h.get("authorization") == "Bearer hf_test_token" for m, _, h in hub.requests if m == "POST")
    paths = [p for _, p, _ in hub.requests]
    assert "/my-org/student.git/info/lfs/objects/batch" in paths  # weights went through git-LFS
    assert sum(p.startswith("/lfs-upload/") for p in paths) == 2
    card = repo["files"]["README.md"].decode()
    assert "# student" in card and "aikd score photos/ --model hf://my-org/student" in card
    assert "license: apache-2.0" in card

    seed_hub_cache(hf_cache, "my-org/student", repo["files"])
    via_torch = open_face_model("hf://my-org/student", device="cpu", precision="fp32", expect="quality")
    via_onnx = open_face_model("hf://my-org/student/model.onnx", device="cpu", expect="quality")
    assert isinstance(via_torch, TorchFaceModel) and isinstance(via_onnx, OnnxFaceModel)
    want = open_face_model(str(checkpoint), device="cpu", precision="fp32")(aligned_crops[:6]).quality
    assert torch.equal(via_torch(aligned_crops[:6]).quality, want)
    assert float((via_onnx(aligned_crops[:6]).quality - want).abs().max()) < 1e-4


def test_push_failures_are_one_line_and_keep_the_export(quality_export, monkeypatch, tmp_path):
    from huggingface_hub import constants

    checkpoint, _ = quality_export
    with pytest.raises(AikdError, match="offline mode is on") as info:
        export(ExportOptions(model=checkpoint, output=tmp_path / "a", formats="safetensors", push_to_hub="my-org/x"))
    assert "hf upload my-org/x" in info.value.hint and (tmp_path / "a" / "model.safetensors").is_file()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with FakeHub() as hub:
        monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
        with pytest.raises(AikdError, match="pushing to my-org/x failed") as info:
            export(ExportOptions(model=checkpoint, output=tmp_path / "b", formats="safetensors", push_to_hub="my-org/x"))
    assert "hf auth login" in info.value.hint and not hub.repos
    with pytest.raises(AikdError, match="expected a repository id like org/name"):
        export(ExportOptions(model=checkpoint, output=tmp_path / "c", formats="safetensors", push_to_hub="just-a-name"))


def test_score_cli_with_onnx_model_and_onnx_detector_matches_torch(quality_export, retinaface_weights, assets, tmp_path):
    """`aikd score --model model.onnx --detector rf/model.onnx` gives the torch run's CSV: the same
    faces, boxes and landmarks, and the same ranking of qualities."""
    import csv

    from typer.testing import CliRunner

    from aikd_cli.cli.app import app

    checkpoint, export_dir = quality_export
    export(ExportOptions(model=retinaface_weights, output=tmp_path / "rf", formats="onnx", exporter="torchscript"))
    photos = [str(p) for p in kit_photos(assets, 8, step=23)]
    runner = CliRunner()
    runs = {}
    for name, model, det in (("torch", checkpoint, retinaface_weights),
                             ("onnx", export_dir / "model.onnx", tmp_path / "rf" / "model.onnx")):
        out = tmp_path / f"{name}.csv"
        result = runner.invoke(app, ["score", *photos, "-o", str(out), "--model", str(model), "--detector", str(det), "-j", "0"])
        assert result.exit_code == 0, result.output
        with open(out, newline="") as f:
            runs[name] = list(csv.DictReader(f))
    a, b = runs["torch"], runs["onnx"]
    assert [r["path"] for r in a] == [r["path"] for r in b] and all(r["status"] == "ok" for r in a + b)
    for ra, rb in zip(a, b, strict=True):
        assert abs(float(ra["lm0_x"]) - float(rb["lm0_x"])) < 0.01
    qa = np.array([float(r["quality"]) for r in a])
    qb = np.array([float(r["quality"]) for r in b])
    # the ONNX detector's landmarks differ by < 0.01 px, which moves crops (and qualities) a hair
    assert np.abs(qa - qb).max() < 1e-3
    assert (np.argsort(qa) == np.argsort(qb)).all()
