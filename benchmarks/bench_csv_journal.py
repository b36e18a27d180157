"""The journalled CSV writer (``utils.csvout.ResultsWriter``) at a million rows.

    PYTHONPATH=src python benchmarks/bench_csv_journal.py              # 1,000,000 rows
    PYTHONPATH=src python benchmarks/bench_csv_journal.py --rows 200000

Rows look like ``aikd score`` rows (its columns, a relative path, 17 numbers, a status) and are
written in batches of 64, as ``score`` writes them. Measured in one run:

* the baseline: the same rows through a plain ``csv.DictWriter`` into a plain file (no journal);
* ``ResultsWriter.write``: rows/s over the first and the last 100,000 rows (equal rates mean
  O(1) per row), and ``close()``;
* ``--resume`` of the finished CSV: opening the writer (which reads every key) against the time
  ``csv.reader`` needs merely to read that file;
* ``--resume`` after a SIGKILL: a child process journals all rows, starts a last row and kills
  itself; reopening must keep every journalled row and drop the torn one.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aikd_cli.tasks.score import SCORE_COLUMNS
from aikd_cli.utils.csvout import ResultsWriter

BATCH = 64
BLOCK = 100_000


def make_rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        numbers = [f"{rng.uniform(0, 500):.2f}" for _ in range(14)]
        values = [f"person_{i // 50:05d}/img_{i:07d}.jpg", "0", f"{rng.random():.6f}", f"{rng.random():.4f}"]
        rows.append(dict(zip(SCORE_COLUMNS, [*values, *numbers, "ok", ""], strict=True)))
    return rows


def key_of(folder: Path):
    """The key ``aikd score`` resumes by: the absolute path of the row's image."""
    return lambda row: os.path.normpath(os.path.join(folder, row["path"]))


def plain_write(path: Path, rows: list[dict[str, str]]) -> float:
    start = time.perf_counter()
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=SCORE_COLUMNS)
        writer.writeheader()
        for k in range(0, len(rows), BATCH):
            writer.writerows(rows[k : k + BATCH])
            f.flush()
    return time.perf_counter() - start


def journal_write(path: Path, rows: list[dict[str, str]], block: int) -> tuple[list[float], float]:
    """Seconds per ``block`` rows, and the seconds ``close()`` takes."""
    writer = ResultsWriter(path, SCORE_COLUMNS, key=key_of(path.parent))
    blocks, start = [], time.perf_counter()
    for k in range(0, len(rows), BATCH):
        writer.write(rows[k : k + BATCH])
        if (k + BATCH) % block < BATCH:
            now = time.perf_counter()
            blocks.append(now - start)
            start = now
    start = time.perf_counter()
    writer.close()
    return blocks, time.perf_counter() - start


def plain_read(path: Path) -> float:
    start = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as f:
        for _ in csv.reader(f):
            pass
    return time.perf_counter() - start


def resume_open(path: Path) -> tuple[float, int, ResultsWriter]:
    start = time.perf_counter()
    writer = ResultsWriter(path, SCORE_COLUMNS, resume=True, key=key_of(path.parent))
    return time.perf_counter() - start, writer.kept, writer


def killed_child(path: Path, n: int) -> None:
    """Journal ``n`` rows, start one more row, and die by SIGKILL (no close, no clean-up)."""
    writer = ResultsWriter(path, SCORE_COLUMNS, key=key_of(path.parent))
    rows = make_rows(n, seed=1)
    for k in range(0, n, BATCH):
        writer.write(rows[k : k + BATCH])
    writer._handle.write('torn/row.jpg,0,0.5,"unfinished')  # a batch cut off mid-row
    writer._handle.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        killed_child(args.child, args.rows)
        return
    with tempfile.TemporaryDirectory(prefix="aikd-bench-csv-") as tmp:
        folder = Path(tmp)
        rows = make_rows(args.rows)
        base = min(plain_write(folder / "plain.csv", rows) for _ in range(2))
        out = folder / "scores.csv"
        block = min(BLOCK, args.rows // 2)
        blocks, closing = journal_write(out, rows, block)
        size = out.stat().st_size / 1e6
        print(f"{args.rows:,} rows of {len(SCORE_COLUMNS)} columns, {size:.0f} MB")
        print(f"plain csv.DictWriter (baseline)   {args.rows / base:>10,.0f} rows/s")
        first, last = block / blocks[0], block / blocks[-1]
        print(
            f"ResultsWriter first {block:,} rows  {first:>10,.0f} rows/s  ({first * base / args.rows:.2f}x baseline)"
        )
        print(
            f"ResultsWriter last {block:,} rows   {last:>10,.0f} rows/s  ({last * base / args.rows:.2f}x baseline)"
        )
        print(f"last / first                      {last / first:10.2f}")
        print(f"close() (publish)                 {closing:10.2f} s")
        read = plain_read(out)
        seconds, kept, writer = resume_open(out)
        writer.close()
        print(f"csv.reader over the CSV (baseline) {read:9.2f} s")
        print(
            f"--resume open of the finished CSV {seconds:10.2f} s  ({seconds / read:.2f}x baseline), {kept:,} rows kept"
        )
        crashed = folder / "crashed.csv"
        child = subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--child", str(crashed)])
        assert child.returncode == -signal.SIGKILL, child.returncode
        seconds, kept, writer = resume_open(crashed)
        writer.close()
        with open(crashed, newline="", encoding="utf-8") as f:
            published = sum(1 for _ in csv.reader(f)) - 1
        print(
            f"--resume open after SIGKILL       {seconds:10.2f} s  ({seconds / read:.2f}x baseline), "
            f"{kept:,} rows kept, {published:,} published (torn row dropped: {published == args.rows})"
        )


if __name__ == "__main__":
    main()
