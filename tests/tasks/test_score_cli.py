"""`aikd score` and `aikd align` end to end: real photos, real detector, every bad-input kind."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from factories import make_quality_net, save_ediffiqa_layout
from paths import SRC
from PIL import Image
from typer.testing import CliRunner

from aikd_cli.cli.app import app
from aikd_cli.tasks.score import SCORE_COLUMNS

runner = CliRunner()


def rows_of(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == SCORE_COLUMNS
        return list(reader)


@pytest.fixture(scope="module")
def kit_model(tmp_path_factory):
    """A small random eDifFIQA-layout quality model (fixed seed)."""
    return str(save_ediffiqa_layout(make_quality_net(), tmp_path_factory.mktemp("model") / "tiny.pth"))


@pytest.fixture(scope="module")
def kit_scores(tmp_path_factory, assets, kit_model, retinaface_weights):
    """`aikd score` over every photo of the kit's faces/ folder (run once for the module)."""
    out = tmp_path_factory.mktemp("kit") / "scores.csv"
    result = runner.invoke(app, ["score", str(assets / "faces"), "-o", str(out), "--model", kit_model,
                                 "--detector", str(retinaface_weights), "-j", "2", "-b", "32"])
    assert result.exit_code == 0, result.output
    return out, result


def test_detector_finds_the_main_face_on_every_kit_photo(kit_scores, assets):
    out, result = kit_scores
    rows = rows_of(out)
    photos = sorted(p for p in (assets / "faces").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    assert len(rows) == len(photos) == 196
    assert all(r["status"] == "ok" and r["face"] == "0" for r in rows)
    assert all(float(r["det_score"]) > 0.5 and np.isfinite(float(r["quality"])) for r in rows)
    # the box contains the landmarks, and paths are given relative to... the CSV is elsewhere: absolute
    for r in rows[:20]:
        x1, y1, x2, y2 = (float(r[k]) for k in ("box_x1", "box_y1", "box_x2", "box_y2"))
        assert x1 <= float(r["lm2_x"]) <= x2 and y1 <= float(r["lm2_y"]) <= y2
        assert Path(r["path"]).is_absolute() and Path(r["path"]).exists()
    assert "ok" in result.stdout and "quality of scored faces" in result.stdout
    meta = Path(str(out) + ".meta.json")
    assert meta.exists() and '"detector"' in meta.read_text()


def test_landmarks_from_a_score_csv_reproduce_the_scores(kit_scores, kit_model, tmp_path):
    out, _ = kit_scores
    rows = rows_of(out)[:12]
    subset = [r["path"] for r in rows]
    again = tmp_path / "again.csv"
    result = runner.invoke(app, ["score", *subset, "-o", str(again), "--model", kit_model, "--landmarks", str(out), "-j", "0"])
    assert result.exit_code == 0, result.output
    for a, b in zip(rows, rows_of(again)):
        assert a["path"] == b["path"] and float(a["quality"]) == pytest.approx(float(b["quality"]), abs=1e-5)


@pytest.fixture()
def messy_folder(tmp_path, assets) -> Path:
    """One of each kind of input the issue lists."""
    folder = tmp_path / "in"
    folder.mkdir()
    src = Image.open(assets / "lfw" / "Jean_Charest" / "Jean_Charest_0001.jpg")
    src.save(folder / "good.jpg")
    src.convert("L").save(folder / "gray.png")
    src.convert("RGBA").save(folder / "rgba.png")
    src.convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(np.asarray(src.convert("L")).astype(np.uint16) * 257).save(folder / "deep16.png")
    src.save(folder / "Ünïcødé 顔 <&>.jpg")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_text("not an image")
    data = (folder / "good.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    Image.new("RGB", (300, 200), (120, 120, 120)).save(folder / "noface.png")
    (folder / "gone.jpg").symlink_to(folder / "deleted-since.jpg")
    return folder


def test_every_bad_input_kind_is_a_row_and_the_run_continues(messy_folder, kit_model, retinaface_weights, tmp_path):
    out = tmp_path / "out" / "scores.csv"
    result = runner.invoke(app, [
        "score", str(messy_folder), str(messy_folder / "good.jpg"), str(messy_folder / "gone.jpg"),
        "-o", str(out), "--model", kit_model, "--detector", str(retinaface_weights), "-j", "2", "-b", "4",
    ])
    assert result.exit_code == 0, result.output
    by_name = {}
    for r in rows_of(out):
        by_name.setdefault(Path(r["path"]).name, []).append(r)
    ok = ["good.jpg", "gray.png", "rgba.png", "cmyk.jpg", "deep16.png", "Ünïcødé 顔 <&>.jpg"]
    for name in ok:
        assert by_name[name][0]["status"] == "ok", (name, by_name[name])
    assert by_name["empty.jpg"][0]["message"] == "empty file (0 bytes)"
    assert by_name["text.png"][0]["status"] == "unreadable" and "not an image" in by_name["text.png"][0]["message"]
    assert by_name["truncated.jpg"][0]["status"] in ("unreadable", "ok")  # PIL may decode a partial JPEG
    assert by_name["noface.png"][0]["status"] == "no_face"
    assert by_name["gone.jpg"][0]["message"] == "no such file"  # a dangling link named explicitly
    dup = [r for r in by_name["good.jpg"] if r["status"] == "error"]
    assert len(dup) == 1 and "duplicate input" in dup[0]["message"]
    # paths inside the CSV's folder tree would be relative; these are outside, so absolute
    assert all(Path(r["path"]).is_absolute() for rs in by_name.values() for r in rs)


def test_resume_and_interruption_keep_everything_finished(messy_folder, kit_model, retinaface_weights, tmp_path, monkeypatch):
    from aikd_cli.tasks.score import scoring as score_mod

    out = messy_folder / "scores.csv"  # inside the tree: paths become relative
    calls = {"n": 0}
    real = score_mod.score_faces

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(score_mod, "score_faces", flaky)
    args = ["score", str(messy_folder), "-o", str(out), "--model", kit_model, "--detector", str(retinaface_weights),
            "-j", "0", "-b", "3"]
    result = runner.invoke(app, args)
    assert result.exit_code == 130
    first = rows_of(out)
    assert len(first) == 3 and not Path(str(out) + ".partial").exists()
    assert all(not Path(r["path"]).is_absolute() for r in first)
    monkeypatch.setattr(score_mod, "score_faces", real)
    result = runner.invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    final = rows_of(out)
    assert [r["path"] for r in final[:3]] == [r["path"] for r in first]
    assert len({r["path"] for r in final}) == len(final) == 11
    assert "3 rows kept" in result.stderr


def test_aligned_crops_and_align_command_round_trip(assets, kit_model, retinaface_weights, tmp_path):
    photos = tmp_path / "photos" / "Jean"
    photos.mkdir(parents=True)
    for p in sorted((assets / "lfw" / "Jean_Charest").glob("*.jpg")):
        (photos / p.name).write_bytes(p.read_bytes())
    crops = tmp_path / "crops"
    result = runner.invoke(app, ["align", str(tmp_path / "photos"), "-o", str(crops), "--detector", str(retinaface_weights), "-j", "0"])
    assert result.exit_code == 0, result.output
    pngs = sorted(crops.rglob("*.png"))
    assert [p.relative_to(crops).as_posix() for p in pngs] == [f"Jean/Jean_Charest_000{i}.jpg.png" for i in range(1, 5)]
    assert all(Image.open(p).size == (112, 112) for p in pngs)
    # scoring the crops with --aligned equals scoring the photos with the detector
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert runner.invoke(app, ["score", str(crops), "--aligned", "-o", str(a), "--model", kit_model, "-j", "0"]).exit_code == 0
    assert runner.invoke(app, ["score", str(tmp_path / "photos"), "-o", str(b), "--model", kit_model,
                               "--detector", str(retinaface_weights), "-j", "0"]).exit_code == 0
    qa = [float(r["quality"]) for r in rows_of(a)]
    qb = [float(r["quality"]) for r in rows_of(b)]
    assert qa == pytest.approx(qb, abs=1e-5)
    # the landmarks CSV feeds back and reproduces the same crops; --perturb moves them, reproducibly
    again = tmp_path / "again"
    assert runner.invoke(app, ["align", str(tmp_path / "photos"), "-o", str(again), "--landmarks", str(crops / "landmarks.csv"), "-j", "0"]).exit_code == 0
    for p in pngs:
        assert np.array_equal(np.asarray(Image.open(p)), np.asarray(Image.open(again / p.relative_to(crops))))
    moved1, moved2 = tmp_path / "m1", tmp_path / "m2"
    for target in (moved1, moved2):
        assert runner.invoke(app, ["align", str(tmp_path / "photos"), "-o", str(target), "--landmarks",
                                   str(crops / "landmarks.csv"), "--perturb", "3", "--seed", "7", "-j", "0"]).exit_code == 0
    first = np.asarray(Image.open(moved1 / "Jean" / "Jean_Charest_0001.jpg.png"))
    assert np.array_equal(first, np.asarray(Image.open(moved2 / "Jean" / "Jean_Charest_0001.jpg.png")))
    assert not np.array_equal(first, np.asarray(Image.open(pngs[0])))
    with open(crops / "landmarks.csv") as f:
        row = next(csv.DictReader(f))
    m = np.array([float(row[k]) for k in ("m00", "m01", "m02", "m10", "m11", "m12")]).reshape(2, 3)
    eye = np.array([float(row["lm0_x"]), float(row["lm0_y"]), 1.0])
    assert np.allclose(m @ eye, [38.2946, 51.6963], atol=3.0)  # the left eye lands near the template's


def test_user_errors_are_one_line(tmp_path, retinaface_weights, kit_model, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default output (scores.csv) must not appear on a failed run
    result = runner.invoke(app, ["score", str(tmp_path), "--model", "ediffiqa-xl", "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert "error:" in result.stderr and "Traceback" not in result.output
    (tmp_path / "a.jpg").write_bytes(b"")
    result = runner.invoke(app, ["score", str(tmp_path / "a.jpg"), "--model", "ediffiqa-xl"])
    assert result.exit_code == 2 and "did you mean" in result.stderr
    result = runner.invoke(app, ["score", str(tmp_path / "a.jpg"), "--model", str(retinaface_weights), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and "is a detection model" in result.stderr
    result = runner.invoke(app, ["score", str(tmp_path / "a.jpg"), "--model", "ediffiqa-s", "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and "HF_HUB_OFFLINE" in result.stderr and len(result.stderr.strip().splitlines()) <= 4
    result = runner.invoke(app, ["score", str(tmp_path / "a.jpg"), "--model", "ediffiqa-s"])
    assert result.exit_code == 2 and not (tmp_path / "scores.csv").exists()
    assert not list(tmp_path.glob("scores.csv*"))
    result = runner.invoke(app, ["score", str(tmp_path / "a.jpg"), "--model", kit_model, "--detector", "nope.pth"])
    assert result.exit_code == 2 and "nope.pth: no such file" in result.stderr
    assert not list(tmp_path.glob("scores.csv*"))


def test_help_version_and_module_entry_point():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    commands = ("score", "report", "align", "label", "distill", "evaluate", "export", "models")
    assert all(c in result.stdout for c in commands)
    for command in commands:
        sub = runner.invoke(app, [command, "--help"])
        assert sub.exit_code == 0 and "Examples" in sub.stdout
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run([sys.executable, "-m", "aikd_cli", "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("aikd ")
    proc = subprocess.run([sys.executable, "-m", "aikd_cli", "models"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and "ediffiqa-l" in proc.stdout


def test_cli_starts_without_importing_torch():
    code = "import sys, aikd_cli.cli.app; sys.exit('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    assert subprocess.run([sys.executable, "-c", code], env=env, timeout=60).returncode == 0


def test_ctrl_c_in_a_real_process_leaves_a_valid_csv(assets, kit_model, retinaface_weights, tmp_path):
    """SIGINT (Ctrl-C) to `python -m aikd_cli score` with decode workers running: exit 130, and the
    published CSV holds every finished row; --resume then completes the run."""
    import signal
    import time

    # enough photos that a loaded machine cannot finish them all between two polls of the journal
    photos = sorted((assets / "lfw").glob("A*/*.jpg"))[:60]
    out = tmp_path / "scores.csv"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    args = [sys.executable, "-m", "aikd_cli", "score", *map(str, photos), "-o", str(out), "--model", kit_model,
            "--detector", str(retinaface_weights), "-b", "2", "-j", "1"]
    # SIGINT at its default in the child: a test run started in the background (`pytest &`) ignores
    # it, and Python then never installs its Ctrl-C handler
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    partial = Path(str(out) + ".partial")
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if partial.exists() and partial.read_text().count("\n") >= 5:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    finished = rows_of(out)
    assert f"interrupted: {len(finished)} rows kept in {out}; the same command with --resume" in stderr
    assert 4 <= len(finished) < len(photos) and all(r["status"] == "ok" for r in finished)
    done = subprocess.run([*args, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    final = rows_of(out)
    assert len(final) == len(photos) and len({r["path"] for r in final}) == len(photos)


def test_score_builds_a_report_in_the_same_run(assets, kit_model, retinaface_weights, tmp_path):
    photos = sorted((assets / "lfw" / "Ciro_Gomes").glob("*.jpg"))
    out, page = tmp_path / "scores.csv", tmp_path / "report.html"
    result = runner.invoke(app, ["score", *map(str, photos), "-o", str(out), "--model", kit_model,
                                 "--detector", str(retinaface_weights), "-j", "0", "--report", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    assert all(p.name in html for p in photos) and html.count("<img") >= len(photos)
    assert str(page) in result.stdout
