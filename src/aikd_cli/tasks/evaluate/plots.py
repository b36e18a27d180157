"""EDC plots sized for a paper column (PNG at 300 dpi and SVG), drawn without pyplot's global state."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from aikd_cli.tasks.evaluate.edc import EdcCurve
from aikd_cli.tasks.evaluate.results import RANDOM, DatasetResult, EvaluateResult


def _figure(entries: int = 0) -> tuple[Figure, object]:
    """A 3.5-inch (one paper column) figure, taller by the rows of the legend below it."""
    fig = Figure(figsize=(3.5, 2.4 + 0.13 * math.ceil(entries / 2)), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.tick_params(labelsize=7)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    return fig, ax


def _save(fig: Figure, stem: Path) -> list[Path]:
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    fig.savefig(paths[0], dpi=300)
    fig.savefig(paths[1])
    return paths


def plot_dataset(d: DatasetResult, evaluation: EvaluateResult, stem: Path) -> list[Path]:
    """One curve per method, the discard limits marked, the legend carrying each method's
    normalised pAUC at the largest limit."""
    opts = evaluation.options
    limit = max(opts.limits)
    fig, ax = _figure(len(d.methods) + 1)
    for m in d.methods:
        norm = next(a.normalised for a in m.areas if a.limit == limit)
        label = f"{m.label} ({norm:.3f})"
        style: dict = {"linewidth": 1.2}
        if m.label == RANDOM:
            style = {"linewidth": 1.0, "linestyle": "--", "color": "0.45"}
        elif m.kind == "baseline":
            style = {"linewidth": 1.0, "linestyle": ":"}
        c = m.curve
        if isinstance(c, EdcCurve):
            ax.step(c.discard, c.error, where="post", label=label, **style)
        else:
            ok = np.isfinite(c.fnmr)
            ax.plot(c.rates[ok], c.fnmr[ok], marker="o", markersize=2, label=label, **style)
    e0 = d.start_error
    if opts.protocol == "edc":
        ax.plot([0, e0], [e0, 0], color="0.6", linewidth=0.7, linestyle="-.", label="theoretical best")
    for lim in opts.limits:
        ax.axvline(lim, color="0.3", linewidth=0.7, linestyle=(0, (1, 2)))
        ax.text(
            lim,
            1.0,
            f" {lim:g}",
            transform=ax.get_xaxis_transform(),
            fontsize=6,
            va="top",
            ha="left",
            color="0.3",
        )
    top = max(e0, 1e-6) * 1.6
    ax.set_xlim(0, min(1.0, limit * 2.5))
    ax.set_ylim(0, top)
    xlabel = "Fraction of comparisons discarded" if opts.protocol == "edc" else "Ratio of pairs rejected"
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(f"FNMR ({opts.rule.describe()})", fontsize=8)
    ax.set_title(d.name, fontsize=9)
    fig.legend(
        loc="outside lower center",
        ncol=2,
        fontsize=6,
        frameon=False,
        title=f"method (normalised pAUC @{limit:g})",
        title_fontsize=6,
    )
    return _save(fig, stem)


def plot_robustness(d: DatasetResult, evaluation: EvaluateResult, stem: Path) -> list[Path]:
    """Normalised pAUC at the largest limit against the misalignment level, one line per model."""
    limit = max(evaluation.options.limits)
    models = dict.fromkeys(r.model for r in d.robustness)
    fig, ax = _figure(len(models) + 1)
    for model in models:
        rows = sorted((r for r in d.robustness if r.model == model), key=lambda r: r.p)
        ax.plot(
            [r.p for r in rows],
            [next(a.normalised for a in r.areas if a.limit == limit) for r in rows],
            marker="o",
            markersize=3,
            linewidth=1.2,
            label=model,
        )
    ax.axhline(1.0, color="0.45", linestyle="--", linewidth=0.8, label="random")
    ax.set_xticks(sorted({r.p for r in d.robustness}))
    ax.set_xlabel(f"Landmark perturbation p ({evaluation.options.perturb_unit})", fontsize=8)
    ax.set_ylabel(f"Normalised pAUC @{limit:g}", fontsize=8)
    ax.set_title(f"{d.name}: robustness to misalignment", fontsize=9)
    fig.legend(loc="outside lower center", ncol=2, fontsize=6, frameon=False)
    return _save(fig, stem)
