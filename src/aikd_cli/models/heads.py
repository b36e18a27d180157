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


class ScaledHead(nn.Module):
    """An :class:`MLPHead` trained in convenient units: ``q = shift + scale * head(x * in_scale)``.

    A fresh head on a raw FR embedding (norm ~10-30) regressing labels with a spread of ~0.05 starts
    far off the labels and takes optimiser steps far coarser than the labels' resolution. Dividing the
    input by a typical embedding norm, and predicting standardised labels (``shift``/``scale`` = label
    mean/std, last layer zero-initialised so training starts at the mean), fixes both; :meth:`fold`
    returns the plain head computing the same function, so saved checkpoints keep the MLPHead layout.
    """

    def __init__(self, head: MLPHead, in_scale: float = 1.0, shift: float = 0.0, scale: float = 1.0) -> None:
        super().__init__()
        self.head = head
        self.register_buffer("in_scale", torch.tensor(float(in_scale)))
        self.register_buffer("shift", torch.tensor(float(shift)))
        self.register_buffer("scale", torch.tensor(float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x * self.in_scale.to(x.dtype)) * self.scale.to(x.dtype) + self.shift.to(x.dtype)

    def folded_state(self) -> dict[str, torch.Tensor]:
        """The state dict of the equivalent plain :class:`MLPHead` (``l1``/``l2`` names)."""
        state = {k: v.detach().clone() for k, v in self.head.state_dict().items()}
        state["l1.weight"] = state["l1.weight"] * self.in_scale
        state["l2.weight"] = state["l2.weight"] * self.scale
        state["l2.bias"] = state["l2.bias"] * self.scale + self.shift
        return state


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

    def export_state(self) -> dict[str, torch.Tensor]:
        """The state dict in the canonical layout (a :class:`ScaledHead` folded into a plain head)."""
        state = self.state_dict()
        if isinstance(self.quality_head, ScaledHead):
            state = {k: v for k, v in state.items() if not k.startswith("quality_head.")}
            state.update({f"quality_head.{k}": v for k, v in self.quality_head.folded_state().items()})
        return state
