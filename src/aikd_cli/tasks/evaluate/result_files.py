"""Everything ``aikd evaluate --output`` holds: tables, exact curves, plots and the config that
produced them."""

from __future__ import annotations

import csv
import dataclasses
import datetime
import json
import math
import re
import sys
from pathlib import Path

import numpy as np

from aikd_cli._version import __version__
from aikd_cli.tasks.evaluate import tables
from aikd_cli.tasks.evaluate.edc import EdcCurve
from aikd_cli.tasks.evaluate.options import EvaluateOptions
from aikd_cli.tasks.evaluate.results import DatasetResult, EvaluateResult
from aikd_cli.utils.atomic import StagedFiles, atomic_open
from aikd_cli.utils.outputs import Output, local_paths


def config_record(options: EvaluateOptions) -> dict:
    """The options as plain JSON, plus what is needed to know exactly which inputs were read."""
    from aikd_cli.models.hub import sha256_of

    record = _plain(dataclasses.asdict(options))
    inputs = [*(d.path for d in options.datasets), *(q.path for q in options.quality), *options.embeddings]
    if options.landmarks:
        inputs.append(options.landmarks)
    return {
        "aikd_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "options": record,
        "input_sha256": {str(p): sha256_of(p) for p in map(Path, inputs) if p.is_file()},
    }


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "dataset"


#: What ``--output`` receives; an input at one of these places would be overwritten.
OUTPUT_NAMES = ("results.json", "results.csv", "table.csv", "table.md", "misalignment.csv", "config.json",
                "curves", "plots", StagedFiles.NAME)


def evaluate_outputs(out_dir: Path) -> list[Output]:
    return [Output(Path(out_dir), "--output", folder=True, names=OUTPUT_NAMES)]


def evaluate_inputs(options: EvaluateOptions) -> list[str]:
    """Every local file or folder ``aikd evaluate`` reads (protocols, qualities, models, ...)."""
    models = [getattr(m, "ref", m) for m in options.quality_models]  # a reference, or a ModelInput
    return local_paths(
        *(d.path for d in options.datasets), *(q.path for q in options.quality), *options.embeddings,
        options.landmarks, options.image_root, options.fr_model, *models, options.detector,
    )


def write_outputs(evaluation: EvaluateResult, out_dir: Path, headline: str = "normalised") -> list[Path]:
    """Write the full report to ``out_dir`` (created; existing files of the same names replaced).

    Everything is written under a hidden staging folder first and moved into place at the end, so
    a failure (a full disk) leaves the earlier results as they were.
    """
    out_dir = Path(out_dir)
    staged = StagedFiles(out_dir)
    root = staged.start()
    try:
        written = _write_all(evaluation, root, headline)
    except BaseException:
        staged.discard()
        raise
    staged.publish()
    return [out_dir / p.relative_to(root) for p in written]


def _write_all(evaluation: EvaluateResult, out_dir: Path, headline: str) -> list[Path]:
    from aikd_cli.tasks.evaluate import plots

    (out_dir / "curves").mkdir(parents=True, exist_ok=True)
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    written = []

    def add(path: Path) -> None:
        written.append(path)

    write_json(out_dir / "results.json", tables.as_json(evaluation, headline))
    add(out_dir / "results.json")
    write_csv(out_dir / "results.csv", tables.long_rows(evaluation))
    add(out_dir / "results.csv")
    write_wide_csv(out_dir / "table.csv", evaluation, headline)
    add(out_dir / "table.csv")
    write_text(out_dir / "table.md", tables.markdown(evaluation, headline))
    add(out_dir / "table.md")
    rob = tables.robustness_rows(evaluation)
    if rob:
        write_csv(out_dir / "misalignment.csv", rob)
        add(out_dir / "misalignment.csv")
    for d in evaluation.datasets:
        name = slug(d.name)
        write_curves(out_dir / "curves" / f"{name}.npz", d)
        add(out_dir / "curves" / f"{name}.npz")
        written += plots.plot_dataset(d, evaluation, out_dir / "plots" / f"edc_{name}")
        if d.robustness:
            written += plots.plot_robustness(d, evaluation, out_dir / "plots" / f"misalignment_{name}")
    write_json(out_dir / "config.json", config_record(evaluation.options))
    add(out_dir / "config.json")
    return written


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> None:
    columns = columns or (list(rows[0]) if rows else [])
    with atomic_open(path, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def write_wide_csv(path: Path, evaluation: EvaluateResult, metric: str) -> None:
    """The headline table with plain numbers; its last row names the best method of each column."""
    g = tables.grid(evaluation, metric)
    best = g.best()
    with atomic_open(path, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["method", *g.header()])
        for r, label in enumerate(g.methods):
            writer.writerow([label, *("" if not math.isfinite(v) else repr(float(v)) for v in g.values[r])])
        writer.writerow(
            [
                "best",
                *(
                    " / ".join(g.methods[r] for r in np.flatnonzero(best[:, c]))
                    for c in range(len(g.columns))
                ),
            ]
        )


def write_json(path: Path, data: dict) -> None:
    with atomic_open(path) as f:
        json.dump(_strict(data), f, indent=2, allow_nan=False)
        f.write("\n")


def write_text(path: Path, text: str) -> None:
    with atomic_open(path) as f:
        f.write(text)


def write_curves(path: Path, d: DatasetResult) -> None:
    """Exact curves of one dataset as ``.npz``: ``<method>/x`` (discard fraction or rejection
    rate) and ``<method>/y`` (FNMR)."""
    arrays = {}
    for m in d.methods:
        c = m.curve
        x, y = (c.discard, c.error) if isinstance(c, EdcCurve) else (c.rates, c.fnmr)
        arrays[f"{m.label}/x"], arrays[f"{m.label}/y"] = x, y
    with atomic_open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def _strict(value):
    """``value`` as strict JSON data: NaN and infinities (an undefined normalised pAUC, say) become
    ``null``, which every JSON parser reads, where ``NaN`` is not JSON at all."""
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
