"""Per-sample model outputs for an evaluation: FR embeddings, and qualities from quality models on
clean and misaligned crops, computed in one pass over the images and cached on disk.

Each image is decoded once. Its face is aligned with, in this order: landmarks given by the user
(``--landmarks`` or a quality CSV's ``lm*`` columns), the ArcFace template when the images are
already aligned crops (``.bin`` files, ``--aligned``), or the largest face the detector finds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from aikd_cli.errors import AikdError, ImageError
from aikd_cli.faces.align import align_faces, template
from aikd_cli.models.inference import FaceModel
from aikd_cli.tasks.evaluate.cache import OutputCache, digest, file_identity
from aikd_cli.tasks.evaluate.protocols import BinImages, FileImages
from aikd_cli.tasks.evaluate.robustness import perturb_sample

Progress = Callable[[int, int], None]

MISSING = "image file missing"
NO_FACE = "no face found"


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
    cached: int = 0  # samples fully served from the cache


def model_fingerprint(ref: str, model: FaceModel) -> str:
    """What makes a model's outputs reproducible: its weights file and how it is run."""
    from aikd_cli.models.loading import resolve_weights

    weights = resolve_weights(ref).path
    dtype = getattr(model, "dtype", "")
    device = getattr(getattr(model, "device", None), "type", "")
    return digest(file_identity(weights), json.dumps(model.config.to_dict(), sort_keys=True), dtype, device)


def sample_identity(key: str, images: FileImages | BinImages) -> str | None:
    """Content identity of a sample for cache keys; ``None`` when its file is missing."""
    if isinstance(images, BinImages):
        return f"{file_identity(images.path)}#{key.rpartition('#')[2]}"
    try:
        return file_identity(key)
    except OSError:
        return None


class _Decoder(torch.utils.data.Dataset):
    """Decodes images in data-loader workers; failures travel back as reasons, not exceptions."""

    def __init__(self, keys: list[str], indices: list[int], images: FileImages | BinImages) -> None:
        self.keys, self.indices, self.images = keys, indices, images

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        index = self.indices[i]
        try:
            image = self.images.read(self.keys[index])
        except ImageError as exc:
            return index, None, exc.reason
        return index, image if image.flags.writeable else image.copy(), None  # torch wants writable arrays


def run_models(
    keys: list[str],
    images: FileImages | BinImages,
    jobs: list[ModelJob],
    *,
    landmarks: dict[str, np.ndarray] | None = None,
    detector: Callable[[], object] | None = None,
    detector_id: str = "",
    misalign_unit: str = "px",
    seed: int = 0,
    batch_size: int = 64,
    workers: int = 0,
    cache_root: Path | None = None,
    progress: Progress | None = None,
) -> PassResult:
    """Run ``jobs`` on the faces of ``keys``; rows of samples that fail are NaN.

    ``detector`` is called (once, lazily) to build a :class:`~aikd_cli.faces.detector.FaceDetector`
    when a sample has no landmarks and the images are not aligned crops.
    """
    landmarks = landmarks or {}
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
        loader = torch.utils.data.DataLoader(
            _Decoder(keys, todo, images), batch_size=batch_size, num_workers=workers, collate_fn=list
        )
        find = _FaceFinder(detector)
        for batch in loader:
            faces = find(batch, keys, images, landmarks, result)
            _run_batch(faces, keys, slots, rows, caches, cache_keys, misalign_unit, seed)
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


def _cache_key(key: str, images: FileImages | BinImages, landmarks: dict, detector_id: str) -> str | None:
    """The sample's content and the landmarks its crop comes from (``None``: the file is missing)."""
    ident = sample_identity(key, images)
    if ident is None:
        return None
    if key in landmarks:
        source = "lm:" + ",".join(f"{v:.2f}" for v in np.asarray(landmarks[key]).reshape(-1))
    else:
        source = "aligned" if images.aligned else f"detect:{detector_id}"
    return digest(ident, source)


class _FaceFinder:
    """Landmarks for each decoded image: given, the template of an aligned crop, or detected
    (the largest face); images that fail are recorded in the result and left out."""

    def __init__(self, detector: Callable[[], object] | None) -> None:
        self.build = detector
        self.detector = None

    def __call__(self, batch, keys, images, landmarks, result: PassResult) -> list:
        decoded = []
        for index, image, reason in batch:
            if image is None:
                result.failures[index] = reason or "unreadable image"
            else:
                decoded.append((index, image))
        found: dict[int, np.ndarray] = {}
        need = [(i, im) for i, im in decoded if keys[i] not in landmarks and not images.aligned]
        if need:
            self.detector = self.detector or self.build()
            for (i, _), faces in zip(need, self.detector.detect([im for _, im in need]), strict=True):
                if faces:
                    found[i] = max(faces, key=lambda f: f.area).landmarks
                else:
                    result.failures[i] = NO_FACE
            result.detected += len(found)
        faces = []
        for i, im in decoded:
            if keys[i] in landmarks:
                lm = np.asarray(landmarks[keys[i]], dtype=np.float64)
            elif images.aligned:
                lm = template(im.shape[1]).numpy()
            elif i in found:
                lm = found[i]
            else:
                continue
            faces.append((i, torch.from_numpy(im).permute(2, 0, 1), torch.from_numpy(lm)))
        return faces


def _run_batch(faces, keys, slots, rows, caches, cache_keys, unit, seed) -> None:
    """Crop every face once per (variant, crop size) and run each job on the faces it still needs."""
    crops: dict[tuple[float, int], list[torch.Tensor]] = {}
    for job, p in slots:
        todo = [k for k, (i, _, _) in enumerate(faces) if rows[job.label, p][i] is None]
        if not todo:
            continue
        size = job.model.config.preprocess.size
        if (p, size) not in crops:
            crops[p, size] = [
                align_faces(image, perturb_sample(lm, p, unit, seed, keys[i])[None], size)[0][0]
                for i, image, lm in faces
            ]
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
