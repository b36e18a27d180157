"""``aikd report``: an HTML page people look at instead of 100,000 CSV rows.

>>> from aikd_cli.tasks.report import ReportOptions, run
>>> result = run(ReportOptions(scores="scores.csv", threshold=0.3))  # doctest: +SKIP

Names are imported on first use, so that reading the options stays light.
"""

from __future__ import annotations

import importlib

_FROM = {"ReportOptions": "options", "default_output": "options", "ReportResult": "build", "run": "build",
         "check_report_output": "build"}
__all__ = list(_FROM)


def __getattr__(name: str):
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_FROM[name]}"), name)
