"""The student's trainable tensors: a copy of a frozen teacher is made trainable again, except the
tensors its architecture keeps fixed (iResNet's ``features.weight``, held at 1 by insightface)."""

from __future__ import annotations

import dataclasses

import torch

from aikd_cli.models.config import ModelConfig
from aikd_cli.models.iresnet import iresnet
from aikd_cli.models.loading import LoadedModel
from aikd_cli.models.preprocess import Preprocess
from aikd_cli.tasks.distill.config import DistillConfig
from aikd_cli.tasks.distill.student import build_student, make_optimizer, parameter_groups
from aikd_cli.tasks.distill.teacher import Teacher, state_digest


def test_iresnet_features_weight_stays_fixed_while_everything_else_trains():
    torch.manual_seed(0)
    net = iresnet(18, num_features=32).eval().requires_grad_(False)  # a frozen teacher: nothing trainable
    config = ModelConfig(arch="iresnet18", embedding_size=32, preprocess=Preprocess())
    teacher = Teacher(LoadedModel(net, config, "teacher", "backbone"), state_digest(net))
    student, _, _ = build_student(teacher, "teacher", head_hidden=8, seed=0)
    features = student.feature_extractor.features.weight
    assert not features.requires_grad
    options = dataclasses.replace(DistillConfig(), backbone_tensors=-1)
    groups = parameter_groups(student, options)
    in_groups = {id(p) for g in groups for p in g["params"]}
    assert id(features) not in in_groups
    others = [p for n, p in student.named_parameters() if n != "feature_extractor.features.weight"]
    assert all(p.requires_grad for p in others) and all(id(p) in in_groups for p in others)
    before = {n: p.detach().clone() for n, p in student.named_parameters()}
    optimizer = make_optimizer(groups, "adamw")
    student.train()
    emb, quality = student(torch.randn(4, 3, 112, 112))
    (emb.pow(2).mean() + quality.pow(2).mean()).backward()
    optimizer.step()
    assert torch.equal(features, torch.ones_like(features))
    moved = [n for n, p in student.named_parameters() if not torch.equal(p, before[n])]
    assert "feature_extractor.fc.weight" in moved and "feature_extractor.features.weight" not in moved
