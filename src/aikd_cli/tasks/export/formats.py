"""The export formats as one table: name, file, exporter, verifier, which options apply.

Adding a format means adding a row (an exporter writing one file and a runner loading it back);
:func:`aikd_cli.tasks.export.run.run` drives every row the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aikd_cli.errors import AikdError
from aikd_cli.models.config import close_matches
from aikd_cli.tasks.export import torch_export, verify
from aikd_cli.tasks.export.job import ExportJob
from aikd_cli.tasks.export.onnx_export import export_onnx

#: Options a format may accept (``--fp16``, ``--include-preprocessing``).
FP16, PREPROCESSING = "fp16", "preprocessing"


@dataclass(frozen=True)
class ExportFormat:
    name: str
    filename: str
    summary: str
    export: Callable[[ExportJob, Path], dict]  # writes the file, returns details for the report
    runner: Callable[[Path, ExportJob], verify.Runner]  # loads the written file back for verification
    options: frozenset[str] = frozenset()
    requires: tuple[str, ...] = ()  # Python modules needed (the [onnx] extra)

    def accepts(self, option: str) -> bool:
        return option in self.options


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat(
            "onnx",
            "model.onnx",
            "ONNX (onnxruntime, TensorRT, OpenVINO; C++, C#, Java, JS)",
            export_onnx,
            verify.onnx_runner,
            frozenset({FP16, PREPROCESSING}),
            ("onnx", "onnxruntime"),
        ),
        ExportFormat(
            "torchscript",
            "model.torchscript",
            "TorchScript (libtorch C++, PyTorch Mobile)",
            torch_export.export_torchscript,
            verify.torchscript_runner,
            frozenset({PREPROCESSING}),
        ),
        ExportFormat(
            "pt2",
            "model.pt2",
            "torch.export archive (AOTInductor, ExecuTorch)",
            torch_export.export_pt2,
            verify.pt2_runner,
            frozenset({PREPROCESSING}),
        ),
        ExportFormat(
            "safetensors",
            "model.safetensors",
            "safetensors + config.json (aikd score/distill, Python)",
            torch_export.export_safetensors,
            verify.safetensors_runner,
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
