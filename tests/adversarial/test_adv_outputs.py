"""Outputs never touch inputs (issue 12, items 1, 2, 5 and 10): every command refuses, in one line
and before any work, an output that would replace one of its inputs, that exists as the wrong kind,
or whose parent is a file."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import can_mount, cli, one_line_error, write_landmarks


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
    """A crop of ``photos/a.jpg`` is ``OUT/a.png``: when that file is itself an input, refuse."""
    out = photos / "aligned"
    out.mkdir()
    (out / "a.png").write_bytes((photos / "a.jpg").read_bytes())  # e.g. the crops of an earlier run
    before = tree(photos)
    result = cli("align", photos, "-o", out, "--landmarks", tmp_path / "landmarks.csv")
    one_line_error(result, "would overwrite the input", "a.png")
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
    from aikd_cli.tasks import score

    monkeypatch.setattr(score, "open_face_model", lambda *a, **k: pytest.fail("scored before refusing"))
    result = cli("score", crops, "--aligned", "-m", qmodel, "-o", tmp_path / "s.csv", "--report", crops / "c1.png")
    one_line_error(result, "--output would overwrite the input", "c1.png")
    assert not (tmp_path / "s.csv").exists()


READ_ONLY = r"""
import json, subprocess, sys
disk, crops, model = sys.argv[1:4]
subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", disk], check=True)
from typer.testing import CliRunner
from aikd_cli.cli.app import app
results = {}
for name, args in {"score": ["score", crops, "--aligned", "-m", model, "-o", disk + "/s.csv"],
                   "align": ["align", crops, "-o", disk + "/aligned"],
                   "evaluate": ["evaluate", "-p", "x.csv", "--score-column", "score", "-q", "x.csv",
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
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(["unshare", "-m", sys.executable, "-c", READ_ONLY, str(disk), str(crops), str(qmodel)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for name, got in json.loads(proc.stdout.strip().splitlines()[-1]).items():
        lines = [line for line in got["stderr"].splitlines() if line.strip()]
        assert got["code"] == 2 and lines[0].startswith("error:") and "is not writable" in lines[0], (name, lines)
        assert len(lines) <= 2, lines
