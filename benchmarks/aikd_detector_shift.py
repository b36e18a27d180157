"""Misalignment from the detector itself: the students of ``aikd_acceptance.py`` scored on faces aligned
with landmarks from the kit's RetinaFace MobileNet-0.25 run on shrunken images (``--det-size``), while
the comparison scores keep the full-size detector's alignment.

Only the MobileNet-0.25 weights exist offline here; the ResNet-50 RetinaFace was not run. The kit's
dlib points cover 9 PASCAL photos without identities, so they cannot make an EDC either.

For each det-size: ``aikd score`` (each student, the held-out images) writes qualities and the
landmarks it aligned with; ``aikd evaluate`` compares them (``-q``) with the full-size alignment
(``--landmarks``) on all pairs of the held-out people; then bootstrap intervals over identities as in
the acceptance script, the FR embedding norm of the same det-size crops as the yardstick, and how far
the small-image landmarks are from the full-size ones.

Run after the acceptance: ``PYTHONPATH=src python benchmarks/aikd_detector_shift.py --acceptance out/acceptance``
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from aikd_acceptance import aikd, bootstrap  # noqa: E402


def landmarks_of(csv_file: Path) -> dict[str, np.ndarray]:
    from aikd_cli.faces.landmarks import read_landmarks

    return {k: min(v, key=lambda f: f[0])[1] for k, v in read_landmarks(csv_file).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--acceptance", type=Path, default=ROOT / "out" / "acceptance")
    parser.add_argument("--seed", type=int, default=0, help="which training seed's students")
    parser.add_argument("--scheme", default="cr")
    parser.add_argument("--det-sizes", default="160")
    parser.add_argument(
        "--assets", type=Path, default=Path(os.environ.get("AIKD_ASSETS", ROOT.parent / "shared" / "assets"))
    )
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    acc = args.acceptance.resolve()
    out = acc / f"detector_seed{args.seed}"
    out.mkdir(exist_ok=True)
    fr = str(args.assets / "models" / "fr" / "mobilefacenet_foamliu.pt")
    det = str(args.assets / "models" / "retinaface" / "mobilenet0.25_Final.pth")
    full_lm = acc / "all_landmarks.csv"
    test = acc / "split0" / "test_ids.csv"
    rows = list(csv.DictReader(open(test, newline="")))
    paths = [str((test.parent / r["path"]).resolve()) for r in rows]
    runs = {
        "AI-KD": acc / f"seed{args.seed}" / f"aikd_{args.scheme}",
        "plain": acc / f"seed{args.seed}" / f"plain_{args.scheme}",
    }
    while not all((run / "done").exists() for run in runs.values()):  # the acceptance is still training
        time.sleep(60)
    full = landmarks_of(full_lm)
    report: dict = {"det_sizes": {}}
    quality_files = []
    for size in [int(x) for x in args.det_sizes.split(",")]:
        for name, run in runs.items():
            q = out / f"{name}_det{size}.csv"
            if not q.exists():
                aikd(out, "score", *paths, "--model", run, "--detector", det, "--det-size", size, "--device", "cpu",
                     "--precision", "fp32", "-o", q)  # fmt: skip
            quality_files.append((q, f"{name} (det-size {size})"))
        shifted = landmarks_of(out / f"AI-KD_det{size}.csv")
        keys = [os.path.normpath(p) for p in paths]
        found = [k for k in keys if k in shifted]
        delta = np.array([np.abs(shifted[k] - full[k]).mean() for k in found])
        iod = np.array([np.linalg.norm(full[k][1] - full[k][0]) for k in found])
        report["det_sizes"][size] = {
            "faces_found": len(found),
            "faces": len(keys),
            "mean_abs_landmark_shift_px": float(delta.mean()),
            "p95_abs_landmark_shift_px": float(np.percentile(delta, 95)),
            "mean_shift_iod": float((delta / iod).mean()),
        }
    edir = out / "eval"
    if not (edir / "results.json").exists():
        aikd(out, "evaluate", "--identities", test, "--fr-model", fr, "--landmarks", full_lm,
             *[x for q, label in quality_files for x in ("-q", f"{q}:{label}")],
             *[x for name, run in runs.items() for x in ("-m", f"{run}:{name} (full-size detector)")],
             "--fmr", "1e-3", "--device", "cpu", "--precision", "fp32", "-j", "2", "-o", edir)  # fmt: skip
    report["cli_table"] = json.loads((edir / "results.json").read_text())["table"]
    report.update(
        intervals(rows, paths, runs, fr, full, out, [int(x) for x in args.det_sizes.split(",")], args)
    )
    (out / "report.json").write_text(json.dumps(report, indent=2, default=float))
    print(json.dumps(report["det_sizes"], indent=2))
    for key, cell in report["pauc"].items():
        (v2, v3), ((l2, h2), (l3, h3)) = cell["value"], cell["ci95"]
        print(f"| {key} | {v2:.3f} [{l2:.3f}, {h2:.3f}] | {v3:.3f} [{l3:.3f}, {h3:.3f}] |")


def intervals(rows, paths, runs, fr, full, out: Path, sizes, args) -> dict:
    """Bootstrap over identities: each student at the full-size alignment (outputs cached by the
    acceptance's ``aikd evaluate``) and at each det-size (the ``aikd score`` CSVs), and the FR
    embedding norm of the same crops."""
    from aikd_cli.models.inference import open_face_model
    from aikd_cli.tasks.evaluate.cache import default_cache_dir
    from aikd_cli.tasks.evaluate.model_outputs import ModelJob, model_fingerprint, run_models
    from aikd_cli.tasks.evaluate.protocols import FileImages
    from aikd_cli.tasks.evaluate.quality import read_quality_file

    keys = [os.path.normpath(p) for p in paths]
    frm = open_face_model(fr, device="cpu", precision="fp32", expect="recognition")
    jobs = [ModelJob("fr", frm, model_fingerprint(fr, frm), "embedding")]
    for name, run in runs.items():
        m = open_face_model(str(run), device="cpu", precision="fp32", expect="quality")
        jobs.append(ModelJob(name, m, model_fingerprint(str(run), m), "quality"))
    cache = default_cache_dir()
    ran = run_models(keys, FileImages(), jobs, landmarks=full, workers=2, cache_root=cache)
    emb = ran.outputs["fr", 0.0]
    methods: dict = {name: {"full": ran.outputs[name, 0.0][:, 0].astype(np.float64)} for name in runs}
    methods["FR embedding norm"] = {"full": np.linalg.norm(emb, axis=1).astype(np.float64)}
    for size in sizes:
        label = f"det{size}"
        for name in runs:
            q, _ = read_quality_file(out / f"{name}_det{size}.csv").lookup(keys)
            methods[name][label] = np.where(np.isfinite(q), q, -np.inf)  # a missed face is the worst
        lms = landmarks_of(out / f"AI-KD_det{size}.csv")
        missing = [i for i, k in enumerate(keys) if k not in lms]
        norm = np.linalg.norm(
            run_models(keys, FileImages(), jobs[:1], landmarks={**full, **lms}, workers=2, cache_root=cache)
            .outputs["fr", 0.0], axis=1
        ).astype(np.float64)  # fmt: skip
        norm[missing] = -np.inf
        methods["FR embedding norm"][label] = norm
    identities = [r["identity"] for r in rows]
    return bootstrap(identities, emb, methods, ("AI-KD", "plain"), 1e-3, (0.2, 0.3), args.draws, args.seed)


if __name__ == "__main__":
    main()
