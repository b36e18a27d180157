"""A crash never replaces earlier results (issue 12, item 4), a full disk is one line (item 10),
and nothing a killed run leaves behind gets in the next run's way (item 18, report)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from adversarial_helpers import can_mount, cli, one_line_error, rows

from aikd_cli.utils.atomic import StagedFiles


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def fail_on_batch(monkeypatch, module, name: str, batch: int, error: BaseException) -> None:
    """Make ``module.name`` raise ``error`` on its ``batch``-th call (1-based)."""
    real, calls = getattr(module, name), []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == batch:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)


def test_a_crashed_score_run_leaves_the_earlier_csv_and_meta_as_they_were(crops, qmodel, tmp_path, monkeypatch):
    from aikd_cli.tasks.score import scoring as score_mod

    out = tmp_path / "s.csv"
    assert cli("score", crops, "--aligned", "-m", qmodel, "-o", out, "-j", 0).exit_code == 0
    meta = Path(str(out) + ".meta.json")
    before = (out.read_bytes(), meta.read_bytes())
    fail_on_batch(monkeypatch, score_mod, "score_faces", 2, RuntimeError("simulated crash"))
    result = cli("score", crops, "--aligned", "-m", qmodel, "-o", out, "-b", 1, "-j", 0)
    assert result.exit_code != 0 and isinstance(result.exception, RuntimeError)
    assert (out.read_bytes(), meta.read_bytes()) == before  # not a header-only file, no new meta
    monkeypatch.undo()
    # the journal of the crashed run is resumable: the earlier rows plus everything else
    result = cli("score", crops, "--aligned", "-m", qmodel, "-o", out, "--resume", "-j", 0)
    assert result.exit_code == 0, result.output
    assert sorted(Path(r["path"]).name for r in rows(out)) == ["c0.png", "c1.png", "c2.png"]


def test_ctrl_c_publishes_what_is_finished(crops, qmodel, tmp_path, monkeypatch):
    from aikd_cli.tasks.score import scoring as score_mod

    out = tmp_path / "s.csv"
    fail_on_batch(monkeypatch, score_mod, "score_faces", 2, KeyboardInterrupt())
    result = cli("score", crops, "--aligned", "-m", qmodel, "-o", out, "-b", 1, "-j", 0)
    assert result.exit_code == 130 and "interrupted" in result.stderr
    assert [Path(r["path"]).name for r in rows(out)] == ["c0.png"]
    assert Path(str(out) + ".meta.json").exists()


def test_a_crashed_align_run_leaves_the_earlier_crops_and_csv_as_they_were(photos, tmp_path, monkeypatch):
    from aikd_cli.tasks.align import aligning as align_mod

    out = tmp_path / "aligned"
    landmarks = tmp_path / "landmarks.csv"
    assert cli("align", photos, "-o", out, "--landmarks", landmarks, "-j", 0).exit_code == 0
    before = tree(out)
    # a second run with other parameters crashes after its first crop
    fail_on_batch(monkeypatch, align_mod, "_save_png", 2, RuntimeError("simulated crash"))
    result = cli("align", photos, "-o", out, "--landmarks", landmarks, "--size", 64, "-b", 1, "-j", 0)
    assert isinstance(result.exception, RuntimeError)
    left = {k: v for k, v in tree(out).items() if not k.startswith(StagedFiles.NAME)}
    assert left.pop("landmarks.csv.partial")  # the crashed run's journal, for --resume
    assert left == before
    monkeypatch.undo()
    # the next full run replaces everything at once and removes what the crashed one staged
    assert cli("align", photos, "-o", out, "--landmarks", landmarks, "--size", 64, "-j", 0).exit_code == 0
    assert not (out / StagedFiles.NAME).exists()
    from PIL import Image

    assert Image.open(out / "a.jpg.png").size == (64, 64) and Image.open(out / "b.jpg.png").size == (64, 64)


def test_resume_after_a_crashed_staged_align_adopts_its_crops(photos, tmp_path, monkeypatch):
    from aikd_cli.tasks.align import aligning as align_mod

    out = tmp_path / "aligned"
    landmarks = tmp_path / "landmarks.csv"
    (out).mkdir()
    (out / "notes.txt").write_text("not ours", encoding="utf-8")  # a non-empty folder: crops are staged
    fail_on_batch(monkeypatch, align_mod, "_save_png", 2, RuntimeError("simulated crash"))
    assert isinstance(cli("align", photos, "-o", out, "--landmarks", landmarks, "-b", 1, "-j", 0).exception,
                      RuntimeError)
    monkeypatch.undo()
    result = cli("align", photos, "-o", out, "--landmarks", landmarks, "--resume", "-j", 0)
    assert result.exit_code == 0, result.output
    listed = {r["crop"] for r in rows(out / "landmarks.csv")}
    assert listed == {"a.jpg.png", "b.jpg.png"} and all((out / name).is_file() for name in listed)
    assert (out / "notes.txt").read_text() == "not ours" and not (out / StagedFiles.NAME).exists()


def test_a_full_disk_while_evaluate_writes_leaves_the_earlier_results(eval_inputs, tmp_path, monkeypatch):
    from aikd_cli.tasks.evaluate import result_files as tables

    pairs, quality = eval_inputs
    out = tmp_path / "ev"
    args = ("evaluate", "-p", pairs, "--score-column", "score", "-q", quality, "--threshold", 0.5, "-o", out)
    assert cli(*args).exit_code == 0
    before = tree(out)

    def full(path, *_):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(tables, "write_curves", full)
    result = cli(*args)
    one_line_error(result, "No space left on device", "pairs.npz", code=1, quiet=False)
    assert tree(out) == before and not (out / StagedFiles.NAME).exists()


def test_a_full_disk_while_report_writes_leaves_the_earlier_report(crops, qmodel, tmp_path, monkeypatch):
    from aikd_cli.tasks.report import thumbnails

    scores = tmp_path / "s.csv"
    assert cli("score", crops, "--aligned", "-m", qmodel, "-o", scores, "-j", 0).exit_code == 0
    html = tmp_path / "r.html"
    assert cli("report", scores, "-o", html, "--no-embed", "-j", 0).exit_code == 0
    before = tree(tmp_path / "r_files"), html.read_bytes()

    def full(root, name, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.path.join(root, name))

    monkeypatch.setattr(thumbnails, "_write", full)
    one_line_error(cli("report", scores, "-o", html, "--no-embed", "-j", 0), "No space left on device", code=1,
                   quiet=False)
    assert (tree(tmp_path / "r_files"), html.read_bytes()) == before
    assert not list(tmp_path.glob(".r_files.partial-*"))


def test_leftovers_of_a_killed_report_build_are_removed_by_the_next(crops, qmodel, tmp_path):
    """Item 18: a SIGKILLed report left a ``.partial-*`` folder that no later build removed."""
    scores = tmp_path / "s.csv"
    assert cli("score", crops, "--aligned", "-m", qmodel, "-o", scores, "-j", 0).exit_code == 0
    stale = tmp_path / ".r_files.partial-abc123"
    (stale / "thumbs").mkdir(parents=True)
    (stale / "thumbs" / "0.jpg").write_bytes(b"half")
    assert cli("report", scores, "-o", tmp_path / "r.html", "-j", 0).exit_code == 0
    assert not stale.exists()


FULL_DISK = r"""
import json, os, shutil, subprocess, sys
disk, earlier, crops, model = sys.argv[1:5]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", disk], check=True)
shutil.copy(earlier, os.path.join(disk, "s.csv"))
fill = []  # fill the disk with 4 kB files, then free two pages: the lock and the journal's first page
while True:
    try:
        with open(os.path.join(disk, f"fill{len(fill)}"), "wb") as f:
            f.write(b"x" * 4096)
        fill.append(f.name)
    except OSError:
        os.unlink(os.path.join(disk, f"fill{len(fill)}"))
        break
for name in fill[-2:]:
    os.unlink(name)
from typer.testing import CliRunner
from aikd_cli.cli.app import app
r = CliRunner().invoke(app, ["score", crops, "--aligned", "-m", model, "-o", os.path.join(disk, "s.csv"),
                             "-b", "1", "-j", "0", "--device", "cpu"])
with open(os.path.join(disk, "s.csv"), "rb") as f:
    kept = f.read()
print(json.dumps({"code": r.exit_code, "stderr": r.stderr, "output": r.output, "kept": kept.decode()}))
"""


@pytest.mark.skipif(not can_mount(), reason="needs unshare and mount (a private tmpfs)")
def test_a_really_full_disk_during_score_is_one_line_and_keeps_the_earlier_csv(crops, qmodel, tmp_path):
    """A 64 kB tmpfs, mounted in a private mount namespace (nothing outlives the test), nearly full."""
    from PIL import Image

    for i in range(3, 40):  # enough rows to need more than the page left for the journal
        Image.open(crops / "c0.png").save(crops / f"c{i}.png")
    earlier = tmp_path / "earlier.csv"
    assert cli("score", crops / "c0.png", "--aligned", "-m", qmodel, "-o", earlier, "-j", 0).exit_code == 0
    disk = tmp_path / "disk"
    disk.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(["unshare", "-m", sys.executable, "-c", FULL_DISK, str(disk), str(earlier), str(crops),
                           str(qmodel)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["code"] == 1 and "Traceback" not in got["output"], got
    lines = [line for line in got["stderr"].splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-2:] == [errors[0], lines[-1]] and lines[-1].startswith("hint:"), lines
    assert "No space left on device" in errors[0] and "s.csv.partial" in errors[0]  # mid-run: the journal
    assert got["kept"] == earlier.read_bytes().decode("utf-8")
