"""Does a face's alignment sensitivity (``aikd score --perturb-samples K``) flag failing comparisons,
and what does it cost per face?

Runs, with aikd's own commands, on an identity-labelled test set:
1. ``aikd score`` without and with ``--perturb-samples K`` (CPU seconds per face for both: the cost);
2. three quality columns from the second CSV -- the clean quality, the mean over the K misaligned
   crops, and the negated spread (a stable face ranks as high quality);
3. ``aikd evaluate --identities`` with the FR model: EDC pAUC of each, beside the random and
   embedding-norm baselines, with the false non-matches behind the curve.

    python benchmarks/perturb_samples.py --model run/best.safetensors --identities test_ids.csv \\
        --fr-model ../shared/assets/models/fr/mobilefacenet_foamliu.pt -k 8 -p 3 -o out/perturb_samples
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def aikd(*args: str) -> float:
    """Run the aikd CLI (one thread: CPU time stays meaningful on a shared machine); returns the
    CPU seconds its process tree used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "aikd_cli", *args], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="quality model (e.g. a distilled student)")
    ap.add_argument("--identities", type=Path, required=True, help="CSV path,identity of held-out people")
    ap.add_argument("--fr-model", required=True)
    ap.add_argument("--detector", default=None)
    ap.add_argument("-k", type=int, default=8)
    ap.add_argument("-p", type=float, default=3.0)
    ap.add_argument("--fmr", default="1e-3")
    ap.add_argument("-o", "--output", type=Path, default=Path("out/perturb_samples"))
    args = ap.parse_args()
    out = args.output
    out.mkdir(parents=True, exist_ok=True)
    with open(args.identities, newline="") as f:
        rows = list(csv.DictReader(f))
    base = args.identities.parent
    paths = [str((base / r["path"]).resolve()) if not Path(r["path"]).is_absolute() else r["path"] for r in rows]
    listing = out / "images.txt"
    listing.write_text("\n".join(paths))
    common = ["--model", args.model, "-j", "0", "--device", "cpu"]
    if args.detector:
        common += ["--detector", args.detector]
    t0 = time.perf_counter()
    plain_cpu = aikd("score", *paths, "-o", str(out / "plain.csv"), *common)
    samples_cpu = aikd("score", *paths, "-o", str(out / "samples.csv"), *common,
                       "--perturb-samples", str(args.k), "--perturb", str(args.p))
    with open(out / "samples.csv", newline="") as f:
        scored = [r for r in csv.DictReader(f) if r["status"] == "ok"]
    for name, column, sign in (("mean", "quality_perturbed_mean", 1.0), ("stability", "quality_perturbed_std", -1.0)):
        with open(out / f"{name}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "quality"])
            w.writerows([r["path"], sign * float(r[column])] for r in scored if r[column])
    aikd("evaluate", "--identities", str(args.identities), "--fr-model", args.fr_model, "--fmr", args.fmr,
         "-q", f"{out / 'samples.csv'}:clean quality", "-q", f"{out / 'mean.csv'}:mean of {args.k} misaligned",
         "-q", f"{out / 'stability.csv'}:-spread of {args.k} misaligned", "-o", str(out / "evaluation"),
         "--no-cache", "-j", "0", "--device", "cpu")
    results = json.loads((out / "evaluation" / "results.json").read_text())
    n = len(scored)
    print(f"\n{n} faces, K = {args.k}, p = {args.p:g} px; wall {time.perf_counter() - t0:.0f} s")
    print(f"CPU s/face: score {plain_cpu / n:.3f}, with --perturb-samples {args.k}: {samples_cpu / n:.3f} "
          f"({samples_cpu / plain_cpu:.2f}x)")
    for d in results["datasets"]:
        fnm = round(d["start_error"] * d["mated"])
        print(f"{d['dataset']}: {d['mated']:,} mated, {d['nonmated']:,} non-mated pairs; "
              f"{fnm} false non-matches at 0 discard (FNMR {d['start_error']:.4f})")
    methods: dict[str, list[str]] = {}
    for r in results["results"]:
        methods.setdefault(r["method"], []).append(f"@{r['limit']:g} {r['pauc_normalised']:.3f}")
    for method, cells in methods.items():
        print(f"  {method:<40} normalised pAUC {'  '.join(cells)}")

if __name__ == "__main__":
    main()
