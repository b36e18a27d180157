"""Batched face detection: images of any size in, boxes + 5 landmarks in original pixels out."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import nms

from aikd_cli.faces.retinaface import RetinaFace, decode, priors

if TYPE_CHECKING:
    from aikd_cli.models.onnx_model import OnnxRetinaFace


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


@dataclass
class DetectorInput:
    """An image resized and normalised for the detector (made in data-loader workers)."""

    tensor: torch.Tensor  # (3, h, w) float32, BGR minus the mean colour
    scale: float  # resized / original


def prepare_for_detection(image: torch.Tensor, max_size: int, mean_bgr=(104.0, 117.0, 123.0)) -> DetectorInput:
    """Shrink ``image`` (``(H, W, 3)`` uint8 RGB) so its longer side is at most ``max_size`` and
    normalise it the way RetinaFace was trained (BGR, mean subtracted, no scaling)."""
    chw = image.permute(2, 0, 1)  # a channels-last view: uint8 resizing takes torch's fast path
    height, width = chw.shape[-2:]
    scale = min(1.0, max_size / max(height, width))
    if scale < 1.0:
        size = [max(1, round(height * scale)), max(1, round(width * scale))]
        chw = F.interpolate(chw[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    bgr = chw.float().flip(0)
    mean = torch.tensor(mean_bgr, dtype=torch.float32)[:, None, None]
    return DetectorInput((bgr - mean).contiguous(), scale)


def pad_batch(prepared: list[DetectorInput], stride: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Stack prepared images top-left aligned into one ``(N, 3, H, W)`` batch, ``H`` and ``W``
    rounded up to the detector's largest stride."""
    height = max(p.tensor.shape[1] for p in prepared)
    width = max(p.tensor.shape[2] for p in prepared)
    height, width = -(-height // stride) * stride, -(-width // stride) * stride
    # zero padding equals the mean colour after normalisation: a neutral border
    batch = torch.zeros(len(prepared), 3, height, width, device=device)
    for i, p in enumerate(prepared):
        batch[i, :, : p.tensor.shape[1], : p.tensor.shape[2]] = p.tensor.to(device)
    return batch


class FaceDetector:
    """RetinaFace plus the post-processing that turns its outputs into :class:`Face` lists.

    ``model`` is the torch :class:`RetinaFace` or an ONNX export run by onnxruntime
    (:class:`~aikd_cli.models.onnx_model.OnnxRetinaFace`); :func:`load_detector` picks one.
    """

    def __init__(
        self,
        model: RetinaFace | OnnxRetinaFace,
        *,
        max_size: int = 640,
        score_threshold: float = 0.5,
        nms_threshold: float = 0.4,
        device: torch.device | str = "cpu",
    ) -> None:
        self.device = torch.device(device)
        self.model = model.eval().to(self.device) if isinstance(model, nn.Module) else model
        self.max_size = max_size
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self._priors: dict[tuple[int, int], torch.Tensor] = {}

    def prepare(self, image: torch.Tensor | np.ndarray) -> DetectorInput:
        if isinstance(image, np.ndarray):
            image = torch.from_numpy(np.ascontiguousarray(image))
        return prepare_for_detection(image, self.max_size, self.model.cfg.mean_bgr)

    def _anchors(self, height: int, width: int) -> torch.Tensor:
        key = (height, width)
        if key not in self._priors:
            self._priors[key] = priors(self.model.cfg, height, width).to(self.device)
        return self._priors[key]

    @torch.inference_mode()
    def detect(self, images: list[torch.Tensor | np.ndarray | DetectorInput]) -> list[list[Face]]:
        """Detect faces on a batch of images (``(H, W, 3)`` uint8 RGB, or prepared inputs)."""
        if not images:
            return []
        prepared = [im if isinstance(im, DetectorInput) else self.prepare(im) for im in images]
        batch = pad_batch(prepared, max(self.model.cfg.steps), self.device)
        height, width = batch.shape[-2:]
        loc, conf, landms = self.model(batch)
        loc, conf, landms = loc.to(self.device), conf.to(self.device), landms.to(self.device)
        scores = conf.float().softmax(dim=-1)[..., 1]
        boxes, points = decode(loc.float(), landms.float(), self._anchors(height, width), self.model.cfg.variances)
        size = torch.tensor([width, height], dtype=torch.float32, device=self.device)
        results = []
        for i, p in enumerate(prepared):
            keep = scores[i] > self.score_threshold
            b = boxes[i][keep] * size.repeat(2)
            s = scores[i][keep]
            pts = points[i][keep] * size
            order = nms(b, s, self.nms_threshold)
            b, s, pts = (b[order] / p.scale).cpu(), s[order].cpu(), (pts[order] / p.scale).cpu()
            results.append(
                [
                    Face(tuple(float(v) for v in b[j]), float(s[j]), pts[j].double().numpy())
                    for j in range(len(order))
                ]
            )
        return results


def load_detector(ref: str | os.PathLike, *, device: torch.device | str = "cpu", **options) -> FaceDetector:
    """A :class:`FaceDetector` for ``--detector``: a registry name, file, folder or ``hf://``.

    ``device`` is ``auto``, ``cpu``, ``cuda``... ``.onnx`` exports (``aikd export retinaface-mnet025
    -f onnx``) run through onnxruntime on ``device`` and are decoded in torch on the CPU; other
    weights load into the torch RetinaFace on ``device``.
    ``options`` are :class:`FaceDetector`'s (``max_size``, thresholds).
    """
    from aikd_cli.models.loading import load_network, resolve_weights
    from aikd_cli.utils.device import resolve_device

    resolved = resolve_weights(ref)
    if resolved.path.suffix == ".onnx":
        from aikd_cli.models.onnx_model import OnnxRetinaFace

        return FaceDetector(OnnxRetinaFace(resolved.path, device=device, source=str(ref)), device="cpu", **options)
    net = load_network(ref, expect="detection", resolved=resolved).net
    return FaceDetector(net, device=resolve_device(str(device)), **options)
