"""``aikd evaluate``: EDC curves and pAUC of face image quality methods with face-recognition models.

``evaluate(options)`` runs it and ``write_outputs(result, folder)`` writes the report; ``edc`` holds
the metrics as plain numpy functions for use on scores from anywhere.
"""

from aikd_cli.tasks.evaluate.outputs import write_outputs
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
    "write_outputs",
]
