"""Outputs never touch inputs (issue 12, items 1, 2, 5 and 10): every command refuses, in one line
and before any work, an output that would replace one of its inputs, that exists as the wrong kind,
or whose parent is a file."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from adversarial_helpers import LFW_LANDMARKS, can_mount, cli, one_line_error, rows, write_landmarks


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_score_output_on_an_image_inside_the_input_folder_is_refused(crops, qmodel):
    """Item 1: ``aikd score imgs -o imgs/a/photo.jpg`` overwrote the photo with the CSV."""
    before = tree(crops)
    result = cli("score", crops, "--aligned", "-m", qmodel, "-o", crops / "c1.png", "-j", 0)
    one_line_error(result, "would overwrite the input", "c1.png")
    assert tree(crops) == before


def test_score_output_equal_to_a_named_input_file_is_refused(crops, qmodel):
    before = tree(crops)
    result = cli("score", crops / "c0.png", "--aligned", "-m", qmodel, "-o", crops / "c0.png")
    one_line_error(result, "would overwrite the input")
    assert tree(crops) == before


def test_score_output_equal_to_its_landmarks_or_model_is_refused(photos, qmodel, tmp_path):
    """Item 5: ``score --landmarks X -o X`` replaced the landmark file; the model file likewise."""
    landmarks = tmp_path / "landmarks.csv"
    for output, option in ((landmarks, "--output"), (qmodel, "--output")):
        before = digest(Path(output))
        result = cli("score", photos, "--landmarks", landmarks, "-m", qmodel, "-o", output)
        one_line_error(result, "would overwrite the input", f"{option}")
        assert digest(Path(output)) == before


def test_score_output_inside_its_input_folder_is_fine_when_it_replaces_nothing(crops, qmodel):
    result = cli("score", crops, "--aligned", "-m", qmodel, "-o", crops / "scores.csv", "-j", 0)
    assert result.exit_code == 0, result.output


def test_save_crops_that_would_replace_input_images_are_refused(crops, qmodel, tmp_path):
    """``--save-crops`` mirrors the CSV's paths: into the input folder, crop ``c0.png`` is the input."""
    before = tree(crops)
    result = cli("score", crops, "--aligned", "-m", qmodel, "-o", crops / "s.csv", "--save-crops", crops)
    one_line_error(result, "--save-crops would overwrite the input")
    assert tree(crops) == before


def test_align_into_its_own_input_folder_is_refused(photos, tmp_path):
    """Item 2: ``aikd align pngs -o pngs`` replaced the originals with their crops."""
    pngs = tmp_path / "pngs"
    pngs.mkdir()
    for name in ("a", "b"):
        (pngs / f"{name}.png").write_bytes((photos / f"{name}.jpg").read_bytes())
    write_landmarks(tmp_path / "lm.csv", {pngs / "a.png": [0.0] * 10})
    before = tree(pngs)
    one_line_error(cli("align", pngs, "-o", pngs, "--landmarks", tmp_path / "lm.csv"), "would overwrite the input")
    assert tree(pngs) == before


def test_align_whose_crops_would_land_on_input_images_is_refused(photos, tmp_path):
    """A crop of ``photos/a.jpg`` is ``OUT/a.jpg.png``: when that file is itself an input, refuse."""
    out = photos / "aligned"
    out.mkdir()
    (out / "a.jpg.png").write_bytes((photos / "a.jpg").read_bytes())  # e.g. the crops of an earlier run
    before = tree(photos)
    result = cli("align", photos / "a.jpg", out / "a.jpg.png", "-o", out, "--landmarks", tmp_path / "landmarks.csv")
    one_line_error(result, "would overwrite the input", "a.jpg.png")
    assert tree(photos) == before


def test_align_landmarks_inside_the_output_are_not_replaced(photos, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    landmarks = out / "landmarks.csv"
    landmarks.write_bytes((tmp_path / "landmarks.csv").read_bytes())
    before = digest(landmarks)
    one_line_error(cli("align", photos, "-o", out, "--landmarks", landmarks), "would overwrite the input")
    assert digest(landmarks) == before


def test_report_over_its_score_csv_is_refused(tmp_path):
    scores = tmp_path / "s.csv"
    scores.write_text("path,face\n", encoding="utf-8")
    one_line_error(cli("report", scores, "-o", scores), "would overwrite the input")
    assert scores.read_text() == "path,face\n"


def test_evaluate_output_folder_holding_an_input_is_refused_before_reading(tmp_path):
    out = tmp_path / "evaluation"
    out.mkdir()
    quality = out / "table.csv"  # a quality file named like one evaluate writes
    quality.write_text("path,quality\n", encoding="utf-8")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("path_a,path_b,mated,score\n", encoding="utf-8")
    result = cli("evaluate", "-p", pairs, "--score-column", "score", "-q", quality, "-o", out)
    one_line_error(result, "--output would overwrite the input", "table.csv")
    assert quality.read_text() == "path,quality\n"


def test_export_overwrite_of_the_folder_holding_the_model_is_refused(qmodel, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    model = folder / "best.safetensors"
    model.write_bytes(Path(qmodel).read_bytes())
    result = cli("export", model, "-f", "safetensors", "-o", folder, "--overwrite")
    one_line_error(result, "would overwrite the input")
    assert digest(model) == digest(Path(qmodel))


@pytest.mark.parametrize("command", ["score", "report", "align", "evaluate", "export"])
def test_output_of_the_wrong_kind_is_refused(command, crops, qmodel, tmp_path):
    """Item 10: an existing folder where a file is written, or a file where a folder is."""
    folder, file = tmp_path / "a-folder", tmp_path / "a-file"
    folder.mkdir()
    file.write_text("keep me", encoding="utf-8")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("path_a,path_b,mated,score\n", encoding="utf-8")
    args, wrong, needle = {
        "score": (["score", crops, "--aligned", "-m", qmodel, "-o"], folder, "must be a file"),
        "report": (["report", pairs, "-o"], folder, "must be a file"),
        "align": (["align", crops, "-o"], file, "must be a folder"),
        "evaluate": (["evaluate", "-p", pairs, "--score-column", "score", "-q", pairs, "-o"], file, "must be a folder"),
        "export": (["export", qmodel, "-f", "safetensors", "--overwrite", "-o"], file, "must be a folder"),
    }[command]
    one_line_error(cli(*args, wrong), needle)
    assert file.read_text() == "keep me" and not any(folder.iterdir())


@pytest.mark.parametrize("command", ["score", "align", "report", "evaluate", "export"])
def test_output_under_a_file_is_refused(command, crops, qmodel, tmp_path):
    """Item 10: a path whose parent is a file."""
    file = tmp_path / "notes.txt"
    file.write_text("keep me", encoding="utf-8")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("path_a,path_b,mated,score\n", encoding="utf-8")
    args = {
        "score": ["score", crops, "--aligned", "-m", qmodel, "-o", file / "s.csv"],
        "align": ["align", crops, "-o", file / "aligned"],
        "report": ["report", pairs, "-o", file / "r.html"],
        "evaluate": ["evaluate", "-p", pairs, "--score-column", "score", "-q", pairs, "-o", file / "ev"],
        "export": ["export", qmodel, "-f", "safetensors", "-o", file / "sub" / "export"],
    }[command]
    one_line_error(cli(*args), "is a file, not a folder")
    assert file.read_text() == "keep me"


def test_an_output_hard_linked_to_an_input_is_refused(crops, qmodel, tmp_path):
    link = tmp_path / "scores.csv"
    os.link(crops / "c0.png", link)  # one file, two names
    one_line_error(cli("score", crops / "c0.png", "--aligned", "-m", qmodel, "-o", link), "would overwrite the input")


def test_score_report_that_would_replace_an_input_is_refused_before_scoring(crops, qmodel, tmp_path, monkeypatch):
    from aikd_cli.tasks.score import scoring as score

    monkeypatch.setattr(score, "open_face_model", lambda *a, **k: pytest.fail("scored before refusing"))
    result = cli("score", crops, "--aligned", "-m", qmodel, "-o", tmp_path / "s.csv", "--report", crops / "c1.png")
    one_line_error(result, "--report would overwrite the input", "c1.png")
    assert not (tmp_path / "s.csv").exists()


READ_ONLY = r"""
import json, subprocess, sys
disk, crops, model, pairs, quality = sys.argv[1:6]
subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", disk], check=True)
from typer.testing import CliRunner
from aikd_cli.cli.app import app
results = {}
for name, args in {"score": ["score", crops, "--aligned", "-m", model, "-o", disk + "/s.csv"],
                   "align": ["align", crops, "-o", disk + "/aligned"],
                   "evaluate": ["evaluate", "-p", pairs, "--score-column", "score", "-q", quality,
                                "-o", disk + "/sub/ev"]}.items():
    r = CliRunner().invoke(app, args)
    results[name] = {"code": r.exit_code, "stderr": r.stderr}
print(json.dumps(results))
"""


@pytest.mark.skipif(not can_mount(), reason="needs unshare and mount (a private read-only tmpfs)")
def test_an_output_on_a_read_only_mount_is_refused_before_any_work(crops, qmodel, tmp_path):
    """Item 10: a read-only location was found out only after all the work (root ignores file
    modes, so a read-only mount stands in for a folder without write permission)."""
    disk = tmp_path / "ro"
    disk.mkdir()
    pairs, quality = tmp_path / "pairs.csv", tmp_path / "q.csv"  # inputs that exist: the output is the problem
    pairs.write_text("path_a,path_b,mated,score\na,b,1,0.9\na,c,0,0.1\n")
    quality.write_text("path,quality\na,0.5\nb,0.6\nc,0.7\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(["unshare", "-m", sys.executable, "-c", READ_ONLY, str(disk), str(crops), str(qmodel),
                           str(pairs), str(quality)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for name, got in json.loads(proc.stdout.strip().splitlines()[-1]).items():
        lines = [line for line in got["stderr"].splitlines() if line.strip()]
        assert got["code"] == 2 and lines[0].startswith("error:") and "is not writable" in lines[0], (name, lines)
        assert len(lines) <= 2, lines


# issue 21: nothing lost, second round


def test_align_crop_never_lands_on_an_unrelated_file(photos, tmp_path):
    """``align in/a.jpg -o in`` with an unrelated ``in/a.png``: the crop replaced ``a.png``."""
    (photos / "a.png").write_bytes((photos / "b.jpg").read_bytes())
    before = digest(photos / "a.png")
    result = cli("align", photos / "a.jpg", "-o", photos, "--landmarks", tmp_path / "landmarks.csv", "-j", 0)
    assert result.exit_code == 0, result.output
    assert digest(photos / "a.png") == before
    assert [r["crop"] for r in rows(photos / "landmarks.csv")] == ["a.jpg.png"]


def test_align_of_a_jpg_and_a_png_keeps_both_crops(photos, tmp_path):
    """``a.jpg`` and ``a.png`` in one folder: both rows named crop ``a.png`` and one face was lost."""
    from PIL import Image

    Image.open(photos / "b.jpg").save(photos / "a.png")
    (photos / "b.jpg").unlink()
    landmarks = write_landmarks(tmp_path / "lm.csv", {photos / "a.jpg": LFW_LANDMARKS, photos / "a.png": LFW_LANDMARKS})
    out = tmp_path / "aligned"
    assert cli("align", photos, "-o", out, "--landmarks", landmarks, "-j", 0).exit_code == 0
    got = {r["path"]: r["crop"] for r in rows(out / "landmarks.csv")}
    assert sorted(got.values()) == ["a.jpg.png", "a.png.png"] and all((out / c).is_file() for c in got.values())


def test_align_refuses_to_replace_a_file_it_did_not_write(photos, tmp_path):
    """Crops may replace earlier crops (listed in the folder's CSV, or tagged by aikd align), never
    a file of the user's that happens to have a crop's name."""
    out = tmp_path / "aligned"
    out.mkdir()
    (out / "a.jpg.png").write_bytes((photos / "b.jpg").read_bytes())
    before = tree(out)
    one_line_error(cli("align", photos, "-o", out, "--landmarks", tmp_path / "landmarks.csv"),
                   "a.jpg.png", "aikd did not write")
    assert tree(out) == before
    (out / "a.jpg.png").unlink()
    for _ in range(2):  # its own crops, listed or not (a crash between a crop and its row), are replaced
        assert cli("align", photos, "-o", out, "--landmarks", tmp_path / "landmarks.csv", "-j", 0).exit_code == 0
        (out / "landmarks.csv").unlink()


def test_align_into_a_folder_inside_its_input_folder_is_refused(photos, tmp_path):
    """``align in -o in/aligned`` was accepted although the docs refuse it: the next run over ``in``
    reads the crops as photos."""
    one_line_error(cli("align", photos, "-o", photos / "aligned", "--landmarks", tmp_path / "landmarks.csv"),
                   "inside the input folder")
    assert not (photos / "aligned").exists()


@pytest.mark.parametrize("kind", ["named pipe", "character device"])
def test_an_output_that_is_not_a_regular_file_is_refused(kind, crops, qmodel, tmp_path):
    """``score -o <a character device>`` replaced the device node with a CSV (as root, ``-o
    /dev/null`` would replace the system's)."""
    node = tmp_path / "node"
    if kind == "named pipe":
        os.mkfifo(node)
    else:
        try:
            os.mknod(node, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # a second /dev/null
        except PermissionError:
            pytest.skip("creating a device node needs CAP_MKNOD")
    one_line_error(cli("score", crops, "--aligned", "-m", qmodel, "-o", node), "must be a regular file", kind)
    assert not stat.S_ISREG(node.lstat().st_mode)


def test_score_output_and_report_on_one_path_are_refused_before_scoring(crops, qmodel, tmp_path, monkeypatch):
    """``score -o out.csv --report out.csv`` scored and wrote out.csv, then refused the report."""
    from aikd_cli.tasks.score import scoring as score

    monkeypatch.setattr(score, "open_face_model", lambda *a, **k: pytest.fail("scored before refusing"))
    out = tmp_path / "out.csv"
    one_line_error(cli("score", crops, "--aligned", "-m", qmodel, "-o", out, "--report", out), "--report", "--output",
                   "same path")
    assert not out.exists()


def test_save_crops_refuse_to_replace_a_file_score_did_not_write(crops, qmodel, tmp_path):
    """The same rule for ``--save-crops``: its crops (tagged PNGs) are replaced, a user's file is not."""
    kept = tmp_path / "kept"
    (kept / "crops").mkdir(parents=True)  # crops mirror the CSV's path cells: crops/c1.png
    (kept / "crops" / "c1.png").write_bytes((crops / "c1.png").read_bytes())
    one_line_error(cli("score", crops, "--aligned", "-m", qmodel, "-o", tmp_path / "s.csv", "--save-crops", kept),
                   "c1.png", "aikd did not write")
    assert digest(kept / "crops" / "c1.png") == digest(crops / "c1.png")
    (kept / "crops" / "c1.png").unlink()
    for _ in range(2):
        assert cli("score", crops, "--aligned", "-m", qmodel, "-o", tmp_path / "s.csv", "--save-crops", kept,
                   "-j", 0).exit_code == 0


def test_report_page_on_a_photo_it_shows_is_refused(photos, qmodel, tmp_path):
    """Every output is checked against every input the command reads: the photos a score CSV
    lists are the report's inputs too."""
    scores = tmp_path / "s.csv"
    assert cli("score", photos, "--landmarks", tmp_path / "landmarks.csv", "-m", qmodel, "-o", scores,
               "-j", 0).exit_code == 0
    before = tree(photos)
    one_line_error(cli("report", scores, "-o", photos / "a.jpg"), "would overwrite the input", "a.jpg")
    assert tree(photos) == before


def test_evaluate_output_holding_a_listed_image_is_refused(eval_inputs, tmp_path):
    """The images a pairs list names are evaluate's inputs: its output folder may not replace one."""
    pairs, quality = eval_inputs
    out = tmp_path / "ev"
    (out / "plots").mkdir(parents=True)
    (out / "plots" / "s00.jpg").write_bytes(b"a photo")
    text = pairs.read_text().replace("s00.jpg", "ev/plots/s00.jpg")
    pairs.write_text(text)
    quality.write_text(quality.read_text().replace("s00.jpg", "ev/plots/s00.jpg"))
    result = cli("evaluate", "-p", pairs, "--score-column", "score", "-q", quality, "--threshold", 0.3, "-o", out)
    one_line_error(result, "would overwrite the input", "s00.jpg", quiet=False)
    assert (out / "plots" / "s00.jpg").read_bytes() == b"a photo"
