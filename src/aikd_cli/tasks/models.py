"""``aikd models`` as tasks: list the named weights, show one, register a local file (with the input
spec it lacks), forget one, choose the defaults. Each is ``result = task(Options(...))`` like every
other command; the command line is generated from the options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aikd_cli.defaults import TASKS
from aikd_cli.errors import AikdError
from aikd_cli.options import check_fields, option

SPEC = "Input spec (files that carry none)"


@dataclass(kw_only=True)
class ModelsOptions:
    """``aikd models``: the table, optionally of one task."""

    task: str | None = option(None, choices=TASKS, help="Only models for this task.")


@dataclass(kw_only=True)
class AddOptions:
    """``aikd models add NAME FILE``: the spec fields declare how to feed a file that carries none."""

    name: str = option(argument=True, help="A registry name (e.g. cr-fiqa-l) or a new name of your choice.")
    file: Path = option(argument=True, help="The weights: .pth, .pt, .safetensors, .onnx, an MXNet .params (its "
                        "-symbol.json beside it), or a run/export folder.")
    task: str | None = option(None, group=SPEC, choices=("quality", "recognition"),
                              help="What the graph's --output is (required with any other spec option).")
    size: int | None = option(None, group=SPEC, low=16, high=1024, help="Input side in pixels (default 112).")
    crop_size: int | None = option(None, group=SPEC, low=16, high=1024,
                                   help="Cut ArcFace-template crops at this side and resize them to --size "
                                   "(default: --size).")
    colour: str | None = option(None, group=SPEC, choices=("rgb", "bgr"), help="Colour order (default rgb).")
    mean: str | None = option(None, group=SPEC, metavar="M|R,G,B",
                              help="Pixel mean(s) in 0-255 units: one value or r,g,b (default 127.5).")
    std: str | None = option(None, group=SPEC, metavar="S|R,G,B",
                             help="Pixel std(s) in 0-255 units: one value or r,g,b (default 127.5).")
    layout: str | None = option(None, group=SPEC, choices=("nchw", "nhwc"), help="ONNX input layout (default nchw).")
    output: str | None = option(None, group=SPEC, metavar="INDEX|NAME",
                                help="The graph output holding the quality or embedding (default 0).")

    def validate(self) -> None:
        check_fields(self)


@dataclass(kw_only=True)
class NameOptions:
    """``aikd models show NAME`` / ``aikd models remove NAME``."""

    name: str = option(argument=True, help="A registry name or one registered with `aikd models add`.")


@dataclass(kw_only=True)
class DefaultOptions:
    """``aikd models default TASK [NAME] [--reset]``."""

    task: str = option(argument=True, help="quality, recognition or detection (or detector).")
    name: str | None = option(None, argument=True, help="A registry name or one registered with `aikd models add`.")
    reset: bool = option(False, help="Go back to the built-in default.")

    def validate(self) -> None:
        if (self.name is None) == (not self.reset):
            raise AikdError("give a model name, or --reset", hint=f"aikd models default {self.task} NAME")


def models(options: ModelsOptions) -> list[tuple[str, ...]]:
    """The rows of the ``aikd models`` table (see :mod:`aikd_cli.models.catalogue`)."""
    from aikd_cli.models.catalogue import rows

    check_fields(options)
    return rows(options.task)


def show(options: NameOptions) -> list[tuple[str, str]]:
    from aikd_cli.models.catalogue import details

    return details(options.name)


def add(options: AddOptions):
    """Register the file (converted / declared as needed): ``(LocalWeights, registry entry or None)``."""
    from aikd_cli.models.adding import add as register
    from aikd_cli.models.declared import declaration_from_options

    options.validate()
    declaration = declaration_from_options(task=options.task, size=options.size, crop=options.crop_size,
                                           colour=options.colour, mean=options.mean, std=options.std,
                                           layout=options.layout, output=options.output)
    return register(options.name, options.file, declaration)


def remove(options: NameOptions):
    from aikd_cli.models import user_models

    return user_models.remove(options.name)


def set_default(options: DefaultOptions) -> str | None:
    """The name now the default of the task (``None``: back to the built-in one)."""
    from aikd_cli.models import user_models

    options.validate()
    task = {"detector": "detection"}.get(options.task, options.task)
    return user_models.set_default(task, None if options.reset else options.name)
