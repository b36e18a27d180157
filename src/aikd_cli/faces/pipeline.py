"""From image files to aligned face crops, in batches: the part ``score`` and ``align`` share.

Decoding (and detector pre-processing) runs in worker processes; detection and alignment run
batched in the main process on the chosen device. Every image comes out as an :class:`ImageFaces`
with a status, so callers write one row per face, or one row saying why there is none.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from aikd_cli.defaults import DEFAULT_DETECTOR
from aikd_cli.faces.align import align_faces
from aikd_cli.faces.detector import Face, FaceDetector, load_detector, prepare_for_detection
from aikd_cli.faces.landmarks import quantise, read_landmarks
from aikd_cli.faces.perturb import perturb_landmarks
from aikd_cli.images.dataset import Decoded, ImageDataset, decode_loader

Mode = Literal["detect", "landmarks", "aligned"]
OK, NO_FACE, UNREADABLE, ERROR = "ok", "no_face", "unreadable", "error"


@dataclass
class FaceOptions:
    """How faces are found and batched; shared by ``score``, ``align`` and ``evaluate``."""

    detector: str = DEFAULT_DETECTOR
    aligned: bool = False
    landmarks: Path | None = None
    faces: Literal["largest", "all"] = "largest"
    det_size: int = 640
    det_threshold: float = 0.5
    device: str = "auto"
    batch_size: int = 64
    workers: int = 2
    resume: bool = False
    recursive: bool = True


@dataclass
class AlignedFace:
    index: int  # face number within the image
    crop: torch.Tensor  # (3, S, S) uint8 RGB, on the pipeline's device
    landmarks: np.ndarray | None  # (5, 2) landmarks the crop was warped from (None for --aligned)
    matrix: np.ndarray | None  # (2, 3) forward transform original -> crop
    detection: Face | None = None


@dataclass
class ImageFaces:
    path: str
    status: str = OK
    message: str = ""
    faces: list[AlignedFace] = field(default_factory=list)


@dataclass
class FaceSource:
    """How faces are found: detected, read from a landmark file, or taken as pre-aligned crops.

    ``perturb`` > 0 moves each landmark by U[-p, p] (pixels, or a fraction of the inter-ocular
    distance when ``relative``) before warping, with noise seeded per (seed, path, face) so reruns
    and resumed runs reproduce the same crops.
    """

    mode: Mode = "detect"
    detector: FaceDetector | None = None
    landmarks: dict[str, list[tuple[int, np.ndarray]]] | None = None
    landmarks_file: str = ""
    faces: Literal["largest", "all"] = "largest"
    size: int = 112
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    perturb: float = 0.0
    relative: bool = False
    seed: int = 0

    def worker_transform(self):
        return _Prepare(self.mode, self.detector.max_size if self.detector else 0, self.size)

    def process(self, batch: Sequence[Decoded]) -> list[ImageFaces]:
        results = []
        ok = [d for d in batch if not d.failed]
        detections = iter(self.detector.detect([d.extra for d in ok])) if self.mode == "detect" and ok else None
        for d in batch:
            if d.failed:
                results.append(ImageFaces(d.path, d.status, d.reason))
            elif self.mode == "aligned":
                results.append(ImageFaces(d.path, faces=[AlignedFace(0, d.extra.to(self.device), None, None)]))
            else:
                results.append(self._align(d, next(detections) if detections else None))
        return results

    def _align(self, d: Decoded, detected: list[Face] | None) -> ImageFaces:
        if detected is not None:
            found = _select(detected, self.faces)
            marks = [f.landmarks for f in found]
        else:
            entries = sorted(self.landmarks.get(os.path.normpath(os.path.abspath(d.path)), []), key=lambda e: e[0])
            if self.faces == "largest":
                entries = entries[:1]
            found = [None] * len(entries)
            marks = [lm for _, lm in entries]
        if not marks:
            why = "no face detected" if detected is not None else f"no landmarks for this image in {self.landmarks_file}"
            return ImageFaces(d.path, NO_FACE, why)
        points = torch.as_tensor(np.stack(marks))
        if self.perturb > 0:
            points = torch.stack([
                perturb_landmarks(p, self.perturb, _generator(self.seed, d.path, j), relative=self.relative)
                for j, p in enumerate(points)
            ])
        points = quantise(points)
        image = d.image.permute(2, 0, 1).to(self.device)
        crops, matrices = align_faces(image, points, self.size)
        faces = [
            AlignedFace(j, crops[j], points[j].numpy(), matrices[j].numpy(), found[j]) for j in range(len(marks))
        ]
        return ImageFaces(d.path, faces=faces)


def make_face_source(opts: FaceOptions, size: int, device: torch.device,
                     detector: FaceDetector | None = None) -> FaceSource:
    """The :class:`FaceSource` that ``--aligned`` / ``--landmarks`` / detection options describe."""
    if opts.aligned:
        return FaceSource("aligned", size=size, device=device)
    if opts.landmarks:
        return FaceSource("landmarks", landmarks=read_landmarks(opts.landmarks), landmarks_file=str(opts.landmarks),
                          faces=opts.faces, size=size, device=device)
    detector = detector or load_detector(opts.detector, device=device, max_size=opts.det_size,
                                         score_threshold=opts.det_threshold)
    return FaceSource("detect", detector=detector, faces=opts.faces, size=size, device=device)


def _generator(seed: int, path: str, face: int) -> torch.Generator:
    key = zlib.crc32(os.path.abspath(path).encode()) ^ (face * 0x9E3779B1)
    return torch.Generator().manual_seed((seed * 1_000_003 + key) & 0x7FFF_FFFF_FFFF_FFFF)


def _select(faces: list[Face], which: str) -> list[Face]:
    if which == "largest" and faces:
        return [max(faces, key=lambda f: f.area)]
    return sorted(faces, key=lambda f: -f.score)


class _Prepare:
    """Worker-side work: the detector input, or the model-sized crop for pre-aligned inputs."""

    def __init__(self, mode: str, det_size: int, crop_size: int) -> None:
        self.mode, self.det_size, self.crop_size = mode, det_size, crop_size

    def __call__(self, image: torch.Tensor):
        if self.mode == "detect":
            return prepare_for_detection(image, self.det_size)
        if self.mode == "aligned":
            chw = image.permute(2, 0, 1)
            if chw.shape[1:] != (self.crop_size, self.crop_size):
                chw = F.interpolate(chw[None].float(), size=(self.crop_size,) * 2, mode="bilinear",
                                    antialias=True, align_corners=False)[0].round().clamp(0, 255).to(torch.uint8)
            return chw.contiguous()
        return None


def iter_faces(paths: Sequence[str], source: FaceSource, batch_size: int, workers: int) -> Iterator[list[ImageFaces]]:
    """Batches of :class:`ImageFaces`, in input order."""
    loader = decode_loader(ImageDataset(paths, source.worker_transform()), batch_size, workers)
    for batch in loader:
        yield source.process(batch)

