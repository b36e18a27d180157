"""aikd: alignment-invariant face image quality assessment (AI-KD).

The command-line tool is a thin layer over this package; everything it does is importable::

    from aikd_cli import score_images, load_network, FaceDetector
"""

from __future__ import annotations

import importlib

from aikd_cli._version import __version__

# Public names -> defining module, imported on first use so that ``import aikd_cli`` (and
# ``aikd --help``) stays fast and free of torch start-up cost.
_EXPORTS = {
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
    "build_model": "aikd_cli.models.config",
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
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aikd_cli' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
