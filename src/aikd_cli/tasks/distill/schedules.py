"""Weight EMA and the learning-rate schedule (sine warm-up as in the AI-KD reference)."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


class WeightEMA:
    """Exponential moving average of a model's weights and floating-point buffers.

    ``avg = decay * avg + (1 - decay) * current``; the first update copies the model (as
    ``torch.optim.swa_utils.AveragedModel`` does). Integer buffers are copied.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        current = model.state_dict()
        for name, avg in self.module.state_dict().items():
            new = current[name].detach()
            if self.updates == 0 or not avg.dtype.is_floating_point:
                avg.copy_(new)
            else:
                avg.mul_(self.decay).add_(new.to(avg.dtype), alpha=1.0 - self.decay)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"updates": self.updates, "weights": self.module.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.updates = int(state["updates"])
        self.module.load_state_dict(state["weights"])


def lr_lambda(warmup_steps: int, total_steps: int, schedule: str):
    """Sine warm-up from 0 to 1 over ``warmup_steps`` (the reference's), then constant or cosine to 0."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return math.sin(step / warmup_steps * math.pi / 2.0)
        if schedule == "cosine" and total_steps > warmup_steps:
            progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0

    return factor
