"""``aikd models``: the registry as a table, and ``add``/``remove`` for the user's own files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aikd_cli.cli.common import err, escape, handle_errors, out
from aikd_cli.defaults import TASKS

app = typer.Typer(rich_markup_mode="rich", context_settings={"help_option_names": ["-h", "--help"]})


@app.callback(invoke_without_command=True)
@handle_errors
def models(
    ctx: typer.Context,
    task: Annotated[str | None, typer.Option("--task", help=f"Only models for: {', '.join(TASKS)}.")] = None,
) -> None:
    """List the named weights aikd can use: licence, and whether each file is here yet.

    Quality models whose embedding is a face-recognition embedding are listed under
    [bold]--task recognition[/] too. Weights on no model hub (CR-FIQA) are brought in with
    [bold]aikd models add[/].

    [bold]Examples[/]

      aikd models
      aikd models --task recognition
      aikd models add cr-fiqa-l ~/Downloads/181952backbone.pth
      aikd models add my-teacher runs/teacher/best.safetensors
      aikd models remove my-teacher
    """
    if ctx.invoked_subcommand is not None:
        return
    from aikd_cli.models.catalogue import rows

    table = Table(title="Weights by name (* = default)", caption="Any local file or hf://org/name also works.")
    for col in ("name", "task", "architecture", "params", "input", "licence", "file", "from"):
        table.add_column(col, no_wrap=col == "name")
    for row in rows(task):
        table.add_row(*(escape(cell) for cell in row))
    out.print(table)


@app.command("add")
@handle_errors
def add(
    name: Annotated[str, typer.Argument(help="A registry name (e.g. cr-fiqa-l) or a new name of your choice.")],
    file: Annotated[Path, typer.Argument(help="The weights file (.pth, .pt, .safetensors or .onnx).")],
) -> None:
    """Register a local weights file under a name, after checking that it loads.

    A registry name only takes a file that loads strictly as that entry's architecture (and has its
    published sha256 where one is pinned); a new name takes any weights aikd can load. From then on
    the name resolves offline, in every command; the record is kept in your user config folder.

    [bold]Examples[/]

      aikd models add cr-fiqa-l ~/Downloads/181952backbone.pth
      aikd models add my-fr-model ~/models/r100.pth
    """
    from aikd_cli.models import user_models

    entry, spec = user_models.add(name, file)
    out.print(f"{entry.name}: {escape(entry.path)} ({entry.task}, {entry.arch}, sha256 {entry.sha256[:16]}...)")
    if spec is not None and (notice := spec.licence_notice()):
        err.print(f"licence: {escape(notice)}")
    err.print(f"recorded in {escape(user_models.config_file())}")


@app.command("remove")
@handle_errors
def remove(name: Annotated[str, typer.Argument(help="A name registered with `aikd models add`.")]) -> None:
    """Forget a name registered with [bold]aikd models add[/] (the file itself is left alone).

    [bold]Examples[/]

      aikd models remove my-teacher
    """
    from aikd_cli.models import user_models

    entry = user_models.remove(name)
    err.print(f"removed {entry.name} ({escape(entry.path)}) from {escape(user_models.config_file())}")
