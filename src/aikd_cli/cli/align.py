"""``aikd align``: the aligned crops the models see."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
    PerturbUnitOpt,
    RecursiveOpt,
    SeedOpt,
    ShardOpt,
    WorkersOpt,
    alias,
    use_alias,
)
from aikd_cli.cli.options import output as output_option
from aikd_cli.defaults import DEFAULT_DET_SIZE, DEFAULT_DETECTOR


@handle_errors
def align(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Image files and/or folders (none with --merge).", show_default=False)
    ] = None,
    output: Annotated[Path, output_option("Folder for the crops and landmarks.csv.")] = ...,  # type: ignore[assignment]
    landmarks: LandmarksOpt = None,
    detector: DetectorOpt = DEFAULT_DETECTOR,
    det_size: DetSizeOpt = DEFAULT_DET_SIZE,
    det_threshold: DetThresholdOpt = 0.5,
    faces: FacesOpt = "largest",
    size: Annotated[int, typer.Option("--size", help="Crop side in pixels, 16 to 1024 (the template is scaled).")] = 112,
    perturb: Annotated[
        float, typer.Option("--perturb", rich_help_panel=MISALIGN,
                            help="Move each landmark by U[-P, P] before warping (what the AI-KD student sees).")
    ] = 0.0,
    perturb_unit: PerturbUnitOpt = "px",
    seed: SeedOpt = 0,
    relative: Annotated[bool, alias("--relative")] = False,
    device: DeviceOpt = "auto",
    batch_size: BatchOpt = 64,
    workers: WorkersOpt = default_workers(),
    resume: Annotated[bool, typer.Option("--resume", help="Keep crops already listed in OUTPUT/landmarks.csv.")] = False,
    recursive: RecursiveOpt = True,
    follow_links: FollowLinksOpt = False,
    shard: ShardOpt = None,
    merge: MergeOpt = False,
) -> None:
    """Write aligned face crops (PNG, mirroring the input tree) and OUTPUT/landmarks.csv with the landmarks and the 2x3 transform used for each face.

    The CSV can be fed back to [bold]score[/], [bold]align[/] or [bold]distill[/] as --landmarks.

    [bold]Examples[/]

      aikd align photos/ -o aligned/
      aikd align photos/ -o misaligned/ --perturb 3 --seed 1
      aikd align photos/ -o misaligned/ --perturb 0.05 --perturb-unit iod
      aikd align photos/ -o aligned/ --landmarks aligned_before/landmarks.csv --size 224
      aikd align photos/ -o aligned/ --shard 2/8      # part 2 of 8 ... then: aikd align --merge -o aligned/
      torchrun --nproc-per-node 4 -m aikd_cli align photos/ -o aligned/
    """
    from aikd_cli.tasks.align import AlignOptions, run

    options = AlignOptions(
        inputs=[str(p) for p in paths or ()], output=output, detector=detector, det_size=det_size,
        det_threshold=det_threshold, landmarks=landmarks, faces=faces, device=device, batch_size=batch_size,
        workers=workers, resume=resume, recursive=recursive, follow_links=follow_links, size=size, perturb=perturb,
        perturb_unit=use_alias("iod" if relative else None, perturb_unit, "--relative", "--perturb-unit iod"),
        seed=seed, shard=shard, merge=merge,
    )
    with progress_bar("aligning") as update:
        result = run(options, progress=update)
    from aikd_cli.utils.distributed import is_main_process

    if not is_main_process():  # a torchrun rank other than 0: rank 0 reports for the job
        return
    counts = ", ".join(f"{v} {k}" for k, v in sorted(result.status_counts.items()))
    out.print(f"{result.crops} crops written to {result.output} ({counts}); landmarks: {result.csv}")
    if result.merged:
        err.print(f"joined {len(result.merged)} parts (the parts are kept: {escape(result.merged[0].name)} ...)")
    else:
        err.print(f"{result.images} images processed")
    if shard:
        err.print(f"when every part is written, join them: aikd align --merge -o {escape(output)}")
