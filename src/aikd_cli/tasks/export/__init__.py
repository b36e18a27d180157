"""Export models for deployment (ONNX, TorchScript, torch.export, safetensors), verified every time.

from aikd_cli.tasks.export import ExportOptions, run
result = run(ExportOptions(model="retinaface-mnet025", output="exports/retinaface", formats="onnx"))

Names are imported on first use, so that reading the options never waits for torch.
"""

from __future__ import annotations

import importlib

_FROM = {"FORMATS": "formats", "ExportFormat": "formats", "parse_formats": "formats", "ExportOptions": "options",
         "ExportResult": "exporting", "run": "exporting", "FormatResult": "verify"}
__all__ = list(_FROM)


def __getattr__(name: str):
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_FROM[name]}"), name)
