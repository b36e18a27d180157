"""The student: an FR backbone (by default a copy of the teacher's) plus a fresh MLP quality head,
and the parameter groups it is trained with."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from aikd_cli.errors import WeightsError
from aikd_cli.models.build import build_backbone
from aikd_cli.models.config import BACKBONES, ModelConfig
from aikd_cli.models.heads import MLPHead, QualityRegressor, ScaledHead
from aikd_cli.models.loading import load_network
from aikd_cli.tasks.distill.config import DistillConfig
from aikd_cli.tasks.distill.teacher import Teacher, embedding_backbone


def build_student(
    teacher: Teacher, init: str, head_hidden: int, seed: int, scaled_head: bool = False
) -> tuple[QualityRegressor, ModelConfig, dict]:
    """``(student, its ModelConfig, provenance)``.

    ``init`` is ``"teacher"`` (copy of the teacher backbone + fresh head: the paper's setting),
    an architecture name (random backbone + fresh head) or weights: an FR backbone gets a fresh
    head, a quality model with an MLP head is fine-tuned as it is. The student sees the same
    crops as the teacher, so it keeps the teacher's preprocessing, and its embedding must have the
    teacher's size for the cosine term. ``scaled_head`` wraps a fresh head in a
    :class:`~aikd_cli.models.heads.ScaledHead` (units set later by :func:`set_head_units`) whose last
    layer starts at zero.
    """
    emb = teacher.config.embedding_size
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if init == "teacher":
            backbone, arch, info = (
                embedding_backbone(teacher.loaded),
                teacher.config.arch,
                {"init": "teacher"},
            )
        elif init in BACKBONES:
            backbone, arch, info = build_backbone(init, emb), init, {"init": f"random {init}"}
        else:
            loaded = load_network(init, expect="recognition")
            if loaded.config.embedding_size != emb:
                raise WeightsError(
                    f"--student {init}: its {loaded.config.embedding_size}-d embedding cannot be compared with the "
                    f"teacher's {emb}-d one"
                )
            if loaded.config.head == "mlp":
                return trainable(loaded.net.train()), loaded.config, {"init": loaded.source}
            backbone, arch, info = embedding_backbone(loaded), loaded.config.arch, {"init": loaded.source}
        head = MLPHead(emb, head_hidden)
        if scaled_head:
            nn.init.zeros_(head.l2.weight)
            nn.init.zeros_(head.l2.bias)
        student = QualityRegressor(backbone, ScaledHead(head) if scaled_head else head)
    config = replace(teacher.config, arch=arch, head="mlp", embedding_size=emb, head_hidden=head_hidden)
    return trainable(student), config, info


def trainable(student: QualityRegressor) -> QualityRegressor:
    """Every tensor trainable except those its backbone architecture keeps fixed (a copy of a frozen
    teacher has all of them frozen)."""
    student.requires_grad_(True)
    backbone = student.feature_extractor
    for name in getattr(backbone, "fixed_parameters", ()):
        backbone.get_parameter(name).requires_grad_(False)
    return student


def parameter_groups(student: QualityRegressor, config: DistillConfig) -> list[dict]:
    """Optimiser groups as in the AI-KD reference: the head, and the last N backbone tensors.

    Backbone tensors outside the trained tail get ``requires_grad=False`` (no wasted backward), as
    do tensors the architecture keeps fixed (iResNet's ``features.weight``).
    """
    head = [p for p in student.quality_head.parameters()]
    for p in head:
        p.requires_grad_(True)
    fixed = {id(p) for p in student.feature_extractor.parameters() if not p.requires_grad}
    backbone = [p for p in student.feature_extractor.parameters() if id(p) not in fixed]
    n = config.backbone_tensors
    trained = backbone if n == -1 else backbone[len(backbone) - n :] if n > 0 else []
    keep = {id(p) for p in trained}
    for p in backbone:
        p.requires_grad_(id(p) in keep)
    groups = [
        {
            "params": head,
            "lr": config.lr,
            "momentum": config.momentum,
            "weight_decay": config.weight_decay,
            "name": "quality_head",
        },
    ]
    if trained:
        groups.append(
            {
                "params": trained,
                "lr": config.lr_backbone,
                "momentum": config.momentum_backbone,
                "weight_decay": config.weight_decay_backbone,
                "name": "feature_extractor",
            }
        )
    return groups


def make_optimizer(groups: list[dict], name: str) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(groups)
    # AdamW keeps its default betas; the SGD momentum options do not apply to it
    return torch.optim.AdamW([{k: v for k, v in g.items() if k != "momentum"} for g in groups])


def set_head_units(student: nn.Module, in_scale: float, shift: float, scale: float) -> bool:
    """Set the units of a :class:`ScaledHead` (``False`` when the student has none)."""
    head = getattr(student, "quality_head", None)
    if not isinstance(head, ScaledHead):
        return False
    with torch.no_grad():
        head.in_scale.fill_(in_scale)
        head.shift.fill_(shift)
        head.scale.fill_(scale)
    return True


def set_train_mode(student: nn.Module, freeze_bn: bool) -> None:
    """Training mode, with BatchNorm layers optionally left in eval mode (fixed statistics)."""
    student.train()
    if freeze_bn:
        for m in student.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
