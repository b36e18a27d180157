"""The frozen teacher: real weights, its own copy, eval mode, no gradients, checked unchanged.

The AI-KD reference used the student's own backbone object as the "teacher" and never loaded
pretrained weights; here the teacher is loaded from a file, hf:// address or registry name
(CR-FIQA, eDifFIQA, AI-KD checkpoints or any FR backbone), kept apart from the student, and its
weights are fingerprinted so a run can prove they did not move.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass

import torch
from torch import nn

from aikd_cli.models.config import ModelConfig
from aikd_cli.models.loading import LoadedModel, load_network
from aikd_cli.utils.device import autocast


def state_digest(module: nn.Module) -> str:
    """SHA-256 over every tensor of ``module``'s state (names, shapes, dtypes and bytes)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def embedding_backbone(loaded: LoadedModel) -> nn.Module:
    """A deep copy of the FR backbone inside any loaded model, without its quality output."""
    net = loaded.net
    if loaded.config.head == "mlp":
        return copy.deepcopy(net.feature_extractor)
    backbone = copy.deepcopy(net)
    if loaded.config.head == "qs":
        backbone.qs = None  # CR-FIQA: the iResNet then returns the embedding alone
    return backbone


@dataclass
class Teacher:
    """A frozen model returning ``(embedding, quality or None)`` for uint8 aligned crops."""

    loaded: LoadedModel
    digest: str

    @property
    def config(self) -> ModelConfig:
        return self.loaded.config

    @property
    def net(self) -> nn.Module:
        return self.loaded.net

    @property
    def has_quality(self) -> bool:
        return self.loaded.config.head is not None

    def to(self, device: torch.device) -> Teacher:
        self.loaded.net.to(device).to(memory_format=torch.channels_last)
        return self

    @torch.no_grad()
    def __call__(
        self, crops: torch.Tensor, dtype: torch.dtype = torch.float32
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.net.training:  # nothing may switch the teacher to training mode (BatchNorm stats)
            raise RuntimeError("the teacher network was put in training mode")
        x = self.config.preprocess(crops).contiguous(memory_format=torch.channels_last)
        with autocast(crops.device, dtype):
            out = self.net(x)
        emb, quality = out if isinstance(out, tuple) else (out, None)
        return emb.float(), None if quality is None else quality.float().reshape(-1)

    def check_unchanged(self) -> None:
        """Raise if the teacher's weights or buffers differ from when it was loaded."""
        now = state_digest(self.net)
        if now != self.digest:
            raise RuntimeError(f"teacher weights changed during training ({self.digest[:12]} -> {now[:12]})")

    def info(self) -> dict:
        return {
            "source": self.loaded.source,
            "layout": self.loaded.layout,
            "arch": self.config.arch,
            "head": self.config.head,
            "state_sha256": self.digest,
        }


def load_teacher(ref: str) -> Teacher:
    """Load ``ref`` as a frozen teacher (CPU, eval mode, ``requires_grad=False``)."""
    loaded = load_network(ref, expect="recognition")  # a FIQA model or an FR backbone
    loaded.net.eval().requires_grad_(False)
    return Teacher(loaded, state_digest(loaded.net))
