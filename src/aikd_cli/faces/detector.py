"""Face detection: images of any size in, boxes + 5 landmarks in original pixels out.

A photo's detections are a function of that photo alone. Each image is resized by a rule that
looks only at its own size (:func:`detector_size`) and is run at exactly that size, never padded
to its batch neighbours: padding is not neutral inside RetinaFace (BatchNorm shifts make the
padded border non-zero in the feature maps), so padded batches moved landmarks by several pixels
depending on which other photos were in the batch. Images that share a prepared size still run
as one batch, which covers the common case of a dataset of uniformly sized photos.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import nms

from aikd_cli.defaults import DEFAULT_DET_SIZE
from aikd_cli.models.preprocess import Preprocess, retinaface_preprocess
from aikd_cli.models.retinaface import RetinaFace, decode, priors

if TYPE_CHECKING:
    from aikd_cli.models.onnx_model import OnnxRetinaFace
    from aikd_cli.options import DetectionOptions


@dataclass(frozen=True)
class Face:
    """One detected face. ``landmarks`` are (left eye, right eye, nose, left mouth, right mouth),
    image-left first, in pixels of the (EXIF-upright) original image."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray  # (5, 2) float64

    @property
    def area(self) -> float:
        return max(self.box[2] - self.box[0], 0.0) * max(self.box[3] - self.box[1], 0.0)


def order_faces(faces: list[Face]) -> list[Face]:
    """The one face order every command uses: largest box first, ties by score, then position.

    Face index ``i`` in every CSV is position ``i`` here, so ``--faces largest`` is face 0 of
    ``--faces all`` and an index names the same face whichever option made it.
    """
    return sorted(faces, key=lambda f: (-round(f.area, 6), -f.score, f.box[0], f.box[1]))


FACE_CHOICES = ("largest", "central", "all")


def central_index(landmarks: list, height: int, width: int) -> int:
    """The position of the face whose landmark centroid is nearest the image centre (the first of
    equally near ones): the subject of a photo cropped around one person, as LFW's are."""
    centre = np.array([width / 2.0, height / 2.0])
    distances = [float(((np.asarray(lm, dtype=np.float64).reshape(-1, 2).mean(0) - centre) ** 2).sum())
                 for lm in landmarks]
    return int(np.argmin(distances))


def select_faces(faces: list[Face], which: str, shape: tuple[int, ...] = ()) -> list[tuple[int, Face]]:
    """``(index, face)`` of the faces ``which`` keeps, indices in :func:`order_faces` order:
    ``largest`` (face 0), ``central`` (the face nearest the centre of an image of ``shape``
    ``(H, W, ...)``) or ``all``."""
    ordered = order_faces(faces)
    if which == "all" or not ordered:
        return list(enumerate(ordered))
    if which == "central":
        k = central_index([f.landmarks for f in ordered], shape[0], shape[1])
        return [(k, ordered[k])]
    return [(0, ordered[0])]


def detector_size(height: int, width: int, max_size: int) -> tuple[int, int]:
    """The size an image is detected at: shrunk (never enlarged) so its longer side is at most
    ``max_size`` (``0``: original size), aspect ratio kept."""
    if max_size <= 0 or max(height, width) <= max_size:
        return height, width
    scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


@dataclass
class DetectorInput:
    """An image resized and normalised for the detector (made in data-loader workers)."""

    tensor: torch.Tensor  # (3, h, w) float32, colour order and mean of the detector
    scale_x: float  # resized width / original width
    scale_y: float  # resized height / original height


def prepare_for_detection(image: torch.Tensor, max_size: int, preprocess: Preprocess) -> DetectorInput:
    """Resize ``image`` (``(H, W, 3)`` uint8 RGB) to :func:`detector_size` (antialiased) and
    normalise it as the detector's record says (RetinaFace: BGR, mean subtracted, no scaling)."""
    chw = image.permute(2, 0, 1)  # a channels-last view: uint8 resizing takes torch's fast path
    height, width = chw.shape[-2:]
    size = detector_size(height, width, max_size)
    if size != (height, width):
        chw = F.interpolate(chw[None], size=list(size), mode="bilinear", antialias=True, align_corners=False)[0]
    return DetectorInput(preprocess(chw[None])[0].contiguous(), size[1] / width, size[0] / height)


class FaceDetector:
    """RetinaFace plus the post-processing that turns its outputs into :class:`Face` lists.

    ``model`` is the torch :class:`RetinaFace` or an ONNX export run by onnxruntime
    (:class:`~aikd_cli.models.onnx_model.OnnxRetinaFace`); :func:`load_detector` picks one.
    ``preprocess`` is the weights' input record (the registry's, or the checkpoint's); ``max_size``
    the detection resolution (longest side; 0 = original size; default: the record's).
    """

    def __init__(
        self,
        model: RetinaFace | OnnxRetinaFace,
        *,
        preprocess: Preprocess | None = None,
        max_size: int | None = None,
        score_threshold: float = 0.5,
        nms_threshold: float = 0.4,
        device: torch.device | str = "cpu",
    ) -> None:
        self.device = torch.device(device)
        self.model = model.eval().to(self.device) if isinstance(model, nn.Module) else model
        self.preprocess = preprocess or retinaface_preprocess()
        self.max_size = self.preprocess.max_side or DEFAULT_DET_SIZE if max_size is None else max_size
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self._priors: dict[tuple[int, int], torch.Tensor] = {}

    def prepare(self, image: torch.Tensor | np.ndarray) -> DetectorInput:
        if isinstance(image, np.ndarray):
            image = torch.from_numpy(np.ascontiguousarray(image))
        return prepare_for_detection(image, self.max_size, self.preprocess)

    def _anchors(self, height: int, width: int) -> torch.Tensor:
        key = (height, width)
        if key not in self._priors:
            self._priors[key] = priors(self.model.cfg, height, width).to(self.device)
        return self._priors[key]

    @torch.inference_mode()
    def detect(self, images: list[torch.Tensor | np.ndarray | DetectorInput]) -> list[list[Face]]:
        """Detect faces on images (``(H, W, 3)`` uint8 RGB, or prepared inputs), in input order.

        Images of the same prepared size run as one batch; every image is run at its own size.
        """
        prepared = [im if isinstance(im, DetectorInput) else self.prepare(im) for im in images]
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, p in enumerate(prepared):
            groups[tuple(p.tensor.shape[1:])].append(i)
        results: list[list[Face]] = [[] for _ in prepared]
        for (height, width), members in groups.items():
            batch = torch.stack([prepared[i].tensor for i in members]).to(self.device)
            for i, faces in zip(members, self._run(batch, height, width, [prepared[i] for i in members])):
                results[i] = faces
        return results

    def _run(self, batch: torch.Tensor, height: int, width: int, prepared: list[DetectorInput]) -> list[list[Face]]:
        loc, conf, landms = (t.to(self.device).float() for t in self.model(batch))
        scores = conf.softmax(dim=-1)[..., 1]
        boxes, points = decode(loc, landms, self._anchors(height, width), self.model.cfg.variances)
        size = torch.tensor([width, height], dtype=torch.float32, device=self.device)
        out = []
        for i, p in enumerate(prepared):
            keep = scores[i] > self.score_threshold
            b, s, pts = boxes[i][keep] * size.repeat(2), scores[i][keep], points[i][keep] * size
            order = nms(b, s, self.nms_threshold)
            to_original = torch.tensor([1 / p.scale_x, 1 / p.scale_y], dtype=torch.float64)
            b = b[order].cpu().double() * to_original.repeat(2)
            pts = pts[order].cpu().double() * to_original
            out.append([
                Face(tuple(float(v) for v in b[j]), float(s[order[j]]), pts[j].numpy()) for j in range(len(order))
            ])
        return out


def load_detector(ref: str | os.PathLike, *, device: torch.device | str = "cpu", **options) -> FaceDetector:
    """A :class:`FaceDetector` for ``--detector``: a registry name, file, folder or ``hf://``.

    ``device`` is ``auto``, ``cpu``, ``cuda``... ``.onnx`` exports (``aikd export retinaface-mnet025
    -f onnx``) run through onnxruntime on ``device``; other weights load into the torch RetinaFace
    on ``device``. ``options`` are :class:`FaceDetector`'s (``max_size``, thresholds).
    """
    from aikd_cli.models.loading import load_network, resolve_weights
    from aikd_cli.utils.device import resolve_device

    resolved = resolve_weights(ref)
    if resolved.path.suffix == ".onnx":
        from aikd_cli.models.onnx_model import OnnxRetinaFace

        onnx = OnnxRetinaFace(resolved.path, device=device, source=str(ref))
        return FaceDetector(onnx, preprocess=onnx.config.preprocess, device="cpu", **options)
    loaded = load_network(ref, expect="detection", resolved=resolved)
    return FaceDetector(loaded.net, preprocess=loaded.config.preprocess, device=resolve_device(str(device)), **options)


def open_detector(opts: DetectionOptions, device: torch.device | str | None = None) -> FaceDetector:
    """The detector the detection options of any command name (``--detector``, ``--det-size``,
    ``--det-threshold``), on ``device`` (default: ``--device``): the one way commands open it."""
    return load_detector(opts.detector, device=opts.device if device is None else device, max_size=opts.det_size,
                         score_threshold=opts.det_threshold)
