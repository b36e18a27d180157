"""The samples of one protocol: their usability, embeddings, qualities from files and models, and
the baselines every table shows (random, FR embedding norm)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aikd_cli.errors import InputFormatError
from aikd_cli.tasks.evaluate.embeddings import is_normalised
from aikd_cli.tasks.evaluate.results import NORM, RANDOM


@dataclass
class Samples:
    """What is known per sample of one dataset: why it is unusable, its qualities, embeddings."""

    keys: list[str]
    reasons: list[str | None]
    qualities: dict[str, np.ndarray] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    shifted: dict[tuple[str, float], np.ndarray] = field(default_factory=dict)  # (model, p) -> qualities
    embeddings: np.ndarray | None = None

    def flag(self, i: int, why: str | None) -> None:
        """Record why sample ``i`` is unusable (the first reason found is kept)."""
        if why and self.reasons[i] is None:
            self.reasons[i] = why

    @property
    def ok(self) -> np.ndarray:
        return np.array([r is None for r in self.reasons], dtype=bool)


def attach_embeddings(samples: Samples, embedded: dict[str, np.ndarray]) -> None:
    width = len(next(iter(embedded.values())))
    samples.embeddings = np.full((len(samples.keys), width), np.nan, dtype=np.float32)
    for i, key in enumerate(samples.keys):
        row = embedded.get(key)
        if row is None:
            samples.flag(i, "no precomputed embedding")
        elif len(row) != width:
            raise InputFormatError(f"precomputed embeddings have different sizes ({len(row)} and {width})")
        else:
            samples.embeddings[i] = row


def add_baselines(samples: Samples, seed: int, notes: list[str]) -> None:
    """A random quality (seeded) and, with embeddings, their norm before normalisation."""
    rng = np.random.default_rng(seed)
    samples.qualities[RANDOM], samples.kinds[RANDOM] = rng.random(len(samples.keys)), "baseline"
    if samples.embeddings is None:
        return
    if is_normalised(samples.embeddings):
        notes.append("embeddings are L2-normalised: no embedding-norm baseline")
        return
    samples.qualities[NORM] = np.linalg.norm(samples.embeddings, axis=1).astype(np.float64)
    samples.kinds[NORM] = "baseline"
