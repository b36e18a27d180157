"""What ``aikd export`` can be told, checked before any work (:meth:`ExportOptions.validate`)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aikd_cli.errors import AikdError
from aikd_cli.tasks.export.formats import ExportFormat, parse_formats
from aikd_cli.tasks.export.hub_push import check_repo_id
from aikd_cli.tasks.export.onnx_export import DEFAULT_OPSET, check_exporter
from aikd_cli.utils.checks import check_number

#: A guard against typos (opset 180): ONNX 1.23 defines opsets up to 28.
MAX_OPSET = 30


@dataclass
class ExportOptions:
    """Everything ``aikd export`` can be told; the CLI maps its options onto this one-to-one.

    ``model`` is anything ``score`` accepts (registry name, checkpoint, export or distill folder,
    ``hf://``); ``output`` the folder to create; ``formats`` names as for ``-f`` (``"onnx,pt2"``,
    a list, or ``"all"``); ``verify_images`` files, folders or arrays to verify on besides random inputs.
    """

    model: str | os.PathLike
    output: str | os.PathLike
    formats: str | Sequence[str] = "onnx"
    fp16: bool = False
    include_preprocessing: bool = False
    opset: int = DEFAULT_OPSET
    exporter: str = "auto"
    verify_images: Sequence[str | os.PathLike | np.ndarray] = ()
    overwrite: bool = False
    push_to_hub: str | None = None
    private: bool = False

    @property
    def folder(self) -> Path:
        return Path(self.output).expanduser()

    @property
    def chosen(self) -> list[ExportFormat]:
        return parse_formats(self.formats)

    def validate(self) -> None:
        """Every rule the command enforces, before any model is loaded."""
        check_exporter(self.exporter)
        check_number("--opset", self.opset, 17, MAX_OPSET)
        if self.push_to_hub is not None:
            check_repo_id(self.push_to_hub)
        from aikd_cli.models.onnx_model import ONNX_EXTRA_HINT

        for f in self.chosen:
            missing = [m for m in f.requires if importlib.util.find_spec(m) is None]
            if missing:
                raise AikdError(
                    f"{f.name} export needs {', '.join(missing)}, which is not installed", hint=ONNX_EXTRA_HINT
                )
