"""How a model wants its 112x112 crops: colour order and normalisation, carried with the weights."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import torch

ARCFACE_NORM = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
IMAGENET_NORM = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@dataclass(frozen=True)
class Preprocess:
    """``x = (crop / 255 - mean) / std`` in ``colour`` order; crops arrive as uint8 RGB.

    ``size`` is the square crop side the model was trained on (and the alignment template scale).
    """

    size: int = 112
    colour: Literal["RGB", "BGR"] = "RGB"
    mean: tuple[float, float, float] = ARCFACE_NORM[0]
    std: tuple[float, float, float] = ARCFACE_NORM[1]

    def __call__(self, crops: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``(N, 3, H, W)`` uint8 RGB crops -> normalised float tensor on the same device."""
        x = crops.to(dtype)
        if self.colour == "BGR":
            x = x.flip(1)
        mean = torch.tensor(self.mean, dtype=dtype, device=x.device).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.std, dtype=dtype, device=x.device).view(1, 3, 1, 1) * 255.0
        return (x - mean) / std

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Preprocess:
        return cls(
            size=int(data.get("size", 112)),
            colour=data.get("colour", "RGB"),
            mean=tuple(float(v) for v in data.get("mean", ARCFACE_NORM[0])),
            std=tuple(float(v) for v in data.get("std", ARCFACE_NORM[1])),
        )

    def short(self) -> str:
        """A few characters for tables: ``RGB [-1,1]`` or ``RGB ImageNet``."""
        norm = {ARCFACE_NORM: "[-1,1]", IMAGENET_NORM: "ImageNet"}.get((self.mean, self.std), "custom")
        return f"{self.colour} {norm}"

    def describe(self) -> str:
        mean = ",".join(f"{v:g}" for v in self.mean)
        std = ",".join(f"{v:g}" for v in self.std)
        return f"{self.size}x{self.size} {self.colour}, (x/255 - [{mean}]) / [{std}]"
