"""The training loop (:class:`Distiller`): steps, EMA, validation, checkpoints, resume, DDP.

Setting a run up lives in ``training.py``; the run folder in ``run_folder.py``.

One process or many (``torchrun --nproc-per-node N -m aikd_cli distill ...``): every process
builds the same face list, takes every N-th face of each epoch's seeded order, and DDP averages the
gradients; only rank 0 validates, writes checkpoints and logs. A step is the same function of
``(seed, step)`` whatever the number of workers or restarts, so ``--resume`` continues a killed run
to the same weights an uninterrupted run reaches.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from aikd_cli.errors import AikdError, InputFormatError
from aikd_cli.models.config import ModelConfig
from aikd_cli.tasks.distill.calibrate import Calibration
from aikd_cli.tasks.distill.checkpointing import Checkpoints, finite
from aikd_cli.tasks.distill.config import DistillConfig
from aikd_cli.tasks.distill.data import (
    TRAIN_STREAM,
    VAL_STREAM,
    EpochSampler,
    FaceViews,
    batch_views,
    collate_views,
)
from aikd_cli.tasks.distill.losses import DistillLoss, LossTerms, term_gradients
from aikd_cli.tasks.distill.run_folder import DistillResult, RunFiles
from aikd_cli.tasks.distill.samples import (
    FaceRecord,
    Skip,
    write_skips,
)
from aikd_cli.tasks.distill.schedules import WeightEMA, lr_lambda
from aikd_cli.tasks.distill.student import make_optimizer, parameter_groups, set_train_mode
from aikd_cli.tasks.distill.teacher import Teacher
from aikd_cli.tasks.distill.validation import Validation
from aikd_cli.utils.device import autocast, resolve_precision
from aikd_cli.utils.distributed import Dist
from aikd_cli.utils.progress import Progress

log = logging.getLogger("aikd")









class Distiller(Checkpoints, Validation):
    """Everything a run holds; :meth:`fit` trains it. Build with :func:`prepare_run`."""

    def __init__(
        self,
        config: DistillConfig,
        *,
        teacher: Teacher,
        student: nn.Module,
        student_config: ModelConfig,
        student_info: dict,
        train_faces: list[FaceRecord],
        val_faces: list[FaceRecord],
        skips: list[Skip],
        dist_: Dist,
        device: torch.device,
        progress: Progress | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.config = config
        self.calibration = calibration
        self.files = RunFiles(Path(config.output))
        self.dist = dist_
        self.device = device
        self.progress = progress if dist_.main else None
        self.teacher = teacher.to(device)
        self.student = student.to(device).to(memory_format=torch.channels_last)
        self.student_config = student_config
        self.student_info = student_info
        self.train_faces, self.val_faces = train_faces, val_faces
        self.skips = list(skips)
        self.size = teacher.config.preprocess.crop_size
        self.dtype = resolve_precision(config.precision, device)  # type: ignore[arg-type]
        units = calibration.label_std if calibration is not None and config.quality_units == "std" else 1.0
        self.loss = DistillLoss(config.lambda_cos, config.lambda_q, config.quality_loss, config.beta, units)
        self.teacher_cache: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor | None]] = {}

        if config.sync_bn:
            if not (dist_.active and device.type == "cuda"):
                raise AikdError("--sync-bn needs a multi-GPU torchrun job")
            self.student = nn.SyncBatchNorm.convert_sync_batchnorm(self.student)
        groups = parameter_groups(self.student, config)
        self.trainable = [p for g in groups for p in g["params"]]
        self.shared = [p for g in groups if g["name"] == "feature_extractor" for p in g["params"]]
        self.grad_log: list[dict] = []
        self.optimizer = make_optimizer(groups, config.optimizer)
        self.model: nn.Module = self.student
        if dist_.active:
            ids = [device.index] if device.type == "cuda" else None
            self.model = nn.parallel.DistributedDataParallel(self.student, device_ids=ids)
        self.scaler = (
            torch.amp.GradScaler(device.type, init_scale=128.0) if self.dtype == torch.float16 else None
        )
        self.ema = WeightEMA(self.student, config.ema_decay) if config.ema_decay > 0 and dist_.main else None

        warp_in_workers = config.warp_on == "workers" or (config.warp_on == "auto" and device.type != "cuda")
        self.sampler = EpochSampler(
            len(train_faces), num_replicas=dist_.world, rank=dist_.rank, seed=config.seed
        )
        common = {
            "perturb": config.perturb,
            "unit": config.perturb_unit,
            "size": self.size,
            "seed": config.seed,
            "warp_in_workers": warp_in_workers,
        }
        loader_args = {
            "num_workers": config.workers,
            "collate_fn": collate_views,
            "pin_memory": device.type == "cuda",
            "generator": torch.Generator().manual_seed(config.seed),
        }
        self.train_loader = DataLoader(
            FaceViews(train_faces, stream=TRAIN_STREAM, **common),
            batch_size=config.batch_size,
            sampler=self.sampler,
            drop_last=True,
            **loader_args,
        )
        self.val_loader = DataLoader(
            FaceViews(val_faces, stream=VAL_STREAM, **common),
            batch_size=config.batch_size,
            sampler=[(0, i) for i in range(len(val_faces))],
            **loader_args,
        )
        self.steps_per_epoch = len(self.sampler) // config.batch_size
        if self.steps_per_epoch == 0:
            raise InputFormatError(
                f"only {len(train_faces)} usable training faces: fewer than one batch of {config.batch_size} per process",
                hint="lower --batch-size or add data",
            )
        self.epochs = config.epochs or max(1, math.ceil(config.min_steps / self.steps_per_epoch))
        self.total_steps = config.max_steps or self.epochs * self.steps_per_epoch
        warmup_steps = round(config.warmup * self.steps_per_epoch)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(warmup_steps, self.total_steps, config.schedule)
        )
        self.val_interval = max(1, round(config.val_every * self.steps_per_epoch))
        self.step = 0
        self.best_value = math.inf
        self.best_step: int | None = None
        self.best_metrics: dict = {}
        self.start_metrics: dict = {}  # validation of the untrained student (see _measure_start)
        self.bad_seen: set[tuple[int, int]] = set()
        self.tb = None
        self.last_window = ""  # the latest training-loss line, shown with each validation

    # ------------------------------------------------------------------ steps

    def _teacher_outputs(self, stream: int, indices: torch.Tensor, clean: torch.Tensor):
        """Teacher embedding and quality for the aligned crops, from the cache when allowed."""
        if not self.config.cache_teacher:
            return self.teacher(clean, self.dtype)
        keys = [(stream, int(i)) for i in indices]
        missing = [j for j, k in enumerate(keys) if k not in self.teacher_cache]
        if missing:
            emb, q = self.teacher(clean[missing], self.dtype)
            for j, e, qq in zip(
                missing, emb.cpu(), q.cpu() if q is not None else [None] * len(missing), strict=True
            ):
                self.teacher_cache[keys[j]] = (e, qq)
        emb = torch.stack([self.teacher_cache[k][0] for k in keys]).to(self.device)
        if self.teacher_cache[keys[0]][1] is None:
            return emb, None
        return emb, torch.stack([self.teacher_cache[k][1] for k in keys]).to(self.device)

    def _targets(self, labels: torch.Tensor, teacher_q: torch.Tensor | None) -> torch.Tensor:
        """A face's own label when it has one, else the teacher's quality."""
        labels = labels.to(self.device)
        if teacher_q is None:
            return labels
        return torch.where(torch.isnan(labels), teacher_q, labels)

    def _needs_teacher(self, labels: torch.Tensor) -> bool:
        return self.config.lambda_cos > 0 or bool(torch.isnan(labels).any())

    def _forward(self, model: nn.Module, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.student_config.preprocess(crops).contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.dtype):
            emb, q = model(x)
        return emb, q

    def train_step(self, batch: dict):
        """One optimiser step on a batch; ``None`` when some process has no usable face in it."""
        self._record_bad(batch["bad"], TRAIN_STREAM)
        n = len(batch["index"])
        if self.dist.min(n) == 0:
            return None
        # DDP averages the processes' gradients: each process's batch mean counts by its share of the
        # step's faces, so the step is the mean over all of them (as in one process) when bad faces
        # leave the processes different numbers
        share = n * self.dist.world / self.dist.sum(n)
        clean, noisy = batch_views(batch, self.device, self.size)
        labels = batch["label"]
        teacher_emb, teacher_q = (
            self._teacher_outputs(TRAIN_STREAM, batch["index"], clean)
            if self._needs_teacher(labels)
            else (None, None)
        )
        emb, q = self._forward(self.model, noisy)
        terms = self.loss(emb, q, teacher_emb, self._targets(labels, teacher_q))
        if self.config.grad_stats and (self.step + 1) % self.config.log_every == 0 and self.shared:
            lambdas = (self.config.lambda_cos, self.config.lambda_q)
            self.grad_log.append(term_gradients(terms, lambdas, self.shared))
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(terms.total * share).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            (terms.total * share).backward()
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.trainable, self.config.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        return terms, n

    def _record_bad(self, bad: list[tuple[int, str, str]], stream: int) -> None:
        """Log and keep (once per face) the faces a worker could not use; training goes on."""
        for index, status, reason in bad:
            if (stream, index) in self.bad_seen:
                continue
            self.bad_seen.add((stream, index))
            face = (self.train_faces if stream == TRAIN_STREAM else self.val_faces)[index]
            self.skips.append(Skip(face.path, status, reason, face.face))
            log.warning(f"skipped {face.path}: {reason}")

    # ------------------------------------------------------------ checkpoints

    # -------------------------------------------------------------- the loop

    def _log(self, record: dict) -> None:
        if not self.dist.main:
            return
        with open(self.files.metrics, "a", encoding="utf-8") as f:
            f.write(json.dumps(finite(record)) + "\n")
        if self.tb is not None:
            for k, v in record.items():
                if (
                    isinstance(v, int | float)
                    and not isinstance(v, bool)
                    and k not in ("step", "epoch")
                    and math.isfinite(v)
                ):
                    self.tb.add_scalar(k, v, record["step"])

    def fit(self) -> DistillResult:
        """Train to ``total_steps`` (from wherever :meth:`restore` left off)."""
        if self.config.tensorboard and self.dist.main:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise AikdError(
                    "--tensorboard needs the tensorboard package", hint="pip install tensorboard"
                ) from None
            self.tb = SummaryWriter(str(self.files.root / "tensorboard"))
        set_train_mode(self.student, self.config.freeze_bn)
        window = _Window()
        trained = 0  # faces this process has trained on since it started
        report = self.progress or (lambda done, total, stage="": None)
        report(self.step, self.total_steps, "distilling")
        if self.step == 0:
            self._measure_start()
        while self.step < self.total_steps:
            epoch, offset = divmod(self.step, self.steps_per_epoch)
            self.sampler.set_position(epoch, offset * self.config.batch_size)
            for batch in self.train_loader:
                out = self.train_step(batch)
                self.scheduler.step()
                self.step += 1
                if out is not None:
                    window.add(*out)
                    trained += out[1]
                if self.step % self.config.log_every == 0 and window.count:
                    self.last_window = self._log_window(window)
                if (
                    self.ema is not None
                    and self.config.ema_every
                    and self.step % self.config.ema_every == 0
                ):
                    self.ema.update(self.student)
                if self.step % self.val_interval == 0 or self.step == self.total_steps:
                    self._check_trained(trained)
                    if self.dist.main:
                        self._validate_and_save()
                    self.dist.barrier()
                report(self.step, self.total_steps, "distilling")
                if self.step >= self.total_steps:
                    break
        if self.tb is not None:
            self.tb.close()
        self.teacher.check_unchanged()
        if self.dist.main:
            self._report_invariance()
            write_skips(self.skips, self.files.skipped)
        elif self.skips:
            write_skips(self.skips, self.files.root / f"skipped.rank{self.dist.rank}.csv")
        counts: dict[str, int] = {}
        for s in self.skips:
            counts[s.status] = counts.get(s.status, 0) + 1
        return DistillResult(
            output=self.files.root,
            best=self.files.best,
            last=self.files.last,
            steps=self.step,
            best_step=self.best_step,
            best_metrics=self.best_metrics,
            start_metrics=self.start_metrics,
            train_faces=len(self.train_faces),
            val_faces=len(self.val_faces),
            skipped=counts,
        )

    def _grad_means(self) -> dict:
        """Mean gradient statistics since the last log line (``--grad-stats``)."""
        if not self.grad_log:
            return {}
        means = {k: float(np.nanmean([g[k] for g in self.grad_log])) for k in self.grad_log[0]}
        self.grad_log.clear()
        return means

    def _log_window(self, window: _Window) -> str:
        """Write the averages since the last log line; return them for the progress bar."""
        loss, cos, quality = window.means()
        if not math.isfinite(loss) and self.scaler is None:
            raise AikdError(
                f"the loss became {loss} by step {self.step}",
                hint="lower --lr / --lr-backbone, or check the quality labels for extreme values",
            )
        elapsed = time.perf_counter() - window.start
        rate = window.count * self.dist.world / elapsed if elapsed > 0 else math.nan
        embedding = self.config.lambda_cos > 0  # else the term is not computed: no by-construction 0
        self._log(
            {
                "step": self.step,
                "epoch": round(self.step / self.steps_per_epoch, 4),
                "lr": self.scheduler.get_last_lr()[0],
                "loss": loss,
                **({"loss_cos": cos} if embedding else {}),
                "loss_q": quality,
                "samples_per_s": rate,
                **self._grad_means(),
            }
        )
        window.reset()
        terms = f"cos {cos:.4f}, q {quality:.4f}" if embedding else f"q {quality:.4f}"
        return f"loss {loss:.4f} ({terms})  {rate:.1f} img/s"


class _Window:
    """Loss sums since the last log line, kept on the device (no per-step synchronisation)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sums: torch.Tensor | None = None
        self.count = 0
        self.start = time.perf_counter()

    def add(self, terms: LossTerms, n: int) -> None:
        values = torch.stack([terms.total.detach().float(), terms.cos.float(), terms.quality.float()]) * n
        self.sums = values if self.sums is None else self.sums + values
        self.count += n

    def means(self) -> tuple[float, float, float]:
        loss, cos, quality = (self.sums / self.count).tolist()
        return loss, cos, quality

