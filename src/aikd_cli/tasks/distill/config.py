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
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from aikd_cli.defaults import DEFAULT_DET_SIZE, DEFAULT_DETECTOR
from aikd_cli.errors import InputFormatError

#: TOML tables, in the order they are written.
SECTIONS = ("data", "teacher", "student", "misalignment", "loss", "optim", "run")


def _f(default: Any, section: str, help: str, choices: tuple[str, ...] | None = None):  # noqa: A002
    meta = {"section": section, "help": help, "choices": choices}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class DistillConfig:
    """Every option of ``aikd distill``; field names are the option names with ``-`` as ``_``."""

    # data
    data: list[str] = _f(
        [],
        "data",
        "Training images: folders, image files or CSV manifests (path[, lm0_x..lm4_y, quality, identity]).",
    )
    val_data: list[str] = _f(
        [], "data", "Validation images (same forms); default: a random --val-fraction of the training data."
    )
    landmarks: str | None = _f(
        None,
        "data",
        "Landmark CSV (path, face, lm0_x..lm4_y); faces without landmarks are detected once and cached.",
    )
    labels: str | None = _f(
        None, "data", "Quality labels CSV (path[, face], quality) from any FIQA method or `aikd label`."
    )
    val_fraction: float = _f(
        0.05,
        "data",
        "Share of the training images held out for validation when --val-data is not given (at least 64 "
        "when that is at most a tenth of them; at most 5,000).",
    )
    detector: str = _f(DEFAULT_DETECTOR, "data", "Face detector for images without landmarks.")
    det_size: int = _f(DEFAULT_DET_SIZE, "data", "Detect on images shrunk to this longer side (0: original size).")
    det_threshold: float = _f(0.5, "data", "Minimum face confidence of the detector.")
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
        1024, "student", "Hidden width of the MLP quality head (embedding -> hidden -> 1, GELU)."
    )
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
        "Landmark noise bound p: k + U[-p, p] per coordinate (0 trains on aligned faces only).",
    )
    perturb_unit: str = _f(
        "px",
        "misalignment",
        "Unit of p: 'px' (source-image pixels, the paper) or 'iod' (fraction of the inter-ocular distance).",
        ("px", "iod"),
    )
    # loss
    lambda_cos: float = _f(1.0, "loss", "Weight of the embedding term 1 - cos(e, e_hat).")
    lambda_q: float = _f(1.0, "loss", "Weight of the quality term.")
    quality_loss: str = _f("smoothl1", "loss", "Quality regression loss.", ("smoothl1", "l1"))
    beta: float = _f(0.5, "loss", "SmoothL1 beta (in the units of --quality-units).")
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
    lr: float = _f(3e-3, "optim", "Learning rate of the quality head.")
    lr_backbone: float = _f(1e-4, "optim", "Learning rate of the trained backbone tensors.")
    momentum: float = _f(0.9, "optim", "SGD momentum of the head.")
    momentum_backbone: float = _f(0.1, "optim", "SGD momentum of the backbone tensors.")
    weight_decay: float = _f(1e-4, "optim", "Weight decay of the head.")
    weight_decay_backbone: float = _f(0.0, "optim", "Weight decay of the backbone tensors.")
    backbone_tensors: int = _f(
        100, "optim", "Train the last N parameter tensors of the backbone (0 freezes it, -1 trains all)."
    )
    warmup: float = _f(0.15, "optim", "Sine learning-rate warm-up length in epochs.")
    schedule: str = _f("cosine", "optim", "Learning rate after the warm-up.", ("constant", "cosine"))
    grad_clip: float = _f(5.0, "optim", "Clip the gradient norm to this value (0 disables).")
    ema_decay: float = _f(0.1, "optim", "EMA weight of the old average (reference: 0.1); 0 disables the EMA.")
    ema_every: int = _f(
        0, "optim", "Update the EMA every N steps (0: at every validation, as the reference)."
    )
    # run
    output: str = _f(
        "runs/distill", "run", "Run folder: checkpoints, config.toml, metrics.jsonl, landmark cache."
    )
    epochs: int = _f(
        0, "run", "Passes over the training data (0: as many as give at least --min-steps optimiser steps)."
    )
    min_steps: int = _f(400, "run", "With --epochs 0: train for at least this many steps (whole epochs).")
    max_steps: int = _f(0, "run", "Stop after this many optimiser steps (0: run all epochs).")
    batch_size: int = _f(
        64, "run", "Faces per step and process (the global batch is this times the number of processes)."
    )
    val_every: float = _f(0.25, "run", "Validate and checkpoint every this many epochs.")
    log_every: int = _f(10, "run", "Write a metrics line every N steps.")
    seed: int = _f(0, "run", "Seed of everything random: split, order, landmark noise, head initialisation.")
    device: str = _f(
        "auto", "run", "auto, cpu, cuda, cuda:1 or mps (torchrun: each process takes cuda:LOCAL_RANK)."
    )
    precision: str = _f(
        "auto",
        "run",
        "auto (bf16 on GPUs, fp32 on CPUs), fp32, bf16 or fp16 (with a gradient scaler).",
        ("auto", "fp32", "bf16", "fp16"),
    )
    workers: int = _f(2, "run", "Decoding processes per training process.")
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

    def validate(self) -> DistillConfig:
        """Check values a user can get wrong; raise :class:`InputFormatError` naming the option."""
        for f in fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                value = getattr(self, f.name)
                raise InputFormatError(
                    f"--{_opt(f.name)} must be one of {', '.join(choices)}, not {value!r}{close_matches(str(value), choices)}"
                )
        checks = [
            (0 <= self.perturb <= 1000, "--perturb must be >= 0 and at most 1000"),
            (0 <= self.val_fraction < 1, "--val-fraction must be in [0, 1)"),
            (self.lambda_cos >= 0 and self.lambda_q >= 0, "--lambda-cos and --lambda-q must be >= 0"),
            (self.lambda_cos + self.lambda_q > 0, "--lambda-cos and --lambda-q cannot both be 0"),
            (self.beta > 0, "--beta must be > 0"),
            (min(self.lr, self.lr_backbone) >= 0, "learning rates must be >= 0"),
            (self.backbone_tensors >= -1, "--backbone-tensors must be >= -1"),
            (self.warmup >= 0, "--warmup must be >= 0"),
            (self.grad_clip >= 0, "--grad-clip must be >= 0"),
            (0 <= self.ema_decay < 1, "--ema-decay must be in [0, 1)"),
            (self.ema_every >= 0, "--ema-every must be >= 0"),
            (self.epochs >= 0, "--epochs must be >= 0 (0: enough epochs for --min-steps)"),
            (self.min_steps >= 1, "--min-steps must be >= 1"),
            (self.max_steps >= 0, "--max-steps must be >= 0"),
            (self.batch_size >= 1, "--batch-size must be >= 1"),
            (self.val_every > 0, "--val-every must be > 0"),
            (self.log_every >= 1, "--log-every must be >= 1"),
            (self.workers >= 0, "--workers must be >= 0"),
            (self.head_hidden >= 1, "--head-hidden must be >= 1"),
            (math.isfinite(self.lr) and math.isfinite(self.lr_backbone), "learning rates must be finite"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputFormatError(message)
        from aikd_cli.images.decode import max_pixels

        max_pixels()
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


def close_matches(name: str, choices) -> str:
    from aikd_cli.models.config import close_matches as _close_matches

    return _close_matches(name, choices)


def _opt(name: str) -> str:
    return name.replace("_", "-")


FIELDS = {f.name: f for f in fields(DistillConfig)}

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


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Type-check one value from a file or the command line against the field's default type."""
    f = FIELDS[name]
    kind = f.type
    try:
        if "list" in kind:
            if isinstance(value, str):
                return [value]
            if isinstance(value, list | tuple) and all(isinstance(v, str | Path) for v in value):
                return [str(v) for v in value]
            raise TypeError
        if value is None:
            if "None" in kind:
                return None
            raise TypeError
        if kind.startswith("bool"):
            if isinstance(value, bool):
                return value
            raise TypeError
        if kind.startswith("int"):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if kind.startswith("float"):
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise InputFormatError(f"{origin}: {name} = {value!r} is not a valid {kind}") from None


def _parse_toml(text: str, path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise InputFormatError(f"{path}: reading TOML needs Python 3.11+ or the tomli package") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputFormatError(f"{path}: not valid TOML ({exc})") from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Flat ``{field: value}`` from a TOML (or, when PyYAML is installed, YAML) run file.

    Keys may sit at the top level or in the tables of :data:`SECTIONS`; unknown keys are errors
    with a suggestion, so a typo never silently falls back to a default.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFormatError(f"{path}: cannot read config ({exc.strerror or exc})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise InputFormatError(
                f"{path}: YAML configs need PyYAML", hint="pip install pyyaml, or use TOML"
            ) from None
        try:
            raw = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise InputFormatError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    else:
        raw = _parse_toml(text, path)
    if not isinstance(raw, dict):
        raise InputFormatError(f"{path}: expected a table of options")
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SECTIONS and isinstance(value, dict):
            for sub, v in value.items():
                _check_key(sub, path, section=key)
                flat[sub] = _coerce(sub, v, str(path))
        else:
            _check_key(key, path)
            flat[key] = _coerce(key, value, str(path))
    base = path.parent
    for key in ("data", "val_data"):  # relative paths in a run file are relative to the file
        if key in flat:
            flat[key] = [_relative_to(base, p) for p in flat[key]]
    for key in ("landmarks", "labels"):
        if flat.get(key):
            flat[key] = _relative_to(base, flat[key])
    return flat


def _relative_to(base: Path, value: str) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() or value.startswith("hf://") else base / p)


def _check_key(key: str, path: Path, section: str | None = None) -> None:
    if key not in FIELDS:
        raise InputFormatError(f"{path}: unknown option {key!r}{close_matches(key, FIELDS)}")
    if section and FIELDS[key].metadata["section"] != section:
        raise InputFormatError(
            f"{path}: option {key!r} belongs in [{FIELDS[key].metadata['section']}], not [{section}]"
        )


def resolve_config(
    config_file: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> DistillConfig:
    """Defaults, then the file, then ``overrides`` (options typed on the command line)."""
    values: dict[str, Any] = {}
    if config_file is not None:
        values.update(read_config_file(config_file))
    for key, value in (overrides or {}).items():
        if key not in FIELDS:
            raise InputFormatError(f"unknown option {key!r}{close_matches(key, FIELDS)}")
        values[key] = _coerce(key, value, f"--{_opt(key)}")
    recipe = values.get("recipe", "default")
    if recipe not in RECIPES:
        raise InputFormatError(
            f"--recipe must be one of {', '.join(RECIPES)}, not {recipe!r}{close_matches(recipe, RECIPES)}"
        )
    return DistillConfig(**{**RECIPES[recipe], **values})


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def to_toml(config: DistillConfig) -> str:
    """The resolved config as TOML, one table per section (``None`` values are left out)."""
    lines = ["# aikd distill run configuration (resolved); reuse with: aikd distill --config config.toml", ""]
    for section in SECTIONS:
        lines.append(f"[{section}]")
        for f in fields(config):
            value = getattr(config, f.name)
            if f.metadata["section"] == section and value is not None:
                lines.append(f"{f.name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def differences(saved: DistillConfig, current: DistillConfig) -> list[str]:
    """Options that differ between a saved run and a resumed one, other than harmless ones."""
    return [
        f.name
        for f in fields(DistillConfig)
        if f.name not in RESUME_MUTABLE and getattr(saved, f.name) != getattr(current, f.name)
    ]
