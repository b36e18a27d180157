"""``aikd label``: the options (light, :mod:`.options`) and the labelling (:mod:`.labelling`),
imported on first use so that checking options never waits for torch."""

from __future__ import annotations

import importlib

_FROM = {"LabelOptions": "options", "SCHEMES": "options"}
__all__ = ["LabelOptions", "SCHEMES", "LabelResult", "run", "certainty_ratio", "compute_labels", "sdd_quality",
           "wasserstein_1d", "embed_identities", "identity_landmarks", "read_identities"]


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_FROM.get(name, 'labelling')}"), name)
