"""``aikd score``: the command most users run first."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aikd_cli.cli.common import (
    BatchOpt,
    DetectorOpt,
    DetSizeOpt,
    DetThresholdOpt,
    DeviceOpt,
    FacesOpt,
    FollowLinksOpt,
    LandmarksOpt,
    PrecisionOpt,
    RecursiveOpt,
    WorkersOpt,
    default_workers,
    err,
    escape,
    handle_errors,
    out,
    progress_bar,
)
from aikd_cli.defaults import DEFAULT_DET_SIZE, DEFAULT_DETECTOR, DEFAULT_QUALITY_MODEL


@handle_errors
def score(
    paths: Annotated[list[Path], typer.Argument(help="Image files and/or folders.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write.")] = Path("scores.csv"),
    model: Annotated[
        str, typer.Option("--model", "-m", help="Quality model: registry name, local file/folder, .onnx or hf://org/name.")
    ] = DEFAULT_QUALITY_MODEL,
    detector: DetectorOpt = DEFAULT_DETECTOR,
    aligned: Annotated[
        bool, typer.Option("--aligned", help="Inputs are already-aligned crops (resized to the model size if needed).", rich_help_panel="Faces")
    ] = False,
    landmarks: LandmarksOpt = None,
    faces: FacesOpt = "largest",
    det_size: DetSizeOpt = DEFAULT_DET_SIZE,
    det_threshold: DetThresholdOpt = 0.5,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "auto",
    batch_size: BatchOpt = 64,
    workers: WorkersOpt = default_workers(),
    resume: Annotated[bool, typer.Option("--resume", help="Keep rows already in OUTPUT and skip those images.")] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also build an HTML report of the scores (see `aikd report`).")
    ] = None,
    save_crops: Annotated[
        Path | None,
        typer.Option("--save-crops", help="Also keep the aligned crops as PNGs here, mirroring the CSV's paths; "
                     "`aikd report` shows them without decoding the originals.", rich_help_panel="Faces"),
    ] = None,
    recursive: RecursiveOpt = True,
    follow_links: FollowLinksOpt = False,
    perturb_samples: Annotated[
        int,
        typer.Option("--perturb-samples", rich_help_panel="Alignment sensitivity",
                     help="Also score each face under K seeded landmark perturbations; adds the mean and standard "
                          "deviation of those qualities (quality_perturbed_mean/_std)."),
    ] = 0,
    perturb: Annotated[
        float, typer.Option("--perturb", rich_help_panel="Alignment sensitivity",
                            help="Perturbation of --perturb-samples: each landmark moves by U[-P, P].")
    ] = 3.0,
    perturb_unit: Annotated[
        str, typer.Option("--perturb-unit", rich_help_panel="Alignment sensitivity",
                          help="px: P in pixels of the photo; iod: P as a fraction of the eye distance.")
    ] = "px",
    seed: Annotated[int, typer.Option("--seed", rich_help_panel="Alignment sensitivity",
                                      help="Seed of the perturbations (per face, so reruns match).")] = 0,
) -> None:
    """Score face image quality: one CSV row per face (path, face, quality, detection, landmarks, status).

    Photos are detected (RetinaFace), aligned to the ArcFace 112x112 template and scored; images without a usable face, unreadable files and duplicates get a row with a status and a message.

    [bold]Examples[/]

      aikd score photos/ -o scores.csv
      aikd score crops/ --aligned --model ediffiqa-s
      aikd score a.jpg b.png --faces all --device cuda --batch-size 256
      aikd score photos/ --landmarks landmarks.csv --model run/best.safetensors
      aikd score photos/ -o scores.csv --resume          # continue an interrupted run
      aikd score photos/ -o scores.csv --report report.html
      aikd score photos/ -o scores.csv --save-crops crops/   # keep the aligned crops for reports
      aikd score photos/ --perturb-samples 8 --perturb 3   # how much each score depends on alignment
    """
    from aikd_cli.tasks.report import check_report_output
    from aikd_cli.tasks.score import ScoreOptions, score_images

    options = ScoreOptions(
        model=model, detector=detector, aligned=aligned, landmarks=landmarks, faces=faces,  # type: ignore[arg-type]
        device=device, precision=precision, batch_size=batch_size, workers=workers, resume=resume,
        recursive=recursive, follow_links=follow_links, det_size=det_size, det_threshold=det_threshold, perturb_samples=perturb_samples,
        perturb=perturb, perturb_unit=perturb_unit, seed=seed, save_crops=save_crops,
    )
    if report is not None:  # before scoring: a report that cannot be written is known at once
        check_report_output(output, report, [*map(str, paths), *(p for p in (landmarks, save_crops) if p)])
    with progress_bar("scoring") as update:
        summary = score_images([str(p) for p in paths], output, options, progress=update)
    print_summary(summary)
    if report is not None:
        from aikd_cli.cli.report import print_report_summary
        from aikd_cli.tasks.report import build_report

        print_report_summary(build_report(output, report, workers=workers, progress=True, console=err))


def print_summary(summary) -> None:
    table = Table(title=f"{escape(summary.output)}: {summary.rows} rows", title_justify="left")
    table.add_column("status")
    table.add_column("rows", justify="right")
    for status, count in sorted(summary.status_counts.items()):
        table.add_row(status or "?", str(count))
    out.print(table)
    pct = summary.percentiles()
    if pct:
        q = Table(title="quality of scored faces", title_justify="left")
        for p in pct:
            q.add_column({0: "min", 100: "max"}.get(p, f"p{p:g}"), justify="right")
        q.add_row(*(f"{v:.4g}" for v in pct.values()))
        out.print(q)
    rate = summary.images / summary.seconds if summary.seconds else 0.0
    extra = f", {summary.resumed} rows kept from an earlier run" if summary.resumed else ""
    err.print(f"{summary.images} images in {summary.seconds:.1f} s ({rate:.1f} img/s){extra}")
