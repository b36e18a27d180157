"""How a model wants its input: colour order, normalisation and size, carried with the weights.

Face models take aligned square crops; detectors take whole images shrunk to a maximum side. Both are
described by one :class:`Preprocess` record, so no caller re-types a mean or a colour order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

from aikd_cli.defaults import DEFAULT_DET_SIZE

if TYPE_CHECKING:
    import torch

ARCFACE_NORM = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
IMAGENET_NORM = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
#: RetinaFace (biubug6 / insightface): BGR pixels minus the mean colour, no scaling.
RETINAFACE_MEAN_BGR = (104.0, 117.0, 123.0)


@dataclass(frozen=True)
class Preprocess:
    """``x = (pixels / scale - mean) / std`` in ``colour`` order; pixels arrive as uint8 RGB.

    ``size`` is the square input side of a face model. ``crop`` is the side of the ArcFace-template
    crop the faces are cut at when that differs (a model trained on 112x112 crops resized to 96 has
    ``size=96, crop=112``): the crop is then resized to ``size`` here, antialiased. ``scale`` is 255
    for models fed ``[0, 1]`` values and 1 for models fed raw pixel values (RetinaFace).
    ``max_side`` is set for detectors only: they see whole images, shrunk so that the longer side is
    at most ``max_side``.
    """

    size: int = 112
    colour: Literal["RGB", "BGR"] = "RGB"
    mean: tuple[float, float, float] = ARCFACE_NORM[0]
    std: tuple[float, float, float] = ARCFACE_NORM[1]
    scale: float = 255.0
    max_side: int | None = None
    crop: int | None = None

    @property
    def crop_size(self) -> int:
        """The side of the aligned crops the face pipeline cuts for this model."""
        return self.crop or self.size

    def __call__(self, crops: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """``(N, 3, H, W)`` uint8 RGB pixels -> normalised float tensor (float32 unless ``dtype``) on
        the same device."""
        import torch

        dtype = dtype or torch.float32
        x = crops.to(dtype)
        if self.crop and self.crop != self.size and x.shape[-1] != self.size:
            x = torch.nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear",
                                                align_corners=False, antialias=True)
        if self.colour == "BGR":
            x = x.flip(1)
        mean = torch.tensor(self.mean, dtype=dtype, device=x.device).view(1, 3, 1, 1) * self.scale
        std = torch.tensor(self.std, dtype=dtype, device=x.device).view(1, 3, 1, 1) * self.scale
        return (x - mean) / std

    def to_dict(self) -> dict:
        data = asdict(self)
        if data["crop"] is None:  # records written before crops existed stay byte-identical
            del data["crop"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Preprocess:
        return cls(
            size=int(data.get("size", 112)),
            colour=data.get("colour", "RGB"),
            mean=tuple(float(v) for v in data.get("mean", ARCFACE_NORM[0])),
            std=tuple(float(v) for v in data.get("std", ARCFACE_NORM[1])),
            scale=float(data.get("scale", 255.0)),
            max_side=int(data["max_side"]) if data.get("max_side") else None,
            crop=int(data["crop"]) if data.get("crop") else None,
        )

    @classmethod
    def from_pixels(cls, *, size: int = 112, colour: str = "RGB", mean=(127.5,), std=(127.5,),
                    crop: int | None = None) -> Preprocess:
        """A spec declared the way model cards state it: mean and std in pixel units (0-255), one
        value or one per channel, e.g. ``(x - 128) / 128``."""
        mean, std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
        if len(mean) not in (1, 3) or len(std) not in (1, 3):
            raise ValueError("mean and std take one value or three (one per channel)")
        if any(v == 0 for v in std):
            raise ValueError("std must not be 0")
        return cls(size=size, colour=colour.upper(), mean=mean * (3 // len(mean)), std=std * (3 // len(std)),
                   scale=1.0, crop=crop if crop and crop != size else None)

    def short(self) -> str:
        """A few characters for tables: ``RGB [-1,1]`` or ``RGB ImageNet``."""
        if self.max_side:
            return f"{self.colour} - mean"
        norm = {ARCFACE_NORM: "[-1,1]", IMAGENET_NORM: "ImageNet"}.get((self.mean, self.std), "custom")
        if norm == "custom" and len(set(self.mean)) == 1 and len(set(self.std)) == 1:
            m, s = self.mean[0] * self.scale, self.std[0] * self.scale
            norm = "0-255" if (m, s) == (0, 1) else f"(x-{m:g})/{s:g}"
        side = "" if self.size == 112 and not self.crop else f" {self.size}" + (f"<{self.crop}" if self.crop else "")
        return f"{self.colour} {norm}{side}"

    def describe(self) -> str:
        mean = ",".join(f"{v:g}" for v in self.mean)
        std = ",".join(f"{v:g}" for v in self.std)
        formula = f"(x/{self.scale:g} - [{mean}]) / [{std}]" if self.scale != 1 else f"(x - [{mean}]) / [{std}]"
        shape = f"longer side <= {self.max_side}" if self.max_side else f"{self.size}x{self.size}"
        if self.crop and self.crop != self.size:
            shape += f" (from {self.crop}x{self.crop} crops)"
        return f"{shape} {self.colour}, {formula}"


def retinaface_preprocess(max_side: int = DEFAULT_DET_SIZE) -> Preprocess:
    """What RetinaFace was trained on: BGR pixel values minus the mean colour, images up to ``max_side``."""
    return Preprocess(colour="BGR", mean=RETINAFACE_MEAN_BGR, std=(1.0, 1.0, 1.0), scale=1.0, max_side=max_side)
