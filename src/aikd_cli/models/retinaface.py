"""RetinaFace (Deng et al., CVPR 2020) with the module names of biubug6/Pytorch_Retinaface.

Implemented here rather than depending on ``retinaface-pytorch``, which pins torch 1.9 and downloads
weights from GitHub at import time. Parameter names match the public ``mobilenet0.25_Final.pth``
and ``Resnet50_Final.pth`` releases (and their facexlib / Hub mirrors) key for key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn(inp: int, oup: int, stride: int = 1, leaky: float = 0.0, kernel: int = 3, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(inp, oup, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(oup),
    ]
    if act:
        layers.append(nn.LeakyReLU(negative_slope=leaky, inplace=True))
    return nn.Sequential(*layers)


def _conv_dw(inp: int, oup: int, stride: int, leaky: float = 0.1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False),
        nn.BatchNorm2d(inp),
        nn.LeakyReLU(negative_slope=leaky, inplace=True),
        nn.Conv2d(inp, oup, 1, 1, 0, bias=False),
        nn.BatchNorm2d(oup),
        nn.LeakyReLU(negative_slope=leaky, inplace=True),
    )


class MobileNetV1(nn.Module):
    """The 0.25-width MobileNet body; returns the three stage outputs (strides 8, 16, 32)."""

    def __init__(self) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(
            _conv_bn(3, 8, 2, leaky=0.1),
            _conv_dw(8, 16, 1),
            _conv_dw(16, 32, 2),
            _conv_dw(32, 32, 1),
            _conv_dw(32, 64, 2),
            _conv_dw(64, 64, 1),
        )
        self.stage2 = nn.Sequential(_conv_dw(64, 128, 2), *[_conv_dw(128, 128, 1) for _ in range(5)])
        self.stage3 = nn.Sequential(_conv_dw(128, 256, 2), _conv_dw(256, 256, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c1 = self.stage1(x)
        c2 = self.stage2(c1)
        return [c1, c2, self.stage3(c2)]


class ResNet50Body(nn.Module):
    """torchvision's ResNet-50 up to ``layer4`` (what ``IntermediateLayerGetter`` kept)."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import resnet50

        net = resnet50(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c1 = self.layer2(self.layer1(x))
        c2 = self.layer3(c1)
        return [c1, c2, self.layer4(c2)]


class FPN(nn.Module):
    def __init__(self, in_channels: list[int], out_channels: int) -> None:
        super().__init__()
        leaky = 0.1 if out_channels <= 64 else 0.0
        self.output1 = _conv_bn(in_channels[0], out_channels, leaky=leaky, kernel=1)
        self.output2 = _conv_bn(in_channels[1], out_channels, leaky=leaky, kernel=1)
        self.output3 = _conv_bn(in_channels[2], out_channels, leaky=leaky, kernel=1)
        self.merge1 = _conv_bn(out_channels, out_channels, leaky=leaky)
        self.merge2 = _conv_bn(out_channels, out_channels, leaky=leaky)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        o1, o2, o3 = self.output1(feats[0]), self.output2(feats[1]), self.output3(feats[2])
        o2 = self.merge2(o2 + F.interpolate(o3, size=o2.shape[-2:], mode="nearest"))
        o1 = self.merge1(o1 + F.interpolate(o2, size=o1.shape[-2:], mode="nearest"))
        return [o1, o2, o3]


class SSH(nn.Module):
    def __init__(self, in_channel: int, out_channel: int) -> None:
        super().__init__()
        leaky = 0.1 if out_channel <= 64 else 0.0
        self.conv3X3 = _conv_bn(in_channel, out_channel // 2, act=False)
        self.conv5X5_1 = _conv_bn(in_channel, out_channel // 4, leaky=leaky)
        self.conv5X5_2 = _conv_bn(out_channel // 4, out_channel // 4, act=False)
        self.conv7X7_2 = _conv_bn(out_channel // 4, out_channel // 4, leaky=leaky)
        self.conv7x7_3 = _conv_bn(out_channel // 4, out_channel // 4, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c3 = self.conv3X3(x)
        c5_1 = self.conv5X5_1(x)
        c5 = self.conv5X5_2(c5_1)
        c7 = self.conv7x7_3(self.conv7X7_2(c5_1))
        return F.relu(torch.cat([c3, c5, c7], dim=1))


class _Head(nn.Module):
    def __init__(self, in_channels: int, num_anchors: int, width: int) -> None:
        super().__init__()
        self.width = width
        self.conv1x1 = nn.Conv2d(in_channels, num_anchors * width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1x1(x).permute(0, 2, 3, 1)
        return out.reshape(out.shape[0], -1, self.width)


@dataclass(frozen=True)
class RetinaFaceConfig:
    """What differs between the two public RetinaFace variants."""

    body: str  # "mobilenet0.25" | "resnet50"
    in_channels: tuple[int, int, int]
    out_channels: int
    min_sizes: tuple[tuple[int, int], ...] = ((16, 32), (64, 128), (256, 512))
    steps: tuple[int, ...] = (8, 16, 32)
    variances: tuple[float, float] = (0.1, 0.2)
    mean_bgr: tuple[float, float, float] = (104.0, 117.0, 123.0)


CONFIGS = {
    "mobilenet0.25": RetinaFaceConfig("mobilenet0.25", (64, 128, 256), 64),
    "resnet50": RetinaFaceConfig("resnet50", (512, 1024, 2048), 256),
}

#: aikd architecture name -> RetinaFace body.
BODIES = {"retinaface-mnet025": "mobilenet0.25", "retinaface-r50": "resnet50"}


class RetinaFace(nn.Module):
    """Returns raw ``(loc, conf_logits, landmarks)`` per prior; decoding is separate (``decode``)."""

    def __init__(self, body: str = "mobilenet0.25") -> None:
        super().__init__()
        self.cfg = CONFIGS[body]
        self.body = MobileNetV1() if body == "mobilenet0.25" else ResNet50Body()
        out = self.cfg.out_channels
        self.fpn = FPN(list(self.cfg.in_channels), out)
        self.ssh1, self.ssh2, self.ssh3 = SSH(out, out), SSH(out, out), SSH(out, out)
        self.ClassHead = nn.ModuleList([_Head(out, 2, 2) for _ in range(3)])
        self.BboxHead = nn.ModuleList([_Head(out, 2, 4) for _ in range(3)])
        self.LandmarkHead = nn.ModuleList([_Head(out, 2, 10) for _ in range(3)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f1, f2, f3 = self.fpn(self.body(x))
        feats = [self.ssh1(f1), self.ssh2(f2), self.ssh3(f3)]
        loc = torch.cat([h(f) for h, f in zip(self.BboxHead, feats)], dim=1)
        conf = torch.cat([h(f) for h, f in zip(self.ClassHead, feats)], dim=1)
        landms = torch.cat([h(f) for h, f in zip(self.LandmarkHead, feats)], dim=1)
        return loc, conf, landms


def priors(cfg: RetinaFaceConfig, height: int, width: int) -> torch.Tensor:
    """Anchor centres and sizes ``(P, 4)`` as ``(cx, cy, w, h)`` relative to the input size,
    in biubug6's order (row, column, anchor size)."""
    levels = []
    for step, sizes in zip(cfg.steps, cfg.min_sizes):
        fh, fw = math.ceil(height / step), math.ceil(width / step)
        cy, cx = torch.meshgrid(
            (torch.arange(fh, dtype=torch.float32) + 0.5) * step / height,
            (torch.arange(fw, dtype=torch.float32) + 0.5) * step / width,
            indexing="ij",
        )
        for_sizes = [
            torch.stack([cx, cy, torch.full_like(cx, s / width), torch.full_like(cy, s / height)], dim=-1)
            for s in sizes
        ]
        levels.append(torch.stack(for_sizes, dim=2).reshape(-1, 4))
    return torch.cat(levels)


def decode(
    loc: torch.Tensor, landms: torch.Tensor, anchors: torch.Tensor, variances: tuple[float, float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode regressions into boxes ``(..., 4)`` (x1, y1, x2, y2) and landmarks ``(..., 5, 2)``,
    both relative to the input size."""
    centre = anchors[..., :2] + loc[..., :2] * variances[0] * anchors[..., 2:]
    size = anchors[..., 2:] * torch.exp(loc[..., 2:] * variances[1])
    boxes = torch.cat([centre - size / 2, centre + size / 2], dim=-1)
    pts = landms.reshape(*landms.shape[:-1], 5, 2)
    points = anchors[..., None, :2] + pts * variances[0] * anchors[..., None, 2:]
    return boxes, points
