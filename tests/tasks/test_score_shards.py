"""`aikd score --shard K/N`, `--merge` and torchrun: the parts join into the CSV one process writes.

The comparison is byte for byte: shards split the images at multiples of the batch size, so the
model sees the same batches as in one process, and every run here uses the same thread count (the
in-process runs share this process; the subprocess runs get ``OMP_NUM_THREADS=1``), so the float
results are the same bits. Cheap: pre-aligned crops and a small random quality model, on the CPU.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from paths import SRC
from PIL import Image
from typer.testing import CliRunner

from aikd_cli.cli.app import app

runner = CliRunner()
PHOTOS = ("Jean_Charest", "Colin_Powell", "George_W_Bush")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(SRC)}


@pytest.fixture(scope="module")
def qmodel(tmp_path_factory) -> Path:
    from factories import save_tiny_quality_model

    return save_tiny_quality_model(tmp_path_factory.mktemp("qmodel") / "tiny.safetensors")


@pytest.fixture()
def work(tmp_path, assets, monkeypatch) -> Path:
    """``tmp/crops`` with 9 crops in two folders and one file that is not an image; cwd = tmp."""
    photos = sorted(p for name in PHOTOS for p in (assets / "lfw" / name).glob("*.jpg"))[:9]
    assert len(photos) == 9
    for i, photo in enumerate(photos):
        folder = tmp_path / "crops" / ("b" if i % 3 == 0 else "a")
        folder.mkdir(parents=True, exist_ok=True)
        Image.open(photo).crop((69, 69, 181, 181)).save(folder / f"c{i}.png")
    (tmp_path / "crops" / "a" / "broken.png").write_bytes(b"not a png")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def score(model: Path, *args: object):
    return runner.invoke(app, ["score", *map(str, args), "--aligned", "-m", str(model), "-j", "0", "-b", "2",
                               "--device", "cpu"])


def error_line(result, *needles: str) -> str:
    """The one-line refusal contract: exit 2, one ``error:`` line (and at most a hint), no traceback."""
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.output and lines[0].startswith("error:"), lines
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("hint:")), lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def shards(model: Path, inputs: list, output: str, n: int, *extra: object) -> None:
    for k in range(1, n + 1):
        result = score(model, *inputs, "-o", output, "--shard", f"{k}/{n}", *extra)
        assert result.exit_code == 0, result.output


# the duplicate input (crops/a/c1.png again) and the unreadable file land in the last shard
ORDERS = {
    "folder": ["crops", "crops/a/c1.png"],
    "reordered": ["crops/b", "crops/a", "crops/a/c1.png"],
}


@pytest.mark.parametrize("n", [2, 3, 7])
@pytest.mark.parametrize("order", ORDERS)
def test_merged_parts_are_the_single_process_csv_byte_for_byte(work, qmodel, order, n):
    inputs = ORDERS[order]
    assert score(qmodel, *inputs, "-o", "one.csv").exit_code == 0
    shards(qmodel, inputs, "parts.csv", n)
    merged = runner.invoke(app, ["score", "--merge", "-o", "parts.csv"])
    assert merged.exit_code == 0, merged.output
    one = (work / "one.csv").read_bytes()
    assert (work / "parts.csv").read_bytes() == one
    assert b"duplicate input" in one and b"broken.png" in one and one.count(b"\n") == 12  # header + 11 inputs
    parts = [(work / f"parts.csv.part-{k}-of-{n}").read_bytes().count(b"\n") - 1 for k in range(1, n + 1)]
    assert sum(parts) == 11 and (n < 5 or 0 in parts)  # more shards than batches: some are empty


def test_parts_given_relative_and_absolute_paths_merge_the_same(work, qmodel):
    assert score(qmodel, "crops", "-o", "one.csv").exit_code == 0
    # the model file too, relative in one shard and absolute in the other
    assert score(Path(os.path.relpath(qmodel)), "crops", "-o", "p.csv", "--shard", "1/2").exit_code == 0
    assert score(qmodel, work / "crops", "-o", work / "p.csv", "--shard", "2/2").exit_code == 0
    assert runner.invoke(app, ["score", "--merge", "-o", str(work / "p.csv")]).exit_code == 0
    assert (work / "p.csv").read_bytes() == (work / "one.csv").read_bytes()
    # a different set of inputs is not the same job
    assert score(qmodel, "crops/a", "-o", "p.csv", "--shard", "2/2").exit_code == 0
    error_line(runner.invoke(app, ["score", "--merge", "-o", "p.csv"]), "p.csv.part-2-of-2", "inputs")


def test_merge_refuses_missing_unfinished_duplicated_and_mismatched_parts(work, qmodel):
    merge = ["score", "--merge", "-o", "p.csv"]
    error_line(runner.invoke(app, merge), "no parts of p.csv")
    shards(qmodel, ["crops"], "p.csv", 3)
    part = {k: work / f"p.csv.part-{k}-of-3" for k in (1, 2, 3)}
    keep = {k: (p.read_bytes(), Path(f"{p}.meta.json").read_bytes()) for k, p in part.items()}

    def restore() -> None:
        for k, (csv_bytes, meta) in keep.items():
            part[k].write_bytes(csv_bytes)
            Path(f"{part[k]}.meta.json").write_bytes(meta)

    part[2].unlink()
    error_line(runner.invoke(app, merge), "p.csv.part-2-of-3", "part 2 of 3 is missing")
    part[2].with_name(part[2].name + ".partial").write_bytes(keep[2][0][:40])  # a crashed run's journal
    error_line(runner.invoke(app, merge), "part 2 of 3 is unfinished")
    part[2].with_name(part[2].name + ".partial").unlink()
    restore()
    shutil.copy(part[1], part[2])  # the same rows twice
    error_line(runner.invoke(app, merge), "p.csv.part-2-of-3", "overlap")
    shutil.copy(f"{part[1]}.meta.json", f"{part[2]}.meta.json")  # a whole part copied
    error_line(runner.invoke(app, merge), "p.csv.part-2-of-3", "says part 1 of 3")
    restore()
    assert score(qmodel, "crops", "-o", "p.csv", "--shard", "3/3", "--seed", "5").exit_code == 0
    error_line(runner.invoke(app, merge), "p.csv.part-3-of-3", "other options", "seed")
    restore()
    (work / "p.csv.part-1-of-2").write_bytes(keep[1][0])  # a stale part of another N
    error_line(runner.invoke(app, merge), "different shard counts")
    (work / "p.csv.part-1-of-2").unlink()
    assert runner.invoke(app, merge).exit_code == 0


@pytest.mark.parametrize(("shard", "needle"), [("0/4", "counts from 1"), ("5/4", "1 to 4"), ("2", "K/N"),
                                               ("1/0", "N must be")])
def test_bad_shard_is_one_line(work, qmodel, shard, needle):
    error_line(score(qmodel, "crops", "-o", "s.csv", "--shard", shard), needle)
    assert not list(work.glob("s.csv*"))


def test_merge_builds_the_report_and_parts_do_not(work, qmodel):
    error_line(runner.invoke(app, ["score", "crops", "--merge", "-o", "p.csv"]), "--merge takes no inputs")
    error_line(score(qmodel, "crops", "-o", "p.csv", "--shard", "1/2", "--report", "r.html"), "--report")
    shards(qmodel, ["crops"], "p.csv", 2)
    merged = runner.invoke(app, ["score", "--merge", "-o", "p.csv", "--report", "r.html"])
    assert merged.exit_code == 0 and "joined 2 parts" in merged.stderr, merged.output
    assert "p.csv" in (work / "r.html").read_text(encoding="utf-8")


def crash(part: Path, keep_rows: int) -> None:
    """Leave ``part`` as a killed run does: no published CSV, no meta, a journal with a torn last row."""
    lines = part.read_bytes().splitlines(keepends=True)
    torn = b"".join(lines[: 1 + keep_rows]) + lines[1 + keep_rows][:25]
    part.with_name(part.name + ".partial").write_bytes(torn)
    part.unlink()
    Path(f"{part}.meta.json").unlink()


def test_a_killed_shard_resumes_and_merges_to_the_single_process_csv(work, qmodel):
    assert score(qmodel, "crops", "-o", "one.csv").exit_code == 0
    shards(qmodel, ["crops"], "p.csv", 2)
    crash(work / "p.csv.part-2-of-2", keep_rows=2)
    error_line(runner.invoke(app, ["score", "--merge", "-o", "p.csv"]), "unfinished")
    resumed = score(qmodel, "crops", "-o", "p.csv", "--shard", "2/2", "--resume")
    assert resumed.exit_code == 0 and "rows kept from an earlier run" in resumed.stderr, resumed.output
    assert runner.invoke(app, ["score", "--merge", "-o", "p.csv"]).exit_code == 0
    assert (work / "p.csv").read_bytes() == (work / "one.csv").read_bytes()  # resumed at a batch boundary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SCORE = ("score", "--aligned", "-j", "0", "-b", "2")


def aikd(*args: object, env: dict | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "aikd_cli", *map(str, args)]
    return subprocess.Popen(command, env=env or ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def torchrun_job(world: int, *args: object) -> list[tuple[int, str, str]]:
    """``torchrun --nproc-per-node world -m aikd_cli ARGS`` as torchrun starts it (gloo, CPU)."""
    port = free_port()
    procs = [aikd(*args, env={**ENV, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(r),
                               "WORLD_SIZE": str(world), "LOCAL_RANK": str(r), "LOCAL_WORLD_SIZE": str(world)})
             for r in range(world)]
    outputs = [p.communicate(timeout=300) for p in procs]
    return [(p.returncode, *output) for p, output in zip(procs, outputs)]


def test_two_gloo_ranks_write_the_single_process_csv_and_resume_a_dead_rank(work, qmodel):
    single = aikd(*SCORE, "crops", "crops/a/c1.png", "-o", "one.csv", "-m", qmodel, "--save-crops", "kept1")
    out, err = single.communicate(timeout=300)
    assert single.returncode == 0, err[-3000:]
    job = torchrun_job(2, *SCORE, "crops", "crops/a/c1.png", "-o", "two.csv", "-m", qmodel, "--save-crops", "kept2",
                       "--report", "two.html")
    assert [code for code, *_ in job] == [0, 0], job
    assert (work / "two.csv").read_bytes() == (work / "one.csv").read_bytes()
    assert tree(work / "kept2") == tree(work / "kept1") and len(tree(work / "kept1")) == 9  # both ranks' crops
    assert (work / "two.html").is_file() and not (work / "two.html").with_suffix(".partial").exists()
    assert (work / "two.csv.part-2-of-2").is_file()  # each rank wrote its own part
    (_, out0, err0), (_, out1, err1) = job
    assert "two.csv: 11 rows" in out0 and "joined 2 parts" in err0  # only rank 0 speaks
    assert "rows" not in out1 and "joined" not in err1 and "scoring" not in err1
    # rank 1 died partway, inside a batch: the job run again with --resume finishes its part and
    # merges; the image scored again in a smaller batch may differ in the last float bits
    crash(work / "two.csv.part-2-of-2", keep_rows=1)
    (work / "two.csv").unlink()
    job = torchrun_job(2, *SCORE, "crops", "crops/a/c1.png", "-o", "two.csv", "-m", qmodel, "--resume")
    assert [code for code, *_ in job] == [0, 0], job
    kept = len(rows(work / "two.csv.part-1-of-2")) + 1  # rank 0's whole part and rank 1's surviving row
    assert f"{kept} rows kept from an earlier run" in job[0][2], job[0][2][-2000:]
    one, two = rows(work / "one.csv"), rows(work / "two.csv")
    assert [{**r, "quality": ""} for r in one] == [{**r, "quality": ""} for r in two]
    assert all(a["quality"] == b["quality"] or abs(float(a["quality"]) - float(b["quality"])) < 1e-6
               for a, b in zip(one, two))


def rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_shard_under_torchrun_is_refused(work, qmodel, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    error_line(score(qmodel, "crops", "-o", "s.csv", "--shard", "1/2"), "under torchrun")


LFW_LANDMARKS = (96.0, 112.0, 153.0, 112.0, 125.0, 140.0, 101.0, 170.0, 149.0, 170.0)


@pytest.fixture()
def photos(work, assets) -> list[str]:
    """``photos/`` (7 LFW photos in two folders) with ``lm.csv`` landmarks; the inputs to align."""
    sources = sorted(p for name in PHOTOS for p in (assets / "lfw" / name).glob("*.jpg"))[:7]
    with open(work / "lm.csv", "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["path", "face", *(f"lm{i}_{a}" for i in range(5) for a in "xy")])
        for i, source in enumerate(sources):
            target = work / "photos" / ("b" if i % 3 == 0 else "a") / f"p{i}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
            out.writerow([target, 0, *LFW_LANDMARKS])
    return ["photos", "photos/a/p1.jpg", "--landmarks", "lm.csv", "-j", "0", "-b", "2", "--device", "cpu"]


def tree(folder: Path) -> dict[str, bytes]:
    """Every file of an align output but the parts and metas: the CSV and the crops."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".part-" not in p.name and not p.name.endswith(".meta.json")}


def test_align_shards_and_gloo_ranks_write_the_single_process_folder(work, photos):
    assert runner.invoke(app, ["align", *photos, "-o", "one"]).exit_code == 0
    for k in (1, 2, 3):
        result = runner.invoke(app, ["align", *photos, "-o", "parts", "--shard", f"{k}/3"])
        assert result.exit_code == 0, result.output
    assert (work / "parts" / "landmarks.csv.part-3-of-3").is_file()
    (work / "parts" / "landmarks.csv.part-2-of-3").rename(work / "held")
    error_line(runner.invoke(app, ["align", "--merge", "-o", "parts"]), "part 2 of 3 is missing")
    (work / "held").rename(work / "parts" / "landmarks.csv.part-2-of-3")
    assert runner.invoke(app, ["align", "--merge", "-o", "parts"]).exit_code == 0
    one = tree(work / "one")
    assert len(one) == 8 and b"duplicate input" in one["landmarks.csv"]  # 7 crops and the CSV
    assert tree(work / "parts") == one
    # and as torchrun runs it (in subprocesses, so the single run is redone at the same thread count)
    single = aikd("align", *photos, "-o", "one1")
    assert single.communicate(timeout=300) and single.returncode == 0
    job = torchrun_job(2, "align", *photos, "-o", "two")
    assert [code for code, *_ in job] == [0, 0], job
    assert (work / "two" / "landmarks.csv.part-2-of-2").is_file() and "joined 2 parts" in job[0][2]
    assert tree(work / "two") == tree(work / "one1")
