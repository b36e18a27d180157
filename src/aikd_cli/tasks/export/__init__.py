"""Export models for deployment (ONNX, TorchScript, torch.export, safetensors), verified every time.

from aikd_cli.tasks.export import ExportOptions, run
result = run(ExportOptions(model="retinaface-mnet025", output="exports/retinaface", formats="onnx"))
"""

from aikd_cli.tasks.export.formats import FORMATS, ExportFormat, parse_formats
from aikd_cli.tasks.export.options import ExportOptions
from aikd_cli.tasks.export.run import ExportResult, run
from aikd_cli.tasks.export.verify import FormatResult

__all__ = ["FORMATS", "ExportFormat", "ExportOptions", "ExportResult", "FormatResult", "parse_formats", "run"]
