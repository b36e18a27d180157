"""``aikd align``: the options (light, :mod:`.options`) and the aligning pass (:mod:`.aligning`),
imported on first use so that checking options never waits for torch."""

from __future__ import annotations

import importlib

_FROM = {"AlignOptions": "options", "MAX_SIZE": "options", "AlignResult": "aligning", "run": "aligning",
         "run_here": "aligning", "ALIGN_COLUMNS": "aligning"}
__all__ = list(_FROM)


def __getattr__(name: str):
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_FROM[name]}"), name)
