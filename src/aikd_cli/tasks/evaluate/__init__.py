"""``aikd evaluate``: EDC curves and pAUC of face image quality methods with face-recognition models.

``run(options)`` evaluates and writes the report to ``options.output`` (checked first and locked);
``evaluate(options)`` only computes; ``edc`` holds the metrics as plain numpy functions for use on
scores from anywhere::

    from aikd_cli.tasks.evaluate import DatasetInput, EvaluateOptions, QualityInput, run

    result = run(EvaluateOptions(datasets=[DatasetInput("pairs.csv")], quality=[QualityInput("scores.csv")],
                                 fr_model="r100.pth", output="evaluation/"))
"""

from __future__ import annotations

import importlib

_FROM = {"DatasetInput": "options", "EvaluateOptions": "options", "ModelInput": "options", "QualityInput": "options",
         "ThresholdRule": "options", "write_outputs": "result_files", "DatasetResult": "results",
         "EvaluateResult": "results", "MethodResult": "results", "evaluate": "evaluating", "run": "evaluating"}
__all__ = list(_FROM)


def __getattr__(name: str):
    """Names are imported on first use: reading the options never waits for torch."""
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_FROM[name]}"), name)
