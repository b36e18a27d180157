"""Architectures by name, and the small JSON-able record that rebuilds a model from weights (built by
:mod:`aikd_cli.models.build`; this module never imports torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from aikd_cli.errors import WeightsError, close_matches
from aikd_cli.models.preprocess import IMAGENET_NORM, Preprocess, retinaface_preprocess

#: iResNet depth -> residual blocks per stage (insightface arcface_torch).
DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 14, 3), 100: (3, 13, 30, 3), 200: (6, 26, 60, 6)}
BACKBONES = ("iresnet18", "iresnet34", "iresnet50", "iresnet100", "iresnet200", "mobilefacenet")
DETECTORS = ("retinaface-mnet025", "retinaface-r50")
#: Networks aikd runs as graphs only (onnxruntime), never builds in torch: any ONNX model a user
#: declares, converted MXNet / TensorFlow models, eDifFIQA(T)'s MobileFaceNet.
GRAPHS = ("external", "ediffiqa-mobilefacenet")
HEADS = ("mlp", "qs", "graph")


def default_preprocess(arch: str) -> Preprocess:
    """What a checkpoint of ``arch`` expects when it carries no metadata of its own."""
    if arch in DETECTORS:
        return retinaface_preprocess()
    if arch == "mobilefacenet":  # foamliu/MobileFaceNet: ToTensor + ImageNet Normalize
        return Preprocess(mean=IMAGENET_NORM[0], std=IMAGENET_NORM[1])
    return Preprocess()  # insightface family: RGB, (x/255 - 0.5) / 0.5


@dataclass(frozen=True)
class ModelConfig:
    """Enough to rebuild a network and feed it: saved next to (or inside) every aikd checkpoint.

    ``head`` is ``"mlp"`` (eDifFIQA / AI-KD regressor), ``"qs"`` (CR-FIQA), ``"graph"`` (a quality
    output computed inside an external graph) or ``None`` for a plain face-recognition backbone.
    """

    arch: str
    head: Literal["mlp", "qs"] | None = None
    embedding_size: int = 512
    head_hidden: int = 1024
    preprocess: Preprocess = field(default_factory=Preprocess)

    @property
    def task(self) -> str:
        if self.arch in DETECTORS:
            return "detection"
        return "quality" if self.head else "recognition"

    def to_dict(self) -> dict:
        return {
            "arch": self.arch,
            "head": self.head,
            "embedding_size": self.embedding_size,
            "head_hidden": self.head_hidden,
            "preprocess": self.preprocess.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        arch = data.get("arch")
        if arch not in BACKBONES + DETECTORS + GRAPHS:
            known = BACKBONES + DETECTORS + GRAPHS
            raise WeightsError(f"unknown architecture {arch!r} in model config{close_matches(str(arch), known)}")
        head = data.get("head")
        if head not in (None,) + HEADS:
            raise WeightsError(f"unknown quality head {head!r} in model config (expected one of {HEADS} or null)")
        pre = data.get("preprocess")
        return cls(
            arch=arch,
            head=head,
            embedding_size=int(data.get("embedding_size", 512)),
            head_hidden=int(data.get("head_hidden", 1024)),
            preprocess=Preprocess.from_dict(pre) if pre else default_preprocess(arch),
        )


DEPTHS_BY_BLOCKS = {blocks: depth for depth, blocks in DEPTHS.items()}
