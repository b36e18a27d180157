"""``aikd models``: the registry as a table."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aikd_cli.cli.common import handle_errors, out


@handle_errors
def models(
    task: Annotated[str | None, typer.Option("--task", help="Only quality, recognition or detection models.")] = None,
) -> None:
    """List the named pretrained weights aikd can download.

    [bold]Examples[/]

      aikd models
      aikd models --task detection
    """
    from aikd_cli.models.registry import DEFAULT_DETECTOR, DEFAULT_QUALITY_MODEL, list_specs

    table = Table(title="Registered weights (* = default)", caption="Any local file or hf://org/name also works.")
    for col in ("name", "task", "architecture", "params", "input", "licence", "Hub repository"):
        table.add_column(col, no_wrap=col == "name")
    for spec in list_specs(task):
        star = "*" if spec.name in (DEFAULT_QUALITY_MODEL, DEFAULT_DETECTOR) else ""
        pre = spec.config.preprocess.short() if spec.task != "detection" else "BGR mean"
        table.add_row(
            spec.name + star, spec.task, spec.config.arch, f"{spec.params / 1e6:.1f}M", pre, spec.license, spec.repo_id
        )
    out.print(table)
