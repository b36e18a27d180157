"""``aikd label``: pseudo quality labels from identities (CR-FIQA certainty ratio or SDD-FIQA)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from aikd_cli.cli.common import (
    default_workers,
    escape,
    handle_errors,
    out,
    progress_bar,
)
from aikd_cli.cli.options import (
    BatchOpt,
    DetectorOpt,
    DetSizeOpt,
    DetThresholdOpt,
    DeviceOpt,
    FrModelOpt,
    LandmarksOpt,
    PrecisionOpt,
    WorkersOpt,
    alias,
    use_alias,
)
from aikd_cli.cli.options import output as output_option
from aikd_cli.defaults import DEFAULT_DET_SIZE, DEFAULT_DETECTOR, DEFAULT_FR_MODEL


@handle_errors
def label(
    identities: Annotated[
        Path,
        typer.Option(
            "--identities", "-i", help="CSV with path and identity columns (optionally face, lm0_x..lm4_y)."
        ),
    ],
    fr_model: FrModelOpt = DEFAULT_FR_MODEL or "",
    output: Annotated[Path, output_option("Labels CSV to write (path, face, identity, quality, ...).")] = Path(
        "labels.csv"
    ),
    scheme: Annotated[
        str, typer.Option("--scheme", help="cr: CR-FIQA certainty ratio; sdd: SDD-FIQA Wasserstein distance; norm: the embedding norm "
                                      "(MagFace's quality; needs no identities).")
    ] = "cr",
    max_impostors: Annotated[
        int,
        typer.Option(
            "--max-impostors", help="sdd: impostor comparisons per face (a seeded random subset; at least 1)."
        ),
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="sdd: seed of the impostor subset.")] = 0,
    landmarks: LandmarksOpt = None,
    detector: DetectorOpt = DEFAULT_DETECTOR,
    det_size: DetSizeOpt = DEFAULT_DET_SIZE,
    det_threshold: DetThresholdOpt = 0.5,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "auto",
    batch_size: BatchOpt = 64,
    workers: WorkersOpt = default_workers(),
    old_model: Annotated[str | None, alias("-m", "--model")] = None,
) -> None:
    """Make quality labels from identities when no FIQA model exists (for `aikd distill --labels`).

    Every face is embedded, correctly aligned, by the FR model; its label says how clearly it belongs to its own identity: the certainty ratio CCS / (NNCCS + 1) of CR-FIQA, or SDD-FIQA's Wasserstein distance between its genuine and impostor similarities. Higher is better. The labels CSV also carries the landmarks, so it is a complete `aikd distill` manifest.

    [bold]Examples[/]

      aikd label -i lfw/identities.csv --fr-model mobilefacenet.pt -o labels.csv
      aikd label -i ids.csv --fr-model cosface-r100-glint360k --scheme sdd --landmarks scores.csv -o labels.csv
      aikd distill lfw/ --backbone mobilefacenet.pt --labels labels.csv -o runs/mfn
    """
    from aikd_cli.tasks.label import LabelOptions, run

    options = LabelOptions(
        identities=identities, fr_model=use_alias(old_model, fr_model, "label -m", "--fr-model"), output=output,
        scheme=scheme, landmarks=landmarks, detector=detector, det_size=det_size, det_threshold=det_threshold,
        device=device, precision=precision, workers=workers, batch_size=batch_size, max_impostors=max_impostors,
        seed=seed,
    )
    with progress_bar(f"labelling ({scheme})") as progress:
        result = run(options, progress=progress)
    table = Table(title=f"aikd label ({scheme})")
    for col in ("status", "faces"):
        table.add_column(col)
    for status, count in sorted(result.skipped.items()):
        table.add_row(status, str(count))
    out.print(table)
    out.print(f"labels: {escape(result.output)}", highlight=False, soft_wrap=True)
    if result.labelled:
        q = result.quality
        out.print(
            f"{result.labelled} labels: min {q.min():.4f}, median {float(np.median(q)):.4f}, max {q.max():.4f}",
            highlight=False,
        )
