"""``aikd evaluate``: EDC curves and pAUC of face image quality methods with face-recognition models.

``evaluate(options)`` runs it and ``write_outputs(result, folder)`` writes the report
(``evaluate_into(options, folder)`` does both, with the folder checked first and locked); ``edc`` holds
the metrics as plain numpy functions for use on scores from anywhere.
"""

from aikd_cli.tasks.evaluate.outputs import evaluate_into, write_outputs
from aikd_cli.tasks.evaluate.pipeline import (
    DatasetInput,
    EvaluateOptions,
    Evaluation,
    ModelInput,
    QualityInput,
    ThresholdRule,
    evaluate,
)

__all__ = [
    "DatasetInput",
    "EvaluateOptions",
    "Evaluation",
    "ModelInput",
    "QualityInput",
    "ThresholdRule",
    "evaluate",
    "evaluate_into",
    "write_outputs",
]
