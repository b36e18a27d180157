"""aikd: alignment-invariant face image quality assessment (AI-KD).

The command-line tool is a thin layer over this package. Every command is a task called the same
way, ``result = task(TaskOptions(...), progress=None)``, writing what the command writes::

    from aikd_cli import ScoreOptions, score

    result = score(ScoreOptions(inputs=["photos/"], output="scores.csv", model="ediffiqa-s"))
    print(result.rows, result.status_counts)

Tasks: ``score``, ``align``, ``report``, ``label``, ``distill``, ``evaluate``, ``export`` (each
with ``<Task>Options`` and ``<Task>Result``); building blocks such as ``load_network`` and
``FaceDetector`` are here too.
"""

from __future__ import annotations

import importlib

from aikd_cli._version import __version__

# Public names -> defining module, imported on first use so that ``import aikd_cli`` (and
# ``aikd --help``) stays fast and free of torch start-up cost.
_EXPORTS = {
    # tasks: name -> "module:attribute" where the public name differs
    "score": "aikd_cli.tasks.score:run",
    "ScoreOptions": "aikd_cli.tasks.score",
    "ScoreResult": "aikd_cli.tasks.score",
    "align": "aikd_cli.tasks.align:run",
    "AlignOptions": "aikd_cli.tasks.align",
    "AlignResult": "aikd_cli.tasks.align",
    "report": "aikd_cli.tasks.report.build:run",
    "ReportOptions": "aikd_cli.tasks.report.options",
    "ReportResult": "aikd_cli.tasks.report.build",
    "label": "aikd_cli.tasks.label:run",
    "LabelOptions": "aikd_cli.tasks.label",
    "LabelResult": "aikd_cli.tasks.label",
    "distill": "aikd_cli.tasks.distill.training:run",
    "DistillOptions": "aikd_cli.tasks.distill.config",
    "DistillResult": "aikd_cli.tasks.distill.run_folder",
    "evaluate": "aikd_cli.tasks.evaluate.evaluating:run",
    "EvaluateOptions": "aikd_cli.tasks.evaluate.options",
    "EvaluateResult": "aikd_cli.tasks.evaluate.results",
    "export": "aikd_cli.tasks.export.exporting:run",
    "ExportOptions": "aikd_cli.tasks.export.options",
    "ExportResult": "aikd_cli.tasks.export.exporting",
    # building blocks
    "AikdError": "aikd_cli.errors",
    "ImageError": "aikd_cli.errors",
    "WeightsError": "aikd_cli.errors",
    "load_image": "aikd_cli.images.decode",
    "iter_inputs": "aikd_cli.images.discover",
    "align_faces": "aikd_cli.faces.align",
    "estimate_similarity": "aikd_cli.faces.align",
    "warp_affine": "aikd_cli.faces.align",
    "ARCFACE_TEMPLATE": "aikd_cli.faces.align",
    "perturb_landmarks": "aikd_cli.faces.perturb",
    "FaceDetector": "aikd_cli.faces.detector",
    "Face": "aikd_cli.faces.detector",
    "read_landmarks": "aikd_cli.faces.landmarks",
    "Preprocess": "aikd_cli.models.preprocess",
    "ModelConfig": "aikd_cli.models.config",
    "build_model": "aikd_cli.models.build",
    "WeightsSpec": "aikd_cli.models.registry",
    "get_spec": "aikd_cli.models.registry",
    "list_specs": "aikd_cli.models.registry",
    "register": "aikd_cli.models.registry",
    "load_network": "aikd_cli.models.loading",
    "TorchFaceModel": "aikd_cli.models.inference",
    "ModelOutput": "aikd_cli.models.inference",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'aikd_cli' has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute or name)


def __dir__() -> list[str]:
    return sorted(__all__)
