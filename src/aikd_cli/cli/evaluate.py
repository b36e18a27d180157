"""``aikd evaluate``: parse options, run :func:`aikd_cli.tasks.evaluate.evaluate`, print the tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aikd_cli.cli.common import (
    default_workers,
    err,
    escape,
    handle_errors,
    log_to,
    out,
    progress_bar,
)
from aikd_cli.cli.options import (
    MISALIGN,
    OUT,
    BatchOpt,
    DetectorOpt,
    DetSizeOpt,
    DetThresholdOpt,
    DeviceOpt,
    LandmarksOpt,
    PerturbUnitOpt,
    PrecisionOpt,
    WorkersOpt,
    alias,
    use_alias,
)
from aikd_cli.cli.options import output as output_option
from aikd_cli.defaults import DEFAULT_DET_SIZE, DEFAULT_DETECTOR, DEFAULT_FR_MODEL
from aikd_cli.errors import AikdError

_IN, _FR, _THR = "Inputs", "Comparison scores", "Metric"


@handle_errors
def evaluate(
    pairs: Annotated[
        list[str] | None,
        typer.Option(
            "--pairs",
            "-p",
            help="Protocol, repeatable (one per dataset), as PATH or PATH:NAME: LFW pairs.txt, "
            "pairs CSV (path_a, path_b, mated[, score]), insightface .bin, or identity CSV/folder.",
            rich_help_panel=_IN,
        ),
    ] = None,
    identities: Annotated[
        list[str] | None,
        typer.Option(
            "--identities",
            help="All-pairs protocol from an identity CSV (path, identity) or a "
            "<folder>/<identity>/<image> tree, repeatable.",
            rich_help_panel=_IN,
        ),
    ] = None,
    quality: Annotated[
        list[str] | None,
        typer.Option(
            "--quality",
            "-q",
            help="Quality CSV as PATH or PATH:LABEL, repeatable; files with the same label are one method.",
            rich_help_panel=_IN,
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="Also score the faces with this quality model, as REF or REF:LABEL (registry name, file, "
            "run folder or hf://), repeatable; needed by --perturb. Default label: the run folder's name.",
            rich_help_panel=_IN,
        ),
    ] = None,
    path_column: Annotated[
        str, typer.Option(help="Path column of the quality CSVs.", rich_help_panel=_IN)
    ] = "path",
    quality_column: Annotated[
        str, typer.Option(help="Quality column of the quality CSVs.", rich_help_panel=_IN)
    ] = "quality",
    image_root: Annotated[
        Path | None,
        typer.Option(
            help="Folder that relative image paths of the protocol start from.", rich_help_panel=_IN
        ),
    ] = None,
    aligned: Annotated[
        bool,
        typer.Option(
            "--aligned", help="Images are already 112x112 ArcFace-aligned crops.", rich_help_panel=_IN
        ),
    ] = False,
    max_nonmated: Annotated[
        int,
        typer.Option(
            help="All-pairs protocols: sample at most this many non-mated pairs (0 = all).",
            rich_help_panel=_IN,
        ),
    ] = 5_000_000,
    nonmated_within: Annotated[
        str | None,
        typer.Option(
            help="All-pairs protocols: make non-mated pairs only within equal values of this "
            "identity-CSV column (e.g. a source whose labels may overlap others).",
            rich_help_panel=_IN,
        ),
    ] = None,
    fr_model: Annotated[
        str | None,
        typer.Option(
            "--fr-model",
            help="Face-recognition model: registry name (`aikd models --task recognition`), weights file, folder "
            "or hf:// (`aikd models default recognition NAME` sets one for every command).",
            rich_help_panel=_FR,
        ),
    ] = DEFAULT_FR_MODEL,
    embeddings: Annotated[
        list[Path] | None,
        typer.Option(
            help="Precomputed embeddings keyed by path (.safetensors, .npz, .npy + .txt).",
            rich_help_panel=_FR,
        ),
    ] = None,
    score_column: Annotated[
        str | None,
        typer.Option(
            help="Take comparison scores from this column of the pairs CSV (no images needed).",
            rich_help_panel=_FR,
        ),
    ] = None,
    fmr: Annotated[
        float | None,
        typer.Option(
            help="Fix the threshold at this FMR over all non-mated pairs. The default rule: --fmr 1e-3 when none "
            "of --fmr, --start-error and --threshold is given.",
            rich_help_panel=_THR,
        ),
    ] = None,
    fmr_rule: Annotated[
        str,
        typer.Option(
            help="at-most: lowest threshold with FMR <= --fmr; closest: the ROC point whose FMR is closest "
            "to it (CR-FIQA's ERC code; with --protocol crfiqa -l 0.95 --metric pauc: its published AUC).",
            rich_help_panel=_THR,
        ),
    ] = "at-most",
    start_error: Annotated[
        float | None,
        typer.Option(
            help="Fix the threshold so that this share of mated pairs fails before discarding (instead of --fmr).",
            rich_help_panel=_THR,
        ),
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Use this similarity threshold (instead of --fmr).", rich_help_panel=_THR)
    ] = None,
    limit: Annotated[
        list[str] | None,
        typer.Option(
            "--limit",
            "-l",
            help="pAUC discard limits: repeat the option or separate with commas \\[default: 0.2,0.3].",
            rich_help_panel=_THR,
        ),
    ] = None,
    protocol: Annotated[
        str,
        typer.Option(
            help="edc (Schlett et al.) or crfiqa (threshold re-fixed per rejection rate).",
            rich_help_panel=_THR,
        ),
    ] = "edc",
    metric: Annotated[
        str,
        typer.Option(
            help="Headline metric of the tables: normalised, pauc or minus-best.", rich_help_panel=_THR
        ),
    ] = "normalised",
    seed: Annotated[
        int,
        typer.Option(
            help="Seed of the random baseline, pair sampling and misalignment.", rich_help_panel=_THR
        ),
    ] = 0,
    perturb: Annotated[
        list[str] | None,
        typer.Option(
            "--perturb",
            help="Misalignment levels p the quality models are re-run at (each landmark moved by U[-p, p]): "
            "repeat the option or separate with commas, e.g. 0,2,3,5.",
            rich_help_panel=MISALIGN,
        ),
    ] = None,
    perturb_unit: PerturbUnitOpt = "px",
    output: Annotated[Path, output_option("Folder for tables, plots, curves and config.")] = Path("evaluation"),
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="Model-output cache (default: $AIKD_CACHE_DIR, else ~/.cache/aikd/outputs).",
                     rich_help_panel=OUT),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the cache.", rich_help_panel=OUT)
    ] = False,
    detector: DetectorOpt = DEFAULT_DETECTOR,
    det_size: DetSizeOpt = DEFAULT_DET_SIZE,
    det_threshold: DetThresholdOpt = 0.5,
    landmarks: LandmarksOpt = None,
    device: DeviceOpt = "auto",
    batch_size: BatchOpt = 64,
    workers: WorkersOpt = default_workers(),
    precision: PrecisionOpt = "auto",
    old_fr_model: Annotated[str | None, alias("-f")] = None,
    old_model: Annotated[list[str] | None, alias("--quality-model")] = None,
    old_misalign: Annotated[list[str] | None, alias("--misalign")] = None,
    old_misalign_unit: Annotated[str | None, alias("--misalign-unit")] = None,
    old_output_dir: Annotated[Path | None, alias("--output-dir")] = None,
) -> None:
    """Error-versus-Discard curves and pAUC of quality methods with a face-recognition model.

    Discards the lowest-quality comparisons and measures how the FNMR falls (Schlett et al., TBIOM 2023), next to a random baseline and the FR embedding norm. Writes table.md/.csv, results.json, EDC plots, exact curves and config.json to --output.

    [bold]Examples[/]

      aikd evaluate -p lfw.bin -p cfp_fp.bin -q ediffiqa.csv:eDifFIQA -q aikd.csv:AI-KD --fr-model iresnet100.pth

      aikd evaluate --identities faces/identities.csv -q scores.csv --fr-model mobilefacenet.pt --fmr 1e-3

      aikd evaluate -p comparisons.csv --score-column score -q a.csv -q b.csv --start-error 0.05 -l 0.2 -l 0.3

      aikd evaluate -p lfw.bin -m student.safetensors --fr-model r100.pth --perturb 0,2,3,5
    """
    from aikd_cli.tasks.evaluate import (
        DatasetInput,
        EvaluateOptions,
        ModelInput,
        QualityInput,
        ThresholdRule,
        run,
    )
    from aikd_cli.tasks.evaluate.quality import parse_labelled
    from aikd_cli.tasks.evaluate.tables import rich_tables

    fr_model = use_alias(old_fr_model, fr_model, "evaluate -f", "--fr-model")
    model = use_alias(old_model, model, "--quality-model", "--model/-m")
    perturb = use_alias(old_misalign, perturb, "--misalign", "--perturb")
    perturb_unit = use_alias(old_misalign_unit, perturb_unit, "--misalign-unit", "--perturb-unit")
    output = use_alias(old_output_dir, output, "--output-dir", "--output/-o")
    datasets = [DatasetInput(*parse_labelled(p)) for p in pairs or []]
    datasets += [DatasetInput(*parse_labelled(p), identities=True) for p in identities or []]
    options = EvaluateOptions(
        datasets=datasets,
        quality=[QualityInput(*parse_labelled(q)) for q in quality or []],
        path_column=path_column,
        quality_column=quality_column,
        fr_model=fr_model,
        embeddings=list(embeddings or []),
        score_column=score_column,
        threshold=ThresholdRule(fmr=fmr, start_error=start_error, value=threshold, fmr_rule=fmr_rule),
        limits=_numbers(limit, "--limit"),
        protocol=protocol,
        quality_models=[ModelInput.parse(m) for m in model or []],
        perturb=_numbers(perturb, "--perturb"),
        perturb_unit=perturb_unit,
        seed=seed,
        image_root=image_root,
        aligned=aligned,
        landmarks=landmarks,
        detector=detector,
        det_size=det_size,
        det_threshold=det_threshold,
        device=device,
        precision=precision,
        batch_size=batch_size,
        workers=workers,
        max_nonmated=None if max_nonmated == 0 else max_nonmated,
        nonmated_within=nonmated_within,
        cache=not no_cache,
        cache_dir=cache_dir,
        output=output,
        metric=metric,
    )
    with progress_bar("faces", unit="face") as update, log_to(err):
        result = run(options, progress=update)
    for table in rich_tables(result, metric):
        out.print(table)
    for d in result.datasets:
        for why, n in d.excluded.most_common():
            err.print(f"[yellow]{escape(d.name)}: excluded {n:,} pairs: {escape(why)}[/]")
        for note in d.notes:
            err.print(f"[dim]{escape(d.name)}: {escape(note)}[/]")
    out.print(f"results in {escape(output)}/ (table.md, table.csv, results.json, plots/, config.json)")


def _numbers(values: list[str] | None, option: str) -> tuple[float, ...]:
    """``["0.2", "0.3"]`` or ``["0.2,0.3"]`` -> ``(0.2, 0.3)``."""
    out = []
    for text in values or []:
        for part in text.split(","):
            try:
                out.append(float(part))
            except ValueError:
                raise AikdError(f"{option}: {part!r} is not a number") from None
    return tuple(out)
