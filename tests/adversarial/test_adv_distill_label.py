"""label and distill (issue 12, items 5, 7, 8, 12, 14, 18): ``label -o`` equal to ``-i`` replaced
the identities, a relative ``-i`` raised KeyError, a single identity was labelled with a false
message, ``distill`` with every image missing exited 0 and wrote ``best.safetensors``, and a failed
run left its folder behind."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import pytest
from adversarial_helpers import LFW_LANDMARKS, PHOTO, cli, one_line_error, rows

LM_COLUMNS = [f"lm{i}_{a}" for i in range(5) for a in "xy"]


def manifest(path: Path, entries: list[tuple[str, str, tuple]], quality: bool = False) -> Path:
    """A CSV of ``(path cell, identity, landmarks)`` rows (with a ``quality`` column if asked)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "identity", *LM_COLUMNS, *(["quality"] if quality else [])])
        for k, (cell, identity, lm) in enumerate(entries):
            writer.writerow([cell, identity, *lm, *([f"{0.1 * (k % 7):.2f}"] if quality else [])])
    return path


@pytest.fixture()
def lfw_subset(tmp_path, assets) -> Path:
    """``lfw/`` with two photos of each of three people and ``lfw/identities.csv`` (relative cells,
    the kit's layout) with their landmarks."""
    root = tmp_path / "lfw"
    entries = []
    for person in ("Alvaro_Uribe", "Colin_Powell", "Jean_Charest"):
        (root / person).mkdir(parents=True)
        for photo in sorted((assets / "lfw" / person).glob("*.jpg"))[:2]:
            shutil.copy(photo, root / person / photo.name)
            entries.append((f"{person}/{photo.name}", person, LFW_LANDMARKS))
    return manifest(root / "identities.csv", entries)


def label_args(ids, out, fr, detector):
    return ("label", "-i", ids, "--fr-model", fr, "-o", out, "--detector", detector, "-j", 0, "--device", "cpu")


def test_label_from_a_relative_identities_csv(lfw_subset, mobilefacenet_weights, retinaface_weights, tmp_path,
                                              monkeypatch):
    """Item 7: ``aikd label -i lfw/identities.csv`` raised KeyError."""
    monkeypatch.chdir(tmp_path)
    result = cli(*label_args("lfw/identities.csv", "labels.csv", mobilefacenet_weights, retinaface_weights))
    assert result.exit_code == 0, result.output
    assert [r["status"] for r in rows(tmp_path / "labels.csv")] == ["ok"] * 6


def test_label_output_equal_to_its_input_is_refused(lfw_subset, mobilefacenet_weights, retinaface_weights):
    """Item 5."""
    before = hashlib.sha256(lfw_subset.read_bytes()).hexdigest()
    one_line_error(cli(*label_args(lfw_subset, lfw_subset, mobilefacenet_weights, retinaface_weights)),
                   "would overwrite the input")
    assert hashlib.sha256(lfw_subset.read_bytes()).hexdigest() == before


def test_label_with_a_single_identity_is_refused_before_any_work(tmp_path, assets, mobilefacenet_weights,
                                                                 retinaface_weights, monkeypatch):
    """Item 14: every face was marked ``single_image`` ("the only usable face of its identity")."""
    from aikd_cli.models import inference

    monkeypatch.setattr(inference, "open_face_model", lambda *a, **k: pytest.fail("a model was loaded"))
    ids = manifest(tmp_path / "ids.csv", [(str(assets / PHOTO), "one", LFW_LANDMARKS)] * 1
                   + [(str(p), "one", LFW_LANDMARKS) for p in sorted((assets / "lfw" / "Colin_Powell").glob("*"))[:3]])
    one_line_error(cli(*label_args(ids, tmp_path / "l.csv", mobilefacenet_weights, retinaface_weights)),
                   "lists one identity ('one')", "at least two")
    assert not (tmp_path / "l.csv").exists()


def test_a_resaved_identities_csv_reads_the_same(lfw_subset, tmp_path):
    from aikd_cli.tasks.distill.samples import read_manifest

    plain = read_manifest(lfw_subset)
    with open(lfw_subset, newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    resaved = tmp_path / "lfw" / "resaved.csv"
    with open(resaved, "w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f, delimiter=";").writerows(table)
    again = read_manifest(resaved)
    assert [(r.path, r.identity, r.landmarks.tolist()) for r in again] == [
        (r.path, r.identity, r.landmarks.tolist()) for r in plain]


def distill_args(data, out, teacher, *extra):
    return ("distill", data, "--teacher", teacher, "-o", out, "-b", 2, "--max-steps", 2, "--val-fraction", 0,
            "-j", 0, "--device", "cpu", *extra)


def test_distill_with_every_image_missing_fails_and_leaves_nothing(tmp_path, qmodel):
    """Items 12 and 18: it exited 0 after 2 steps and wrote best.safetensors."""
    data = manifest(tmp_path / "data.csv", [(f"gone/{i}.jpg", "x", LFW_LANDMARKS) for i in range(4)], quality=True)
    result = cli(*distill_args(data, tmp_path / "run", qmodel))
    error = one_line_error(result, "unreadable", "no such file", quiet=False)  # the reason, in one line
    assert "could be read" in error or "could be used" in error
    assert not (tmp_path / "run").exists()


def test_a_run_that_trains_no_face_saves_no_model(tmp_path, qmodel, assets, monkeypatch):
    """Item 12 past the head calibration: every training batch turns out unusable (simulated), so
    no step trains a face; the run must not end with a model."""
    from aikd_cli.tasks.distill import engine

    for i in range(4):
        shutil.copy(assets / PHOTO, tmp_path / f"{i}.jpg")
    data = manifest(tmp_path / "data.csv", [(f"{i}.jpg", "x", LFW_LANDMARKS) for i in range(4)], quality=True)
    monkeypatch.setattr(engine.Distiller, "train_step", lambda self, batch: None)
    result = cli(*distill_args(data, tmp_path / "run", qmodel))
    one_line_error(result, "no training face could be used by step 1", quiet=False)
    assert not (tmp_path / "run").exists()


def test_distill_with_only_degenerate_landmarks_fails_in_one_line(tmp_path, qmodel, assets):
    """Item 8, the distill data path: collapsed and far-off landmarks are skipped, never a crash."""
    shutil.copy(assets / PHOTO, tmp_path / "a.jpg")
    shutil.copy(assets / PHOTO, tmp_path / "b.jpg")
    data = manifest(tmp_path / "data.csv", [("a.jpg", "x", (120.0, 120.0) * 5),
                                            ("b.jpg", "x", (1e20, 0.0) * 5)], quality=True)
    result = cli(*distill_args(data, tmp_path / "run", qmodel))
    error = one_line_error(result, quiet=False)
    assert "bad_landmarks" in error and "landmarks" in error.split("bad_landmarks", 1)[1]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("extra", "needle"), [(("--device", "bogus"), "unknown device 'bogus'"),
                                               (("--perturb", "inf"), "--perturb must be a finite number in [0, 1000]")])
def test_distill_bad_options_fail_before_any_work(extra, needle, tmp_path, qmodel, crops):
    one_line_error(cli(*distill_args(crops, tmp_path / "run", qmodel), *extra), needle)
    assert not (tmp_path / "run").exists()


def test_a_distill_run_that_fails_to_start_leaves_no_folder(tmp_path, crops):
    """Item 18: the folder (config.toml) was created before the teacher failed to load."""
    result = cli(*distill_args(crops, tmp_path / "runs" / "x", tmp_path / "no-such-teacher.safetensors"))
    one_line_error(result, "no-such-teacher.safetensors", quiet=False)
    assert not (tmp_path / "runs").exists()


def test_distill_into_a_folder_holding_its_landmarks_is_refused(tmp_path, qmodel, crops):
    run = tmp_path / "run"
    run.mkdir()
    landmarks = run / "landmarks.csv"  # the name of the run's own detection cache
    landmarks.write_text("path,face\n", encoding="utf-8")
    one_line_error(cli(*distill_args(crops, run, qmodel), "--landmarks", landmarks), "would overwrite the input")
    assert landmarks.read_text() == "path,face\n"


def test_distill_walks_folder_links_only_when_asked(tmp_path):
    assert "--follow-links" in cli("distill", "--help").output


# issue 21: nothing lost, second round


def test_label_output_on_a_listed_image_is_refused(lfw_subset, mobilefacenet_weights, retinaface_weights):
    """``label -o lfw/P/x.jpg`` with x.jpg listed in the identities CSV: the labels replaced the photo."""
    photo = lfw_subset.parent / "Colin_Powell" / sorted(p.name for p in (lfw_subset.parent / "Colin_Powell").iterdir())[0]
    before = hashlib.sha256(photo.read_bytes()).hexdigest()
    one_line_error(cli(*label_args(lfw_subset, photo, mobilefacenet_weights, retinaface_weights)),
                   "would overwrite the input", photo.name)
    assert hashlib.sha256(photo.read_bytes()).hexdigest() == before


def test_label_with_complete_fresh_landmarks_never_needs_the_detector(lfw_subset, mobilefacenet_weights,
                                                                       retinaface_weights, tmp_path):
    """``label --landmarks <aikd align's CSV>`` offline failed on the default detector, which no
    face needed: a detector is opened only for a face without landmarks or whose image changed."""
    ids = manifest(tmp_path / "ids.csv", [(str(p), p.parent.name, ("",) * 10)
                                          for p in sorted(lfw_subset.parent.glob("*/*.jpg"))])
    aligned = cli("align", lfw_subset.parent, "-o", tmp_path / "aligned", "--detector", retinaface_weights, "-j", 0,
                  "--device", "cpu")
    assert aligned.exit_code == 0, aligned.output
    result = cli("label", "-i", ids, "--fr-model", mobilefacenet_weights, "--landmarks",
                 tmp_path / "aligned" / "landmarks.csv", "-o", tmp_path / "labels.csv", "-j", 0, "--device", "cpu")
    assert result.exit_code == 0, result.output  # the default detector is not in the (empty) offline cache
    assert [r["status"] for r in rows(tmp_path / "labels.csv")] == ["ok"] * 6
    # a face without landmarks still needs it, and says so before any work
    (tmp_path / "partial.csv").write_text("".join(open(tmp_path / "aligned" / "landmarks.csv").readlines()[:-1]))
    one_line_error(cli("label", "-i", ids, "--fr-model", mobilefacenet_weights, "--landmarks", tmp_path / "partial.csv",
                       "-o", tmp_path / "l2.csv", "-j", 0, "--device", "cpu"), "(for --detector)")


def test_distill_refused_over_a_foreign_landmarks_csv_changes_nothing(tmp_path, qmodel, assets):
    """``distill photos -o photos``: refused over ``photos/landmarks.csv`` only after replacing the
    user's ``config.toml`` and deleting ``metrics.jsonl``: check first, write after."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        shutil.copy(assets / PHOTO, photos / f"{i}.jpg")
    mine = {"config.toml": "my config\n", "metrics.jsonl": "my metrics\n", "landmarks.csv": "path,face\n"}
    for name, text in mine.items():
        (photos / name).write_text(text, encoding="utf-8")
    one_line_error(cli(*distill_args(photos, photos, qmodel)), "landmarks.csv", "not a detection cache")
    assert {p.name: p.read_text() for p in photos.iterdir() if p.suffix != ".jpg"} == mine
