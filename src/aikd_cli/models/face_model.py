"""The contract every face model meets, torch or ONNX: uint8 RGB aligned crops in, float32
embeddings (and qualities) out. Kept apart from the implementations so they need not import each
other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from aikd_cli.models.config import ModelConfig


@dataclass
class ModelOutput:
    embedding: torch.Tensor  # (N, D) float32 on the CPU, not normalised
    quality: torch.Tensor | None  # (N,) float32 on the CPU, or None for pure FR models


class FaceModel(Protocol):
    """Anything that maps aligned crops to embeddings (and qualities): torch or ONNX."""

    config: ModelConfig
    source: str
    device: torch.device  # where crops for it are best made (the face pipeline aligns there)

    def __call__(self, crops: torch.Tensor) -> ModelOutput: ...
