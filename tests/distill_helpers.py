"""Shared pieces of the distillation tests: a tiny FR network and small real-photo manifests."""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from torch import nn

from aikd_cli.models.config import ModelConfig
from aikd_cli.models.loading import LoadedModel
from aikd_cli.models.preprocess import Preprocess
from aikd_cli.tasks.distill.teacher import Teacher, state_digest

EMB = 16


class TinyNet(nn.Module):
    """A two-convolution FR stand-in: fast enough to train for many steps in a CPU test."""

    def __init__(self, emb: int = EMB) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=4, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=4, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool = nn.AdaptiveAvgPool2d(3)
        self.fc = nn.Linear(16 * 9, emb)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def tiny_teacher(seed: int = 0) -> Teacher:
    torch.manual_seed(seed)
    net = TinyNet().eval().requires_grad_(False)
    # BatchNorm statistics that are not the identity, so frozen vs training BN differ measurably
    for bn in (net.bn1, net.bn2):
        bn.running_mean.uniform_(-0.1, 0.1)
        bn.running_var.uniform_(0.5, 1.5)
    config = ModelConfig(arch="mobilefacenet", embedding_size=EMB, preprocess=Preprocess())
    return Teacher(LoadedModel(net, config, "tiny-teacher", "backbone"), state_digest(net))


def lfw_identities(assets: Path, out: Path, people: int, per_person: int = 4) -> Path:
    """An identities CSV (absolute paths) with the first ``people`` LFW people that have enough photos."""
    by_person: dict[str, list[str]] = {}
    with open(assets / "lfw" / "identities.csv", newline="") as f:
        for row in csv.DictReader(f):
            by_person.setdefault(row["identity"], []).append(row["path"])
    chosen = [p for p, photos in sorted(by_person.items()) if len(photos) >= per_person][:people]
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "identity"])
        for person in chosen:
            for rel in sorted(by_person[person])[:per_person]:
                writer.writerow([str(assets / "lfw" / rel), person])
    return out
