"""``aikd align``: the aligned crops the models see."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aikd_cli.cli.common import (
    BatchOpt,
    DetectorOpt,
    DetSizeOpt,
    DetThresholdOpt,
    DeviceOpt,
    FacesOpt,
    FollowLinksOpt,
    LandmarksOpt,
    RecursiveOpt,
    WorkersOpt,
    default_workers,
    err,
    handle_errors,
    out,
    progress_bar,
)
from aikd_cli.defaults import DEFAULT_DET_SIZE, DEFAULT_DETECTOR


@handle_errors
def align(
    paths: Annotated[list[Path], typer.Argument(help="Image files and/or folders.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the crops and landmarks.csv.")],
    landmarks: LandmarksOpt = None,
    detector: DetectorOpt = DEFAULT_DETECTOR,
    det_size: DetSizeOpt = DEFAULT_DET_SIZE,
    det_threshold: DetThresholdOpt = 0.5,
    faces: FacesOpt = "largest",
    size: Annotated[int, typer.Option("--size", help="Crop side in pixels, 16 to 1024 (the template is scaled).")] = 112,
    perturb: Annotated[
        float, typer.Option("--perturb", help="Move each landmark by U[-P, P] before warping (what the AI-KD student sees).")
    ] = 0.0,
    relative: Annotated[bool, typer.Option("--relative", help="P is a fraction of the inter-ocular distance, not pixels.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the perturbation (per image and face, so reruns match).")] = 0,
    device: DeviceOpt = "auto",
    batch_size: BatchOpt = 64,
    workers: WorkersOpt = default_workers(),
    resume: Annotated[bool, typer.Option("--resume", help="Keep crops already listed in OUTPUT/landmarks.csv.")] = False,
    recursive: RecursiveOpt = True,
    follow_links: FollowLinksOpt = False,
) -> None:
    """Write aligned face crops (PNG, mirroring the input tree) and OUTPUT/landmarks.csv with the landmarks and the 2x3 transform used for each face.

    The CSV can be fed back to [bold]score[/], [bold]align[/] or [bold]distill[/] as --landmarks.

    [bold]Examples[/]

      aikd align photos/ -o aligned/
      aikd align photos/ -o misaligned/ --perturb 3 --seed 1
      aikd align photos/ -o aligned/ --landmarks aligned_before/landmarks.csv --size 224
    """
    from aikd_cli.tasks.align import AlignOptions, align_images

    options = AlignOptions(
        detector=detector, det_size=det_size, det_threshold=det_threshold, landmarks=landmarks, faces=faces,
        device=device, batch_size=batch_size,
        workers=workers, resume=resume, recursive=recursive, follow_links=follow_links, size=size, perturb=perturb, relative=relative, seed=seed,
    )
    with progress_bar("aligning") as update:
        summary = align_images([str(p) for p in paths], output, options, progress=update)
    counts = ", ".join(f"{v} {k}" for k, v in sorted(summary.status_counts.items()))
    out.print(f"{summary.crops} crops written to {summary.output_dir} ({counts}); landmarks: {summary.csv}")
    err.print(f"{summary.images} images processed")
