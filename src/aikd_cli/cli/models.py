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
    """List the named weights aikd can use: task, download size, licence, whether each file is here.

    Quality models whose embedding is a face-recognition embedding are listed under
    [bold]--task recognition[/] too. [bold]aikd models show NAME[/] gives the rest (input spec,
    source, sha256). Weights on no model hub (CR-FIQA, LightQNet, InsightFace's MXNet models) are
    brought in with [bold]aikd models add[/]; [bold]aikd models default[/] makes one the default.

    [bold]Examples[/]

      aikd models
      aikd models --task recognition
      aikd models show lightqnet
      aikd models add cr-fiqa-l ~/Downloads/181952backbone.pth
      aikd models default detector my-detector
    """
    if ctx.invoked_subcommand is not None:
        return
    from rich import box

    from aikd_cli.models.catalogue import COLUMNS, rows

    table = Table(title="Weights by name (* = default)", caption="aikd models show NAME: details. "
                  "Any local file or hf://org/name works too.", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in COLUMNS:
        table.add_column(col, no_wrap=True)
    for row in rows(task):
        table.add_row(*(escape(cell) for cell in row))
    out.print(table)


@app.command("show")
@handle_errors
def show(name: Annotated[str, typer.Argument(help="A registry name or one registered with `aikd models add`.")]) -> None:
    """Everything aikd knows about one named model: its input spec, source, checksum and file.

    [bold]Examples[/]

      aikd models show ediffiqa-l
      aikd models show insightface-mfn
    """
    from aikd_cli.models.catalogue import details

    width = 16
    for key, value in details(name):
        out.print(f"{key:<{width}}{escape(value)}", soft_wrap=True)


@app.command("default")
@handle_errors
def default(
    task: Annotated[str, typer.Argument(help="quality, recognition or detection (detector).")],
    name: Annotated[str | None, typer.Argument(help="A registry name or one registered with `aikd models add`.")] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Go back to the built-in default.")] = False,
) -> None:
    """Make a named model the default for every command (kept in your user config), e.g. a local
    detector on a machine without network, so that no command needs --detector.

    [bold]Examples[/]

      aikd models add my-detector ~/weights/mobilenet0.25_Final.pth
      aikd models default detector my-detector
      aikd models default recognition insightface-mfn
      aikd models default detector --reset
    """
    from aikd_cli.defaults import BUILTIN_DEFAULTS
    from aikd_cli.errors import AikdError
    from aikd_cli.models import user_models

    task = {"detector": "detection"}.get(task, task)
    if (name is None) == (not reset):
        raise AikdError("give a model name, or --reset", hint=f"aikd models default {task} NAME")
    chosen = user_models.set_default(task, None if reset else name)
    if chosen is None:
        err.print(f"{task}: back to the built-in default ({BUILTIN_DEFAULTS.get(task) or 'none'})")
    else:
        out.print(f"{task}: {chosen} is now the default")
    err.print(f"recorded in {escape(user_models.config_file())}")


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
