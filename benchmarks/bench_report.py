"""How long ``aikd report`` takes on a million-row score CSV, against the full grid in the same run.

Builds synthetic score CSVs from real LFW photos of the test kit: ``--photos`` photos with the
landmarks RetinaFace finds on them, one row per path; with ``--paths links`` (default) every row
has its own path, 100 per sub-folder (like one folder per identity; each sub-folder is a link to a
folder of 100 links to the photos, so a million paths take a few thousand files), with
``--paths repeat`` the rows point at the photos themselves (paths repeat). 2% of the rows are
no-face rows, 0.5% unreadable, 0.5% NaN scores; qualities are random. Then it times

* the baseline: the full grid (``grid=True``: every face decoded, cropped and paged; the report's
  only layout before sampling) on a ``--baseline-rows`` CSV, and the sampled build on that CSV;
* the sampled build (the default above 2,000 faces) on the ``--rows`` CSV;
* with ``--crops``: both builds on the small CSV again, thumbnails from crops saved as
  ``aikd score --save-crops`` would (no original decoded for a face);

and prints seconds, images decoded, rows/s, the grid's time extrapolated to ``--rows`` and the ratio
to the sampled build, page sizes and, when Chromium is installed, how long the main page takes to load.

    PYTHONPATH=src python benchmarks/bench_report.py --rows 1000000 --baseline-rows 5000 --workers 2 --crops
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import resource
import shutil
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
    detector = FaceDetector(load_network(weights, expect="detection").net, max_size=320)
    found = []
    for photo in photos:
        faces = detector.detect([load_image(photo)])[0]
        if faces:
            found.append((photo, faces[0]))
    return found


FOLDER = 100  # rows per sub-folder (one folder per identity)


def _pools(folder: Path, sources: list, blank: Path, broken: Path) -> int:
    """Folders of 100 photo links (plus blank and broken ones) that the sub-folders point at: a
    million distinct paths from a few thousand files, so the set is quick to make and to delete."""
    count = max(1, -(-len(sources) // FOLDER))
    for p in range(count):
        pool = folder / "pools" / f"p{p}"
        pool.mkdir(parents=True)
        for k in range(FOLDER):
            (pool / f"img{k:03d}.jpg").symlink_to(sources[(p * FOLDER + k) % len(sources)][0])
            (pool / f"blank{k:03d}.png").symlink_to(blank)
            (pool / f"broken{k:03d}.jpg").symlink_to(broken)
    return count


def make_csv(folder: Path, rows: int, sources: list, links: bool, seed: int = 0) -> Path:
    """A score CSV of ``rows`` rows in ``folder`` (written line by line: a million rows in seconds)."""
    from PIL import Image

    from aikd_cli.faces.landmarks import landmark_fields
    from aikd_cli.tasks.report.data import BOX_COLUMNS
    from aikd_cli.tasks.score import SCORE_COLUMNS

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    blank = folder / "blank.png"
    Image.fromarray(np.full((250, 250, 3), 128, np.uint8)).save(blank)
    broken = folder / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    pools = _pools(folder, sources, blank, broken) if links else 0
    kinds = rng.choice(4, size=rows, p=[0.97, 0.02, 0.005, 0.005])  # ok, no face, unreadable, NaN
    quality = rng.beta(5, 2, size=rows)
    faces = []  # the cells of each photo's face, and of no face
    for photo, face in sources:
        cells = {"face": "0", "det_score": f"{face.score:.4f}", "status": "ok"}
        cells |= dict(zip(BOX_COLUMNS, (f"{v:.1f}" for v in face.box), strict=True))
        faces.append(
            cells
            | landmark_fields(face.landmarks)
            | {"image_sha256": hashlib.sha256(photo.read_bytes()).hexdigest()}
        )
    failures = (
        {"status": "no_face", "message": "no face detected"},
        {"status": "unreadable", "message": "not an image (unrecognised format)"},
    )
    csv_path = folder / "scores.csv"
    with open(csv_path, "w", encoding="utf-8") as f:
        f.write(",".join(SCORE_COLUMNS) + "\n")
        for i, kind in enumerate(kinds):
            group, k = divmod(i, FOLDER)
            source = ((group % pools) * FOLDER + k) % len(sources) if links else i % len(sources)
            if links:  # images/id00042 -> pools/p0: every row its own path
                if k == 0:
                    (folder / "images").mkdir(exist_ok=True)
                    (folder / "images" / f"id{group:05d}").symlink_to(folder / "pools" / f"p{group % pools}")
                name = ("img{:03d}.jpg", "blank{:03d}.png", "broken{:03d}.jpg", "img{:03d}.jpg")[kind]
                path = f"images/id{group:05d}/{name.format(k)}"
            else:
                target = (sources[source][0], blank, broken, sources[source][0])[kind]
                path = os.path.relpath(target, folder)
            if kind in (1, 2):
                cells = failures[kind - 1]
            else:
                cells = faces[source] | {"quality": "nan" if kind == 3 else f"{quality[i]:.6f}"}
            f.write(",".join([path, *(cells.get(c, "") for c in SCORE_COLUMNS[1:])]) + "\n")
    return csv_path


def save_crops(csv_path: Path, crops: Path) -> int:
    """Crops for every face row, as ``aikd score --save-crops`` writes them (tagged PNGs)."""
    import torch

    from aikd_cli.faces.align import align_faces
    from aikd_cli.images.decode import load_image
    from aikd_cli.tasks.report.crops import write_crop
    from aikd_cli.tasks.report.data import read_scores

    table = read_scores(csv_path)
    made: dict[str, np.ndarray] = {}
    count = 0
    for row in table.rows(np.flatnonzero(table.ok & (table.face >= 0))):
        if row.landmarks is None:
            continue
        target = os.path.realpath(row.source)
        if target not in made:
            image = torch.from_numpy(load_image(target).copy()).permute(2, 0, 1)
            lm = torch.tensor(row.landmarks, dtype=torch.float64).reshape(1, 5, 2)
            made[target] = align_faces(image, lm, 112)[0][0].permute(1, 2, 0).numpy()
        write_crop(made[target], crops, row.path, row.face, False, row.landmarks)
        count += 1
    return count


def timed_build(csv_path: Path, html: Path, workers: int, **options) -> tuple[float, object]:
    from aikd_cli.cli.common import progress_bar
    from aikd_cli.tasks.report import ReportOptions, run

    started = time.perf_counter()
    with progress_bar("reading images") as update:
        summary = run(ReportOptions(scores=csv_path, output=html, workers=workers, **options), update)
    return time.perf_counter() - started, summary


def describe(name: str, seconds: float, summary) -> None:
    extra = f", {summary.from_crops:,} thumbnails from saved crops" if summary.from_crops else ""
    print(
        f"{name}: {seconds:.1f} s for {summary.rows:,} rows ({summary.rows / seconds:,.0f} rows/s); "
        f"{summary.decoded:,} images decoded, {summary.pictured:,} faces pictured{extra}; "
        f"{summary.pages:,} pages"
    )


def folder_size(folder: Path | None) -> tuple[int, int]:
    if folder is None:
        return 0, 0
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def browser_load_time(html: Path) -> tuple[float, int] | None:
    sys.path.insert(0, str(ROOT / "tests"))
    from browser import Browser, find_chromium

    binary = find_chromium()
    if binary is None:
        return None
    with Browser(binary) as b:
        started = time.perf_counter()
        b.open(html.resolve().as_uri())
        return time.perf_counter() - started, len(b.errors())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=5_000, help="rows of the full-grid baseline")
    parser.add_argument("--photos", type=int, default=200, help="distinct real LFW photos behind the rows")
    parser.add_argument("--paths", choices=("links", "repeat"), default="links")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--crops", action="store_true", help="also time builds from saved crops")
    parser.add_argument("--keep", type=Path, default=None, help="build here and keep the result")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="aikd-bench-report-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        photos = sorted((ASSETS / "lfw").glob("*/*.jpg"))[: args.photos]
        # in a child process, so the detector does not count in this process's peak memory
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            sources = pool.submit(detect_landmarks, photos).result()
            links = args.paths == "links"
            small = pool.submit(make_csv, folder / "small", args.baseline_rows, sources, links).result()
            big = pool.submit(make_csv, folder / "big", args.rows, sources, links).result()
        print(
            f"synthetic CSVs: {args.rows:,} and {args.baseline_rows:,} rows over {len(sources)} photos "
            f"(paths: {args.paths}) in {time.perf_counter() - started:.1f} s"
        )
        grid_s, grid = timed_build(
            small, folder / "small" / "grid.html", args.workers, threshold=0.5, grid=True
        )
        describe(f"baseline, full grid, {args.workers} workers", grid_s, grid)
        sampled_small_s, sampled_small = timed_build(
            small, folder / "small" / "sampled.html", args.workers, threshold=0.5, grid=False
        )
        describe("sampled, same CSV", sampled_small_s, sampled_small)
        big_s, sampled = timed_build(big, folder / "big" / "report.html", args.workers, threshold=0.5)
        describe(f"sampled, {args.workers} workers", big_s, sampled)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        extrapolated = grid_s / grid.rows * sampled.rows
        print(
            f"full grid extrapolated to {sampled.rows:,} rows: {extrapolated:,.0f} s; "
            f"ratio sampled / extrapolated grid = {big_s / extrapolated:.4f} ({extrapolated / big_s:,.0f}x faster)"
        )
        files, size = folder_size(sampled.files_dir)
        print(
            f"  main page {sampled.html.stat().st_size / 1e6:.2f} MB; files folder {files:,} files, "
            f"{size / 1e6:.1f} MB; peak RSS of the building process {peak:,.0f} MB"
        )
        loaded = browser_load_time(sampled.html)
        if loaded is not None:
            print(f"  chromium: main page loaded in {loaded[0]:.2f} s, {loaded[1]} errors")
        if args.crops:
            started = time.perf_counter()
            count = save_crops(small, folder / "small" / "crops")
            print(f"saved crops: {count:,} in {time.perf_counter() - started:.1f} s")
            crops = folder / "small" / "crops"
            for name, grid in (("full grid", True), ("sampled", False)):
                html = folder / "small" / f"{name.split()[-1]}-crops.html"
                s, summary = timed_build(small, html, args.workers, crops=crops, threshold=0.5, grid=grid)
                describe(f"{name} from saved crops", s, summary)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
