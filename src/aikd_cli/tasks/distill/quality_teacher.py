"""A FIQA model as the quality teacher beside an FR backbone as the embedding teacher.

AI-KD distils *any* quality technique: the embedding teacher ``e_i`` is an FR backbone, the quality
``q_i`` may come from another model entirely (LightQNet, eDifFIQA(T), an ONNX graph with a declared
input spec). ``aikd distill DATA --teacher QUALITY_MODEL --backbone FR_MODEL`` scores every
training and validation face once, on its correctly aligned crop cut as that model wants it (its
own size, template and colour order), and trains on those labels, as with ``--labels``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from aikd_cli.errors import ImageError
from aikd_cli.faces.pipeline import FROM_FILE, AlignedFace, check_faces, crop_faces
from aikd_cli.images.decode import load_image
from aikd_cli.tasks.distill.samples import FaceRecord


def label_with_model(records: list[FaceRecord], model, *, batch_size: int,
                     progress: Callable[[int, int], None] | None = None) -> list[FaceRecord]:
    """``records`` with ``label`` = ``model``'s quality of each aligned face (NaN where the image
    cannot be read or the face not aligned: such faces are then skipped as unlabelled)."""
    size = model.config.preprocess.crop_size
    out: list[FaceRecord] = []
    for start in range(0, len(records), batch_size):
        chunk = records[start : start + batch_size]
        crops, where = [], []
        for k, record in enumerate(chunk):
            crop = _clean_crop(record, size)
            if crop is not None:
                crops.append(crop)
                where.append(k)
        labels = np.full(len(chunk), math.nan)
        if crops:
            labels[where] = model(torch.stack(crops)).quality.numpy()
        out += [replace(r, label=float(q)) for r, q in zip(chunk, labels, strict=True)]
        if progress:
            progress(len(out), len(records))
    return out


def _clean_crop(record: FaceRecord, size: int) -> torch.Tensor | None:
    if record.landmarks is None:
        return None
    try:
        image = torch.from_numpy(load_image(record.path))
    except ImageError:
        return None
    face = AlignedFace(record.face, np.asarray(record.landmarks, dtype=np.float64), FROM_FILE)
    check_faces([face], *image.shape[:2])
    if face.problem is not None:
        return None
    return crop_faces(image, [face], size, path=record.path)[0].crop
