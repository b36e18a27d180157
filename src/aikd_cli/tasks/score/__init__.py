"""``aikd score``: the options (light, :mod:`.options`) and the scoring pass (:mod:`.scoring`),
imported on first use so that checking options never waits for torch."""

from __future__ import annotations

import importlib

_FROM = {
    "ScoreOptions": "options", "SCORE_COLUMNS": "options", "PERTURB_COLUMNS": "options",
    "ScoreResult": "scoring", "run": "scoring", "run_here": "scoring", "face_row": "scoring",
    "merge_shards": "scoring", "score_faces": "scoring", "summarize_scores": "scoring",
    "OK": "scoring", "NO_FACE": "scoring", "UNREADABLE": "scoring", "ERROR": "scoring", "BAD_LANDMARKS": "scoring",
}
__all__ = list(_FROM)


def __getattr__(name: str):
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_FROM[name]}"), name)
