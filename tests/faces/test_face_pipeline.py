"""The one face pipeline: a photo's landmarks and crop depend on that photo alone, agree with an
independent RetinaFace reference, and are the same in every command."""

from __future__ import annotations

import csv
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from reference_retinaface import detect as reference_detect

from aikd_cli.faces.detector import FaceDetector, detector_size, order_faces, select_faces
from aikd_cli.images.decode import load_image
from aikd_cli.models.config import ModelConfig
from aikd_cli.models.inference import ModelOutput
from aikd_cli.models.preprocess import Preprocess
from aikd_cli.options import FaceOptions


class Recorder:
    """A stand-in face model that keeps every crop it is given (quality = mean grey level)."""

    def __init__(self, kind: str = "quality") -> None:
        self.config = ModelConfig(arch="iresnet18", head="mlp" if kind == "quality" else None, preprocess=Preprocess())
        self.source = "recorder"
        self.device = torch.device("cpu")
        self.crops: list[torch.Tensor] = []

    def __call__(self, crops: torch.Tensor) -> ModelOutput:
        self.crops += list(crops.clone())
        mean = crops.float().mean(dim=(1, 2, 3))
        return ModelOutput(torch.stack([mean, mean + 1], dim=1), mean)


def _mixed_photos(assets) -> list[Path]:
    """Photos of many sizes: LFW 250 px, kit photos from 112 px crops to 1200 px and larger."""
    lfw = sorted((assets / "lfw").glob("*/*.jpg"))[:6]
    faces = sorted((assets / "faces").rglob("*.jpg"))
    by_size = sorted(faces, key=lambda p: os.path.getsize(p))
    return lfw + by_size[:3] + by_size[len(by_size) // 2 : len(by_size) // 2 + 3] + by_size[-2:]


def _iod(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[0] - lm[1]))


def test_detection_is_a_function_of_the_image(assets, detector):
    """Batch size, batch neighbours of other sizes and input order never move a face."""
    paths = _mixed_photos(assets)
    images = [load_image(p) for p in paths]
    alone = [detector.detect([im])[0] for im in images]
    assert all(alone)
    rng = random.Random(0)
    for batch in (2, 5, len(images)):
        order = list(range(len(images)))
        rng.shuffle(order)
        for start in range(0, len(order), batch):
            chunk = order[start : start + batch]
            for i, faces in zip(chunk, detector.detect([images[i] for i in chunk])):
                assert len(faces) == len(alone[i])
                for a, b in zip(order_faces(faces), order_faces(alone[i])):
                    assert np.abs(a.landmarks - b.landmarks).max() < 0.01
                    assert np.abs(np.subtract(a.box, b.box)).max() < 0.01
                    assert abs(a.score - b.score) < 1e-4


@pytest.mark.slow
def test_landmarks_agree_with_an_independent_reference_on_every_kit_photo(assets, detector):
    """biubug6's post-processing, run on each photo alone at the same size: median < 0.005 and
    max < 0.05 of the eye distance at the default resolution."""
    paths = sorted(p for p in (assets / "faces").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    assert len(paths) == 196
    errors = []
    for start in range(0, len(paths), 16):
        chunk = paths[start : start + 16]
        images = [load_image(p) for p in chunk]
        for image, faces in zip(images, detector.detect(images)):
            mine = select_faces(faces, "largest")[0][1]
            ref = reference_detect(detector.model, image, detector_size(*image.shape[:2], detector.max_size))
            best = min(ref, key=lambda r: np.linalg.norm(r["landmarks"].mean(0) - mine.landmarks.mean(0)))
            errors.append(np.linalg.norm(mine.landmarks - best["landmarks"], axis=1).mean() / _iod(best["landmarks"]))
    assert np.median(errors) < 0.005 and np.max(errors) < 0.05, (np.median(errors), np.max(errors))


def test_face_zero_is_the_largest_face_in_every_mode(assets, detector):
    folder = assets / "landmarks" / "dlib"
    image = load_image(next(p for p in sorted(folder.glob("*.jpg")) if len(detector.detect([load_image(p)])[0]) > 2))
    faces = detector.detect([image])[0]
    every = select_faces(faces, "all")
    assert select_faces(faces, "largest")[0] == every[0]
    assert [f.area for _, f in every] == sorted((f.area for f in faces), reverse=True)
    # central keeps the face nearest the image centre, under its index in the same order
    (index, central), = select_faces(faces, "central", image.shape)
    assert every[index][1] is central
    centre = np.array([image.shape[1] / 2, image.shape[0] / 2])
    dist = [np.linalg.norm(f.landmarks.mean(0) - centre) for _, f in every]
    assert index == int(np.argmin(dist)) and index != 0 or dist[0] == min(dist)


def _score_rows(out: Path) -> dict[str, dict]:
    with open(out, newline="") as f:
        return {os.path.basename(r["path"]): r for r in csv.DictReader(f)}


def test_score_rows_do_not_depend_on_batch_workers_order_or_path_spelling(
    assets, retinaface_weights, tiny_quality_checkpoint, tmp_path, monkeypatch
):
    from aikd_cli.tasks.score import ScoreOptions
    from aikd_cli.tasks.score import run as score_run

    folder = tmp_path / "photos"
    folder.mkdir()
    for p in _mixed_photos(assets):
        shutil.copy(p, folder / p.name)
    files = sorted(folder.iterdir())
    base = dict(model=str(tiny_quality_checkpoint), detector=str(retinaface_weights), device="cpu")
    score_run(ScoreOptions(inputs=[str(f) for f in files], output=tmp_path / "alone.csv", **base, batch_size=1, workers=0))
    monkeypatch.chdir(tmp_path)
    score_run(ScoreOptions(inputs=[str(f.relative_to(tmp_path)) for f in reversed(files)], output="crowd.csv",
                           **base, batch_size=7, workers=2))
    alone, crowd = _score_rows(tmp_path / "alone.csv"), _score_rows(tmp_path / "crowd.csv")
    assert alone.keys() == crowd.keys() and len(alone) == len(files)
    for name, a in alone.items():
        b = crowd[name]
        assert a["status"] == b["status"] == "ok" and a["image_sha256"] == b["image_sha256"]
        lm_a = np.array([float(a[f"lm{i}_{x}"]) for i in range(5) for x in "xy"])
        lm_b = np.array([float(b[f"lm{i}_{x}"]) for i in range(5) for x in "xy"])
        assert np.abs(lm_a - lm_b).max() < 0.01, name
        assert float(a["quality"]) == pytest.approx(float(b["quality"]), abs=1e-4), name


def test_same_photo_same_landmarks_and_crop_in_every_command(assets, retinaface_weights, tmp_path):
    """score, align, evaluate, label and distill's data path find the same landmarks and cut the
    same crop from a photo, pixel for pixel."""
    from aikd_cli.tasks.align import AlignOptions
    from aikd_cli.tasks.align import run as align_run
    from aikd_cli.tasks.distill.data import FaceViews, batch_views, collate_views
    from aikd_cli.tasks.distill.samples import FaceRecord, apply_detections, detect_missing
    from aikd_cli.tasks.evaluate.model_outputs import ModelJob, run_models
    from aikd_cli.tasks.evaluate.protocols import FileImages
    from aikd_cli.tasks.label import embed_identities
    from aikd_cli.tasks.score import ScoreOptions
    from aikd_cli.tasks.score import run as score_run

    photos = [str(p) for p in _mixed_photos(assets)[::3]]
    det = str(retinaface_weights)
    crops: dict[str, dict[str, torch.Tensor]] = {}
    marks: dict[str, dict[str, np.ndarray]] = {}

    scorer = Recorder()
    score_run(ScoreOptions(inputs=photos, output=tmp_path / "s.csv", detector=det, device="cpu", workers=0,
                           batch_size=64), model=scorer)
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    crops["score"] = dict(zip(photos, scorer.crops))
    marks["score"] = {p: np.array([float(r[f"lm{i}_{x}"]) for i in range(5) for x in "xy"]).reshape(5, 2)
                      for p, r in zip(photos, rows)}

    align_run(AlignOptions(inputs=photos, output=tmp_path / "aligned", detector=det, device="cpu", workers=0))
    rows = list(csv.DictReader(open(tmp_path / "aligned" / "landmarks.csv")))
    crops["align"] = {p: torch.from_numpy(np.array(Image.open(tmp_path / "aligned" / r["crop"]))).permute(2, 0, 1)
                      for p, r in zip(photos, rows)}

    evaluator = Recorder("recognition")
    detector = FaceDetector(__import__("aikd_cli.models.loading", fromlist=["x"]).load_network(det).net)
    ran = run_models(photos, FileImages(), [ModelJob("fr", evaluator, "x", "embedding")], detector=detector)
    assert ran.detected == len(photos)
    crops["evaluate"] = dict(zip(photos, evaluator.crops))

    labeller = Recorder("recognition")
    labelled, _ = embed_identities([FaceRecord(p, identity="a") for p in photos], labeller, detector=det)
    crops["label"] = dict(zip([f.path for f in labelled], labeller.crops))
    marks["label"] = {f.path: f.landmarks for f in labelled}

    records = [FaceRecord(os.path.abspath(p)) for p in photos]
    detect_missing(records, tmp_path / "lm.csv", lambda: detector)
    records, skips = apply_detections(records, tmp_path / "lm.csv")
    assert not skips
    marks["distill"] = {p: r.landmarks for p, r in zip(photos, records)}
    views = FaceViews(records, perturb=0.0)
    clean, _ = batch_views(collate_views([views[(0, i)] for i in range(len(records))]), torch.device("cpu"), 112)
    crops["distill"] = dict(zip(photos, clean))

    for command in ("align", "evaluate", "label", "distill"):
        for p in photos:
            assert torch.equal(crops[command][p], crops["score"][p]), (command, p)
    for command in ("label", "distill"):
        for p in photos:
            assert np.array_equal(marks[command][p], marks["score"][p]), (command, p)


def test_same_misalignment_draw_is_the_same_crop_in_every_command(assets, retinaface_weights, tmp_path):
    """p = 3 px, seed 1: align --perturb, score --perturb-samples (its first sample), evaluate
    --perturb and distill's training view cut the same misaligned crop, pixel for pixel, because they
    move and round the landmarks with the one function (faces.pipeline.misaligned) and draw 1 of a
    face is the same draw in each (distill's draws are named by split and epoch, through the same
    function)."""
    from aikd_cli.faces.perturb import face_key
    from aikd_cli.faces.pipeline import FROM_FILE, MISALIGN_STREAM, AlignedFace, crop_faces
    from aikd_cli.tasks.align import AlignOptions
    from aikd_cli.tasks.align import run as align_run
    from aikd_cli.tasks.distill.data import FaceViews, batch_views, collate_views, draw_stream
    from aikd_cli.tasks.distill.samples import FaceRecord
    from aikd_cli.tasks.evaluate.model_outputs import ModelJob, run_models
    from aikd_cli.tasks.evaluate.protocols import FileImages
    from aikd_cli.tasks.score import ScoreOptions
    from aikd_cli.tasks.score import run as score_run

    photos = [str(p) for p in _mixed_photos(assets)[::4]]
    det, p, seed = str(retinaface_weights), 3.0, 1
    table = tmp_path / "clean.csv"  # the correct landmarks every command starts from
    score_run(ScoreOptions(inputs=photos, output=table, detector=det, device="cpu", workers=0), model=Recorder())
    align_run(AlignOptions(inputs=photos, output=tmp_path / "aligned", landmarks=table, device="cpu", workers=0,
                           perturb=p, seed=seed))
    rows = list(csv.DictReader(open(tmp_path / "aligned" / "landmarks.csv")))
    crops = {"align": {}, "score": {}, "evaluate": {}, "pipeline": {}}
    for path, row in zip(photos, rows):
        crops["align"][path] = torch.from_numpy(np.array(Image.open(tmp_path / "aligned" / row["crop"]))).permute(2, 0, 1)

    scorer = Recorder()
    score_run(ScoreOptions(inputs=photos, output=tmp_path / "s.csv", landmarks=table, device="cpu", workers=0,
                           perturb_samples=1, perturb=p, seed=seed), model=scorer)
    # per face: its aligned crop, then its sample
    crops["score"] = dict(zip(photos, scorer.crops[1::2]))

    evaluator = Recorder()
    from aikd_cli.faces.landmarks import read_landmarks

    run_models(photos, FileImages(), [ModelJob("q", evaluator, "x", "quality", (p,))], landmarks=read_landmarks(table),
               seed=seed)
    crops["evaluate"] = dict(zip(photos, evaluator.crops))

    lms = read_landmarks(table)
    records = [FaceRecord(os.path.abspath(path), landmarks=lms[os.path.abspath(path)][0][1]) for path in photos]
    epoch = 2
    _, noisy = batch_views(collate_views([FaceViews(records, perturb=p, seed=seed)[(epoch, i)]
                                          for i in range(len(records))]), torch.device("cpu"), 112)
    for path, record, crop in zip(photos, records, noisy):
        image = torch.from_numpy(load_image(path))
        face = AlignedFace(0, np.asarray(record.landmarks), FROM_FILE)
        crops["pipeline"][path] = crop_faces(image, [face], 112, path=record.path, perturb=p, seed=seed,
                                             stream=MISALIGN_STREAM)[0].crop
        distill_ref = crop_faces(image, [face], 112, path=record.path, perturb=p, seed=seed,
                                 stream=draw_stream(0, epoch))[0].crop
        assert torch.equal(crop, distill_ref), path  # distill's view is the pipeline's crop of its draw
        assert face_key(record.path, 0)  # the key every command derives the draw from
    for command in ("align", "score", "evaluate"):
        for path in photos:
            assert torch.equal(crops[command][path], crops["pipeline"][path]), (command, path)
    clean = Recorder()
    score_run(ScoreOptions(inputs=photos, output=tmp_path / "c.csv", landmarks=table, device="cpu", workers=0),
              model=clean)
    assert not any(torch.equal(a, b) for a, b in zip(clean.crops, scorer.crops[1::2]))


def _write_landmark_csv(path: Path, rows: list[tuple[str, list[float]]]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "face", *(f"lm{i}_{x}" for i in range(5) for x in "xy")])
        for image, values in rows:
            w.writerow([image, 0, *values])


def test_degenerate_landmarks_get_bad_landmarks_never_a_score(assets, tiny_quality_checkpoint, tmp_path):
    from aikd_cli.tasks.score import ScoreOptions
    from aikd_cli.tasks.score import run as score_run

    good = [38.3, 51.7, 73.5, 51.5, 56.0, 71.7, 41.5, 92.4, 70.7, 92.2]
    cases = {
        "good": good,
        "zeros": [0.0] * 10,
        "collapsed": [50.0, 50.0, 50.5, 50.0, 50.2, 50.2, 50.0, 50.4, 50.4, 50.4],
        "far": [v + 1e20 for v in good],
        "huge": [1e308, 1.0, -1e308, 1.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0],
        "nan": [float("nan")] + good[1:],
    }
    src = sorted((assets / "lfw").glob("*/*.jpg"))[0]
    rows = []
    for name, values in cases.items():
        shutil.copy(src, tmp_path / f"{name}.jpg")
        rows.append((f"{name}.jpg", values))
    _write_landmark_csv(tmp_path / "lm.csv", rows)
    out = tmp_path / "s.csv"
    score_run(ScoreOptions(inputs=[str(tmp_path / f"{n}.jpg") for n in cases], output=out,
                           model=str(tiny_quality_checkpoint), landmarks=tmp_path / "lm.csv", device="cpu", workers=0))
    got = {Path(r["path"]).stem: r for r in csv.DictReader(open(out))}
    assert got["good"]["status"] == "ok" and got["good"]["quality"]
    for name in ("zeros", "collapsed", "far", "huge", "nan"):
        assert got[name]["status"] == "bad_landmarks" and got[name]["quality"] == "", name
        assert got[name]["message"], name


def test_landmarks_of_a_changed_image_are_never_trusted(assets, retinaface_weights, tiny_quality_checkpoint, tmp_path):
    """A score CSV is a landmark file for later commands; an image edited since is detected again
    (or refused where there is no detector)."""
    from aikd_cli.faces.landmarks import read_landmarks
    from aikd_cli.faces.pipeline import iter_faces, make_face_source
    from aikd_cli.tasks.score import ScoreOptions
    from aikd_cli.tasks.score import run as score_run

    photos = sorted((assets / "lfw").glob("*/*.jpg"))[:2]
    for p in photos:
        shutil.copy(p, tmp_path / p.name)
    paths = [str(tmp_path / p.name) for p in photos]
    score_run(ScoreOptions(inputs=paths, output=tmp_path / "s.csv", model=str(tiny_quality_checkpoint),
                           detector=str(retinaface_weights), device="cpu", workers=0))
    # the second photo changes: shifted by 20 px, saved again
    moved = np.roll(np.asarray(Image.open(paths[1])), 20, axis=1)
    Image.fromarray(moved).save(paths[1], quality=95)
    table = read_landmarks(tmp_path / "s.csv")
    detector = FaceDetector(__import__("aikd_cli.models.loading", fromlist=["x"]).load_network(retinaface_weights).net)
    source = make_face_source(FaceOptions(landmarks=tmp_path / "s.csv"), 112, torch.device("cpu"))
    only_file = [img for batch in iter_faces(paths, source, 4, 0) for img in batch]
    assert only_file[0].status == "ok" and only_file[0].faces[0].origin == "file"
    assert only_file[1].status == "bad_landmarks" and "changed" in only_file[1].message
    from aikd_cli.faces.pipeline import FaceSource, open_finder

    finder = open_finder(FaceOptions(), 112, torch.device("cpu"), detector=detector, table=table, detect_missing=True)
    both = [img for batch in iter_faces(paths, FaceSource(finder), 4, 0) for img in batch]
    assert [img.faces[0].origin for img in both] == ["file", "detected"]
    old = table[os.path.normpath(paths[1])][0][1]
    assert abs((both[1].faces[0].landmarks - old)[:, 0].mean() - 20) < 1.5  # found where the face is now


def test_onnx_models_tell_the_pipeline_where_to_align(monkeypatch):
    """With the CUDA provider active, crops are made on that GPU (detection and alignment there);
    otherwise on the CPU. (The GPU path itself is not run here: no GPU on the test machines.)"""
    from aikd_cli.models import onnx_model
    from aikd_cli.utils import device as device_mod

    class Session:
        def __init__(self, providers):
            self.providers = providers

        def get_providers(self):
            return self.providers

    monkeypatch.setattr(device_mod, "resolve_device", lambda name: torch.device("cuda:1" if name != "cpu" else "cpu"))
    assert onnx_model.onnx_device(Session(["CUDAExecutionProvider", "CPUExecutionProvider"]), "cuda:1") == torch.device("cuda:1")
    assert onnx_model.onnx_device(Session(["CPUExecutionProvider"]), "auto") == torch.device("cpu")
    assert onnx_model.onnx_device(Session(["CUDAExecutionProvider"]), "cpu") == torch.device("cpu")


def test_perturb_samples_measure_alignment_sensitivity(assets, retinaface_weights, tiny_quality_checkpoint, tmp_path):
    """Each face is also scored under K seeded misalignments: mean and spread are written, the
    clean quality is unchanged, the spread grows with the perturbation and reruns reproduce it."""
    from aikd_cli.tasks.score import ScoreOptions
    from aikd_cli.tasks.score import run as score_run

    photos = [str(p) for p in sorted((assets / "lfw").glob("*/*.jpg"))[:4]]
    base = dict(model=str(tiny_quality_checkpoint), detector=str(retinaface_weights), device="cpu", workers=0)

    def run(name, **extra):
        score_run(ScoreOptions(inputs=photos, output=tmp_path / name, **base, **extra))
        return list(csv.DictReader(open(tmp_path / name)))

    plain, small, large = run("a.csv"), run("b.csv", perturb_samples=6, perturb=1.0), run("c.csv", perturb_samples=6, perturb=8.0)
    again = run("d.csv", perturb_samples=6, perturb=8.0, batch_size=3)
    assert "quality_perturbed_std" not in plain[0]
    for p, s, big, a in zip(plain, small, large, again):
        assert p["quality"] == s["quality"] == big["quality"]
        assert float(big["quality_perturbed_mean"]) == pytest.approx(float(a["quality_perturbed_mean"]), abs=1e-5)
        assert float(big["quality_perturbed_std"]) == pytest.approx(float(a["quality_perturbed_std"]), abs=1e-5)
    spread = lambda rows: np.mean([float(r["quality_perturbed_std"]) for r in rows])  # noqa: E731
    assert 0 < spread(small) < spread(large)


def test_a_detector_that_is_not_needed_is_never_loaded(assets, retinaface_weights, tiny_quality_checkpoint, tmp_path):
    """Landmarks from a score CSV with hashes: the detector is only a fallback for changed images,
    so it is not loaded (offline, it may not even be available) unless one has changed."""
    from aikd_cli.faces.landmarks import read_landmarks
    from aikd_cli.faces.pipeline import FaceFinder, iter_found
    from aikd_cli.tasks.score import ScoreOptions
    from aikd_cli.tasks.score import run as score_run

    photos = [str(p) for p in sorted((assets / "lfw").glob("*/*.jpg"))[:3]]
    score_run(ScoreOptions(inputs=photos, output=tmp_path / "s.csv", model=str(tiny_quality_checkpoint),
                           detector=str(retinaface_weights), device="cpu", workers=0))

    def unavailable():
        raise AssertionError("the detector was loaded")

    finder = FaceFinder("detect", detector=unavailable, table=read_landmarks(tmp_path / "s.csv"))
    found = [img for batch in iter_found(photos, finder.find, finder.worker_transform(), 8, 0) for img in batch]
    assert [img.faces[0].origin for img in found] == ["file"] * 3
