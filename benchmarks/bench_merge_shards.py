"""How long ``aikd score --merge`` takes for a big job, against merely copying the parts' bytes.

Writes a synthetic score CSV of ``--rows`` rows as ``--parts`` parts (with the metas a ``--shard``
run writes) into a temporary folder, then times :func:`aikd_cli.tasks.score.merge_shards` (checks,
byte join, summary) and, in the same run, a plain concatenation of the same files (the baseline).

Run: ``PYTHONPATH=src python benchmarks/bench_merge_shards.py --rows 1000000 --parts 4``
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

from aikd_cli.tasks.score import SCORE_COLUMNS, merge_shards
from aikd_cli.tasks.shards import part_path


def write_parts(folder: Path, rows: int, parts: int) -> Path:
    out = folder / "scores.csv"
    cells = ["0", "0.5", "0.99", *["1.0"] * 14, "ab" * 32, "ok", ""]
    for k in range(1, parts + 1):
        start, stop = (k - 1) * rows // parts, k * rows // parts
        part = part_path(out, k, parts)
        with open(part, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(SCORE_COLUMNS)
            writer.writerows([f"photos/{i // 1000:04d}/img_{i:07d}.jpg", *cells] for i in range(start, stop))
        shard = {"index": k, "count": parts, "start": start, "stop": stop, "items": rows, "inputs_sha256": "x",
                 "complete": True}
        Path(f"{part}.meta.json").write_text(json.dumps({"tool": "aikd", "options": {}, "shard": shard}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--parts", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = write_parts(Path(tmp), args.rows, args.parts)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        with open(Path(tmp) / "cat.csv", "wb") as dst:
            for k in range(1, args.parts + 1):
                with open(part_path(out, k, args.parts), "rb") as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
        copy = time.perf_counter() - started
        started = time.perf_counter()
        result = merge_shards(out)
        merge = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{result.rows} rows in {args.parts} parts ({out.name}): merge {merge:.2f} s, plain copy {copy:.2f} s "
          f"(ratio {merge / copy:.1f}x); peak RSS {peak:.0f} MB (before merging: {rss:.0f} MB)")


if __name__ == "__main__":
    main()
