"""From images to aligned face crops: the one path every command takes.

``score``, ``align``, ``evaluate``, ``label``, ``distill`` and ``report`` find and align faces
here, so a photo gives the same landmarks and the same crop whichever command runs it:

1. decoding (and the detector's resizing) runs in data-loader workers (:func:`iter_faces`);
2. :class:`FaceFinder` decides where each image's landmarks come from -- a landmark CSV
   (checked against the image's hash), the detector, or the template of a pre-aligned crop --
   with one face order (:func:`~aikd_cli.faces.detector.order_faces`), one landmark rounding and
   one geometry check;
3. :func:`crop_faces` warps them, optionally misaligned with the one noise derivation
   (:func:`~aikd_cli.faces.perturb.perturb_face`).

Every image comes out as an :class:`ImageFaces` with a status, so callers write one row per face,
or one row saying why there is none.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
import torch.nn.functional as F

from aikd_cli.faces.align import align_faces, landmark_problem, template
from aikd_cli.faces.detector import (
    Face,
    FaceDetector,
    central_index,
    open_detector,
    prepare_for_detection,
    select_faces,
)
from aikd_cli.faces.landmarks import LandmarkTable, quantise, read_landmarks
from aikd_cli.faces.perturb import face_key, perturb_face
from aikd_cli.images.dataset import Decoded, ImageDataset, decode_loader
from aikd_cli.images.decode import load_image

if TYPE_CHECKING:
    from aikd_cli.options import FaceOptions

Mode = Literal["detect", "landmarks", "aligned"]
OK, NO_FACE, UNREADABLE, ERROR, BAD_LANDMARKS = "ok", "no_face", "unreadable", "error", "bad_landmarks"
#: Where a face's landmarks came from.
DETECTED, FROM_FILE, TEMPLATE = "detected", "file", "template"
#: The noise stream of misaligned views (align, score --perturb-samples, evaluate --perturb): draw
#: ``--seed s`` of a face is the same in every command (score's sample k is draw ``s + k``).
MISALIGN_STREAM = "misalign"


@dataclass
class AlignedFace:
    """One face of an image: its landmarks, where they came from, and (once aligned) its crop."""

    index: int  # face number within the image (0 = the largest detected face)
    landmarks: np.ndarray  # (5, 2) float64 the crop is warped from (perturbed ones when misaligned)
    origin: str = DETECTED  # DETECTED | FROM_FILE | TEMPLATE
    detection: Face | None = None
    problem: str | None = None  # why this face cannot be aligned (status bad_landmarks)
    crop: torch.Tensor | None = None  # (3, S, S) uint8 RGB, on the pipeline's device
    matrix: np.ndarray | None = None  # (2, 3) forward transform original -> crop
    samples: list[torch.Tensor | None] = field(default_factory=list)  # misaligned crops (FaceSource.samples)

    @property
    def written_landmarks(self) -> np.ndarray | None:
        """Landmarks for CSVs: none for pre-aligned crops (nothing was located)."""
        return None if self.origin == TEMPLATE else self.landmarks


@dataclass
class ImageFaces:
    path: str
    status: str = OK
    message: str = ""
    faces: list[AlignedFace] = field(default_factory=list)
    sha256: str | None = None
    image: torch.Tensor | None = None  # (H, W, 3) uint8, kept until the faces are cropped

    @property
    def usable(self) -> list[AlignedFace]:
        return [f for f in self.faces if f.problem is None]


class _Prepare:
    """Worker-side work: the detector input, or the model-sized crop for pre-aligned inputs."""

    def __init__(self, mode: str, det_size: int, preprocess, crop_size: int) -> None:
        self.mode, self.det_size, self.preprocess, self.crop_size = mode, det_size, preprocess, crop_size

    def __call__(self, image: torch.Tensor):
        if self.mode == "aligned":
            chw = image.permute(2, 0, 1)
            if chw.shape[1:] != (self.crop_size, self.crop_size):
                chw = F.interpolate(chw[None].float(), size=(self.crop_size,) * 2, mode="bilinear",
                                    antialias=True, align_corners=False)[0].round().clamp(0, 255).to(torch.uint8)
            return chw.permute(1, 2, 0).contiguous()
        if self.det_size >= 0:
            return prepare_for_detection(image, self.det_size, self.preprocess)
        return None


@dataclass
class FaceFinder:
    """Where each image's landmarks come from -- one rule for every command.

    ``mode`` ``aligned``: the images are aligned crops (resized to ``size``); their landmarks are
    the template. Otherwise landmarks are looked up in ``table`` first (a landmark CSV; an entry
    whose recorded image hash differs from the file's is stale and never used), and detected when
    the image is not in the table (or stale) and there is a ``detector``. ``faces`` picks the
    largest face or all of them, in :func:`~aikd_cli.faces.detector.order_faces` order.
    """

    mode: Mode = "detect"
    detector: FaceDetector | Callable[[], FaceDetector] | None = None  # or a factory, called when first needed
    table: LandmarkTable | None = None
    faces: Literal["largest", "central", "all"] = "largest"
    size: int = 112

    @property
    def digest(self) -> bool:
        """Whether images need hashing: to check a table's entries, and to record in outputs."""
        return self.mode != "aligned"

    def worker_transform(self) -> _Prepare:
        """Workers prepare detector inputs when a detector is loaded (a factory not yet called
        means detection is not expected: the few images that need it are prepared on demand)."""
        det = self.detector if isinstance(self.detector, FaceDetector) else None
        return _Prepare(self.mode, det.max_size if det else -1, det.preprocess if det else None, self.size)

    def _loaded_detector(self) -> FaceDetector:
        if not isinstance(self.detector, FaceDetector):
            self.detector = self.detector()
        return self.detector

    def find(self, batch: Sequence[Decoded]) -> list[ImageFaces]:
        """Landmarks (no crops yet) for every decoded image, in order."""
        results = []
        pending: list[tuple[ImageFaces, Decoded]] = []
        for d in batch:
            if d.failed:
                results.append(ImageFaces(d.path, d.status, d.reason))
                continue
            img = ImageFaces(d.path, sha256=d.sha256, image=d.extra if self.mode == "aligned" else d.image)
            results.append(img)
            if self.mode == "aligned":
                img.faces = [AlignedFace(0, template(self.size).numpy(), TEMPLATE)]
            elif not self._from_table(img) and img.status == OK:
                if self.detector is None:
                    img.status, img.message = NO_FACE, f"no landmarks for this image in {self.table.source}"
                else:
                    pending.append((img, d))
        if pending:
            extras = [d.extra if d.extra is not None else d.image for _, d in pending]
            for (img, _), found in zip(pending, self._loaded_detector().detect(extras), strict=True):
                chosen = select_faces(found, self.faces, img.image.shape)
                img.faces = [AlignedFace(i, f.landmarks, DETECTED, f) for i, f in chosen]
                if not img.faces:
                    img.status, img.message = NO_FACE, "no face detected"
        for img in results:
            self._check(img)
        return results

    def _from_table(self, img: ImageFaces) -> bool:
        """Fill ``img`` from the table; False when the detector (if any) must find the faces."""
        if self.table is None:
            return False
        key = os.path.normpath(os.path.abspath(img.path))
        entries = self.table.get(key)
        if not entries:
            return False
        if self.table.is_stale(key, img.sha256):
            if self.detector is None:
                img.status = BAD_LANDMARKS
                img.message = f"the image changed since its landmarks were written to {self.table.source} (sha256 differs)"
            return False
        if self.faces == "central" and len(entries) > 1:
            chosen = [entries[central_index([lm for _, lm in entries], *img.image.shape[:2])]]
        else:
            chosen = entries[:1] if self.faces != "all" else entries
        img.faces = [AlignedFace(i, lm, FROM_FILE) for i, lm in chosen]
        return True

    def _check(self, img: ImageFaces) -> None:
        if img.image is None or not img.faces:
            return
        check_faces(img.faces, *img.image.shape[:2])
        if not img.usable:
            img.status, img.message = BAD_LANDMARKS, img.faces[0].problem


def check_faces(faces: Sequence[AlignedFace], height: int, width: int) -> None:
    """Round landmarks to the CSV precision and flag faces that cannot be aligned (in place)."""
    for f in faces:
        f.problem = landmark_problem(f.landmarks, height, width)
        if f.problem is None:
            f.landmarks = quantise(f.landmarks)


def misaligned(landmarks, p: float, *, unit: str, seed: int, stream: str | int, key: str, height: int,
               width: int) -> tuple[np.ndarray, str | None]:
    """One face's landmarks moved by draw ``stream`` of ``seed`` (``U[-p, p]`` per coordinate, in
    ``unit``) and rounded to the CSV precision, and why they cannot be aligned (``None``: they can).
    The one misalignment every command applies: align, score, evaluate and distill's training views."""
    moved = quantise(perturb_face(torch.as_tensor(np.asarray(landmarks)), p, unit=unit, seed=seed, stream=stream,
                                  key=key))
    return moved, landmark_problem(moved, height, width)


def crop_faces(
    image: torch.Tensor,
    faces: Sequence[AlignedFace],
    size: int,
    *,
    path: str,
    perturb: float = 0.0,
    unit: str = "px",
    seed: int = 0,
    stream: str | int = 0,
) -> list[AlignedFace]:
    """``faces`` of ``image`` (``(H, W, 3)`` uint8, any device) aligned to ``size`` crops.

    With ``perturb`` > 0 each face's landmarks get the noise of draw ``stream`` for that face
    (:func:`~aikd_cli.faces.perturb.perturb_face`); a face the noise pushes into bad geometry
    is returned with its ``problem`` set and no crop.
    """
    out = [replace(f, samples=list(f.samples)) for f in faces]
    good = [f for f in out if f.problem is None]
    if not good:
        return out
    height, width = image.shape[:2]
    if perturb > 0:
        for f in good:
            f.landmarks, f.problem = misaligned(f.landmarks, perturb, unit=unit, seed=seed, stream=stream,
                                                key=face_key(path, f.index), height=height, width=width)
        good = [f for f in good if f.problem is None]
        if not good:
            return out
    points = torch.as_tensor(np.stack([f.landmarks for f in good]))
    crops, matrices = align_faces(image.permute(2, 0, 1), points, size)
    for j, f in enumerate(good):
        f.crop, f.matrix = crops[j], matrices[j].numpy()
    return out


@dataclass
class FaceSource:
    """A :class:`FaceFinder` plus how its faces are cropped: ``size``, ``device`` and an optional
    misalignment (``perturb`` in ``unit``, draw ``stream`` of ``seed``), as ``align --perturb``
    and the AI-KD student see it. ``samples`` > 0 also cuts that many extra crops per face, each
    misaligned by ``sample_perturb`` with its own draw (``score --perturb-samples``)."""

    finder: FaceFinder
    size: int = 112
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    perturb: float = 0.0
    unit: str = "px"
    seed: int = 0
    stream: str | int = MISALIGN_STREAM
    samples: int = 0
    sample_perturb: float = 3.0

    def process(self, batch: Sequence[Decoded]) -> list[ImageFaces]:
        results = self.finder.find(batch)
        for img in results:
            if img.image is not None and img.usable:
                image = img.image.to(self.device)
                img.faces = crop_faces(image, img.faces, self.size, path=img.path, perturb=self.perturb,
                                       unit=self.unit, seed=self.seed, stream=self.stream)
                for k in range(1, self.samples + 1):
                    moved = crop_faces(image, img.faces, self.size, path=img.path, perturb=self.sample_perturb,
                                       unit=self.unit, seed=self.seed + k - 1, stream=self.stream)
                    for f, m in zip(img.faces, moved):
                        f.samples.append(m.crop)
                if not img.usable:
                    img.status, img.message = BAD_LANDMARKS, img.faces[0].problem
            img.image = None  # the decoded photo is not needed any more
        return results


def open_finder(
    opts: FaceOptions,
    size: int,
    device: torch.device,
    *,
    detector: FaceDetector | None = None,
    table: LandmarkTable | None = None,
    detect_missing: bool = False,
) -> FaceFinder:
    """The :class:`FaceFinder` that ``--aligned`` / ``--landmarks`` / detector options describe.

    With ``--landmarks`` only the file's landmarks are used unless ``detect_missing`` (evaluate,
    label, distill: images missing from the file, or changed since, are detected). With a table,
    the detector (unless given) is opened when the first image needs it, so a complete, fresh
    landmark file never needs the detector's weights.
    """
    if opts.aligned:
        return FaceFinder("aligned", size=size)
    if table is None and opts.landmarks:
        table = read_landmarks(opts.landmarks)
    if table is not None and not detect_missing:
        return FaceFinder("landmarks", table=table, faces=opts.faces, size=size)
    if detector is None:
        opening = functools.partial(open_detector, opts, device)
        return FaceFinder("detect", detector=opening if table is not None else opening(), table=table,
                          faces=opts.faces, size=size)
    return FaceFinder("detect", detector=detector, table=table, faces=opts.faces, size=size)


def make_face_source(opts: FaceOptions, size: int, device: torch.device,
                     detector: FaceDetector | None = None, **crop) -> FaceSource:
    """The :class:`FaceSource` for ``opts``; ``crop`` sets misalignment (``perturb``, ``unit``, ``seed``)."""
    return FaceSource(open_finder(opts, size, device, detector=detector), size=size, device=device, **crop)


def iter_found(
    paths: Sequence[str],
    step: Callable[[Sequence[Decoded]], list[ImageFaces]],
    transform: _Prepare,
    batch_size: int,
    workers: int,
    *,
    reader: Callable[[str], np.ndarray] = load_image,
    digest: bool = True,
) -> Iterator[list[ImageFaces]]:
    """Batches of ``step(decoded batch)``, in input order."""
    dataset = ImageDataset(paths, transform, reader=reader, digest=digest)
    for batch in decode_loader(dataset, batch_size, workers):
        yield step(batch)


def iter_faces(paths: Sequence[str], source: FaceSource, batch_size: int, workers: int) -> Iterator[list[ImageFaces]]:
    """Batches of aligned :class:`ImageFaces`, in input order."""
    yield from iter_found(paths, source.process, source.finder.worker_transform(), batch_size, workers,
                          digest=source.finder.digest)
