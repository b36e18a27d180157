"""Detection resolution policy and batch invariance, measured on the test kit.

For each detection size (longest side; 0 = original size, capped by --cap) it reports, on the kit's
photos (faces/, lfw/ and the dlib-annotated PASCAL photos):
- faces found (images with at least one face, and all faces on the PASCAL photos),
- agreement of aikd's landmarks with an independent biubug6-style reference run on each image alone
  at the same size (tests/reference_retinaface.py), as a fraction of the eye distance,
- agreement with the dlib-derived 5 points (PASCAL photos) and between sizes,
- CPU milliseconds per image (detection only, decoded images in memory; process CPU time, which
  stays meaningful when other jobs share the machine),
- batch invariance: the largest landmark move when the same photos are detected in shuffled,
  mixed-size batches instead of one at a time (must be ~0).

    python benchmarks/detection_policy.py --sizes 320,640,1024,0 --lfw 200
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from reference_retinaface import detect as reference_detect  # noqa: E402

from aikd_cli.faces.detector import FaceDetector, detector_size, select_faces  # noqa: E402
from aikd_cli.images.decode import load_image  # noqa: E402
from aikd_cli.models.loading import load_network  # noqa: E402


def iod(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[0] - lm[1]))


def error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean point distance over the eye distance of ``b``."""
    return float(np.linalg.norm(a - b, axis=1).mean() / max(iod(b), 1e-9))


def match(faces, target: np.ndarray):
    return min(faces, key=lambda f: np.linalg.norm(np.asarray(f.landmarks if hasattr(f, "landmarks") else f["landmarks"]).mean(0) - target.mean(0)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--assets", type=Path, default=ROOT.parent / "shared" / "assets")
    ap.add_argument("--sizes", default="320,640,1024,0")
    ap.add_argument("--cap", type=int, default=2048, help="longest side for size 0 (original, capped)")
    ap.add_argument("--lfw", type=int, default=200, help="LFW photos to use (0: none)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    # one thread and process CPU time: timings that stay meaningful when other jobs share the
    # machine (with several threads, spin-waiting under contention inflates CPU time)
    torch.set_num_threads(args.threads)
    net = load_network(args.assets / "models" / "retinaface" / "mobilenet0.25_Final.pth", expect="detection").net.eval()
    faces_dir = args.assets / "faces"
    photos = sorted(p for p in faces_dir.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    lfw = sorted((args.assets / "lfw").rglob("*.jpg"))
    lfw = random.Random(0).sample(lfw, min(args.lfw, len(lfw))) if args.lfw else []
    dlib_dir = args.assets / "landmarks" / "dlib"
    dlib_rows = list(csv.DictReader(open(dlib_dir / "five_point_from_dlib68.csv")))
    dlib = {}
    for row in dlib_rows:
        pts = np.array([float(row[f"lm{i}_{a}"]) for i in range(5) for a in "xy"]).reshape(5, 2)
        dlib.setdefault(row["image"], []).append(pts)
    sets = {"faces/": photos, "lfw/": lfw, "dlib/": [dlib_dir / name for name in sorted(dlib)]}
    images = {p: load_image(p) for paths in sets.values() for p in paths}
    sizes = [int(s) for s in args.sizes.split(",")]
    largest: dict[int, dict[Path, np.ndarray]] = {}
    print(f"photos: faces/ {len(photos)}, lfw/ {len(lfw)}, dlib/ {len(dlib)} ({len(dlib_rows)} annotated faces)")
    print("size | set | found | ref median | ref p90 | ref max | dlib mean | dlib max | CPU ms/img | batch move px", flush=True)
    for size in sizes:
        max_size = size if size else args.cap
        det = FaceDetector(net, max_size=max_size)
        largest[size] = {}
        for name, paths in sets.items():
            t0 = time.process_time()
            alone = {p: det.detect([images[p]])[0] for p in paths}
            ms = (time.process_time() - t0) / max(len(paths), 1) * 1e3
            shuffled = list(paths)
            random.Random(1).shuffle(shuffled)
            moved = 0.0
            for k in range(0, len(shuffled), args.batch):
                chunk = shuffled[k : k + args.batch]
                for p, faces in zip(chunk, det.detect([images[p] for p in chunk])):
                    if len(faces) != len(alone[p]):
                        moved = float("inf")
                    for a, b in zip(faces, alone[p]):
                        moved = max(moved, float(np.abs(a.landmarks - b.landmarks).max()))
            ref_err = []
            for p in paths:
                if not alone[p]:
                    continue
                mine = select_faces(alone[p], "largest")[0]
                largest[size][p] = mine.landmarks
                ref = reference_detect(net, images[p], detector_size(*images[p].shape[:2], max_size))
                if ref:
                    ref_err.append(error(mine.landmarks, match(ref, mine.landmarks)["landmarks"]))
            found = sum(bool(alone[p]) for p in paths)
            dl = ""
            if name == "dlib/":
                errs, hit = [], 0
                for p in paths:
                    for pts in dlib[p.name]:
                        if alone[p]:
                            best = match(alone[p], pts)
                            if np.linalg.norm(best.landmarks.mean(0) - pts.mean(0)) < iod(pts):
                                hit += 1
                                errs.append(error(best.landmarks, pts))
                found_txt = f"{hit}/{len(dlib_rows)} faces"
                dl = f"{np.mean(errs):.3f} | {np.max(errs):.3f}"
            else:
                found_txt = f"{found}/{len(paths)}"
                dl = "- | -"
            r = np.array(ref_err) if ref_err else np.array([np.nan])
            print(f"{size or f'orig<={args.cap}'} | {name} | {found_txt} | {np.median(r):.4f} | "
                  f"{np.percentile(r, 90):.4f} | {r.max():.4f} | {dl} | {ms:.1f} | {moved:.4f}", flush=True)
    print("\nagreement between sizes (largest face, median / p90 of error over eye distance):")
    for i, a in enumerate(sizes):
        for b in sizes[i + 1 :]:
            common = [p for p in largest[a] if p in largest[b]]
            e = np.array([error(largest[a][p], largest[b][p]) for p in common])
            print(f"{a or 'orig'} vs {b or 'orig'}: {np.median(e):.4f} / {np.percentile(e, 90):.4f} over {len(e)} photos")


if __name__ == "__main__":
    main()
