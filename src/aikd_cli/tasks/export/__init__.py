"""Export models for deployment (ONNX, TorchScript, torch.export, safetensors), verified every time.

from aikd_cli.tasks.export import export_model
result = export_model("retinaface-mnet025", "exports/retinaface", "onnx")
"""

from aikd_cli.tasks.export.formats import FORMATS, ExportFormat, parse_formats
from aikd_cli.tasks.export.run import ExportResult, export_model
from aikd_cli.tasks.export.verify import FormatResult

__all__ = ["FORMATS", "ExportFormat", "ExportResult", "FormatResult", "export_model", "parse_formats"]
