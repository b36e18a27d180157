"""``aikd evaluate``: EDC curves and pAUC of face image quality methods with face-recognition models.

``run(options)`` evaluates and writes the report to ``options.output`` (checked first and locked);
``evaluate(options)`` only computes; ``edc`` holds the metrics as plain numpy functions for use on
scores from anywhere::

    from aikd_cli.tasks.evaluate import DatasetInput, EvaluateOptions, QualityInput, run

    result = run(EvaluateOptions(datasets=[DatasetInput("pairs.csv")], quality=[QualityInput("scores.csv")],
                                 fr_model="r100.pth", output="evaluation/"))
"""

from aikd_cli.tasks.evaluate.options import (
    DatasetInput,
    EvaluateOptions,
    ModelInput,
    QualityInput,
    ThresholdRule,
)
from aikd_cli.tasks.evaluate.result_files import write_outputs
from aikd_cli.tasks.evaluate.results import DatasetResult, EvaluateResult, MethodResult
from aikd_cli.tasks.evaluate.run import evaluate, run

__all__ = [
    "DatasetInput",
    "DatasetResult",
    "EvaluateOptions",
    "EvaluateResult",
    "MethodResult",
    "ModelInput",
    "QualityInput",
    "ThresholdRule",
    "evaluate",
    "run",
    "write_outputs",
]
