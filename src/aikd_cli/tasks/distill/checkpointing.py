"""Checkpoints of a distillation run: the best and last weights with their metadata, and the full
resume state (``last.state.pt``), read back with ``torch.load(weights_only=True)``. A mixin of
:class:`~aikd_cli.tasks.distill.engine.Distiller`."""

from __future__ import annotations

import json
import math

import torch
from torch import nn

from aikd_cli._version import __version__
from aikd_cli.errors import AikdError, InputFormatError
from aikd_cli.models.checkpoints import save_checkpoint
from aikd_cli.utils.atomic import atomic_open, atomic_write

#: Version of the resume state's layout.
STATE_FORMAT = 1


def _exported(model: nn.Module) -> dict:
    """A student's state in the canonical checkpoint layout (a scaled head folded into a plain one)."""
    export = getattr(model, "export_state", None)
    return export() if export is not None else model.state_dict()


def finite(metrics: dict) -> dict:
    """JSON-safe metrics (NaN and inf become null)."""
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in metrics.items()}


class Checkpoints:
    """Saving and restoring (uses the run's state: config, student, optimiser, EMA, step)."""

    def _info(self, metrics: dict) -> dict:
        return {
            "teacher": self.teacher.info(),
            "student": self.student_info,
            "training": self.config.portable_dict(),
            "step": self.step,
            "epoch": self.step / self.steps_per_epoch,
            "metrics": finite(metrics),
            "calibration": self.calibration.as_dict() if self.calibration is not None else None,
            "aikd_version": __version__,
        }

    def _training_state(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "format": STATE_FORMAT,
            "step": self.step,
            "config": self.config.to_json(),
            "teacher_sha256": self.teacher.digest,
            "student": self.student.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else {},
            "ema": self.ema.state_dict() if self.ema is not None else {},
            "best": {
                "value": self.best_value,
                "step": -1 if self.best_step is None else self.best_step,
                "metrics": json.dumps(finite(self.best_metrics)),
            },
            "start": json.dumps(self.start_metrics),
            "rng": rng,
        }

    def save(self, metrics: dict, is_best: bool) -> None:
        """Write ``best`` (when it improved), the resume state, then ``last`` (rank 0 only)."""
        evaluated = self.ema.module if self.ema is not None else self.student
        info = self._info(metrics)
        if is_best:
            save_checkpoint(self.files.best, _exported(evaluated), self.student_config, info)
            atomic_write(
                self.files.model_json,
                json.dumps({"config": self.student_config.to_dict(), **info}, indent=2, sort_keys=True),
            )
        with atomic_open(self.files.state, "wb") as f:
            torch.save(self._training_state(), f)
        save_checkpoint(self.files.last, _exported(self.student), self.student_config, info)

    def restore(self) -> None:
        """Continue from ``last.state.pt``: weights, optimiser, schedule, scaler, EMA, best, RNG."""
        try:
            state = torch.load(self.files.state, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise InputFormatError(f"{self.files.root}: nothing to resume (no last.state.pt yet)") from None
        except Exception as exc:
            raise AikdError(f"{self.files.state}: unreadable training state ({exc})") from None
        if state.get("format") != STATE_FORMAT:
            raise AikdError(
                f"{self.files.state}: written by another version of aikd (format {state.get('format')})"
            )
        if state["teacher_sha256"] != self.teacher.digest:
            raise AikdError(f"{self.files.state}: the teacher weights differ from those the run started with")
        self.student.load_state_dict(state["student"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state["ema"]:
            self.ema.load_state_dict(state["ema"])
        self.best_value = float(state["best"]["value"])
        self.best_step = None if state["best"]["step"] < 0 else int(state["best"]["step"])
        self.best_metrics = json.loads(state["best"]["metrics"])
        self.start_metrics = json.loads(state.get("start", "{}"))
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        self.step = int(state["step"])
        if self.dist.main and self.files.metrics.exists():  # drop log lines of steps after the checkpoint
            kept = [
                line
                for line in self.files.metrics.read_text().splitlines()
                if line and json.loads(line).get("step", 0) <= self.step
            ]
            atomic_write(self.files.metrics, "".join(line + "\n" for line in kept))
