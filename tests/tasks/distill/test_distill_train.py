"""Training: the loss goes down, the teacher never moves, resume = uninterrupted, DDP = one process,
bad inputs are counted, and the student is a model `aikd score` can use."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from distill_helpers import lfw_identities, tiny_teacher
from paths import SRC, TESTS
from safetensors.torch import load_file

from aikd_cli.models.config import ModelConfig
from aikd_cli.tasks.distill.config_file import resolve_config
from aikd_cli.tasks.distill.engine import Distiller
from aikd_cli.tasks.distill.training import prepare_run
from aikd_cli.tasks.distill.training import run as distill
from aikd_cli.tasks.label import LabelOptions
from aikd_cli.tasks.label import run as label_run

ENV = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny batches run fastest on one thread (and do not fight other processes for the cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def lfw_labels(tmp_path_factory, assets, mobilefacenet_weights, retinaface_weights) -> Path:
    """32 real LFW photos of 8 people with detected landmarks and CR labels: a complete manifest."""
    root = tmp_path_factory.mktemp("lfw")
    ids = lfw_identities(assets, root / "ids.csv", people=8)
    out = root / "labels.csv"
    result = label_run(LabelOptions(identities=ids, fr_model=str(mobilefacenet_weights), output=out,
                                    detector=str(retinaface_weights), device="cpu", precision="fp32"))
    assert result.labelled == 32
    return out


def _config(manifest: Path, output: Path, **overrides):
    values = {
        "data": [str(manifest)],
        "backbone": "tiny-teacher",
        "labels": str(manifest),
        "output": str(output),
        "batch_size": 8,
        "warmup": 0.0,
        "workers": 0,
        "device": "cpu",
        "log_every": 1,
        "val_fraction": 0.25,
        "seed": 1,
    }
    return resolve_config(None, {**values, **overrides})


def _metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _learnable_labels(manifest: Path, out: Path, teacher) -> Path:
    """The same faces labelled with a function of the teacher's own embedding of the aligned crop, so a
    head can learn the labels (CR labels of 8 people are not learnable from a random tiny network)."""
    from aikd_cli.tasks.distill.data import FaceViews, collate_views
    from aikd_cli.tasks.distill.samples import read_manifest

    faces = read_manifest(manifest)
    crops = collate_views([FaceViews(faces, perturb=0.0, warp_in_workers=True)[i] for i in range(len(faces))])
    emb, _ = teacher(crops["crops"][:, 0])
    z = (emb[:, 0] - emb[:, 0].mean()) / emb[:, 0].std()
    rows = list(csv.DictReader(open(manifest, newline="")))
    for row, value in zip(rows, (0.6 + 0.05 * z).tolist(), strict=True):
        row["quality"], row["path"] = f"{value:.6f}", str((manifest.parent / row["path"]).resolve())
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out


def test_default_recipe_learns_paper_recipe_runs_and_teacher_stays_bit_identical(
    lfw_labels, tmp_path
):
    teacher = tiny_teacher()
    before = {k: v.clone() for k, v in teacher.net.state_dict().items()}
    labels = _learnable_labels(lfw_labels, tmp_path / "labels.csv", teacher)
    common = {"labels": str(labels), "max_steps": 40, "val_every": 1.0, "val_fraction": 0.25}
    # 40 steps is a tiny budget for a head whose last layer starts at zero: a larger head lr than the default
    run = prepare_run(_config(labels, tmp_path / "run", lr=1e-2, **common), teacher=teacher)
    # the teacher is its own frozen copy: no parameter shared with the student, none trainable
    student_ptrs = {p.data_ptr() for p in run.student.parameters()}
    assert not student_ptrs & {p.data_ptr() for p in teacher.net.parameters()}
    assert not any(p.requires_grad for p in teacher.net.parameters()) and not teacher.net.training
    result = run.fit()
    after = teacher.net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # bit-identical, BN buffers included
    train = [m for m in _metrics(tmp_path / "run") if "loss" in m]
    val = [m for m in _metrics(tmp_path / "run") if "val_q_loss" in m]
    assert len(train) == 40 and np.isfinite([m["loss"] for m in train]).all()
    # the head starts at the label mean and ends well below the loss of always predicting it
    assert val[-1]["val_q_loss"] < 0.6 * val[-1]["val_q_loss_mean"], val[-1]
    assert val[-1]["val_label_spearman"] > 0.5 and "val_stability" in val[-1]
    assert result.best_step is not None and result.val_faces == 8 and result.train_faces == 24
    # the reference recipe runs end to end on the same data, validated in label units. Whether its raw
    # head learns in 40 steps is chaotic across CPUs (ratio 1.80 here, 0.77 and 0.50 on two CI runs), so
    # no order between the recipes is asserted: docs/distill.md compares them on real runs
    paper = distill(
        _config(labels, tmp_path / "paper", recipe="paper", **common), teacher=teacher
    )
    assert paper.steps == 40 and np.isfinite(list(paper.best_metrics.values())).all(), paper.best_metrics
    # label units: the mean predictor's loss shrinks with the labels' spread (std 0.05), unlike the default's
    assert paper.best_metrics["val_q_loss_mean"] < 0.02 * val[-1]["val_q_loss_mean"], paper.best_metrics
    # a changed teacher would be caught
    with torch.no_grad():
        next(teacher.net.parameters()).add_(1e-3)
    with pytest.raises(RuntimeError, match="teacher weights changed"):
        teacher.check_unchanged()


def test_scaled_head_is_saved_as_the_plain_head_it_computes():
    from aikd_cli.models.heads import MLPHead, QualityRegressor, ScaledHead

    torch.manual_seed(0)
    backbone = torch.nn.Linear(6, 16)
    scaled = QualityRegressor(
        backbone, ScaledHead(MLPHead(16, 32), in_scale=1 / 18.0, shift=0.64, scale=0.05)
    )
    plain = QualityRegressor(torch.nn.Linear(6, 16), MLPHead(16, 32))
    plain.load_state_dict(scaled.export_state())  # strict: the canonical MLPHead layout
    x = torch.randn(5, 6)
    assert torch.allclose(scaled(x)[1], plain(x)[1], atol=1e-6)


def test_killed_run_resumes_to_the_same_weights(lfw_labels, tmp_path, monkeypatch):
    common = {"max_steps": 8, "val_every": 0.67, "ema_decay": 0.5}  # 3 steps/epoch: checkpoints every 2 steps
    whole = distill(
        _config(lfw_labels, tmp_path / "whole", workers=2, **common), teacher=tiny_teacher()
    )
    assert whole.steps == 8

    calls = {"n": 0}
    original = Distiller.train_step

    def dies_at_step_6(self, batch):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt  # killed between checkpoints (the last one was at step 4)
        return original(self, batch)

    monkeypatch.setattr(Distiller, "train_step", dies_at_step_6)
    config = _config(lfw_labels, tmp_path / "killed", **common)
    with pytest.raises(KeyboardInterrupt):
        distill(config, teacher=tiny_teacher())
    monkeypatch.setattr(Distiller, "train_step", original)
    assert json.loads(load_file_meta(tmp_path / "killed" / "last.safetensors"))["step"] == 4
    resumed = distill(config, resume=True, teacher=tiny_teacher())
    assert resumed.steps == 8 and resumed.best_step == whole.best_step
    for name in ("last.safetensors", "best.safetensors"):  # raw student and EMA weights
        a, b = load_file(tmp_path / "whole" / name), load_file(tmp_path / "killed" / name)
        assert a.keys() == b.keys()
        for k in a:
            assert torch.allclose(a[k].float(), b[k].float(), atol=1e-6, rtol=1e-5), (name, k)
    steps = [m["step"] for m in _metrics(tmp_path / "killed") if "loss" in m]
    assert steps == list(range(1, 9))  # no duplicated or missing log lines after the restart
    with pytest.raises(Exception, match="already holds a run"):
        prepare_run(config, teacher=tiny_teacher())


def load_file_meta(path: Path) -> str:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return f.metadata()["aikd"]


def test_ddp_with_two_gloo_processes_matches_one_process(lfw_labels, tmp_path):
    """2 processes at batch 8 = 1 process at batch 16, with the defaults (calibration, validation,
    EMA) and unreadable faces that leave the two processes' batches of different sizes: each
    process's batch mean counts by its share of the step's faces (it counted half, which put the
    weights 1e-2 apart)."""
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun not installed next to this Python")
    rows = list(csv.DictReader(open(lfw_labels, newline="")))
    for i in range(4):  # landmarks given: each fails only when a worker decodes it
        (tmp_path / f"corrupt{i}.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
        rows.insert(7 * i + 3, {**rows[i], "path": str(tmp_path / f"corrupt{i}.jpg")})
    for row in rows:
        row["path"] = str(lfw_labels.parent / row["path"])
    manifest = tmp_path / "data.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    worker = str(TESTS / "distill_ddp_worker.py")
    single = subprocess.run(
        [sys.executable, worker, str(manifest), str(tmp_path / "one"), "16", "4"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc-per-node",
            "2",
            worker,
            str(manifest),
            str(tmp_path / "two"),
            "8",
            "4",
        ],
        env={**ENV, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one = torch.load(tmp_path / "one" / "result.rank0.pt", weights_only=True)
    for rank in (0, 1):
        two = torch.load(tmp_path / "two" / f"result.rank{rank}.pt", weights_only=True)
        assert one["grads"].keys() == two["grads"].keys() and one["grads"]
        for k, g in one["grads"].items():  # gradients of the last step's global batch
            assert torch.allclose(g, two["grads"][k], atol=1e-6, rtol=1e-4), k
        for k, w in one["weights"].items():  # and the weights after 4 steps
            assert torch.allclose(w.float(), two["weights"][k].float(), atol=1e-6, rtol=1e-4), k
        assert max((w.double() - two["weights"][k].double()).abs().max() for k, w in one["weights"].items()) <= 1e-4
    assert (tmp_path / "two" / "best.safetensors").exists()
    assert "corrupt" in (tmp_path / "two" / "skipped.csv").read_text()


def test_bad_inputs_are_skipped_counted_and_training_goes_on(lfw_labels, tmp_path, retinaface_weights):
    rows = list(csv.DictReader(open(lfw_labels, newline="")))[:12]
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff not a jpeg")
    bad = [
        {**rows[0], "path": str(corrupt)},  # landmarks given: fails when a worker decodes it
        {**rows[1], "path": str(tmp_path / "vanished.jpg")},
        {
            **rows[2],
            "face": "1",
            "lm0_x": "9000",
            "lm1_x": "9100",
            "lm2_x": "9050",
            "lm3_x": "9010",
            "lm4_x": "9090",
        },
        {**{k: "" for k in rows[0]}, "path": str(tmp_path / "no_landmarks_corrupt.png"), "quality": "0.5"},
    ]
    (tmp_path / "no_landmarks_corrupt.png").write_bytes(b"\x89PNG\r\n garbage")
    manifest = tmp_path / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows + bad)
    config = _config(
        manifest,
        tmp_path / "run",
        labels=None,
        batch_size=5,
        max_steps=3,
        val_fraction=0.0,
        detector=str(retinaface_weights),
    )
    result = distill(config, teacher=tiny_teacher())
    assert result.steps == 3 and result.train_faces == 15  # one epoch: every face was drawn once
    assert result.skipped == {"unreadable": 3, "bad_landmarks": 1}
    skipped = list(csv.DictReader(open(tmp_path / "run" / "skipped.csv", newline="")))
    assert sorted(r["status"] for r in skipped) == ["bad_landmarks", "unreadable", "unreadable", "unreadable"]
    assert any("no such file" in r["message"] for r in skipped)
    assert np.isfinite([m["loss"] for m in _metrics(tmp_path / "run") if "loss" in m]).all()


def test_cli_trains_a_real_mobilefacenet_student_that_score_can_use(
    lfw_labels, mobilefacenet_weights, tmp_path
):
    from aikd_cli.models.inference import open_face_model
    from aikd_cli.models.loading import load_network

    run = tmp_path / "run"
    args = [
        sys.executable,
        "-m",
        "aikd_cli",
        "distill",
        str(lfw_labels),
        "--backbone",
        str(mobilefacenet_weights),
        "--labels",
        str(lfw_labels),
        "-o",
        str(run),
        "-b",
        "4",
        "--max-steps",
        "2",
        "--val-fraction",
        "0.125",
        "-j",
        "0",
        "--device",
        "cpu",
        "--backbone-tensors",
        "10",
    ]
    proc = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "best.safetensors" in proc.stdout
    loaded = load_network(run / "best.safetensors", expect="quality")
    assert (loaded.config.arch, loaded.config.head, loaded.config.embedding_size) == (
        "mobilefacenet",
        "mlp",
        128,
    )
    assert loaded.config.preprocess.mean == (0.485, 0.456, 0.406)  # the teacher's normalisation, carried over
    assert (
        Path(loaded.info["teacher"]["source"]).resolve() == mobilefacenet_weights.resolve()
    )  # the same file
    assert loaded.info["step"] in (1, 2)
    assert load_network(run / "last.safetensors").info["step"] == 2
    assert ModelConfig.from_dict(json.loads((run / "config.json").read_text())["config"]) == loaded.config
    model = open_face_model(str(run), device="cpu", precision="fp32")  # the run folder works too
    crops = torch.randint(0, 255, (2, 3, 112, 112), dtype=torch.uint8)
    assert model(crops).quality.shape == (2,)
    # aikd score runs the student on photos
    photos = [r["path"] for r in csv.DictReader(open(lfw_labels, newline=""))][:2]
    scores = tmp_path / "scores.csv"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "aikd_cli",
            "score",
            *photos,
            "--model",
            str(run / "best.safetensors"),
            "--landmarks",
            str(lfw_labels),
            "-o",
            str(scores),
            "--device",
            "cpu",
            "-j",
            "0",
        ],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = list(csv.DictReader(open(scores, newline="")))
    assert [r["status"] for r in rows] == ["ok", "ok"] and all(np.isfinite(float(r["quality"])) for r in rows)
    # resuming may extend the run but not change how it optimises
    refused = subprocess.run(
        [sys.executable, "-m", "aikd_cli", "distill", "--resume", "-o", str(run), "--lr", "0.5"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and "cannot change --lr when resuming" in refused.stderr
    shutil.rmtree(run)


def test_fiqa_teacher_gives_quality_targets_and_a_clean_student(
    lfw_labels, tiny_quality_checkpoint, tmp_path
):
    """An eDifFIQA-layout teacher: its quality output is the target of faces without a label."""
    rows = list(csv.DictReader(open(lfw_labels, newline="")))[:6]
    manifest = tmp_path / "landmarks_only.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.DictWriter(
            f, fieldnames=["path", "face", *[c for c in rows[0] if c.startswith("lm")]], extrasaction="ignore"
        )
        writer.writeheader()
        writer.writerows(rows)
    config = _config(
        manifest,
        tmp_path / "run",
        backbone=None,
        teacher=str(tiny_quality_checkpoint),
        labels=None,
        batch_size=2,
        max_steps=1,
        val_fraction=0.0,
        backbone_tensors=4,
    )
    run = prepare_run(config)
    assert run.teacher.has_quality and run.teacher.loaded.layout == "ediffiqa"
    assert run.student.feature_extractor is not run.teacher.net.feature_extractor
    assert torch.equal(
        run.student.feature_extractor.fc.weight, run.teacher.net.feature_extractor.fc.weight
    )  # a copy
    run.sampler.set_position(0, 0)
    batch = next(iter(run.train_loader))
    assert torch.isnan(batch["label"]).all()
    from aikd_cli.tasks.distill.data import batch_views

    clean, _ = batch_views(batch, run.device, 112)
    _, teacher_q = run.teacher(clean)
    assert torch.equal(run._targets(batch["label"], teacher_q), teacher_q)
    result = run.fit()
    assert result.steps == 1 and result.best.exists()


def test_teacher_cache_changes_nothing_but_speed(lfw_labels, tmp_path):
    weights = []
    for cache in (False, True):
        distill(
            _config(lfw_labels, tmp_path / f"c{cache}", max_steps=6, val_fraction=0.0, cache_teacher=cache),
            teacher=tiny_teacher(),
        )
        weights.append(load_file(tmp_path / f"c{cache}" / "last.safetensors"))
    # equal up to float summation order (the cache runs the teacher on sub-batches of new faces)
    for k in weights[0]:
        assert torch.allclose(weights[0][k], weights[1][k], atol=1e-6, rtol=1e-5), k


def test_tensorboard_without_the_package_is_a_clear_error(lfw_labels, tmp_path):
    try:
        import tensorboard  # noqa: F401

        pytest.skip("tensorboard is installed here")
    except ImportError:
        pass
    run = prepare_run(
        _config(lfw_labels, tmp_path / "tb", max_steps=1, tensorboard=True),
        teacher=tiny_teacher(),
    )
    with pytest.raises(Exception, match="--tensorboard needs the tensorboard package"):
        run.fit()


def test_no_by_construction_or_silent_validation_numbers(lfw_labels, tmp_path, caplog):
    caplog.set_level("INFO", logger="aikd")
    config = _config(lfw_labels, tmp_path / "p0", perturb=0.0, lambda_cos=0.0, max_steps=2, val_every=1.0)
    steps = []
    result = distill(config, lambda done, total, stage="": steps.append((done, total, stage)), teacher=tiny_teacher())
    said = caplog.text
    # progress from the start of training to its end, every step
    assert steps[0] == (0, 2, "distilling") and steps[-1] == (2, 2, "distilling"), steps
    val = [m for m in _metrics(tmp_path / "p0") if "val_q_loss" in m]
    # p = 0: one view, so no stability (it would be 1 by construction), and the run says so
    assert val and all("val_stability" not in m for m in val) and "p = 0" in said
    # nor, before training, the embedding term of the teacher's copy on the teacher's own crops (0),
    # nor a training embedding term that is not computed (lambda_cos 0)
    assert val[0]["start"] and "val_cos" not in val[0] and "val_cos" in val[-1]
    train = [m for m in _metrics(tmp_path / "p0") if "loss" in m]
    assert train and all("loss_cos" not in m for m in train) and "(cos " not in said
    # 8 validation faces: the run warns that its validation numbers are noise
    assert result.val_faces == 8 and "8 validation faces" in said
    assert {"val_q_loss_mean", "val_pred_std", "val_label_std"} <= set(val[-1])
    meta = json.loads(load_file_meta(tmp_path / "p0" / "best.safetensors"))
    assert meta["calibration"]["source"] == "labels" and meta["calibration"]["faces"] == result.train_faces


def test_start_line_is_the_teachers_own_misalignment_gap(lfw_labels, tmp_path, caplog):
    """Before the first step a student copied from the teacher is the teacher: its validation
    embedding term is the teacher's 1 - cos between the aligned and misaligned crops of the
    validation faces, computed here straight from the teacher; the fresh head's constant
    predictions give no rank metrics; the run says whether the student ended closer."""
    caplog.set_level("INFO", logger="aikd")
    teacher = tiny_teacher()
    run = prepare_run(_config(lfw_labels, tmp_path / "run", max_steps=4, val_every=1.0), teacher=teacher)
    from aikd_cli.tasks.distill.data import batch_views

    gaps = []
    for batch in run.val_loader:
        clean, noisy = batch_views(batch, run.device, 112)
        e, _ = teacher(clean)
        e_hat, _ = teacher(noisy)
        gaps.append(1 - torch.nn.functional.cosine_similarity(e.float(), e_hat.float()))
    gap = float(torch.cat(gaps).mean())
    assert gap > 1e-4  # the misaligned crops do move the teacher's embedding
    result = run.fit()
    start = _metrics(tmp_path / "run")[0]
    assert start["step"] == 0 and start["start"] is True and "loss" not in start
    assert start["val_cos"] == pytest.approx(gap, rel=1e-4)
    assert result.start_metrics["val_cos"] == start["val_cos"]
    assert not {"val_label_spearman", "val_stability", "val_pred_std"} & set(start)
    assert start["val_q_loss"] == pytest.approx(start["val_q_loss_mean"], rel=1e-5)  # starts at the mean
    assert "at the start" in caplog.text


def test_start_validation_changes_no_trained_weight(lfw_labels, tmp_path, monkeypatch):
    """The validation before training leaves the student as it found it (BatchNorm mode included) and
    draws from no random stream the training uses."""
    common = {"max_steps": 4, "val_every": 1.0, "workers": 2, "freeze_bn": False}  # BN mode must come back
    distill(_config(lfw_labels, tmp_path / "with", **common), teacher=tiny_teacher())
    monkeypatch.setattr(Distiller, "_measure_start", lambda self: None)
    distill(_config(lfw_labels, tmp_path / "without", **common), teacher=tiny_teacher())
    assert _metrics(tmp_path / "with")[0].get("start") and not _metrics(tmp_path / "without")[0].get("start")
    a, b = load_file(tmp_path / "with" / "last.safetensors"), load_file(tmp_path / "without" / "last.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_any_quality_model_as_teacher_beside_an_fr_backbone(lfw_labels, tmp_path, mobilefacenet_weights, monkeypatch):
    """`--teacher QUALITY_MODEL --backbone FR`: each face's label is the quality model's score of its
    aligned crop, cut as that model wants it (here a declared 96 px NHWC ONNX graph, BGR)."""
    sys.path.insert(0, str(TESTS / "models"))
    from test_declared_models import nhwc_quality_graph

    from aikd_cli.faces.align import align_faces
    from aikd_cli.images.decode import load_image
    from aikd_cli.models import adding
    from aikd_cli.models.declared import InputDeclaration
    from aikd_cli.models.inference import open_face_model

    monkeypatch.setenv("AIKD_CONFIG_DIR", str(tmp_path / "config"))
    nhwc_quality_graph(tmp_path / "q.onnx")
    adding.add("tf-fiqa", tmp_path / "q.onnx", InputDeclaration(task="quality", size=96, colour="bgr",
                                                                     mean=(128,), std=(128,), layout="nhwc"))
    config = _config(lfw_labels, tmp_path / "run", teacher="tf-fiqa", backbone=str(mobilefacenet_weights),
                     labels=None, max_steps=1)
    run = prepare_run(config)
    model = open_face_model("tf-fiqa", device="cpu", expect="quality")
    faces = run.train_faces + run.val_faces
    assert len(faces) == 32
    for face in faces[:6]:  # independently: the ArcFace template at 96 px, then the model
        image = torch.from_numpy(load_image(face.path)).permute(2, 0, 1)
        crop, _ = align_faces(image, torch.tensor(face.landmarks[None]), 96)
        assert face.label == pytest.approx(float(model(crop).quality[0]), abs=1e-6)
    labels = np.array([f.label for f in faces])
    assert np.isfinite(labels).all() and labels.std() > 0
    assert run.teacher.config.arch == "mobilefacenet"  # the embedding teacher
