"""The training data path: decode on CPU workers, warp the two views (aligned and misaligned) in batches.

Each face is drawn with fresh landmark noise ``k + U[-p, p]``, moved and rounded by the face
pipeline every command uses (:func:`~aikd_cli.faces.pipeline.misaligned`), for the face's key and
a stream naming the split and the epoch: it is new every time the face is drawn again (a new epoch),
never accumulates (the clean landmarks are never modified), and is the same whichever process,
worker or resumed run draws it, which is what makes runs reproducible and resumable.

Workers decode the image and cut out the small region both views need (a 24-megapixel photo is
never sent whole); the warps then run either batched on the training device (``warp_on="device"``,
the fast path on GPUs) or per image in the workers (``"workers"``, the better choice on CPU-only
machines, where the main process is busy with the model).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler

from aikd_cli.errors import ImageError
from aikd_cli.faces.align import estimate_similarity, landmark_problem, source_region, template, warp_affine
from aikd_cli.faces.landmarks import quantise
from aikd_cli.faces.perturb import face_key
from aikd_cli.faces.pipeline import misaligned
from aikd_cli.images.decode import load_image
from aikd_cli.tasks.distill.samples import FaceRecord

TRAIN_STREAM, VAL_STREAM = 0, 1


def draw_stream(split: int, epoch: int) -> str:
    """The noise stream of one draw: the split and the epoch name it (a new draw every epoch)."""
    return f"{split}:{epoch}"


def crop_region(
    image: np.ndarray, matrices: torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The part of ``image`` (HxWx3) that crops warped with ``matrices`` can touch (the engine's
    :func:`~aikd_cli.faces.align.source_region`), as a CHW tensor, and the matrices shifted to it.
    ``None`` when the crops lie wholly outside the image."""
    x0, y0, x1, y1 = source_region(matrices.numpy(), size, *image.shape[:2])
    if x1 <= x0 or y1 <= y0:
        return None
    shifted = matrices.clone()
    shifted[..., 2] += shifted[..., 0] * x0 + shifted[..., 1] * y0
    roi = torch.from_numpy(np.ascontiguousarray(image[y0:y1, x0:x1])).permute(2, 0, 1).contiguous()
    return roi, shifted


class FaceViews(Dataset):
    """Items are ``(epoch, index)`` keys; each gives one face ready for the two warps, or the reason
    it cannot be used (a bad file never raises in a worker)."""

    def __init__(
        self,
        faces: Sequence[FaceRecord],
        *,
        perturb: float,
        unit: str = "px",
        size: int = 112,
        seed: int = 0,
        stream: int = TRAIN_STREAM,
        warp_in_workers: bool = False,
    ) -> None:
        self.faces = list(faces)
        self.perturb = perturb
        self.unit = unit
        self.size = size
        self.seed = seed
        self.stream = stream
        self.warp_in_workers = warp_in_workers

    def __len__(self) -> int:
        return len(self.faces)

    def __getitem__(self, key: tuple[int, int] | int) -> dict:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        face = self.faces[index]
        item: dict = {"index": index, "label": face.label}
        try:
            image = load_image(face.path)
        except ImageError as exc:
            return {**item, "status": "unreadable", "error": exc.reason}
        problem = landmark_problem(face.landmarks, *image.shape[:2])
        if problem:
            return {**item, "status": "bad_landmarks", "error": problem}
        clean = quantise(face.landmarks)
        noisy, problem = misaligned(clean, self.perturb, unit=self.unit, seed=self.seed, stream=draw_stream(
            self.stream, epoch), key=face_key(face.path, face.face), height=image.shape[0], width=image.shape[1])
        if problem:
            return {**item, "status": "bad_landmarks", "error": f"misaligned: {problem}"}
        points = torch.from_numpy(np.stack([clean, noisy]))
        matrices = estimate_similarity(points, template(self.size))
        region = crop_region(image, matrices, self.size)
        if region is None:
            return {**item, "status": "bad_landmarks", "error": "landmarks put the face outside the image"}
        roi, shifted = region
        if self.warp_in_workers and self.perturb == 0:  # both views are the aligned face: warp once
            item["crops"] = warp_affine(roi[None], shifted[:1], self.size).repeat(2, 1, 1, 1)
        elif self.warp_in_workers:
            item["crops"] = warp_affine(roi[None].expand(2, -1, -1, -1), shifted, self.size)
        else:
            item["roi"], item["matrices"] = roi, shifted
        return item


def collate_views(items: list[dict]) -> dict:
    """Stack good items (zero-padding regions to a common size: the warp's border is black anyway)
    and list the bad ones as ``(index, status, reason)``."""
    good = [it for it in items if "error" not in it]
    batch: dict = {
        "bad": [(it["index"], it["status"], it["error"]) for it in items if "error" in it],
        "index": torch.tensor([it["index"] for it in good], dtype=torch.long),
        "label": torch.tensor([it["label"] for it in good], dtype=torch.float32),
    }
    if good and "crops" in good[0]:
        batch["crops"] = torch.stack([it["crops"] for it in good])
    elif good:
        height = max(it["roi"].shape[1] for it in good)
        width = max(it["roi"].shape[2] for it in good)
        rois = torch.zeros(len(good), 3, height, width, dtype=torch.uint8)
        for i, it in enumerate(good):
            rois[i, :, : it["roi"].shape[1], : it["roi"].shape[2]] = it["roi"]
        batch["rois"] = rois
        batch["matrices"] = torch.stack([it["matrices"] for it in good])
    return batch


def batch_views(batch: dict, device: torch.device, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The aligned and misaligned uint8 crops ``(N, 3, size, size)`` of a batch, on ``device``."""
    if "crops" in batch:
        crops = batch["crops"].to(device, non_blocking=True)
        return crops[:, 0], crops[:, 1]
    if "rois" not in batch:
        empty = torch.zeros(0, 3, size, size, dtype=torch.uint8, device=device)
        return empty, empty
    rois = batch["rois"].to(device, non_blocking=True)
    matrices = batch["matrices"].to(device, non_blocking=True)
    return warp_affine(rois, matrices[:, 0], size), warp_affine(rois, matrices[:, 1], size)


class EpochSampler(DistributedSampler):
    """``DistributedSampler`` that yields ``(epoch, index)`` keys and can start mid-epoch.

    The order depends only on ``(seed, epoch)`` and each process takes every ``num_replicas``-th
    index, so one process with batch ``B * N`` sees the same global batches as ``N`` processes
    with batch ``B``. ``start`` skips the samples of the steps already done (resume).
    """

    def __init__(
        self, size: int, *, num_replicas: int = 1, rank: int = 0, seed: int = 0, shuffle: bool = True
    ) -> None:
        super().__init__(
            range(size), num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=True
        )
        self.start = 0

    def set_position(self, epoch: int, start: int) -> None:
        self.set_epoch(epoch)
        self.start = start

    def __iter__(self) -> Iterator[tuple[int, int]]:
        indices = list(super().__iter__())[self.start :]
        return iter([(self.epoch, i) for i in indices])

    def __len__(self) -> int:
        return self.num_samples - self.start


#: Validation-set size bounds: fewer faces make its losses and rank correlations noise; more only cost time.
MIN_VAL_IMAGES, MAX_VAL_IMAGES = 64, 5000


def split_validation(
    faces: list[FaceRecord], fraction: float, seed: int
) -> tuple[list[FaceRecord], list[FaceRecord]]:
    """A seeded random ``fraction`` of the images for validation when fraction > 0: at least
    :data:`MIN_VAL_IMAGES` when that is no more than a tenth of them, at most :data:`MAX_VAL_IMAGES`.

    Faces of one image stay on the same side of the split.
    """
    if fraction <= 0 or len(faces) < 2:
        return faces, []
    paths = sorted({f.path for f in faces})
    order = torch.randperm(len(paths), generator=torch.Generator().manual_seed(seed)).tolist()
    wanted = max(math.floor(len(paths) * fraction + 0.5), min(MIN_VAL_IMAGES, len(paths) // 10))
    count = min(len(paths) - 1, max(1, min(MAX_VAL_IMAGES, wanted)))
    held = {paths[i] for i in order[:count]}
    return [f for f in faces if f.path not in held], [f for f in faces if f.path in held]
