"""What ``aikd export`` can be told, checked before any work (:meth:`ExportOptions.validate`)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aikd_cli.errors import ONNX_EXTRA_HINT, AikdError
from aikd_cli.options import OUT, check_fields, option
from aikd_cli.tasks.export.formats import ExportFormat, parse_formats
from aikd_cli.tasks.export.hub_push import check_repo_id

#: A guard against typos (opset 180): ONNX 1.23 defines opsets up to 28.
MAX_OPSET = 30
#: The opset every ONNX file gets unless asked otherwise (docs/export.md says why).
DEFAULT_OPSET = 18
EXPORTERS = ("auto", "dynamo", "torchscript")
HUB = "Hub"


@dataclass(kw_only=True)
class ExportOptions:
    """Everything ``aikd export`` can be told; the command line is generated from these fields.

    ``model`` is anything ``score`` accepts (registry name, checkpoint, export or distill folder,
    ``hf://``); ``output`` the folder to create; ``formats`` names as for ``-f`` (``"onnx,pt2"``,
    a list, or ``"all"``); ``verify_images`` files, folders or arrays to verify on besides random inputs.
    """

    model: str | os.PathLike = option(argument=True,
                                      help="Registry name, checkpoint file, export/distill folder or hf://org/name.")
    output: str | os.PathLike = option(short="-o", group=OUT, help="Folder to create with the exported files.")
    formats: str | Sequence[str] | list[str] = option(["onnx"], flag="--format", short="-f",
                                                      help="onnx, torchscript, pt2, safetensors or all (repeat or "
                                                      "comma-separate).")
    fp16: bool = option(False, help="ONNX weights and activations in float16 (I/O stays float32).")
    include_preprocessing: bool = option(False, help="Graph takes uint8 RGB [N,112,112,3] and normalises inside "
                                         "(onnx, torchscript, pt2).")
    opset: int = option(DEFAULT_OPSET, low=17, high=MAX_OPSET, help="ONNX opset (17 or later).")
    exporter: str = option("auto", choices=EXPORTERS,
                           help="ONNX exporter: auto (dynamo, falling back to torchscript), dynamo, torchscript.")
    verify_images: Sequence[Any] | list[Path] = option(
        [], help="Real images (files or folders, first 4 used) to verify on, besides random ones.")
    overwrite: bool = option(False, help="Replace OUTPUT if it exists.")
    push_to_hub: str | None = option(None, group=HUB, metavar="ORG/NAME", help="Upload the folder to this Hub repo.")
    private: bool = option(False, group=HUB, help="Create the Hub repo as private.")

    @property
    def folder(self) -> Path:
        return Path(self.output).expanduser()

    @property
    def chosen(self) -> list[ExportFormat]:
        return parse_formats(self.formats)

    def validate(self) -> None:
        """Every rule the command enforces, before any model is loaded."""
        check_fields(self)
        if self.push_to_hub is not None:
            check_repo_id(self.push_to_hub)
        for f in self.chosen:
            missing = [m for m in f.requires if importlib.util.find_spec(m) is None]
            if missing:
                raise AikdError(
                    f"{f.name} export needs {', '.join(missing)}, which is not installed", hint=ONNX_EXTRA_HINT
                )
