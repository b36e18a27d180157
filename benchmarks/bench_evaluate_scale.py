"""``aikd evaluate`` at IJB-C scale, end to end through the CLI, against pyarrow merely reading the CSV.

    PYTHONPATH=src python benchmarks/bench_evaluate_scale.py                      # 1e7 pairs, 50,000 samples
    PYTHONPATH=src python benchmarks/bench_evaluate_scale.py --pairs 1e6 --samples 20000

In a temporary folder it writes

* ``pairs.csv``: ``--pairs`` comparisons (``path_a, path_b, mated, score``, 10% mated) over
  ``--samples`` images of 10 images per identity, paths relative to the CSV's folder, and the same
  table as ``pairs.parquet``;
* ``a.csv`` and ``b.csv``: two quality files in the layout of ``aikd score`` (one with relative, one
  with absolute paths; 1% no-face rows; 2% images with a second, smaller face);
* ``ids.csv`` and ``emb.npz``: the same samples as an identity list with 64-d embeddings.

Then it times, in one run:

* the baseline: ``pyarrow.csv.read_csv("pairs.csv")`` (all columns, default options, all cores);
* start-up: the same command on 20,000 pairs over 1,000 samples (Python, imports, tables, plots);
* ``aikd evaluate -p pairs.csv --score-column score -q a.csv:A -q b.csv:B --fmr 1e-3`` and the same
  with ``pairs.parquet`` (whose results must be identical), with wall time and peak resident memory
  from ``/usr/bin/time -v``;
* ``aikd evaluate --identities ids.csv --embeddings emb.npz -q a.csv:A`` (all mated pairs, 5,000,000
  sampled non-mated pairs).

The target is ``wall <= 5 x baseline + 15 s`` and under 4 GB resident for the score-column run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
PER_IDENTITY = 10
LANDMARKS = [f"lm{k}_{axis}" for k in range(5) for axis in "xy"]


def sample_paths(n: int) -> list[str]:
    return [f"id{i // PER_IDENTITY:05d}/img{i:06d}.jpg" for i in range(n)]


def write_pairs(folder: Path, n_pairs: int, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Pairs whose mated scores rise with the worse sample's true quality; returns that quality."""
    truth = rng.random(n_samples)
    mated = rng.random(n_pairs) < 0.1
    a = rng.integers(0, n_samples, n_pairs)
    same = (a // PER_IDENTITY) * PER_IDENTITY + rng.integers(0, PER_IDENTITY, n_pairs)
    other = rng.integers(0, n_samples, n_pairs)
    other = np.where(other // PER_IDENTITY == a // PER_IDENTITY, (other + PER_IDENTITY) % n_samples, other)
    b = np.where(mated, same, other)
    worse = np.minimum(truth[a], truth[b])
    score = np.where(mated, rng.normal(0.2 + 0.5 * worse, 0.1), rng.normal(0.0, 0.1, n_pairs)).round(6)
    names = pa.array(sample_paths(n_samples))
    table = pa.table(
        {
            "path_a": pa.DictionaryArray.from_arrays(pa.array(a.astype(np.int32)), names).cast(pa.string()),
            "path_b": pa.DictionaryArray.from_arrays(pa.array(b.astype(np.int32)), names).cast(pa.string()),
            "mated": pa.array(mated.astype(np.int8)),
            "score": pa.array(score),
        }
    )
    pacsv.write_csv(table, folder / "pairs.csv", pacsv.WriteOptions(quoting_style="none"))
    pq.write_table(table, folder / "pairs.parquet")
    return truth


def write_quality(path: Path, paths: list[str], quality: np.ndarray, rng: np.random.Generator) -> None:
    """An ``aikd score``-style CSV: some images without a face, some with a second, smaller face."""
    lines = [
        "path,face,quality,det_score,box_x1,box_y1,box_x2,box_y2," + ",".join(LANDMARKS) + ",status,message"
    ]
    marks = ",".join(["50.0"] * len(LANDMARKS))
    for p, q in zip(paths, quality, strict=True):
        roll = rng.random()
        if roll < 0.01:
            lines.append(f"{p},,,,,,,,{',' * (len(LANDMARKS) - 1)},no_face,no face detected")
            continue
        lines.append(f"{p},0,{q:.6f},0.99,10,10,110,110,{marks},ok,")
        if roll > 0.98:
            lines.append(f"{p},1,{rng.random():.6f},0.9,0,0,20,20,{marks},ok,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_inputs(folder: Path, n_pairs: int, n_samples: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2024)  # not aikd's seed 0: the random baseline must not equal the truth
    truth = write_pairs(folder, n_pairs, n_samples, rng)
    paths = sample_paths(n_samples)
    write_quality(folder / "a.csv", paths, np.clip(truth + rng.normal(0, 0.1, n_samples), 0, 1), rng)
    write_quality(folder / "b.csv", [str(folder / p) for p in paths], rng.random(n_samples), rng)
    ids = [p.split("/")[0] for p in paths]
    (folder / "ids.csv").write_text(
        "path,identity\n" + "".join(f"{p},{i}\n" for p, i in zip(paths, ids, strict=True)), encoding="utf-8"
    )
    centres = rng.normal(size=(n_samples // PER_IDENTITY + 1, 64))
    emb = centres[np.arange(n_samples) // PER_IDENTITY] + rng.normal(scale=1.5, size=(n_samples, 64))
    np.savez(folder / "emb.npz", paths=np.array(paths), embeddings=emb.astype(np.float32))


class Timing(NamedTuple):
    wall: float  # seconds
    cpu: float  # seconds of CPU, all threads (user + system): what a busy machine stretches least
    rss: float = 0.0  # peak resident GB


def pyarrow_read(path: Path) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    pacsv.read_csv(path)
    return Timing(time.perf_counter() - wall, time.process_time() - cpu)


def run_cli(folder: Path, *args: str) -> Timing:
    """Wall and CPU seconds and peak resident GB of ``python -m aikd_cli ARGS`` (cwd: ``folder``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "aikd_cli", *args]
    proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")

    def field(name: str) -> str:
        return re.search(rf"{re.escape(name)}: (.+)", proc.stderr).group(1)

    h, m, s = ([0.0] + [float(x) for x in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")])[
        -3:
    ]
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    return Timing(3600 * h + 60 * m + s, cpu, int(field("Maximum resident set size (kbytes)")) / 1024**2)


def fastest(runs: list[Timing]) -> Timing:
    return Timing(min(r.wall for r in runs), min(r.cpu for r in runs), max(r.rss for r in runs))


def outcome(out: Path) -> tuple[list[dict], list[dict]]:
    """Dataset summaries (less the input file's name) and every pAUC of a run's results.json."""
    result = json.loads((out / "results.json").read_text())
    return [{k: v for k, v in d.items() if k != "source"} for d in result["datasets"]], result["results"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=float, default=1e7)
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each command; the fastest counts")
    parser.add_argument("--keep", type=Path, help="write the data here and keep it (default: a temp folder)")
    args = parser.parse_args()
    n_pairs = int(args.pairs)
    with tempfile.TemporaryDirectory(prefix="aikd-bench-eval-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        write_inputs(folder, n_pairs, args.samples)
        size = (folder / "pairs.csv").stat().st_size / 1e6
        print(
            f"{n_pairs:,} pairs over {args.samples:,} samples: pairs.csv {size:,.0f} MB "
            f"(written in {time.perf_counter() - start:.0f} s)"
        )
        base = fastest([pyarrow_read(folder / "pairs.csv") for _ in range(3)])
        write_inputs(folder / "tiny", 20_000, 1_000)
        common = ["--score-column", "score", "-q", "a.csv:A", "-q", "b.csv:B", "--fmr", "1e-3"]
        tiny = ["evaluate", "-p", "pairs.csv", *common, "-o", "out"]
        startup = fastest([run_cli(folder / "tiny", *tiny) for _ in range(args.repeat)])
        print(f"{'':<48} {'wall s':>8} {'CPU s':>8}")
        print(f"{'baseline: pyarrow.csv.read_csv(pairs.csv)':<48} {base.wall:8.2f} {base.cpu:8.2f}")
        print(f"{'start-up: the same command on 20,000 pairs':<48} {startup.wall:8.2f} {startup.cpu:8.2f}")
        results = {}
        for name in ("pairs.csv", "pairs.parquet"):
            command = ["evaluate", "-p", f"{name}:pairs", *common, "-o", f"out-{name}"]
            run = fastest([run_cli(folder, *command) for _ in range(args.repeat)])
            results[name] = outcome(folder / f"out-{name}")
            budget = 5 * base.wall + 15
            print(
                f"{'aikd evaluate -p ' + name + ' --score-column ...':<48} {run.wall:8.2f} {run.cpu:8.2f}  "
                f"target {budget:.1f} s {'met' if run.wall <= budget else 'MISSED'}; after start-up "
                f"{(run.wall - startup.wall) / base.wall:.1f}x the baseline's wall, "
                f"{(run.cpu - startup.cpu) / base.cpu:.1f}x its CPU; peak RSS {run.rss:.2f} GB"
            )
        print(f"CSV and Parquet give identical results: {results['pairs.csv'] == results['pairs.parquet']}")
        identities = ["--identities", "ids.csv", "--embeddings", "emb.npz", "-q", "a.csv:A", "--fmr", "1e-3"]
        run = run_cli(folder, "evaluate", *identities, "-o", "out-ids")
        used = outcome(folder / "out-ids")[0][0]["pairs_used"]
        print(
            f"{'aikd evaluate --identities ids.csv --embeddings ...':<48} {run.wall:8.2f} {run.cpu:8.2f}  "
            f"{used:,} pairs used, peak RSS {run.rss:.2f} GB"
        )
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
