"""How long ``aikd report`` takes on a large score CSV, against bare image decoding in the same run.

Builds a synthetic score CSV of ``--rows`` rows (default 100,000) from a handful of real LFW photos of
the test kit: each row gets its own path (a symlink to one of the photos, 100 per sub-folder, like
one folder per identity), the real landmarks the detector found on that photo, and a random quality;
2% of the rows are no-face rows, 0.5% unreadable, 0.5% NaN scores. Then it times

* the baseline: decoding a sample of the same images with ``load_image`` in one process, scaled to
  all rows (what any tool that shows these faces must at least pay), and
* the report build (``build_report``, ``--workers`` processes),

and prints the ratio build / baseline, throughput, output size and, when Chromium is installed, how
long the browser takes to load the main page and a grid page.

    PYTHONPATH=src python benchmarks/bench_report.py --rows 100000 --workers 2
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(os.environ.get("AIKD_ASSETS", ROOT.parent / "shared" / "assets"))


def detect_landmarks(photos: list[Path]) -> list:
    import torch

    from aikd_cli.faces.detector import FaceDetector
    from aikd_cli.images.decode import load_image
    from aikd_cli.models.loading import load_network

    torch.set_num_threads(1)
    weights = ASSETS / "models" / "retinaface" / "mobilenet0.25_Final.pth"
    detector = FaceDetector(load_network(weights, expect="detection").net)
    found = []
    for photo in photos:
        faces = detector.detect([load_image(photo)])[0]
        if faces:
            found.append((photo, faces[0]))
    return found


def make_csv(folder: Path, rows: int, photos: int, seed: int = 0) -> Path:
    from PIL import Image

    from aikd_cli.faces.landmarks import landmark_fields
    from aikd_cli.tasks.score import SCORE_COLUMNS

    rng = np.random.default_rng(seed)
    sources = detect_landmarks(sorted((ASSETS / "lfw").glob("*/*.jpg"))[:photos])
    blank = folder / "blank.png"
    Image.fromarray(np.full((250, 250, 3), 128, np.uint8)).save(blank)
    broken = folder / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    csv_path = folder / "scores.csv"
    kinds = rng.choice(4, size=rows, p=[0.97, 0.02, 0.005, 0.005])  # ok, no face, unreadable, NaN
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=SCORE_COLUMNS)
        writer.writeheader()
        for i, kind in enumerate(kinds):
            group = folder / "images" / f"id{i // 100:05d}"
            if i % 100 == 0:
                group.mkdir(parents=True)
            photo, face = sources[i % len(sources)]
            target = blank if kind == 1 else broken if kind == 2 else photo
            link = group / f"img{i:06d}{target.suffix}"
            link.symlink_to(target)
            row = dict.fromkeys(SCORE_COLUMNS, "") | {"path": os.path.relpath(link, folder)}
            if kind == 1:
                row |= {"status": "no_face", "message": "no face detected"}
            elif kind == 2:
                row |= {"status": "unreadable", "message": "not an image (unrecognised format)"}
            else:
                quality = "nan" if kind == 3 else f"{rng.beta(5, 2):.5f}"
                box = dict(
                    zip(("box_x1", "box_y1", "box_x2", "box_y2"), (f"{v:.2f}" for v in face.box), strict=True)
                )
                row |= {"face": "0", "quality": quality, "det_score": f"{face.score:.4f}", "status": "ok"}
                row |= box | landmark_fields(face.landmarks)
            writer.writerow(row)
    return csv_path


def baseline_decode(csv_path: Path, sample: int) -> tuple[float, int]:
    """Seconds per image to decode ``sample`` of the CSV's images in one process."""
    from aikd_cli.errors import ImageError
    from aikd_cli.images.decode import load_image

    with open(csv_path, newline="", encoding="utf-8") as f:
        paths = [r["path"] for r in csv.DictReader(f) if r["status"] != "unreadable"]
    step = max(1, len(paths) // sample)
    chosen = paths[::step][:sample]
    started = time.perf_counter()
    for p in chosen:
        with contextlib.suppress(ImageError):
            load_image(csv_path.parent / p)
    return (time.perf_counter() - started) / len(chosen), len(paths)


def browser_load_times(html: Path, page2: Path | None) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "tests"))
    from browser import Browser, find_chromium

    binary = find_chromium()
    if binary is None:
        return {}
    times = {}
    with Browser(binary) as b:
        for name, page in (("main page", html), ("grid page 2", page2)):
            if page is None:
                continue
            started = time.perf_counter()
            b.open(page.resolve().as_uri())
            times[name] = time.perf_counter() - started
            times[f"{name} errors"] = len(b.errors())
    return times


def folder_size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--photos", type=int, default=40, help="distinct real photos behind the rows")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-page", type=int, default=240)
    parser.add_argument("--sample", type=int, default=2000, help="images decoded for the baseline")
    parser.add_argument("--keep", type=Path, default=None, help="build here and keep the result")
    args = parser.parse_args()

    from aikd_cli.tasks.report import build_report

    folder = args.keep or Path(tempfile.mkdtemp(prefix="aikd-bench-report-"))
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # in a child process, so the detector does not count in this process's peak memory
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        csv_path = pool.submit(make_csv, folder, args.rows, args.photos).result()
    print(
        f"synthetic CSV: {args.rows:,} rows from {args.photos} photos in {time.perf_counter() - started:.1f} s"
    )

    per_image, images = baseline_decode(csv_path, args.sample)
    baseline = per_image * images
    print(
        f"baseline: load_image {per_image * 1e3:.2f} ms/image x {images:,} images = {baseline:.1f} s (1 process)"
    )

    started = time.perf_counter()
    summary = build_report(
        csv_path,
        folder / "report.html",
        threshold=0.5,
        per_page=args.per_page,
        workers=args.workers,
        progress=sys.stderr.isatty(),
    )
    build = time.perf_counter() - started
    n_files, n_bytes = folder_size(summary.files_dir) if summary.files_dir else (0, 0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"report build: {build:.1f} s with {args.workers} workers = {args.rows / build:,.0f} rows/s; "
        f"ratio build / baseline = {build / baseline:.2f}"
    )
    print(
        f"  {summary.faces:,} faces, {summary.pages:,} pages; main page {summary.html.stat().st_size / 1e6:.2f} MB; "
        f"files folder {n_files:,} files, {n_bytes / 1e6:.0f} MB; peak RSS of the building process {peak:.0f} MB"
    )
    page2 = summary.files_dir / "page-0002.html" if summary.files_dir else None
    for name, value in browser_load_times(summary.html, page2).items():
        print(f"  chromium {name}: " + (f"{value:.2f} s" if "errors" not in name else f"{value:.0f}"))
    if args.keep is None:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
