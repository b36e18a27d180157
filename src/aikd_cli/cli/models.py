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


_SPEC = "Input spec (files that carry none)"


@app.command("add")
@handle_errors
def add(
    name: Annotated[str, typer.Argument(help="A registry name (e.g. cr-fiqa-l) or a new name of your choice.")],
    file: Annotated[Path, typer.Argument(help="The weights: .pth, .pt, .safetensors, .onnx, an MXNet .params "
                                         "(its -symbol.json beside it), or a run/export folder.")],
    task: Annotated[str | None, typer.Option("--task", help="quality or recognition: what the graph's --output is.",
                                             rich_help_panel=_SPEC)] = None,
    size: Annotated[int | None, typer.Option("--size", help="Input side in pixels (default 112).", rich_help_panel=_SPEC)] = None,
    crop_size: Annotated[int | None, typer.Option("--crop-size", help="Cut ArcFace-template crops at this side and "
                                                  "resize them to --size (default: --size).", rich_help_panel=_SPEC)] = None,
    colour: Annotated[str | None, typer.Option("--colour", help="rgb or bgr (default rgb).", rich_help_panel=_SPEC)] = None,
    mean: Annotated[str | None, typer.Option("--mean", help="Pixel mean(s), 0-255 units: one value or r,g,b "
                                             "(default 127.5).", rich_help_panel=_SPEC)] = None,
    std: Annotated[str | None, typer.Option("--std", help="Pixel std(s), 0-255 units: one value or r,g,b "
                                            "(default 127.5).", rich_help_panel=_SPEC)] = None,
    layout: Annotated[str | None, typer.Option("--layout", help="nchw or nhwc (ONNX graphs; default nchw).",
                                               rich_help_panel=_SPEC)] = None,
    output: Annotated[str | None, typer.Option("--output", help="The graph output holding the quality or "
                                               "embedding: index or name (default 0).", rich_help_panel=_SPEC)] = None,
) -> None:
    """Register a local weights file under a name, after checking that it loads.

    A registry name only takes a file that loads strictly as that entry's architecture (and has its
    published sha256 where one is pinned); a new name takes any weights aikd can load. A file that
    carries no input spec of its own (an ONNX graph from elsewhere, a .pth of unknown origin) is
    declared once with the spec options; an MXNet model is converted to ONNX. From then on the
    name resolves offline, in every command; the record is kept in your user config folder.

    [bold]Examples[/]

      aikd models add cr-fiqa-l ~/Downloads/181952backbone.pth
      aikd models add my-student runs/mfn
      aikd models add insightface-mfn models/model-0000.params
      aikd models add lightqnet lightqnet-dm100.onnx
      aikd models add my-fiqa fiqa.onnx --task quality --size 96 --mean 128 --std 128 --layout nhwc
    """
    from aikd_cli.models import user_models
    from aikd_cli.models.declared import declaration_from_options

    declaration = declaration_from_options(task=task, size=size, crop=crop_size, colour=colour, mean=mean, std=std,
                                           layout=layout, output=output)
    entry, spec = user_models.add(name, file, declaration)
    out.print(f"{entry.name}: {escape(entry.path)} ({entry.task}, {entry.arch}, sha256 {entry.sha256[:16]}...)")
    if entry.source:
        err.print(f"converted from {escape(entry.source)}")
    if entry.declaration is not None:
        err.print(f"input: {escape(entry.declaration.describe())}")
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
