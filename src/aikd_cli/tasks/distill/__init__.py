"""``aikd distill``: AI-KD knowledge distillation of alignment-invariant quality students.

``from aikd_cli.tasks.distill import DistillConfig, distill`` does what the command does. Names are
imported on first use, so ``aikd --help`` never pays for importing torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "DistillConfig": "config",
    "read_config_file": "config",
    "resolve_config": "config",
    "DistillResult": "runs",
    "distill": "run",
    "load_run_config": "runs",
    "prepare_run": "run",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
