"""The FR model's 10-fold verification accuracy (insightface's protocol) and where it shows up."""

from __future__ import annotations

import numpy as np

from aikd_cli.tasks.evaluate.protocols.base import contiguous_folds
from aikd_cli.tasks.evaluate.protocols.pairs import read_pairs_txt
from aikd_cli.tasks.evaluate.verification import THRESHOLDS, ten_fold


def _reference(cosine, mated, folds):
    """insightface's calculate_roc, written out with loops: distances 2 - 2 cos, thresholds
    0..4 step 0.01, per fold the first best threshold on the other folds."""
    dist = 2 - 2 * np.asarray(cosine, dtype=np.float64)
    accs = []
    for k in sorted(set(folds.tolist())):
        train = [i for i in range(len(dist)) if folds[i] != k]
        test = [i for i in range(len(dist)) if folds[i] == k]
        best, best_acc = None, -1.0
        for t in THRESHOLDS:
            acc = np.mean([(dist[i] < t) == mated[i] for i in train])
            if acc > best_acc:
                best, best_acc = t, acc
        accs.append(np.mean([(dist[i] < best) == mated[i] for i in test]))
    return float(np.mean(accs)), float(np.std(accs))


def test_ten_fold_matches_insightface_protocol():
    rng = np.random.default_rng(0)
    mated = np.tile(np.repeat([True, False], 30), 10)
    cosine = np.where(mated, rng.normal(0.6, 0.15, mated.size), rng.normal(0.1, 0.15, mated.size))
    folds = contiguous_folds(len(mated))
    result = ten_fold(cosine, mated, folds)
    mean, std = _reference(cosine, mated, folds)
    assert result.mean == mean and result.std == std
    assert 0.9 < result.mean < 1.0 and len(result.folds) == 10
    # a model whose scores carry no identity information is at chance
    assert ten_fold(rng.normal(0, 1, mated.size), mated, folds).mean < 0.65


def test_contiguous_folds_are_kfold_blocks():
    folds = contiguous_folds(23, 10)
    assert folds.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2] + [k for k in range(3, 10) for _ in range(2)]


def test_lfw_pairs_txt_carries_its_folds(tmp_path):
    lines = ["2\t2", "A\t1\t2", "B\t1\t2", "A\t1\tB\t1", "A\t2\tB\t2"] * 1
    lines += ["C\t1\t2", "D\t1\t2", "C\t1\tD\t1", "C\t2\tD\t2"]
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    protocol = read_pairs_txt(tmp_path / "pairs.txt", tmp_path)
    assert protocol.folds.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert protocol.subset(np.array([True, False] * 4)).folds.tolist() == [0, 0, 1, 1]
