"""Results as tables: methods x datasets with the per-row mean and the best of each column marked,
written as CSV, JSON and Markdown (ready to paste into a paper) and built as rich tables."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aikd_cli.tasks.evaluate.results import DatasetResult, EvaluateResult
from aikd_cli.utils.numbers import plural

#: metric key -> (title, attribute of PartialArea, format)
METRICS = {
    "normalised": ("Normalised pAUC (1.0 = random discarding)", "normalised", "{:.4f}"),
    "pauc": ("pAUC", "pauc", "{:.5f}"),
    "minus-best": ("pAUC minus the theoretical best", "pauc_minus_best", "{:.5f}"),
}


@dataclass
class Grid:
    """One metric as a methods x (dataset, limit) grid, plus a mean per limit over the datasets
    (when there are several)."""

    metric: str
    methods: list[str]
    columns: list[tuple[str, float]]  # (dataset or "mean", limit)
    values: np.ndarray  # (methods, columns), NaN where a method has no value

    def best(self) -> np.ndarray:
        """Boolean mask of the lowest value in each column (ties all marked)."""
        mask = np.zeros(self.values.shape, dtype=bool)
        for c in range(self.values.shape[1]):
            col = self.values[:, c]
            if np.isfinite(col).any():
                mask[:, c] = np.isclose(col, np.nanmin(col), rtol=0, atol=1e-12) & np.isfinite(col)
        return mask

    def header(self) -> list[str]:
        return [f"{name} @{limit:g}" for name, limit in self.columns]


def grid(evaluation: EvaluateResult, metric: str) -> Grid:
    attr = METRICS[metric][1]
    limits = evaluation.options.limits
    methods = evaluation.method_labels
    columns = [(d.name, lim) for d in evaluation.datasets for lim in limits]
    means = limits if len(evaluation.datasets) > 1 else ()
    values = np.full((len(methods), len(columns) + len(means)), np.nan)
    for r, label in enumerate(methods):
        for c, (name, limit) in enumerate(columns):
            values[r, c] = _area(evaluation, name, label, limit, attr)
        for k, limit in enumerate(means):
            cols = [c for c, (_, lim) in enumerate(columns) if lim == limit]
            row = values[r, cols]
            values[r, len(columns) + k] = row.mean() if np.isfinite(row).all() else np.nan
    columns += [("mean", lim) for lim in means]
    return Grid(metric, methods, columns, values)


def _area(evaluation: EvaluateResult, dataset: str, method: str, limit: float, attr: str) -> float:
    for d in evaluation.datasets:
        if d.name != dataset:
            continue
        for m in d.methods:
            if m.label == method:
                area = next(a for a in m.areas if a.limit == limit)
                return float(getattr(area, attr))
    return math.nan


def definition(metric: str, options) -> str:
    """What a column ``D @L`` of ``metric``'s table is, in one line (the protocol and rule included)."""
    rule = options.rule.describe()
    if options.protocol == "edc":
        area = f"area under the FNM-EDC step curve (threshold fixed once, {rule}) from discard 0 to L on dataset D"
        return {
            "normalised": f"{area}, divided by FNMR(0)·L (a flat curve; 1.0 = random discarding)",
            "pauc": area,
            "minus-best": f"{area}, minus the area under the best curve max(0, FNMR(0) − d)",
        }[metric]
    area = (
        "trapezoid area of the FNMR over the rejection rates 0, 0.05, ... up to L on dataset D, the threshold "
        f"re-fixed at each rate ({rule}), pairs rejected by min quality"
    )
    if metric == "normalised":
        return f"{area}, divided by FNMR(0)·L (aikd's normalisation; CR-FIQA reports the raw area)"
    return (
        f"{area}, un-normalised; at L = 0.95 with --fmr-rule closest this is the AUC that CR-FIQA's "
        "ERC/erc.py writes (sklearn.metrics.auc over all 20 rates)"
    )


def misalignment_note(options) -> str:
    """Which inputs ``--perturb`` perturbs (and which it does not)."""
    unit = (
        "source-image pixels" if options.perturb_unit == "px" else "fractions of the inter-ocular distance"
    )
    return (
        f"Each quality model (--model) re-scores every face aligned from its landmarks + U[−p, p] per coordinate ({unit}, "
        f"seed {options.seed}); the FR comparison scores, the threshold and the quality CSVs stay those of the "
        "correctly aligned faces, so a change comes from the quality alone. ρ: Spearman of the model's qualities "
        "at p vs p = 0."
    )


def _fmt(value: float, metric: str) -> str:
    return "–" if not math.isfinite(value) else METRICS[metric][2].format(value)


def markdown(evaluation: EvaluateResult, headline: str) -> str:
    """The report as Markdown: one table per metric (headline first), data summary, robustness."""
    opts = evaluation.options
    protocol = "EDC (Schlett et al., TBIOM 2023)" if opts.protocol == "edc" else "CR-FIQA rejection protocol"
    lines = [
        "# aikd evaluate",
        "",
        f"Protocol: {protocol}; threshold: {opts.rule.describe()}; discard limits: "
        f"{', '.join(f'{x:g}' for x in opts.limits)}; seed {opts.seed}. Lower is better; **bold** = best in column.",
        "",
    ]
    for metric in [headline, *[m for m in METRICS if m != headline]]:
        if opts.protocol == "crfiqa" and metric == "minus-best":
            continue
        g = grid(evaluation, metric)
        best = g.best()
        lines += [
            f"## {METRICS[metric][0]}",
            "",
            f"`D @L`: {definition(metric, opts)}.",
            "",
            "| Method | " + " | ".join(g.header()) + " |",
        ]
        lines.append("|---|" + "---:|" * len(g.columns))
        for r, label in enumerate(g.methods):
            cells = [
                f"**{_fmt(v, metric)}**" if best[r, c] else _fmt(v, metric) for c, v in enumerate(g.values[r])
            ]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "## Data",
        "",
        "| Dataset | pairs read | used | mated | non-mated | threshold | FMR | FNMR at 0% | false non-matches at 0% "
        "| FR accuracy |",
    ]
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for d in evaluation.datasets:
        fmr = "–" if d.achieved_fmr is None else f"{d.achieved_fmr:.2e}"
        lines.append(
            f"| {d.name} | {d.pairs_read:,} | {d.pairs_used:,} | {d.mated:,} | {d.nonmated:,} | "
            f"{d.threshold:.4f} | {fmr} | {d.start_error:.4f} | {false_nonmatches(d):,} | {accuracy(d)} |"
        )
    lines.append("")
    for d in evaluation.datasets:
        if d.excluded or d.notes:
            lines.append(f"**{d.name}**")
            lines += [f"- excluded {plural(n, 'pair')}: {why}" for why, n in d.excluded.most_common()]
            lines += [f"- {note}" for note in d.notes]
            lines.append("")
    rob = robustness_rows(evaluation)
    if rob:
        limit = max(opts.limits)
        lines += [
            f"## Misalignment ({METRICS[headline][0]} @{limit:g}; Spearman ρ of quality vs p = 0)",
            "",
            misalignment_note(opts),
            "",
            "| Model | p | " + " | ".join(f"{d.name} | ρ {d.name}" for d in evaluation.datasets) + " |",
            "|---|---:|" + "---:|---:|" * len(evaluation.datasets),
        ]
        for (model, p), per in _by_model_p(evaluation, headline, limit).items():
            cells = [f"{_fmt(v, headline)} | {rho:.4f}" if math.isfinite(v) else "– | –" for v, rho in per]
            lines.append(f"| {model} | {p:g} {opts.perturb_unit} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _by_model_p(
    evaluation: EvaluateResult, metric: str, limit: float
) -> dict[tuple[str, float], list[tuple[float, float]]]:
    attr = METRICS[metric][1]
    table: dict[tuple[str, float], list[tuple[float, float]]] = {}
    for k, d in enumerate(evaluation.datasets):
        for row in d.robustness:
            cells = table.setdefault((row.model, row.p), [(math.nan, math.nan)] * len(evaluation.datasets))
            area = next(a for a in row.areas if a.limit == limit)
            cells[k] = (float(getattr(area, attr)), row.spearman)
    return table


def long_rows(evaluation: EvaluateResult) -> list[dict]:
    """Every number, one row per (dataset, method, limit)."""
    rows = []
    for d in evaluation.datasets:
        for m in d.methods:
            for a in m.areas:
                rows.append(
                    {
                        "dataset": d.name,
                        "method": m.label,
                        "kind": m.kind,
                        "protocol": evaluation.options.protocol,
                        "limit": a.limit,
                        "pauc": a.pauc,
                        "pauc_minus_best": a.pauc_minus_best,
                        "pauc_normalised": a.normalised,
                        "start_error": m.curve.start_error,
                        "threshold": d.threshold,
                        "pairs": d.pairs_used,
                        "mated": d.mated,
                        "nonmated": d.nonmated,
                    }
                )
    return rows


def robustness_rows(evaluation: EvaluateResult) -> list[dict]:
    rows = []
    for d in evaluation.datasets:
        for r in d.robustness:
            for a in r.areas:
                rows.append(
                    {
                        "dataset": d.name,
                        "model": r.model,
                        "p": r.p,
                        "unit": evaluation.options.perturb_unit,
                        "limit": a.limit,
                        "pauc": a.pauc,
                        "pauc_minus_best": a.pauc_minus_best,
                        "pauc_normalised": a.normalised,
                        "spearman": r.spearman,
                        "samples": r.samples,
                    }
                )
    return rows


def false_nonmatches(d: DatasetResult) -> int:
    """Mated comparisons below the threshold before discarding: the errors every curve is made of."""
    return round(d.start_error * d.mated)


def accuracy(d: DatasetResult) -> str:
    """The FR model's 10-fold verification accuracy, where the protocol defines folds."""
    return d.verification.describe() if d.verification else "–"


def summary(d: DatasetResult) -> dict:
    return {
        "dataset": d.name,
        "source": d.source,
        "pairs_read": d.pairs_read,
        "pairs_used": d.pairs_used,
        "mated": d.mated,
        "nonmated": d.nonmated,
        "samples": d.samples,
        "threshold": d.threshold,
        "achieved_fmr": d.achieved_fmr,
        "start_error": d.start_error,
        "false_nonmatches": false_nonmatches(d),
        "verification": d.verification.to_dict() if d.verification else None,
        "excluded_pairs": dict(d.excluded.most_common()),
        "sample_issues": dict(d.sample_issues.most_common()),
        "notes": d.notes,
    }


def as_json(evaluation: EvaluateResult, headline: str) -> dict:
    g = grid(evaluation, headline)
    best = g.best()
    return {
        "protocol": evaluation.options.protocol,
        "threshold_rule": evaluation.options.rule.describe(),
        "limits": list(evaluation.options.limits),
        "headline_metric": headline,
        "definitions": {m: definition(m, evaluation.options) for m in METRICS},
        "misalignment": misalignment_note(evaluation.options) if evaluation.options.perturb else None,
        "datasets": [summary(d) for d in evaluation.datasets],
        "results": long_rows(evaluation),
        "robustness": robustness_rows(evaluation),
        "table": {
            "methods": g.methods,
            "columns": g.header(),
            "values": [[None if not math.isfinite(v) else v for v in row] for row in g.values.tolist()],
            "best": {
                col: [g.methods[r] for r in np.flatnonzero(best[:, c])] for c, col in enumerate(g.header())
            },
        },
    }














def rich_tables(evaluation: EvaluateResult, headline: str) -> list:
    """The data summary and the headline metric as rich tables, for the terminal."""
    from rich.table import Table

    data = Table(title="Data", title_justify="left")
    for col in ("dataset", "pairs", "used", "mated", "non-mated", "threshold", "FNMR@0", "FNM@0", "FR acc."):
        data.add_column(col, justify="left" if col == "dataset" else "right")
    for d in evaluation.datasets:
        data.add_row(
            d.name,
            f"{d.pairs_read:,}",
            f"{d.pairs_used:,}",
            f"{d.mated:,}",
            f"{d.nonmated:,}",
            f"{d.threshold:.4f}",
            f"{d.start_error:.4f}",
            f"{false_nonmatches(d):,}",
            accuracy(d),
        )
    g = grid(evaluation, headline)
    best = g.best()
    results = Table(
        title=f"{METRICS[headline][0]} — lower is better, best in bold",
        caption=f"D @L: {definition(headline, evaluation.options)}",
        title_justify="left",
        caption_justify="left",
    )
    results.add_column("method")
    for h in g.header():
        results.add_column(h, justify="right")
    for r, label in enumerate(g.methods):
        cells = [
            f"[bold green]{_fmt(v, headline)}[/]" if best[r, c] else _fmt(v, headline)
            for c, v in enumerate(g.values[r])
        ]
        results.add_row(label, *cells)
    tables = [data, results]
    by = _by_model_p(evaluation, headline, max(evaluation.options.limits))
    if by:
        rob = Table(
            title=f"Misalignment: {METRICS[headline][0]} @{max(evaluation.options.limits):g} and Spearman ρ",
            caption=misalignment_note(evaluation.options),
            title_justify="left",
            caption_justify="left",
        )
        rob.add_column("model")
        rob.add_column("p", justify="right")
        for d in evaluation.datasets:
            rob.add_column(d.name, justify="right")
            rob.add_column(f"ρ {d.name}", justify="right")
        for (model, p), per in by.items():
            cells = [
                x
                for v, rho in per
                for x in (_fmt(v, headline), "–" if not math.isfinite(rho) else f"{rho:.4f}")
            ]
            rob.add_row(model, f"{p:g} {evaluation.options.perturb_unit}", *cells)
        tables.append(rob)
    return tables
