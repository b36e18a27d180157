"""The export formats as one table: name, file, exporter, verifier, which options apply.

Adding a format means adding a row (an exporter writing one file and a runner loading it back);
:func:`aikd_cli.tasks.export.exporting.run` drives every row the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aikd_cli.errors import AikdError, close_matches

#: Options a format may accept (``--fp16``, ``--include-preprocessing``).
FP16, PREPROCESSING = "fp16", "preprocessing"


@dataclass(frozen=True)
class ExportFormat:
    name: str
    filename: str
    summary: str
    exporter: str  # "module:function" writing the file, returning details for the report
    verifier: str  # "module:function" loading the written file back for verification
    options: frozenset[str] = frozenset()
    requires: tuple[str, ...] = ()  # Python modules needed (the [onnx] extra)

    def accepts(self, option: str) -> bool:
        return option in self.options

    @property
    def export(self) -> Callable:
        return _resolve(self.exporter)

    @property
    def runner(self) -> Callable:
        return _resolve(self.verifier)


def _resolve(target: str) -> Callable:
    """The function ``"module:function"`` names, imported when a format is actually run (the table
    itself is read before torch is imported, when options are checked)."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(f"aikd_cli.tasks.export.{module}"), name)


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat(
            "onnx",
            "model.onnx",
            "ONNX (onnxruntime, TensorRT, OpenVINO; C++, C#, Java, JS)",
            "onnx_export:export_onnx",
            "verify:onnx_runner",
            frozenset({FP16, PREPROCESSING}),
            ("onnx", "onnxruntime"),
        ),
        ExportFormat(
            "torchscript",
            "model.torchscript",
            "TorchScript (libtorch C++, PyTorch Mobile)",
            "torch_export:export_torchscript",
            "verify:torchscript_runner",
            frozenset({PREPROCESSING}),
        ),
        ExportFormat(
            "pt2",
            "model.pt2",
            "torch.export archive (AOTInductor, ExecuTorch)",
            "torch_export:export_pt2",
            "verify:pt2_runner",
            frozenset({PREPROCESSING}),
        ),
        ExportFormat(
            "safetensors",
            "model.safetensors",
            "safetensors + config.json (aikd score/distill, Python)",
            "torch_export:export_safetensors",
            "verify:safetensors_runner",
        ),
    )
}


def parse_formats(spec: str | Sequence[str]) -> list[ExportFormat]:
    """``"onnx"``, ``"onnx,safetensors"``, ``["onnx", "pt2"]`` or ``"all"`` -> formats, in table order."""
    names = [spec] if isinstance(spec, str) else list(spec)
    wanted = {n.strip().lower() for name in names for n in name.split(",") if n.strip()}
    if not wanted:
        raise AikdError("no export format given", hint=f"choose from {', '.join(FORMATS)} or all")
    if "all" in wanted:
        return list(FORMATS.values())
    unknown = sorted(wanted - set(FORMATS))
    if unknown:
        raise AikdError(
            f"unknown export format {unknown[0]!r}{close_matches(unknown[0], [*FORMATS, 'all'])}",
            hint=f"choose from {', '.join(FORMATS)} or all",
        )
    return [f for f in FORMATS.values() if f.name in wanted]
