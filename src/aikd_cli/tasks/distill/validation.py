"""Validation of a distillation run: both views of every validation face through the evaluated
weights, the start line (the teacher's own misalignment gap) and the warning when the student
learnt no alignment invariance. A mixin of :class:`~aikd_cli.tasks.distill.engine.Distiller`."""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from aikd_cli.errors import AikdError
from aikd_cli.tasks.distill.data import VAL_STREAM, batch_views
from aikd_cli.tasks.distill.losses import spearman
from aikd_cli.tasks.distill.student import set_train_mode

log = logging.getLogger("aikd")
#: Rank metrics of a fresh head are constant by construction: left out of the start line.
RANK_METRICS = ("val_label_spearman", "val_stability", "val_pred_std")


class Validation:
    """Validating, and checkpointing what validation finds best."""

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict:
        """Validation: quality loss on the misaligned view (fixed noise), on the aligned view, the
        embedding term, and how well quality ranks survive the misalignment."""
        model.eval()
        sums = {"q": 0.0, "q_clean": 0.0, "cos": 0.0, "q_mean": 0.0}
        count = 0
        misaligned = self.config.perturb > 0  # with p = 0 both views are the same crop
        mean = self.calibration.label_mean if self.calibration is not None else None
        q_clean_all, q_noisy_all, targets_all = [], [], []
        for batch in self.val_loader:
            self._record_bad(batch["bad"], VAL_STREAM)
            if not len(batch["index"]):
                continue
            clean, noisy = batch_views(batch, self.device, self.size)
            teacher_emb, teacher_q = self._teacher_outputs(VAL_STREAM, batch["index"], clean)
            target = self._targets(batch["label"], teacher_q)
            emb_clean, q_clean = self._forward(model, clean)
            emb, q_noisy = self._forward(model, noisy) if misaligned else (emb_clean, q_clean)
            n = len(batch["index"])
            terms = self.loss(emb, q_noisy, teacher_emb, target)
            sums["q"] += float(terms.quality) * n
            sums["cos"] += float(terms.cos) * n
            sums["q_clean"] += float(self.loss.quality_term(q_clean, target)) * n
            if mean is not None:
                sums["q_mean"] += float(self.loss.quality_term(torch.full_like(target, mean), target)) * n
            count += n
            q_clean_all.append(q_clean.float().cpu())
            q_noisy_all.append(q_noisy.float().cpu())
            targets_all.append(target.float().cpu())
        if count == 0:
            return {}
        q_clean, q_noisy, targets = (torch.cat(v).numpy() for v in (q_clean_all, q_noisy_all, targets_all))
        metrics = {
            "val_q_loss": sums["q"] / count,
            "val_q_loss_clean": sums["q_clean"] / count,
            "val_cos": sums["cos"] / count,
            "val_label_spearman": spearman(q_clean, targets),
            "val_pred_std": float(q_clean.std()),
            "val_label_std": float(targets.std()),
            "val_faces": count,
        }
        if mean is not None:  # the loss of always predicting the training-label mean: the bar to beat
            metrics["val_q_loss_mean"] = sums["q_mean"] / count
        if misaligned:  # Spearman of a p = 0 run would be 1 by construction: not reported
            metrics["val_stability"] = spearman(q_clean, q_noisy)
        return metrics

    def _validate_and_save(self) -> dict:
        if self.ema is not None and self.config.ema_every == 0:
            self.ema.update(self.student)
        evaluated = self.ema.module if self.ema is not None else self.student
        metrics = self.evaluate(evaluated) if self.val_faces else {}
        set_train_mode(self.student, self.config.freeze_bn)
        value = metrics.get("val_q_loss", math.nan)
        is_best = not self.val_faces or (math.isfinite(value) and value < self.best_value)
        if is_best:
            self.best_value = value if self.val_faces else self.best_value
            self.best_step, self.best_metrics = self.step, metrics
        self._log({"step": self.step, "epoch": self.step / self.steps_per_epoch, **metrics, "best": is_best})
        shown = [f"{k} {metrics[k]:.4f}" for k in ("val_q_loss", "val_stability") if k in metrics]
        parts = "; ".join(p for p in (self.last_window, ", ".join(shown)) if p)
        log.info(f"step {self.step}/{self.total_steps}: {parts or 'saved'}" + (" (best)" if is_best and shown else ""))
        self.save(metrics, is_best)
        return metrics

    def _measure_start(self) -> None:
        """Validate the untrained student once, before the first step.

        With a student copied from the teacher, its ``val_cos`` is the teacher's own sensitivity to
        the misalignment: the value distillation has to bring down. Metrics that are undefined or
        constant by construction (ranks of a fresh head that predicts the label mean, the embedding
        term of a teacher copy at p = 0) are left out.
        The run's random stream is the same as without this pass.
        """
        if self.dist.main and self.val_faces:
            with torch.random.fork_rng(devices=[]):
                metrics = self.evaluate(self.student)
            set_train_mode(self.student, self.config.freeze_bn)
            constant = metrics.get("val_pred_std", 1.0) == 0
            if self.config.perturb == 0 and self.student_info.get("init") == "teacher":
                metrics.pop("val_cos", None)  # the teacher against itself on the same crop: 0
            self.start_metrics = {
                k: v
                for k, v in metrics.items()
                if isinstance(v, int) or (math.isfinite(v) and not (constant and k in RANK_METRICS))
            }
            self._log({"step": 0, "epoch": 0.0, **self.start_metrics, "start": True})
        self.dist.barrier()

    def _report_invariance(self) -> None:
        """Say whether the best student is closer to the teacher on misaligned faces than at the start."""
        start, best = self.start_metrics.get("val_cos"), self.best_metrics.get("val_cos")
        if start is None or best is None or self.config.perturb == 0 or self.config.lambda_cos == 0:
            return
        if best < start:
            log.info(f"embedding term on validation: {start:.4f} at the start -> {best:.4f} at the best step")
        else:
            log.warning(
                f"warning: the student learnt no alignment invariance: its embedding term on validation is "
                f"{best:.4f} at the best step against {start:.4f} at the start"
            )

    def _check_trained(self, trained: int) -> None:
        """Refuse to save a model no face has trained (every face skipped: missing, unreadable,
        unusable landmarks), in every process at once."""
        if -self.dist.min(-trained) == 0:
            counts: dict[str, int] = {}
            for s in self.skips:
                counts[s.status] = counts.get(s.status, 0) + 1
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "all skipped"
            first = f"; first: {self.skips[0].path}: {self.skips[0].message}" if self.skips else ""
            raise AikdError(f"no training face could be used by step {self.step} ({reasons}{first})")
