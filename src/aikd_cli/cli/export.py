"""``aikd export``: deployment formats, each verified against the torch model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aikd_cli.cli.common import err, escape, handle_errors, log_to, out, progress_bar


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


@handle_errors
def export(
    model: Annotated[
        str, typer.Argument(help="Registry name, checkpoint file, export/distill folder or hf://org/name.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to create with the exported files.")],
    formats: Annotated[
        list[str],
        typer.Option(
            "--format", "-f", help="onnx, torchscript, pt2, safetensors or all (repeat or comma-separate)."
        ),
    ] = ["onnx"],  # noqa: B006 (Typer needs a list default)
    fp16: Annotated[
        bool, typer.Option("--fp16", help="ONNX weights and activations in float16 (I/O stays float32).")
    ] = False,
    include_preprocessing: Annotated[
        bool,
        typer.Option(
            "--include-preprocessing",
            help="Graph takes uint8 RGB [N,112,112,3] and normalises inside (onnx, torchscript, pt2).",
        ),
    ] = False,
    opset: Annotated[int, typer.Option("--opset", help="ONNX opset (17 or later).")] = 18,
    exporter: Annotated[
        str,
        typer.Option(
            "--exporter",
            help="ONNX exporter: auto (dynamo, falling back to torchscript), dynamo, torchscript.",
        ),
    ] = "auto",
    verify_images: Annotated[
        list[Path] | None,
        typer.Option(
            "--verify-images",
            help="Real images (files or folders, first 4 used) to verify on, besides random ones.",
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUTPUT if it exists.")] = False,
    push_to_hub: Annotated[
        str | None,
        typer.Option(
            "--push-to-hub", help="Upload the folder to this Hub repo (org/name).", rich_help_panel="Hub"
        ),
    ] = None,
    private: Annotated[
        bool, typer.Option("--private", help="Create the Hub repo as private.", rich_help_panel="Hub")
    ] = False,
) -> None:
    """Export a model for deployment, verify every file against the torch model, write a model card.

    Each file is run (onnxruntime for ONNX) next to the torch model on random and real inputs at batch sizes 1 and >1, and refused if it differs by more than the documented tolerance (docs/export.md). OUTPUT appears only when every requested format passes.

    [bold]Examples[/]

      aikd export ediffiqa-s -f onnx -o exports/ediffiqa-s
      aikd export runs/distill/best.safetensors -f all -o exports/student --verify-images crops/
      aikd export ediffiqa-s -f onnx --include-preprocessing --fp16 -o exports/edge
      aikd export retinaface-mnet025 -f onnx -o exports/retinaface
      aikd export runs/distill -f onnx,safetensors -o exports/student --push-to-hub my-org/aikd-student
    """
    from aikd_cli.tasks.export import ExportOptions, run

    options = ExportOptions(
        model, output, formats, fp16=fp16, include_preprocessing=include_preprocessing, opset=opset,
        exporter=exporter, verify_images=verify_images or (), overwrite=overwrite, push_to_hub=push_to_hub,
        private=private,
    )
    with log_to(err), progress_bar("exporting", unit="step") as update:
        result = run(options, progress=update)
    print_summary(result)


def print_summary(result) -> None:
    for note in result.notes:
        err.print(f"[yellow]note:[/] {escape(note)}")
    for r in result.formats:
        if r.details.get("fallback_reason"):
            err.print(
                f"[yellow]note:[/] {r.path.name} made by the TorchScript exporter ({escape(r.details['fallback_reason'])})"
            )
    real = (
        f"{result.real_images} real image(s)"
        if result.real_images
        else "no real images (see --verify-images)"
    )
    sizes = sorted({n for r in result.formats for n in r.verification.batch_sizes})
    table = Table(
        title=f"{escape(result.model)} -> {escape(result.folder)}",
        caption=f"verified on random inputs and {real}, batch sizes {', '.join(map(str, sizes))}; "
        "error = max|export - torch| / max(1, max|torch|)",
    )
    for col in ("file", "size", "made by", "input", "error", "tolerance", "seconds"):
        table.add_column(col, justify="right" if col in ("size", "error", "tolerance", "seconds") else "left")
    for r in result.formats:
        made_by = r.details.get("exporter", "") + (
            f", opset {r.details['opset']}" if "opset" in r.details else ""
        )
        feed = "uint8 NHWC" if r.details.get("preprocessing") else "normalised"
        table.add_row(
            r.path.name,
            _size(r.size),
            made_by,
            f"{feed} {r.details.get('precision', 'fp32')}",
            f"{r.verification.worst.error:.1e}",
            f"{r.verification.tolerance:g}",
            f"{r.seconds:.1f}",
        )
    out.print(table)
    out.print(f"model card: {escape(result.folder / 'README.md')}")
    if result.hub_url:
        out.print(f"pushed: {escape(result.hub_url)}")
