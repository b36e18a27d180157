"""``aikd models``: the named weights as a table, ``show``, ``add``/``remove`` for the user's own
files and ``default`` for the models every command uses. Options come from
:mod:`aikd_cli.tasks.models`; this module only prints."""

from __future__ import annotations

import inspect

import typer
from rich.table import Table

from aikd_cli.cli.common import err, escape, handle_errors, out
from aikd_cli.cli.generate import command
from aikd_cli.tasks.models import AddOptions, DefaultOptions, ModelsOptions, NameOptions

app = typer.Typer(rich_markup_mode="rich", context_settings={"help_option_names": ["-h", "--help"]})
_CTX = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)


@app.callback(invoke_without_command=True)
@command(ModelsOptions, extra=[_CTX])
@handle_errors
def models(options: ModelsOptions, ctx: typer.Context) -> None:
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

    from aikd_cli.models.catalogue import COLUMNS
    from aikd_cli.tasks.models import models as rows

    table = Table(title="Weights by name (* = default)", caption="aikd models show NAME: details. "
                  "Any local file or hf://org/name works too.", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in COLUMNS:
        table.add_column(col, no_wrap=True)
    for row in rows(options):
        table.add_row(*(escape(cell) for cell in row))
    out.print(table)


@app.command("show")
@command(NameOptions)
@handle_errors
def show(options: NameOptions) -> None:
    """Everything aikd knows about one named model: its input spec, source, checksum and file.

    [bold]Examples[/]

      aikd models show ediffiqa-l
      aikd models show insightface-mfn
    """
    from aikd_cli.tasks.models import show as details

    for key, value in details(options):
        out.print(f"{key:<16}{escape(value)}", soft_wrap=True)


@app.command("add")
@command(AddOptions)
@handle_errors
def add(options: AddOptions) -> None:
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
    from aikd_cli.tasks.models import add as register

    entry, spec = register(options)
    out.print(f"{entry.name}: {escape(entry.path)} ({entry.task}, {entry.arch}, sha256 {entry.sha256[:16]}...)")
    if entry.source:
        err.print(f"converted from {escape(entry.source)}")
    if entry.declaration is not None:
        err.print(f"input: {escape(entry.declaration.describe())}")
    if spec is not None and (notice := spec.licence_notice()):
        err.print(f"licence: {escape(notice)}")
    err.print(f"recorded in {escape(user_models.config_file())}")


@app.command("remove")
@command(NameOptions)
@handle_errors
def remove(options: NameOptions) -> None:
    """Forget a name registered with [bold]aikd models add[/] (the file itself is left alone).

    [bold]Examples[/]

      aikd models remove my-teacher
    """
    from aikd_cli.models import user_models
    from aikd_cli.tasks.models import remove as forget

    entry = forget(options)
    err.print(f"removed {entry.name} ({escape(entry.path)}) from {escape(user_models.config_file())}")


@app.command("default")
@command(DefaultOptions)
@handle_errors
def default(options: DefaultOptions) -> None:
    """Make a named model the default for every command (kept in your user config), e.g. a local
    detector on a machine without network, so that no command needs --detector.

    [bold]Examples[/]

      aikd models add my-detector ~/weights/mobilenet0.25_Final.pth
      aikd models default detector my-detector
      aikd models default recognition insightface-mfn
      aikd models default detector --reset
    """
    from aikd_cli.defaults import BUILTIN_DEFAULTS
    from aikd_cli.models import user_models
    from aikd_cli.tasks.models import set_default

    chosen = set_default(options)
    task = {"detector": "detection"}.get(options.task, options.task)
    if chosen is None:
        err.print(f"{task}: back to the built-in default ({BUILTIN_DEFAULTS.get(task) or 'none'})")
    else:
        out.print(f"{task}: {chosen} is now the default")
    err.print(f"recorded in {escape(user_models.config_file())}")
