"""One record for a whole distillation run: built from defaults, a TOML/YAML file and the command line.

Precedence is defaults < ``--config`` file < options typed on the command line. The resolved record
is written beside the checkpoints as ``config.toml`` (and inside every checkpoint's metadata), so a
run can be repeated or resumed from its folder alone. Defaults follow the AI-KD reference training
configuration where it works on small data and a CPU; ``--recipe paper`` restores every setting of
the reference (SGD, lr 0.05 with a sine warm-up, raw-unit head, EMA alpha 0.1, validation every 0.1
epoch, batch 64); :data:`RECIPES` lists what it changes, docs/distill.md says why.

Importing this module does not import torch (``aikd distill --help`` is built from it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from aikd_cli.errors import InputFormatError, close_matches
from aikd_cli.options import COMPUTE, FACES, DetectionOptions, option, spec_of

#: TOML tables, in the order they are written, and the help panels of their options.
PANELS = {"data": "Data", "faces": FACES, "teacher": "Teacher", "student": "Student",
          "misalignment": "Misalignment", "loss": "Loss", "optim": "Optimisation", "run": "Run",
          "compute": COMPUTE}
SECTIONS = tuple(PANELS)


def _f(default: Any, section: str, help: str, choices: tuple[str, ...] | None = None, **spec: Any):  # noqa: A002
    return option(default, group=PANELS[section], help=help, choices=choices, **spec)


def section_of(f) -> str:
    """The TOML table of a field: the one of its help panel."""
    return next(k for k, v in PANELS.items() if v == spec_of(f).group)


@dataclass(kw_only=True)
class DistillConfig(DetectionOptions):
    """Every option of ``aikd distill``; field names are the option names with ``-`` as ``_``. The
    detection and compute fields (detector, det_size, det_threshold, landmarks, device, batch_size,
    workers) are the ones every face-finding command shares."""

    # data
    data: list[str] = _f(
        [],
        "data",
        "Training images: folders, image files or CSV manifests (path[, lm0_x..lm4_y, quality, identity]).", argument=True)
    val_data: list[str] = _f(
        [], "data", "Validation images (same forms); default: a random --val-fraction of the training data."
    )
    labels: str | None = _f(
        None, "data", "Quality labels CSV (path[, face], quality) from any FIQA method or `aikd label`."
    )
    val_fraction: float = _f(
        0.05,
        "data",
        "Share of the training images held out for validation when --val-data is not given (at least 64 "
        "when that is at most a tenth of them; at most 5,000).", low=0.0)
    follow_links: bool = _f(False, "data", "Also walk symbolic links to folders (each folder once, so link loops end).")
    # teacher
    teacher: str | None = _f(
        None,
        "teacher",
        "Frozen teacher: a FIQA model (CR-FIQA, eDifFIQA, AI-KD) giving embeddings and quality; with --backbone, "
        "any quality model (e.g. lightqnet, an ONNX file) whose quality of each aligned face is the label.",
    )
    backbone: str | None = _f(
        None, "teacher", "Frozen FR backbone giving the teacher embeddings (with --labels, or a quality --teacher)."
    )
    cache_teacher: bool = _f(
        False,
        "teacher",
        "Keep teacher outputs per face in memory after the first epoch (saves one forward per step).",
    )
    # student
    student: str = _f(
        "teacher",
        "student",
        "Student initialisation: 'teacher' (copy of the teacher backbone), an architecture name (from scratch) or weights.",
    )
    head_hidden: int = _f(
        1024, "student", "Hidden width of the MLP quality head (embedding -> hidden -> 1, GELU).", low=1)
    head_scaling: bool = _f(
        True,
        "student",
        "Train the fresh head in standardised units: input / median teacher embedding norm, output = label "
        "mean + std x MLP (last layer zero, so it starts at the mean); saved as a plain MLP head.",
    )
    freeze_bn: bool = _f(
        True, "student", "Keep the student's BatchNorm statistics fixed (eval mode) while training."
    )
    sync_bn: bool = _f(
        False, "student", "Synchronise BatchNorm statistics across GPUs under torchrun (CUDA only)."
    )
    # misalignment
    perturb: float = _f(
        3.0,
        "misalignment",
        "Landmark noise bound p: k + U[-p, p] per coordinate (0 trains on aligned faces only).", low=0.0, high=1000.0,
        aliases=("-p",))
    perturb_unit: str = _f(
        "px",
        "misalignment",
        "Unit of p: 'px' (source-image pixels, the paper) or 'iod' (fraction of the inter-ocular distance).",
        ("px", "iod"),
    )
    # loss
    lambda_cos: float = _f(1.0, "loss", "Weight of the embedding term 1 - cos(e, e_hat).", low=0.0)
    lambda_q: float = _f(1.0, "loss", "Weight of the quality term.", low=0.0)
    quality_loss: str = _f("smoothl1", "loss", "Quality regression loss.", ("smoothl1", "l1"))
    beta: float = _f(0.5, "loss", "SmoothL1 beta (in the units of --quality-units).", low=0.0, low_open=True)
    quality_units: str = _f(
        "std",
        "loss",
        "Units of the quality residual: 'std' (divided by the training labels' standard deviation, so the "
        "balance with the embedding term does not depend on the label scheme) or 'label' (the reference).",
        ("std", "label"),
    )
    # optim
    recipe: str = _f(
        "default",
        "optim",
        "Preset of the settings below: 'default' (AdamW, scaled head, cosine schedule: converges on a few "
        "thousand faces on a CPU) or 'paper' (the AI-KD reference: SGD lr 0.05, raw head, constant lr); "
        "options typed alongside still override it.",
        ("default", "paper"),
    )
    optimizer: str = _f("adamw", "optim", "Optimiser.", ("sgd", "adamw"))
    lr: float = _f(3e-3, "optim", "Learning rate of the quality head.", low=0.0)
    lr_backbone: float = _f(1e-4, "optim", "Learning rate of the trained backbone tensors.", low=0.0)
    momentum: float = _f(0.9, "optim", "SGD momentum of the head.")
    momentum_backbone: float = _f(0.1, "optim", "SGD momentum of the backbone tensors.")
    weight_decay: float = _f(1e-4, "optim", "Weight decay of the head.")
    weight_decay_backbone: float = _f(0.0, "optim", "Weight decay of the backbone tensors.")
    backbone_tensors: int = _f(
        100, "optim", "Train the last N parameter tensors of the backbone (0 freezes it, -1 trains all).", low=-1)
    warmup: float = _f(0.15, "optim", "Sine learning-rate warm-up length in epochs.", low=0.0)
    schedule: str = _f("cosine", "optim", "Learning rate after the warm-up.", ("constant", "cosine"))
    grad_clip: float = _f(5.0, "optim", "Clip the gradient norm to this value (0 disables).", low=0.0)
    ema_decay: float = _f(0.1, "optim", "EMA weight of the old average (reference: 0.1); 0 disables the EMA.", low=0.0)
    ema_every: int = _f(
        0, "optim", "Update the EMA every N steps (0: at every validation, as the reference).", low=0)
    # run
    output: str = _f(
        "runs/distill", "run", "Run folder: checkpoints, config.toml, metrics.jsonl, landmark cache.", short="-o"
    )
    epochs: int = _f(
        0, "run", "Passes over the training data (0: as many as give at least --min-steps optimiser steps).", low=0)
    min_steps: int = _f(400, "run", "With --epochs 0: train for at least this many steps (whole epochs).", low=1)
    max_steps: int = _f(0, "run", "Stop after this many optimiser steps (0: run all epochs).", low=0)
    val_every: float = _f(0.25, "run", "Validate and checkpoint every this many epochs.", low=0.0, low_open=True)
    log_every: int = _f(10, "run", "Write a metrics line every N steps.", low=1)
    seed: int = _f(0, "run", "Seed of everything random: split, order, landmark noise, head initialisation.")
    precision: str = _f(
        "auto",
        "run",
        "auto (bf16 on GPUs, fp32 on CPUs), fp32, bf16 or fp16 (with a gradient scaler).",
        ("auto", "fp32", "bf16", "fp16"),
    )
    warp_on: str = _f(
        "auto",
        "run",
        "Where both views are warped: 'device' (batched on the GPU), 'workers' (per image on CPU workers) or auto.",
        ("auto", "device", "workers"),
    )
    tensorboard: bool = _f(False, "run", "Also write TensorBoard logs (needs the tensorboard package).")
    grad_stats: bool = _f(
        False,
        "run",
        "Log the gradient norm of each loss term on the backbone tensors they share (two extra backward "
        "passes per logged step).",
    )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def portable_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` with local paths relative to the run folder (``output``): what the run
        writes (config.toml, checkpoint metadata) names no user's folders and moves with the run.
        A run file's relative paths are read relative to it (:mod:`.config_file`)."""
        run = os.path.abspath(self.output)

        def rel(key: str, value: Any) -> Any:
            if not isinstance(value, str) or value.startswith("hf://"):
                return value
            if key in MODEL_FIELDS and not os.path.exists(value):  # a registry name stays a name
                return value
            return os.path.relpath(os.path.abspath(value), run)

        return {k: ([rel(k, v) for v in value] if isinstance(value, list) else rel(k, value))
                if k in PATH_FIELDS else value for k, value in self.to_dict().items()}

    def validate(self) -> DistillConfig:
        """Check values a user can get wrong; raise one error naming the option (the declared ranges
        and choices of every field, the detection options included, then what relates fields)."""
        try:
            super().validate()
        except InputFormatError:
            raise
        except Exception as exc:  # AikdError of the shared checks: the same one line
            raise InputFormatError(str(exc)) from None
        checks = [
            (self.val_fraction < 1, "--val-fraction must be in [0, 1)"),
            (self.ema_decay < 1, "--ema-decay must be in [0, 1)"),
            (self.lambda_cos + self.lambda_q > 0, "--lambda-cos and --lambda-q cannot both be 0"),
            (math.isfinite(self.lr) and math.isfinite(self.lr_backbone), "learning rates must be finite"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputFormatError(message)
        if not self.data:
            raise InputFormatError(
                "no training data given", hint="pass image folders or CSV manifests, or `data` in --config"
            )
        if not self.teacher and not self.backbone:
            raise InputFormatError(
                "no teacher given",
                hint="use --teacher FIQA_MODEL, or --backbone FR_MODEL with --labels labels.csv",
            )
        if self.teacher and self.backbone and self.labels:
            raise InputFormatError(
                "with --teacher and --backbone the teacher's quality is the label: --labels has no place",
                hint="drop --teacher to train on --labels, or --labels to train on the teacher's quality",
            )
        from aikd_cli.models.config import BACKBONES

        if (
            self.student not in ("teacher", *BACKBONES)
            and not Path(self.student).expanduser().exists()
            and not self.student.startswith("hf://")
        ):
            # a registry name is allowed too; only reject obvious typos of architecture names
            near = close_matches(self.student, ("teacher", *BACKBONES))
            if near:
                raise InputFormatError(
                    f"--student {self.student!r} is not 'teacher', an architecture or a weights file{near}"
                )
        return self


#: The task contract's name for the options of ``aikd distill``: the config is the options.
DistillOptions = DistillConfig


FIELDS = {f.name: f for f in fields(DistillConfig)}

#: Fields that may name a registered model instead of a file.
MODEL_FIELDS = ("teacher", "backbone", "student", "detector")
#: Fields holding local paths (registry names and hf:// addresses pass through untouched).
PATH_FIELDS = ("data", "val_data", "landmarks", "labels", "output", *MODEL_FIELDS)

#: What may differ when resuming: none of these change the optimisation.
RESUME_MUTABLE = frozenset(
    {
        "device",
        "workers",
        "log_every",
        "tensorboard",
        "epochs",
        "max_steps",
        "output",
        "warp_on",
        "grad_stats",
    }
)

#: What ``--recipe paper`` changes from the defaults: the AI-KD reference's training settings.
RECIPES: dict[str, dict[str, Any]] = {
    "default": {},
    "paper": {
        "optimizer": "sgd",
        "lr": 0.05,
        "lr_backbone": 0.05,
        "weight_decay": 5e-4,
        "schedule": "constant",
        "head_scaling": False,
        "quality_units": "label",
        "freeze_bn": False,
        "val_fraction": 0.01,
        "val_every": 0.1,
    },
}


















def differences(saved: DistillConfig, current: DistillConfig) -> list[str]:
    """Options that differ between a saved run and a resumed one, other than harmless ones."""
    return [
        f.name
        for f in fields(DistillConfig)
        if f.name not in RESUME_MUTABLE and getattr(saved, f.name) != getattr(current, f.name)
    ]
