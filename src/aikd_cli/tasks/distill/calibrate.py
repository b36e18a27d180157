"""The units a run trains the quality head in: a typical embedding norm and the label mean and spread.

A fresh MLP head on a raw FR embedding (norm ~18 for the kit's MobileFaceNet) regressing CR labels
(mean 0.64, std 0.05) starts ~0.7 off the labels; its first gradients are ~40x those of the
embedding term on the backbone tensors both share, and AdamW's steps move its output far more than
the labels' resolution, so it ends worse than predicting the label mean (docs/distill.md,
benchmarks/aikd_diagnose.py). Measuring these scales once, before training, lets the head start at
the label mean with unit-scale inputs and lets the quality loss be taken in label standard deviations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader

from aikd_cli.errors import InputFormatError
from aikd_cli.tasks.distill.data import FaceViews, batch_views, collate_views
from aikd_cli.tasks.distill.samples import FaceRecord
from aikd_cli.tasks.distill.teacher import Teacher

#: Faces the teacher embeds to measure the embedding norm (and qualities, without labels).
SAMPLE = 256


@dataclass(frozen=True)
class Calibration:
    embedding_norm: float  # median teacher embedding norm
    label_mean: float
    label_std: float
    faces: int  # faces the label statistics come from
    source: str  # "labels" or "teacher qualities"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def calibrate(
    teacher: Teacher,
    faces: list[FaceRecord],
    *,
    seed: int,
    device: torch.device,
    dtype: torch.dtype,
    batch_size: int,
    workers: int,
) -> Calibration:
    """Median teacher embedding norm over a seeded sample of training faces, and the mean and
    standard deviation of the training targets (the labels when every face has one, else the
    teacher's quality on the sample). The same faces give the same numbers, so a resumed run agrees."""
    order = torch.randperm(len(faces), generator=torch.Generator().manual_seed(seed))[:SAMPLE].tolist()
    views = FaceViews(faces, perturb=0.0, size=teacher.config.preprocess.crop_size, warp_in_workers=True)
    loader = DataLoader(
        [(0, i) for i in sorted(order)],
        batch_size=batch_size,
        num_workers=min(workers, 2),
        collate_fn=lambda keys: collate_views([views[k] for k in keys]),
    )
    norms, qualities, bad = [], [], []
    for batch in loader:
        bad += batch["bad"]
        if not len(batch["index"]):
            continue
        clean, _ = batch_views(batch, device, views.size)
        emb, q = teacher(clean, dtype)
        norms.append(emb.float().norm(dim=1).cpu())
        if q is not None:
            qualities.append(q.float().cpu())
    if not norms:
        why = f" ({bad[0][1]}: {faces[bad[0][0]].path}: {bad[0][2]})" if bad else ""
        raise InputFormatError(f"none of the sampled training faces could be read to calibrate the head{why}")
    labels = np.array([f.label for f in faces], dtype=np.float64)
    if np.isfinite(labels).all():
        values, source = labels, "labels"
    else:
        values, source = (
            torch.cat(qualities).double().numpy() if qualities else labels[np.isfinite(labels)],
            "teacher qualities",
        )
    std = float(values.std()) if len(values) > 1 else 0.0
    if not math.isfinite(std) or std <= 1e-12:
        std = 1.0  # constant targets: nothing to standardise
    return Calibration(float(torch.cat(norms).median()), float(values.mean()), std, int(len(values)), source)
