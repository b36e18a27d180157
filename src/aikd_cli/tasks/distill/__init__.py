"""``aikd distill``: AI-KD knowledge distillation of alignment-invariant quality students.

What the command does, from Python (names are imported on first use, so ``aikd --help`` never
pays for importing torch)::

    from aikd_cli.tasks.distill import DistillOptions, run

    result = run(DistillOptions(data=["faces/"], teacher="ediffiqa-s", output="runs/aikd-s"))

"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "DistillConfig": "config",
    "DistillOptions": "config",
    "options_for": "run_folder",
    "read_config_file": "config_file",
    "resolve_config": "config_file",
    "DistillResult": "run_folder",
    "run": "training",
    "load_run_config": "run_folder",
    "prepare_run": "training",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
