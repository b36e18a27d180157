"""Architectures by name, and the small JSON-able record that rebuilds a model from weights."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from aikd_cli.errors import WeightsError, close_matches
from aikd_cli.models.preprocess import IMAGENET_NORM, Preprocess, retinaface_preprocess

if TYPE_CHECKING:  # torch is imported where networks are built, not where configs are read
    from torch import nn

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


def build_backbone(arch: str, embedding_size: int = 512) -> nn.Module:
    """A randomly initialised FR backbone by name."""
    if arch.startswith("iresnet"):
        from aikd_cli.models.iresnet import iresnet

        try:
            depth = int(arch.removeprefix("iresnet"))
        except ValueError:
            depth = -1
        if arch not in BACKBONES:
            raise WeightsError(f"unknown architecture {arch!r}{close_matches(arch, BACKBONES)}")
        return iresnet(depth, num_features=embedding_size)
    if arch == "mobilefacenet":
        from aikd_cli.models.mobilefacenet import MobileFaceNet

        return MobileFaceNet(embedding_size)
    raise WeightsError(f"unknown architecture {arch!r}{close_matches(arch, BACKBONES)}")


def build_model(config: ModelConfig) -> nn.Module:
    """A randomly initialised network for ``config`` (load weights into it afterwards)."""
    if config.arch in GRAPHS:
        raise WeightsError(f"{config.arch} models run through onnxruntime only; torch cannot build or train them")
    if config.arch in DETECTORS:
        from aikd_cli.models.retinaface import BODIES, RetinaFace

        return RetinaFace(BODIES[config.arch])
    if config.head == "qs":
        if not config.arch.startswith("iresnet"):
            raise WeightsError(f"the CR-FIQA 'qs' head needs an iResNet backbone, not {config.arch}")
        from aikd_cli.models.iresnet import iresnet

        return iresnet(int(config.arch.removeprefix("iresnet")), num_features=config.embedding_size, quality_outputs=1)
    backbone = build_backbone(config.arch, config.embedding_size)
    if config.head == "mlp":
        from aikd_cli.models.heads import MLPHead, QualityRegressor

        return QualityRegressor(backbone, MLPHead(config.embedding_size, config.head_hidden))
    return backbone


DEPTHS_BY_BLOCKS = {blocks: depth for depth, blocks in DEPTHS.items()}
