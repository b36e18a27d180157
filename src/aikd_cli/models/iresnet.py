"""iResNet face-recognition backbones with insightface ``arcface_torch`` parameter names.

The same network (plus an optional ``qs`` quality layer) is used by ArcFace/CosFace models,
CR-FIQA, DifFIQA(R), eDifFIQA and AI-KD, so one definition loads all their checkpoints.
"""

from __future__ import annotations

import torch
from torch import nn

from aikd_cli.models.config import DEPTHS


class IBasicBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=1e-05)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-05)
        self.prelu = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-05)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity


class IResNet(nn.Module):
    """iResNet for 112x112 inputs; ``forward`` returns the 512-d (unnormalised) embedding.

    With ``quality_outputs=1`` it is the CR-FIQA network: an extra ``qs`` Linear on the embedding,
    and ``forward`` returns ``(embedding, quality)`` with ``quality`` of shape ``(N,)``.
    """

    fc_scale = 7 * 7

    #: Tensors the architecture keeps fixed (insightface's ``features`` BatchNorm scale stays 1).
    fixed_parameters = ("features.weight",)

    def __init__(
        self, layers: tuple[int, int, int, int], num_features: int = 512, dropout: float = 0.0, quality_outputs: int = 0
    ) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-05)
        self.prelu = nn.PReLU(64)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1])
        self.layer3 = self._make_layer(256, layers[2])
        self.layer4 = self._make_layer(512, layers[3])
        self.bn2 = nn.BatchNorm2d(512, eps=1e-05)
        self.dropout = nn.Dropout(p=dropout, inplace=True)
        self.fc = nn.Linear(512 * self.fc_scale, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-05)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False
        self.qs = nn.Linear(num_features, quality_outputs) if quality_outputs else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0, 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, planes: int, blocks: int) -> nn.Sequential:
        downsample = nn.Sequential(
            nn.Conv2d(self.inplanes, planes, 1, 2, bias=False), nn.BatchNorm2d(planes, eps=1e-05)
        )
        layers = [IBasicBlock(self.inplanes, planes, 2, downsample)]
        self.inplanes = planes
        layers += [IBasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        emb = self.features(self.fc(x))
        if self.qs is None:
            return emb
        return emb, self.qs(emb).squeeze(-1)


def iresnet(depth: int, **kwargs) -> IResNet:
    """``iresnet(100)`` etc.; ``depth`` is one of 18, 34, 50, 100, 200."""
    if depth not in DEPTHS:
        raise ValueError(f"iResNet depth must be one of {sorted(DEPTHS)}, got {depth}")
    return IResNet(DEPTHS[depth], **kwargs)
