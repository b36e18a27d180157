"""The face-recognition model's own check: 10-fold verification accuracy on a verification protocol
(LFW ``pairs.txt``, insightface ``.bin``), computed as insightface's ``verification.py`` does.

An FR model fed the wrong colour order, normalisation or crop still produces embeddings, and every
EDC built on them looks plausible. Its verification accuracy on a standard protocol does not: a
working model reaches about 99 % on LFW, so an accuracy far below that is reported as a warning
next to the EDC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: insightface's grid over squared distances of unit embeddings (``np.arange(0, 4, 0.01)``).
THRESHOLDS = np.arange(0.0, 4.0, 0.01)
#: Below this accuracy the FR model is probably fed wrongly (LFW: working models reach 99 %+).
SUSPICIOUS_BELOW = 0.95


@dataclass(frozen=True)
class Verification:
    mean: float  # mean accuracy over the folds
    std: float
    folds: tuple[float, ...]

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std, "folds": list(self.folds)}

    def describe(self) -> str:
        return f"{self.mean * 100:.2f} % ± {self.std * 100:.2f} ({len(self.folds)}-fold)"


def ten_fold(cosine: np.ndarray, mated: np.ndarray, folds: np.ndarray) -> Verification:
    """Per fold, the distance threshold best on the other folds, scored on that fold.

    ``cosine`` are the pairs' cosine similarities; the squared distance of unit embeddings is
    ``2 - 2 cos``, and a pair is called mated when it is below the threshold.
    """
    dist = 2.0 - 2.0 * np.asarray(cosine, dtype=np.float64)
    mated = np.asarray(mated, dtype=bool)
    predicted = dist[None, :] < THRESHOLDS[:, None]  # (thresholds, pairs)
    correct = predicted == mated[None, :]
    accuracies = []
    for k in np.unique(folds):
        test = folds == k
        best = int(np.argmax(correct[:, ~test].mean(axis=1)))  # first of equally good thresholds
        accuracies.append(float(correct[best, test].mean()))
    return Verification(float(np.mean(accuracies)), float(np.std(accuracies)), tuple(accuracies))
