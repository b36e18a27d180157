"""``aikd score``: the command most users run first."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aikd_cli.cli.common import (
    default_workers,
    err,
    escape,
    handle_errors,
    out,
    progress_bar,
)
from aikd_cli.cli.options import (
    MISALIGN,
    BatchOpt,
    DetectorOpt,
    DetSizeOpt,
    DetThresholdOpt,
    DeviceOpt,
    FacesOpt,
    FollowLinksOpt,
    LandmarksOpt,
    MergeOpt,
    ModelOpt,
    PerturbUnitOpt,
    PrecisionOpt,
    RecursiveOpt,
    SeedOpt,
    ShardOpt,
    WorkersOpt,
)
from aikd_cli.cli.options import output as output_option
from aikd_cli.defaults import DEFAULT_DET_SIZE, DEFAULT_DETECTOR, DEFAULT_QUALITY_MODEL


@handle_errors
def score(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Image files and/or folders (none with --merge).", show_default=False)
    ] = None,
    output: Annotated[Path, output_option("CSV to write.")] = Path("scores.csv"),
    model: ModelOpt = DEFAULT_QUALITY_MODEL,
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
        typer.Option("--perturb-samples", rich_help_panel=MISALIGN,
                     help="Also score each face under K seeded landmark perturbations of --perturb; adds the mean and "
                          "standard deviation of those qualities (quality_perturbed_mean/_std)."),
    ] = 0,
    perturb: Annotated[
        float, typer.Option("--perturb", rich_help_panel=MISALIGN,
                            help="Misalignment of --perturb-samples: each landmark moves by U[-P, P].")
    ] = 3.0,
    perturb_unit: PerturbUnitOpt = "px",
    seed: SeedOpt = 0,
    shard: ShardOpt = None,
    merge: MergeOpt = False,
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
      aikd score photos/ -o scores.csv --shard 2/8        # part 2 of 8 (e.g. a SLURM array task) ...
      aikd score --merge -o scores.csv                    # ... then join the 8 parts
      torchrun --nproc-per-node 4 -m aikd_cli score photos/ -o scores.csv   # 4 GPUs, one CSV
    """
    from aikd_cli.tasks.score import ScoreOptions, run

    options = ScoreOptions(
        inputs=[str(p) for p in paths or ()], output=output, model=model, detector=detector, aligned=aligned,
        landmarks=landmarks, faces=faces, device=device, precision=precision, batch_size=batch_size,  # type: ignore[arg-type]
        workers=workers, resume=resume, recursive=recursive, follow_links=follow_links, det_size=det_size,
        det_threshold=det_threshold, perturb_samples=perturb_samples, perturb=perturb, perturb_unit=perturb_unit,
        seed=seed, save_crops=save_crops, report=report, shard=shard, merge=merge,
    )
    with progress_bar("scoring") as update:
        result = run(options, progress=update)
    from aikd_cli.utils.distributed import is_main_process

    if not is_main_process():  # a torchrun rank other than 0: rank 0 reports for the job
        return
    print_summary(result)
    if shard:
        err.print(f"when every part is written, join them: aikd score --merge -o {escape(output)}")
    if result.report is not None:
        from aikd_cli.cli.report import print_report_summary

        print_report_summary(result.report)


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
    if summary.merged:
        err.print(f"joined {len(summary.merged)} parts in {summary.seconds:.1f} s (the parts are kept: "
                  f"{escape(summary.merged[0].name)} ...)")
        if not summary.images:
            return
    rate = summary.images / summary.seconds if summary.seconds else 0.0
    extra = f", {summary.resumed} rows kept from an earlier run" if summary.resumed else ""
    err.print(f"{summary.images} images in {summary.seconds:.1f} s ({rate:.1f} img/s){extra}")
