"""Randomly initialised networks by name or :class:`~aikd_cli.models.config.ModelConfig`; load
weights into them afterwards (:mod:`aikd_cli.models.loading`)."""

from __future__ import annotations

from torch import nn

from aikd_cli.errors import WeightsError, close_matches
from aikd_cli.models.config import BACKBONES, DETECTORS, GRAPHS, ModelConfig
from aikd_cli.models.heads import MLPHead, QualityRegressor
from aikd_cli.models.iresnet import iresnet
from aikd_cli.models.mobilefacenet import MobileFaceNet
from aikd_cli.models.retinaface import BODIES, RetinaFace


def build_backbone(arch: str, embedding_size: int = 512) -> nn.Module:
    """A randomly initialised FR backbone by name."""
    if arch.startswith("iresnet"):
        try:
            depth = int(arch.removeprefix("iresnet"))
        except ValueError:
            depth = -1
        if arch not in BACKBONES:
            raise WeightsError(f"unknown architecture {arch!r}{close_matches(arch, BACKBONES)}")
        return iresnet(depth, num_features=embedding_size)
    if arch == "mobilefacenet":
        return MobileFaceNet(embedding_size)
    raise WeightsError(f"unknown architecture {arch!r}{close_matches(arch, BACKBONES)}")


def build_model(config: ModelConfig) -> nn.Module:
    """A randomly initialised network for ``config`` (load weights into it afterwards)."""
    if config.arch in GRAPHS:
        raise WeightsError(f"{config.arch} models run through onnxruntime only; torch cannot build or train them")
    if config.arch in DETECTORS:
        return RetinaFace(BODIES[config.arch])
    if config.head == "qs":
        if not config.arch.startswith("iresnet"):
            raise WeightsError(f"the CR-FIQA 'qs' head needs an iResNet backbone, not {config.arch}")
        return iresnet(int(config.arch.removeprefix("iresnet")), num_features=config.embedding_size, quality_outputs=1)
    backbone = build_backbone(config.arch, config.embedding_size)
    if config.head == "mlp":
        return QualityRegressor(backbone, MLPHead(config.embedding_size, config.head_hidden))
    return backbone
