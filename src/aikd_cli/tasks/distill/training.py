"""Setting a run up (faces, landmarks, labels, teacher, student, data) and running it: what ``aikd distill`` calls."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import torch
import torch.distributed as dist

from aikd_cli.errors import InputFormatError
from aikd_cli.tasks.distill.calibrate import calibrate
from aikd_cli.tasks.distill.config import DistillConfig, DistillOptions
from aikd_cli.tasks.distill.config_file import to_toml
from aikd_cli.tasks.distill.data import (
    split_validation,
)
from aikd_cli.tasks.distill.engine import Distiller
from aikd_cli.tasks.distill.run_folder import DistillResult, RunFiles, absolute_paths
from aikd_cli.tasks.distill.samples import (
    CACHE_COLUMNS,
    FaceRecord,
    Skip,
    apply_detections,
    attach_labels,
    attach_landmarks,
    collect_faces,
    detect_missing,
    merge_caches,
    read_labels,
    split_usable,
    write_skips,
)
from aikd_cli.tasks.distill.student import build_student, set_head_units
from aikd_cli.tasks.distill.teacher import Teacher, load_teacher
from aikd_cli.utils.atomic import atomic_write
from aikd_cli.utils.csvout import check_resumable
from aikd_cli.utils.device import resolve_device, resolve_precision
from aikd_cli.utils.distributed import Dist, setup_distributed
from aikd_cli.utils.outputs import Output, guard_outputs, local_paths
from aikd_cli.utils.progress import Progress

log = logging.getLogger("aikd")

#: Fewer validation faces than this and the run says its validation numbers are noise.
MIN_RELIABLE_VAL = 32


def prepare_faces(
    config: DistillConfig,
    files: RunFiles,
    dist_: Dist,
    *,
    need_labels: bool,
    progress: Progress | None = None,
    quality_teacher: str | None = None,
) -> tuple[list[FaceRecord], list[FaceRecord], list[Skip]]:
    """Training and validation faces with landmarks (detected once and cached) and labels (from
    ``--labels``, the manifest, or the ``quality_teacher`` model's score of each aligned face)."""
    train, skips = collect_faces(config.data, follow_links=config.follow_links)
    val, val_skips = collect_faces(config.val_data, follow_links=config.follow_links) if config.val_data else ([], [])
    skips += val_skips
    if config.landmarks:
        before = sum(r.landmarks is not None for r in train + val)
        train, val = attach_landmarks(train, config.landmarks), attach_landmarks(val, config.landmarks)
        if dist_.main:
            reused = sum(r.landmarks is not None for r in train + val) - before
            log.info(f"{reused} faces' landmarks from {config.landmarks} (images missing from it, or changed "
                     "since, are detected)")
    if config.labels:
        labels = read_labels(config.labels)
        train, val = attach_labels(train, labels), attach_labels(val, labels)
    missing = sum(r.landmarks is None for r in train + val)
    if missing:
        _detect(train + val, files, dist_, config, missing, progress)
        train, s1 = apply_detections(train, files.landmarks)
        val, s2 = apply_detections(val, files.landmarks)
        skips += s1 + s2
    if quality_teacher:
        train, val = _teacher_labels(quality_teacher, train, val, config, progress if dist_.main else None)
    train, s1 = split_usable(train, need_labels=need_labels)
    val, s2 = split_usable(val, need_labels=need_labels)
    skips += s1 + s2
    if not config.val_data:
        train, val = split_validation(train, config.val_fraction, config.seed)
    return train, val, skips


def _teacher_labels(ref: str, train, val, config: DistillConfig, progress: Progress | None):
    """The quality teacher's score of every aligned face, as its label (see quality_teacher)."""
    from aikd_cli.models.inference import open_face_model
    from aikd_cli.tasks.distill.quality_teacher import label_with_model

    model = open_face_model(ref, device="cpu", precision="fp32", expect="quality")
    report = (lambda done, total: progress(done, total, "teacher quality", "face")) if progress else None
    labelled = label_with_model(train + val, model, batch_size=config.batch_size, progress=report)
    log.info(f"labels: {ref}'s quality of {len(labelled)} aligned faces (embedding teacher {config.backbone})")
    return labelled[: len(train)], labelled[len(train) :]


def _detect(
    records,
    files: RunFiles,
    dist_: Dist,
    config: DistillConfig,
    missing: int,
    progress: Progress | None,
) -> None:
    from aikd_cli.faces.detector import FaceDetector, open_detector

    def make_detector() -> FaceDetector:
        return open_detector(config, resolve_device(config.device) if not dist_.active else device)

    device = (
        torch.device("cuda", dist_.local_rank)
        if dist_.active and torch.cuda.is_available() and config.device != "cpu"
        else torch.device("cpu")
    )

    total, done = -(-missing // dist_.world), 0
    report = progress if progress and dist_.main else (lambda done, total, stage="", unit="": None)

    def advance(n: int) -> None:
        nonlocal done
        done += n
        report(min(done, total), total, "detecting landmarks", "img")

    report(0, total, "detecting landmarks", "img")
    if not dist_.active:
        detect_missing(records, files.landmarks, make_detector, workers=config.workers, progress=advance)
        return
    part = files.root / f"landmarks.rank{dist_.rank}.csv"
    detect_missing(
        records, part, make_detector, workers=config.workers, shard=(dist_.rank, dist_.world), progress=advance
    )
    dist_.barrier()
    if dist_.main:
        merge_caches([files.root / f"landmarks.rank{r}.csv" for r in range(dist_.world)], files.landmarks)
    dist_.barrier()


def prepare_run(
    config: DistillConfig,
    *,
    resume: bool = False,
    progress: Progress | None = None,
    teacher: Teacher | None = None,
) -> Distiller:
    """Validate the config, set up the process group, load the teacher, build the student and the
    data, and (with ``resume``) restore the last checkpoint.

    ``teacher`` replaces loading ``config.teacher`` / ``config.backbone`` with a :class:`Teacher`
    built in Python (any FR network wrapped in a :class:`~aikd_cli.models.loading.LoadedModel`).
    """
    config = absolute_paths(config.validate())
    dist_, device = setup_distributed(config.device)
    files = RunFiles(Path(config.output))
    if dist_.main:
        if not resume and files.state.exists():
            raise InputFormatError(
                f"{files.root} already holds a run",
                hint="pass --resume to continue it, or choose another --output",
            )
        _check_cache(files)
        files.root.mkdir(parents=True, exist_ok=True)
    dist_.barrier()
    quality_teacher = config.teacher if config.teacher and config.backbone else None
    teacher = teacher or load_teacher(config.backbone if quality_teacher else config.teacher or config.backbone)
    student, student_config, student_info = build_student(
        teacher, config.student, config.head_hidden, config.seed, scaled_head=config.head_scaling
    )
    need_labels = not teacher.has_quality or quality_teacher is not None
    train, val, skips = prepare_faces(
        config, files, dist_, need_labels=need_labels, progress=progress, quality_teacher=quality_teacher
    )
    if not train:
        reasons = ", ".join(sorted({s.status for s in skips})) or "no images found"
        hint = f"first: {skips[0].path}: {skips[0].message}" if skips else None
        if need_labels and any(s.status == "no_label" for s in skips):
            hint = (
                f"{teacher.loaded.source} has no quality output: pass --labels, or a FIQA model as --teacher"
            )
        if dist_.main and skips:
            write_skips(skips, files.skipped)
        raise InputFormatError(f"no usable training faces ({reasons})", hint=hint)
    # always measured: the label mean is also the bar validation compares the head against
    calibration = calibrate(
        teacher.to(device),
        train,
        seed=config.seed,
        device=device,
        dtype=resolve_precision(config.precision, device),  # type: ignore[arg-type]
        batch_size=config.batch_size,
        workers=config.workers,
    )
    set_head_units(student, 1.0 / calibration.embedding_norm, calibration.label_mean, calibration.label_std)
    if dist_.main:  # the run's own files are written once everything it reads has been checked
        atomic_write(files.config, to_toml(config))
        if not resume:
            files.metrics.unlink(missing_ok=True)
        write_skips(skips, files.skipped)
        if config.head_scaling or config.quality_units == "std":
            log.info(
                f"head units: embedding norm {calibration.embedding_norm:.3g} (median), targets mean "
                f"{calibration.label_mean:.4g} std {calibration.label_std:.3g} (from {calibration.faces} {calibration.source})"
            )
        if len(val) < MIN_RELIABLE_VAL:
            log.warning(
                f"warning: {len(val)} validation faces: validation losses and rank correlations are "
                + ("not computed, and the last weights are the best" if not val else "noise at this size")
                + "; pass --val-data or a larger --val-fraction"
            )
        if config.perturb == 0:
            log.info("p = 0: both views are the aligned face, so no stability under misalignment is measured")
        log.info(
            f"teacher {teacher.loaded.source} ({teacher.config.arch}, {teacher.loaded.layout}); student {student_info['init']}; "
            f"{len(train)} training / {len(val)} validation faces; {len(skips)} skipped; device {device}"
            + (f" x {dist_.world} processes" if dist_.active else "")
        )
    run = Distiller(
        config,
        teacher=teacher,
        student=student,
        student_config=student_config,
        student_info=student_info,
        train_faces=train,
        val_faces=val,
        skips=skips,
        dist_=dist_,
        device=device,
        progress=progress,
        calibration=calibration,
    )
    if resume:
        run.restore()
    return run


def _check_cache(files: RunFiles) -> None:
    """A ``landmarks.csv`` already in the run folder must be a detection cache: a run appends to it."""
    try:
        check_resumable(files.landmarks, CACHE_COLUMNS)
    except InputFormatError:
        raise InputFormatError(f"{files.landmarks}: not a detection cache of aikd distill (other columns or not "
                               f"UTF-8 text), and a run in {files.root} would add to it",
                               hint="choose another --output, or move that file away") from None


def run(
    options: DistillOptions,
    progress: Progress | None = None,
    *,
    resume: bool = False,
    teacher: Teacher | None = None,
) -> DistillResult:
    """Train an AI-KD student as ``options`` says; the Python equivalent of ``aikd distill``.

    ``resume`` continues the run in ``options.output`` (:func:`resume_options` gives its saved
    options); ``progress`` is told about detecting landmarks, then each training step.

    The run folder is checked against the inputs and locked (by the main process) before any work;
    a run that fails before its first checkpoint removes the folder it created.
    """
    config = options
    files = RunFiles(Path(config.output).expanduser())
    fresh = not files.root.exists()
    main = int(os.environ.get("RANK", "0")) == 0
    try:
        with guard_outputs([Output(files.root, "--output", folder=True, names=files.names, lock=main)],
                           _inputs(config)):
            try:
                return prepare_run(config, resume=resume, progress=progress, teacher=teacher).fit()
            except BaseException:
                if fresh and main and not files.state.exists():
                    shutil.rmtree(files.root, ignore_errors=True)
                raise
    finally:
        if dist.is_available() and dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            dist.destroy_process_group()


def _inputs(config: DistillConfig) -> list[str]:
    """The local files and folders a run reads (data, labels, landmarks, teacher, student, detector)."""
    return local_paths(*config.data, *config.val_data, config.labels, config.landmarks, config.teacher,
                       config.backbone, config.student, config.detector)
