"""How much more training seeds could narrow the LFW study's primary interval (from its committed files).

The primary interval of AI-KD - plain resamples test identities; the students are fixed. More seeds
only average away the seed-specific part of each person's difference; the part that belongs to the
people themselves stays. This script measures the half-width of the 95 % interval with every subset
of k of the committed seeds (the same resamples as the primary table: ``--boot`` and seed 0, so the
row with all seeds is the committed interval), fits ``half_width(k)^2 = a + b / k`` and prints the
half-width that 5 and infinitely many seeds would give.

    python benchmarks/aikd_lfw_power.py [RESULTS] [--out RESULTS/power.md]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import aikd_lfw_tables as tables  # noqa: E402


def half_widths(results: Path, boot: int, p: float, limit: float = 0.2) -> dict[int, list[float]]:
    """Half-width of the interval of AI-KD - plain (LightQNet labels, InsightFace evaluator, starting
    FNMR) for every subset of seeds, by subset size."""
    test = tables.Split(results, "test")
    curves = tables.Edc(test, "insightface", boot)
    aikd, plain = tables.students(test, "lightqnet", "aikd"), tables.students(test, "lightqnet", "plain")

    def per_seed(names: list[str]) -> np.ndarray:  # (seeds, boot): each seed's mean pAUC over draws
        return np.array([curves.mean_boot_paucs(test.variants(m, p), limit) for m in names])

    diff = per_seed(aikd) - per_seed(plain)  # seeds are paired by index: aikd_s0 with plain_s0, ...
    out: dict[int, list[float]] = {}
    for k in range(1, len(diff) + 1):
        for subset in itertools.combinations(range(len(diff)), k):
            lo, hi = tables.interval(list(diff[list(subset)].mean(axis=0)))
            out.setdefault(k, []).append((hi - lo) / 2)
    return out


def extrapolate(widths: dict[int, list[float]]) -> tuple[float, float]:
    """Least-squares ``a, b`` of ``half_width^2 = a + b / k`` over the subset sizes."""
    k = np.array([size for size, values in widths.items() for _ in values], dtype=float)
    y = np.array([w * w for values in widths.values() for w in values])
    a, b = np.linalg.lstsq(np.stack([np.ones_like(k), 1 / k], axis=1), y, rcond=None)[0]
    return float(a), float(b)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, nargs="?", default=ROOT / "benchmarks" / "results" / "lfw")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--out", type=Path, help="also write the table here (Markdown)")
    args = ap.parse_args(argv)
    tables.require_results(ap, args.results)
    lines = ["Half-width of the 95 % interval of AI-KD − plain (normalised pAUC@0.2, LightQNet labels, InsightFace "
             "evaluator, starting FNMR 0.05) with k of the training seeds (mean over the subsets of size k), and "
             "the fit half-width² = a + b / k:", "",
             "| p | k = 1 | k = 2 | k = 3 | fit: 5 seeds | fit: ∞ seeds |", "|---|---|---|---|---|---|"]
    for p in (3.0, 5.0):
        widths = half_widths(args.results, args.boot, p)
        a, b = extrapolate(widths)
        cells = [f"{np.mean(widths[k]):.4f}" if k in widths else "–" for k in (1, 2, 3)]
        lines.append(f"| {p:g} px | {' | '.join(cells)} | {np.sqrt(a + b / 5):.4f} | {np.sqrt(max(a, 0.0)):.4f} |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
