"""Robustness of a quality model to misalignment (the AI-KD paper's "misaligned" experiment).

Each sample's landmarks get ``U[-p, p]`` noise per coordinate (pixels, or a fraction of the
inter-ocular distance), drawn by :func:`aikd_cli.faces.perturb.perturb_face` for the sample's face
key: the same sample gets the same perturbation whatever else is evaluated and in whatever order,
and the same as ``aikd align --perturb`` gives that face with the same seed. The face is re-aligned
from the perturbed landmarks and re-scored; comparison scores stay those of the clean crops, so a
change of pAUC is due to the quality alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aikd_cli.tasks.evaluate.edc import PartialArea, spearman


@dataclass(frozen=True)
class RobustnessRow:
    """One quality model at one misalignment level on one dataset."""

    model: str
    p: float
    areas: list[PartialArea]
    spearman: float  # rank correlation of sample qualities between p = 0 and p
    samples: int


def quality_correlation(clean: np.ndarray, shifted: np.ndarray) -> float:
    """Spearman correlation over the samples that have both qualities."""
    ok = np.isfinite(clean) & np.isfinite(shifted)
    return spearman(clean[ok], shifted[ok]) if ok.sum() > 1 else float("nan")
