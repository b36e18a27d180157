"""Per-sample model outputs for an evaluation: FR embeddings, and qualities from quality models on
clean and misaligned crops, computed in one pass over the images and cached on disk.

Each image is decoded once and goes through the face pipeline every command shares
(:mod:`aikd_cli.faces.pipeline`): its face is aligned with landmarks given by the user
(``--landmarks`` or a quality CSV's ``lm*`` columns, unless the image changed since), the ArcFace
template when the images are already aligned crops (``.bin`` files, ``--aligned``), or the largest
face the detector finds; misaligned variants use the same per-face noise as ``align --perturb``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from aikd_cli.errors import AikdError
from aikd_cli.faces.detector import FaceDetector
from aikd_cli.faces.landmarks import LandmarkTable
from aikd_cli.faces.pipeline import (
    DETECTED,
    FROM_FILE,
    MISALIGN_STREAM,
    FaceFinder,
    ImageFaces,
    crop_faces,
    iter_found,
)
from aikd_cli.models.inference import FaceModel
from aikd_cli.tasks.evaluate.cache import OutputCache, digest, file_identity
from aikd_cli.tasks.evaluate.protocols import BinImages, FileImages

Progress = Callable[[int, int], None]

MISSING = "image file missing"


@dataclass
class ModelJob:
    """A model to run over the samples: ``kind`` "embedding" keeps the embedding, "quality" the
    quality output; ``variants`` are the misalignments ``p`` to run it on (0 = clean)."""

    label: str
    model: FaceModel
    fingerprint: str
    kind: str
    variants: tuple[float, ...] = (0.0,)


@dataclass
class PassResult:
    outputs: dict[tuple[str, float], np.ndarray] = field(default_factory=dict)  # (label, p) -> (n, D)
    failures: dict[int, str] = field(default_factory=dict)  # sample index -> reason
    detected: int = 0  # samples aligned from detector landmarks
    from_file: int = 0  # samples aligned from given landmarks
    cached: int = 0  # samples fully served from the cache


def model_fingerprint(ref: str, model: FaceModel) -> str:
    """What makes a model's outputs reproducible: its weights file and how it is run."""
    from aikd_cli.models.loading import resolve_weights

    weights = resolve_weights(ref).path
    dtype = getattr(model, "dtype", "")
    device = model.device.type
    return digest(file_identity(weights), json.dumps(model.config.to_dict(), sort_keys=True), dtype, device)


def sample_identity(key: str, images: FileImages | BinImages) -> str | None:
    """Content identity of a sample for cache keys; ``None`` when its file is missing."""
    if isinstance(images, BinImages):
        return f"{file_identity(images.path)}#{key.rpartition('#')[2]}"
    try:
        return file_identity(key)
    except OSError:
        return None


def run_models(
    keys: list[str],
    images: FileImages | BinImages,
    jobs: list[ModelJob],
    *,
    landmarks: LandmarkTable | None = None,
    detector: FaceDetector | Callable[[], FaceDetector] | None = None,
    detector_id: str = "",
    misalign_unit: str = "px",
    seed: int = 0,
    batch_size: int = 64,
    workers: int = 0,
    cache_root: Path | None = None,
    progress: Progress | None = None,
) -> PassResult:
    """Run ``jobs`` on the faces of ``keys``; rows of samples that fail are NaN.

    Samples without (current) landmarks are detected when a ``detector`` is given; without one
    they fail with the pipeline's reason.
    """
    n = len(keys)
    result = PassResult()
    slots = [(job, p) for job in jobs for p in job.variants]
    caches = {(job.label, p): _open_cache(cache_root, job, p, misalign_unit, seed) for job, p in slots}
    cache_keys = [_cache_key(key, images, landmarks, detector_id) for key in keys]
    rows: dict[tuple[str, float], list[np.ndarray | None]] = {s: [None] * n for s in caches}
    todo = []
    for i, ck in enumerate(cache_keys):
        if ck is None:
            result.failures[i] = MISSING
            continue
        for slot, cache in caches.items():
            rows[slot][i] = cache.get(ck) if cache is not None else None
        if any(rows[slot][i] is None for slot in caches):
            todo.append(i)
        else:
            result.cached += 1
    if progress:
        progress(n - len(todo), n)
    if todo and slots:
        size = max(job.model.config.preprocess.crop_size for job in jobs)
        mode = "aligned" if images.aligned else "detect" if detector is not None else "landmarks"
        finder = FaceFinder(mode, detector=detector, table=landmarks, size=size)
        hashed = isinstance(images, FileImages) and landmarks is not None and landmarks.has_digests
        batches = iter_found([keys[i] for i in todo], finder.find, finder.worker_transform(), batch_size, workers,
                             reader=images.read, digest=hashed)
        start = 0
        for batch in batches:
            indices = todo[start : start + len(batch)]
            start += len(batch)
            faces = []
            for i, img in zip(indices, batch, strict=True):
                if img.usable:
                    faces.append((i, img))
                    result.detected += img.usable[0].origin == DETECTED
                    result.from_file += img.usable[0].origin == FROM_FILE
                else:
                    result.failures[i] = img.message or img.status
            _run_batch(faces, slots, rows, caches, cache_keys, misalign_unit, seed)
            if progress:
                progress(len(batch), n)
    for cache in caches.values():
        if cache is not None:
            cache.flush()
    for slot, values in rows.items():
        width = next((len(v) for v in values if v is not None), 1)
        out = np.full((n, width), np.nan, dtype=np.float32)
        for i, v in enumerate(values):
            if v is not None and i not in result.failures:
                out[i] = v
        result.outputs[slot] = out
    return result


def _open_cache(root: Path | None, job: ModelJob, p: float, unit: str, seed: int) -> OutputCache | None:
    if root is None:
        return None
    variant = "clean" if p == 0 else f"misalign p={p:g} {unit} seed={seed}"
    description = {"model": job.label, "kind": job.kind, "variant": variant}
    return OutputCache.open(root, job.fingerprint, job.kind, variant, description=description)


def _cache_key(key: str, images: FileImages | BinImages, landmarks: LandmarkTable | None, detector_id: str) -> str | None:
    """The sample's content and the landmarks its crop comes from (``None``: the file is missing)."""
    ident = sample_identity(key, images)
    if ident is None:
        return None
    if landmarks is not None and key in landmarks:
        values = np.asarray(landmarks[key][0][1]).reshape(-1)
        source = "lm:" + ",".join(f"{v:.2f}" for v in values) + f":{landmarks.digest(key) or ''}"
    else:
        source = "aligned" if images.aligned else f"detect:{detector_id}"
    return digest(ident, source)


def _run_batch(faces: list[tuple[int, ImageFaces]], slots, rows, caches, cache_keys, unit: str, seed: int) -> None:
    """Crop every face once per (variant, crop size) and run each job on the faces it still needs."""
    crops: dict[tuple[float, int], list[torch.Tensor | None]] = {}
    for job, p in slots:
        todo = [k for k, (i, _) in enumerate(faces) if rows[job.label, p][i] is None]
        if not todo:
            continue
        size = job.model.config.preprocess.crop_size
        if (p, size) not in crops:
            crops[p, size] = [
                crop_faces(img.image, img.usable[:1], size, path=img.path, perturb=p, unit=unit, seed=seed,
                           stream=MISALIGN_STREAM)[0].crop
                for _, img in faces
            ]
        todo = [k for k in todo if crops[p, size][k] is not None]
        if not todo:
            continue
        out = job.model(torch.stack([crops[p, size][k] for k in todo]))
        values = out.embedding if job.kind == "embedding" else out.quality
        if values is None:
            raise AikdError(
                f"{job.label}: has no quality output; pass a quality model (or use it as --fr-model)"
            )
        values = values.reshape(len(todo), -1).numpy()
        for k, row in zip(todo, values, strict=True):
            i = faces[k][0]
            rows[job.label, p][i] = row
            if caches[job.label, p] is not None:
                caches[job.label, p].put(cache_keys[i], row)
