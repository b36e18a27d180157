"""``aikd score``: photos or crops in, one CSV row per face out (the options are in
:mod:`aikd_cli.tasks.score.options`)."""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from aikd_cli.errors import AikdError
from aikd_cli.faces.detector import Face, FaceDetector
from aikd_cli.faces.landmarks import (
    DIGEST_COLUMN,
    landmark_fields,
    relative_to_csv,
    resolve_csv_path,
)
from aikd_cli.faces.pipeline import (
    BAD_LANDMARKS,
    ERROR,
    NO_FACE,
    OK,
    UNREADABLE,
    FaceSource,
    ImageFaces,
    iter_faces,
    make_face_source,
)
from aikd_cli.images.discover import InputItem, iter_inputs
from aikd_cli.models.availability import ensure_available, missing
from aikd_cli.models.inference import FaceModel, open_face_model
from aikd_cli.tasks.score.options import PERTURB_COLUMNS, SCORE_COLUMNS, ScoreOptions
from aikd_cli.tasks.shards import (
    DUPLICATE_MESSAGE,
    merge_parts,
    parse_shard,
    part_meta,
    part_path,
    run_ranks,
    shard_items,
)
from aikd_cli.utils.atomic import atomic_write
from aikd_cli.utils.csvout import ResultsWriter, check_resumable
from aikd_cli.utils.distributed import launched_world
from aikd_cli.utils.outputs import (
    Output,
    check_crop_targets,
    check_mirror,
    guard_outputs,
    local_paths,
    png_tagged,
)
from aikd_cli.utils.progress import Progress

if TYPE_CHECKING:
    from aikd_cli.tasks.report import ReportResult

__all__ = ["SCORE_COLUMNS", "OK", "NO_FACE", "UNREADABLE", "ERROR", "BAD_LANDMARKS", "ScoreOptions", "ScoreResult",
           "run"]

@dataclass
class ScoreResult:
    output: Path
    images: int  # input images processed in this run
    rows: int = 0  # rows in the final CSV
    resumed: int = 0  # rows kept from an earlier run
    status_counts: Counter = field(default_factory=Counter)
    qualities: np.ndarray = field(default_factory=lambda: np.zeros(0))
    seconds: float = 0.0
    report: ReportResult | None = None  # with ``options.report``
    merged: list[Path] = field(default_factory=list)  # the parts joined into ``output`` (--merge, torchrun)

    def percentiles(self, points: Sequence[float] = (0, 5, 25, 50, 75, 95, 100)) -> dict[float, float]:
        if self.qualities.size == 0:
            return {}
        return dict(zip(points, np.percentile(self.qualities, points).tolist()))


def face_row(path: str, csv_dir: Path, *, status: str, message: str = "", face: int | None = None,
             quality: float | None = None, detection: Face | None = None,
             landmarks: np.ndarray | None = None, sha256: str | None = None) -> dict[str, str]:
    """One CSV row (all cells as text)."""
    row = {
        "path": relative_to_csv(path, csv_dir),
        "face": "" if face is None else str(face),
        "quality": "" if quality is None else format(quality, ".9g"),
        "det_score": "" if detection is None else f"{detection.score:.4f}",
        DIGEST_COLUMN: sha256 or "",
        "status": status,
        "message": message,
    }
    box = detection.box if detection is not None else (None,) * 4
    for key, value in zip(("box_x1", "box_y1", "box_x2", "box_y2"), box):
        row[key] = "" if value is None else f"{value:.1f}"
    row.update(landmark_fields(landmarks))
    return row


def run(
    options: ScoreOptions,
    progress: Progress | None = None,
    *,
    model: FaceModel | None = None,
    detector: FaceDetector | None = None,
) -> ScoreResult:
    """Score every face in ``options.inputs`` (files and folders) and write the CSV ``options.output``.

    Every image gets at least one row; failures are rows with a status and message, never
    exceptions. Rows are journalled as they are produced, so an interrupted run leaves a valid CSV
    of everything finished (``KeyboardInterrupt`` is re-raised after the CSV is written), and
    ``options.resume`` skips images already in it. Pass ``model``/``detector`` to reuse loaded ones.
    With ``options.shard`` (``"K/N"``) only part K is scored, into ``<output>.part-K-of-N``;
    ``options.merge`` joins the parts; under ``torchrun`` each rank scores its part and rank 0
    merges them (see :mod:`aikd_cli.tasks.shards`).

    >>> from aikd_cli import ScoreOptions, score
    >>> result = score(ScoreOptions(inputs=["photos/"], output="scores.csv"))  # doctest: +SKIP
    """
    opts = options
    opts.validate()
    if opts.merge:
        result = merge_shards(opts.output)
    elif launched_world() > 1:
        if opts.shard is not None:
            raise AikdError("--shard is for separate processes: under torchrun every rank already scores its shard")
        result = run_torchrun(opts, progress, model=model, detector=detector)
    else:
        result = run_here(opts, progress, model=model, detector=detector)
    if opts.report is not None and result.output == opts.output:  # the whole CSV (rank 0 under torchrun)
        from aikd_cli.tasks.report import ReportOptions
        from aikd_cli.tasks.report import run as build_report

        result.report = build_report(ReportOptions(scores=result.output, output=opts.report, workers=opts.workers,
                                                   threshold=opts.report_threshold),
                                     progress)
    return result


def run_here(opts: ScoreOptions, progress: Progress | None = None, *, model: FaceModel | None = None,
             detector: FaceDetector | None = None) -> ScoreResult:
    """:func:`run` in this process only (the whole input, or the part ``opts.shard``)."""
    opts.validate()
    shard = parse_shard(opts.shard) if opts.shard else None
    output = part_path(opts.output, *shard) if shard else opts.output
    csv_dir = output.parent
    started = time.perf_counter()
    inputs = [str(p) for p in opts.inputs]
    report_inputs = [*inputs, *(str(p) for p in (opts.landmarks, opts.save_crops) if p)]
    if opts.report is not None:  # before scoring: a report that cannot be written is known at once
        from aikd_cli.tasks.report import check_report_output

        check_report_output(output, opts.report, report_inputs)
    with guard_outputs(score_outputs(output, opts), local_paths(*inputs, *score_inputs(opts, model, detector))):
        items = list(iter_inputs(inputs, recursive=opts.recursive, follow_links=opts.follow_links))
        if not items:
            raise AikdError("no input images found", hint="give image files or folders that contain images")
        if opts.save_crops is not None:
            from aikd_cli.tasks.report.crops import KEY

            kept, targets = opts.save_crops, _crop_targets(items, csv_dir)
            check_mirror(kept, "--save-crops", targets, [it.path for it in items])
            check_crop_targets(kept, "--save-crops", targets, lambda name: png_tagged(kept / name, KEY), numbered=True)
        todo, part = shard_items(items, *shard, opts.batch_size) if shard else (items, None)
        if opts.resume:
            check_resumable(output, opts.columns)
        # models load before any output exists: a bad --model or --detector leaves no empty CSV behind
        if model is None:
            needs_detector = detector is None and not opts.aligned and not opts.landmarks
            wanted = [("--model", opts.model), ("--detector", opts.detector if needs_detector else None)]
            if missing(opts.model) is None:  # here: its own mistakes (a detector as --model) come first
                model = open_face_model(opts.model, device=opts.device, precision=opts.precision, expect="quality")
            ensure_available(wanted)
        model = model or open_face_model(opts.model, device=opts.device, precision=opts.precision, expect="quality")
        source = make_face_source(opts, model.config.preprocess.crop_size, model.device, detector, unit=opts.perturb_unit,
                                  seed=opts.seed, samples=opts.perturb_samples, sample_perturb=opts.perturb)
        writer = ResultsWriter(output, opts.columns, resume=opts.resume,
                               key=lambda row: resolve_csv_path(row["path"], csv_dir))
        todo = [it for it in todo if os.path.normpath(os.path.abspath(it.path)) not in writer.done]
        result = ScoreResult(output, images=len(todo), resumed=writer.kept)
        try:
            with writer:  # published at the end, and on Ctrl-C; a crash leaves an earlier CSV as it was
                if todo:
                    _run(todo, writer, csv_dir, opts, model, source, progress)
                if part is not None:
                    part["complete"] = True
        finally:
            if writer.published:
                write_meta(output, opts, model, shard=part)
    result.seconds = time.perf_counter() - started
    result.rows, result.status_counts, result.qualities = summarize_scores(output)
    return result


def merge_shards(output: str | os.PathLike) -> ScoreResult:
    """``aikd score --merge``: join the parts of ``output`` (:func:`~aikd_cli.tasks.shards.merge_parts`)."""
    started = time.perf_counter()
    parts = merge_parts(output)
    rows, counts, qualities = summarize_scores(output)
    return ScoreResult(Path(output), images=0, rows=rows, status_counts=counts, qualities=qualities,
                       seconds=time.perf_counter() - started, merged=parts)


def run_torchrun(opts: ScoreOptions, progress: Progress | None = None, **models) -> ScoreResult:
    """One rank of a ``torchrun`` job (:func:`~aikd_cli.tasks.shards.run_ranks`)."""
    started = time.perf_counter()
    merged = run_ranks(replace(opts, report=None), progress, lambda mine, p: run_here(mine, p, **models),
                       lambda: merge_shards(opts.output))
    merged.seconds = time.perf_counter() - started
    return merged


def score_outputs(output: Path, opts: ScoreOptions) -> list[Output]:
    """What ``aikd score`` writes: the CSV (with its ``.partial`` journal and ``.meta.json``), and
    the crops of ``--save-crops``."""
    outputs = [Output(output, "--output")]
    if opts.save_crops is not None:
        # parts of one job share the folder: each locks only its own CSV
        outputs.append(Output(opts.save_crops, "--save-crops", folder=True, mirror=True, lock=opts.shard is None))
    return outputs


def score_inputs(opts: ScoreOptions, model: FaceModel | None = None, detector: FaceDetector | None = None) -> list:
    """The files ``aikd score`` reads besides the images: landmarks, model and detector weights."""
    return [opts.landmarks, None if model is not None else opts.model,
            None if detector is not None or opts.aligned or opts.landmarks else opts.detector]


def _crop_targets(items: list[InputItem], csv_dir: Path) -> list[tuple[str, str]]:
    """``(image, crop name)`` of every image for ``--save-crops`` (a ``_<face>`` suffix with
    several faces is allowed for by :func:`~aikd_cli.utils.outputs.check_mirror`)."""
    from aikd_cli.tasks.report.crops import crop_name

    return [(it.path, crop_name(relative_to_csv(it.path, csv_dir), 0, False)) for it in items
            if not (it.problem or it.duplicate_of)]


def _run(todo: list[InputItem], writer: ResultsWriter, csv_dir: Path, opts: ScoreOptions, model: FaceModel,
         source: FaceSource, progress) -> None:
    paths = [it.path for it in todo if not (it.duplicate_of or it.problem)]
    done = 0
    if progress:
        progress(0, len(todo))  # the work starts now: rates count from here
    for batch in iter_faces(paths, source, opts.batch_size, opts.workers):
        rows = score_faces(batch, model, csv_dir, opts.batch_size)
        if opts.save_crops is not None:  # before the rows: a journalled row has its crop
            from aikd_cli.tasks.report.crops import save_crops

            save_crops(batch, opts.save_crops, csv_dir)
        writer.write(rows)
        done += len(batch)
        if progress:
            progress(done, len(todo))
    # after the originals, so that "same file as" always points at an earlier row
    writer.write(face_row(it.path, csv_dir, status=ERROR, message=f"{DUPLICATE_MESSAGE}{it.duplicate_of}")
                 for it in todo if it.duplicate_of)
    writer.write(face_row(it.path, csv_dir, status=UNREADABLE, message=it.problem) for it in todo if it.problem)
    if progress:
        progress(len(todo), len(todo))


def score_faces(batch: list[ImageFaces], model: FaceModel, csv_dir: Path, batch_size: int) -> list[dict[str, str]]:
    """Run the model on every usable face of ``batch`` (and on its misaligned samples, if any) and
    return its rows, in order."""
    faces = [f for img in batch for f in img.usable]
    crops = [(id(f), k, c) for f in faces for k, c in enumerate([f.crop, *f.samples]) if c is not None]
    qualities: dict[tuple[int, int], float] = {}
    for start in range(0, len(crops), batch_size):
        chunk = crops[start : start + batch_size]
        values = model(torch.stack([c for _, _, c in chunk])).quality.tolist()
        qualities.update(zip(((face, k) for face, k, _ in chunk), values))
    rows = []
    for img in batch:
        if not img.faces:
            rows.append(face_row(img.path, csv_dir, status=img.status, message=img.message, sha256=img.sha256))
        for f in img.faces:
            q = qualities.get((id(f), 0), math.nan)
            ok = f.problem is None and math.isfinite(q)
            status = OK if ok else BAD_LANDMARKS if f.problem else ERROR
            message = "" if ok else f.problem or f"model returned a non-finite quality ({q})"
            row = face_row(img.path, csv_dir, status=status, face=f.index, quality=q if ok else None, message=message,
                           detection=f.detection, landmarks=f.written_landmarks, sha256=img.sha256)
            if f.samples:
                row.update(_spread([qualities.get((id(f), k), math.nan) for k in range(1, len(f.samples) + 1)]))
            rows.append(row)
    return rows


def _spread(values: list[float]) -> dict[str, str]:
    """Mean and standard deviation of the finite qualities of a face's misaligned samples."""
    finite = np.array([v for v in values if math.isfinite(v)])
    if finite.size == 0:
        return dict.fromkeys(PERTURB_COLUMNS, "")
    return dict(zip(PERTURB_COLUMNS, (format(float(finite.mean()), ".9g"), format(float(finite.std()), ".9g"))))


def write_meta(output: Path, opts: ScoreOptions, model: FaceModel | None, shard: dict | None = None) -> None:
    """``<csv>.meta.json``: which model and detector made the scores, for reports and papers (and,
    for a part of ``--shard``, which block it holds and whether it finished)."""
    meta = part_meta(
        opts, shard or {},
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        model=getattr(model, "source", opts.model),
        model_config=model.config.to_dict() if model is not None else None,
        detector=None if (opts.aligned or opts.landmarks) else opts.detector,
    )
    if shard is None:
        del meta["shard"]
    atomic_write(output.with_name(output.name + ".meta.json"), json.dumps(meta, indent=2, default=str))


def summarize_scores(csv_file: str | os.PathLike) -> tuple[int, Counter, np.ndarray]:
    """Row count, rows per status and the finite qualities of a score CSV (streamed)."""
    counts: Counter = Counter()
    values = []
    rows = 0
    with open(csv_file, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows += 1
            counts[row.get("status", "")] += 1
            if row.get("status") == OK and row.get("quality"):
                values.append(float(row["quality"]))
    return rows, counts, np.asarray(values, dtype=np.float64)
