"""Robustness of a quality model to misalignment (the AI-KD paper's "misaligned" experiment).

Each sample's landmarks get ``U[-p, p]`` noise per coordinate (pixels, or a fraction of the
inter-ocular distance), drawn from a generator seeded by ``(seed, p, sample key)``: the same sample
gets the same perturbation whatever else is evaluated and in whatever order. The face is re-aligned
from the perturbed landmarks and re-scored; comparison scores stay those of the clean crops, so a
change of pAUC is due to the quality alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from aikd_cli.tasks.evaluate.edc import PartialArea, spearman

if TYPE_CHECKING:
    import torch

UNITS = ("px", "iod")


def sample_seed(seed: int, p: float, key: str) -> int:
    data = f"{seed}|{p!r}|{key}".encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") & ((1 << 63) - 1)


def perturb_sample(landmarks: torch.Tensor, p: float, unit: str, seed: int, key: str) -> torch.Tensor:
    """``landmarks`` (5, 2) perturbed for sample ``key`` at level ``p`` (unchanged for p = 0)."""
    import torch

    from aikd_cli.faces.perturb import perturb_landmarks

    if p == 0:
        return landmarks.to(torch.float64)
    if unit not in UNITS:
        raise ValueError(f"misalignment unit must be one of {UNITS}, got {unit!r}")
    generator = torch.Generator().manual_seed(sample_seed(seed, p, key))
    return perturb_landmarks(landmarks, p, generator, relative=unit == "iod")


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
