"""Quality heads and the wrappers that make any FR backbone a quality model.

A *quality model* maps an aligned face batch to ``(embedding, quality)``; ``quality`` is ``(N,)``.
"""

from __future__ import annotations

import torch
from torch import nn


class MLPHead(nn.Module):
    """The eDifFIQA / AI-KD regression head: Linear(512, 1024) -> GELU -> Linear(1024, 1).
    Attribute names (``l1``, ``ac``, ``l2``) match their checkpoints."""

    def __init__(self, in_dim: int = 512, hidden_dim: int = 1024, out_dim: int = 1) -> None:
        super().__init__()
        self.l1 = nn.Linear(in_dim, hidden_dim)
        self.ac = nn.GELU()
        self.l2 = nn.Linear(hidden_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l2(self.ac(self.l1(x)))


class QualityRegressor(nn.Module):
    """Backbone + MLP head (eDifFIQA, AI-KD students). State-dict keys use AI-KD's names
    (``feature_extractor.*``, ``quality_head.*``); eDifFIQA's are converted on load."""

    def __init__(self, feature_extractor: nn.Module, quality_head: nn.Module) -> None:
        super().__init__()
        self.feature_extractor = feature_extractor
        self.quality_head = quality_head

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.feature_extractor(x)
        return emb, self.quality_head(emb).squeeze(-1)


class EmbeddingNorm(nn.Module):
    """A training-free quality: the norm of the unnormalised FR embedding (MagFace-style)."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.backbone(x)
        return emb, emb.float().norm(dim=-1)
