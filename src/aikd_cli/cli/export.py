"""``aikd export``: deployment formats, each verified against the torch model."""

from __future__ import annotations

from rich.table import Table

from aikd_cli.cli.common import err, escape, handle_errors, log_to, out, progress_bar, shown
from aikd_cli.cli.generate import command
from aikd_cli.tasks.export.options import ExportOptions


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


@command(ExportOptions)
@handle_errors
def export(options: ExportOptions) -> None:
    """Export a model for deployment, verify every file against the torch model, write a model card.

    Each file is run (onnxruntime for ONNX) next to the torch model on random and real inputs at batch sizes 1 and >1, and refused if it differs by more than the documented tolerance (docs/export.md). OUTPUT appears only when every requested format passes.

    [bold]Examples[/]

      aikd export ediffiqa-s -f onnx -o exports/ediffiqa-s
      aikd export runs/distill/best.safetensors -f all -o exports/student --verify-images crops/
      aikd export ediffiqa-s -f onnx --include-preprocessing --fp16 -o exports/edge
      aikd export retinaface-mnet025 -f onnx -o exports/retinaface
      aikd export runs/distill -f onnx,safetensors -o exports/student --push-to-hub my-org/aikd-student
    """
    from aikd_cli.tasks.export.exporting import run

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
        title=f"{shown(result.model)} -> {shown(result.folder)}",
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
    out.print(f"model card: {shown(result.folder / 'README.md')}")
    if result.hub_url:
        out.print(f"pushed: {escape(result.hub_url)}")
