"""``aikd align``: write the aligned crops a model sees, plus the landmarks and transforms used.

The standard pre-processing step before training or evaluating FIQA / FR models elsewhere, and a way
to look at exactly what the models see; with ``perturb`` it shows what the AI-KD student sees.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aikd_cli.errors import AikdError
from aikd_cli.faces.detector import FaceDetector
from aikd_cli.faces.landmarks import DIGEST_COLUMN, LANDMARK_COLUMNS, relative_to_csv, resolve_csv_path
from aikd_cli.faces.pipeline import (
    BAD_LANDMARKS,
    ERROR,
    OK,
    UNREADABLE,
    AlignedFace,
    ImageFaces,
    iter_faces,
    make_face_source,
)
from aikd_cli.images.discover import iter_inputs
from aikd_cli.tasks.align.options import AlignOptions
from aikd_cli.tasks.score.scoring import face_row, summarize_scores
from aikd_cli.tasks.shards import (
    DUPLICATE_MESSAGE,
    merge_parts,
    parse_shard,
    part_meta,
    part_path,
    run_ranks,
    shard_items,
)
from aikd_cli.utils.atomic import StagedFiles, atomic_open, atomic_write
from aikd_cli.utils.csvfiles import cell_path, dict_rows, path_cell
from aikd_cli.utils.csvout import ResultsWriter, check_resumable
from aikd_cli.utils.device import resolve_device
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

MATRIX_COLUMNS = ("m00", "m01", "m02", "m10", "m11", "m12")
#: ``lm*`` are the landmarks the crop was warped from (perturbed ones with ``--perturb``), so the
#: CSV fed back as ``--landmarks`` reproduces the same crops.
ALIGN_COLUMNS = ("path", "face", "crop", "det_score", "box_x1", "box_y1", "box_x2", "box_y2",
                 *LANDMARK_COLUMNS, *MATRIX_COLUMNS, DIGEST_COLUMN, "status", "message")


@dataclass
class AlignResult:
    output: Path
    csv: Path
    images: int
    crops: int = 0
    status_counts: dict = field(default_factory=dict)
    merged: list[Path] = field(default_factory=list)  # the parts joined into ``csv`` (--merge, torchrun)


#: PNG text chunk that marks a crop as written by ``aikd align`` (a run may replace such files only).
CROP_KEY = "aikd-align"


def _crop_name(path: str, base: str, face: int, all_faces: bool) -> str:
    """Mirror the input tree under the output folder: ``<base>/a/b.jpg`` -> ``a/b.jpg.png``
    (``a/b.jpg_1.png`` per face with ``--faces all``). The image's extension stays in the name, so
    ``b.jpg`` and ``b.png`` get different crops."""
    name = os.path.relpath(os.path.abspath(path), base)
    return f"{name}_{face}.png" if all_faces else f"{name}.png"


def _common_base(inputs: list[str]) -> str:
    """The deepest folder containing every input (a folder input counts as its own base)."""
    folders = [os.path.abspath(p) if os.path.isdir(p) else os.path.dirname(os.path.abspath(p)) for p in inputs]
    return os.path.commonpath(folders)


def run(options: AlignOptions, progress: Progress | None = None, *, detector: FaceDetector | None = None) -> AlignResult:
    """Align every face in ``options.inputs`` and write ``output/<tree>.png`` + ``output/landmarks.csv``.

    A run into a folder that already holds files stages its crops and moves them into place with
    the CSV at the end (or on Ctrl-C), so a crash leaves the earlier crops and CSV as they were.
    ``options.shard``, ``options.merge`` and torchrun work as in ``aikd score`` (:mod:`aikd_cli.tasks.shards`).
    """
    opts = options
    opts.validate()
    if opts.merge:
        return merge_aligned(opts.output)
    if launched_world() > 1:
        if opts.shard is not None:
            raise AikdError("--shard is for separate processes: under torchrun every rank already aligns its shard")
        return run_ranks(opts, progress, lambda mine, p: run_here(mine, p, detector=detector),
                         lambda: merge_aligned(opts.output))
    return run_here(opts, progress, detector=detector)


def merge_aligned(out: Path) -> AlignResult:
    """``aikd align --merge``: join the parts of ``out/landmarks.csv`` (the crops are in place)."""
    csv_path = Path(out) / "landmarks.csv"
    parts = merge_parts(csv_path)
    _, counts, _ = summarize_scores(csv_path)
    return AlignResult(Path(out), csv_path, images=0, crops=len(_listed_crops(csv_path, journal=False)),
                       status_counts=counts, merged=parts)


def run_here(opts: AlignOptions, progress: Progress | None = None, *,
             detector: FaceDetector | None = None) -> AlignResult:
    """:func:`run` in this process only: the whole input, or the part ``opts.shard``, whose crops
    are written in place (parts run at once share the folder) and whose rows go to its own CSV."""
    opts.validate()
    out = opts.output
    shard = parse_shard(opts.shard) if opts.shard else None
    csv_path = part_path(out / "landmarks.csv", *shard) if shard else out / "landmarks.csv"
    inputs = [str(p) for p in opts.inputs]
    outputs = [Output(out, "--output", folder=True, mirror=True, names=("landmarks.csv", StagedFiles.NAME),
                      lock=shard is None)]
    if shard:
        outputs.append(Output(csv_path, "--output"))
    with guard_outputs(outputs, local_paths(*inputs, opts.landmarks, None if detector or opts.landmarks
                                            else opts.detector)):
        items = list(iter_inputs(inputs, recursive=opts.recursive, follow_links=opts.follow_links))
        if not items:
            raise AikdError("no input images found", hint="give image files or folders that contain images")
        base = _common_base(inputs)
        targets = [(it.path, _crop_name(it.path, base, 0, False)) for it in items
                   if not (it.problem or it.duplicate_of)]
        check_mirror(out, "--output", targets, [it.path for it in items])
        own = _listed_crops(*dict.fromkeys((out / "landmarks.csv", csv_path)))  # and crops tagged by align
        every = opts.faces == "all"  # then NAME_<k>.png for each face k
        check_crop_targets(out, "--output", targets, lambda name: name in own or png_tagged(out / name, CROP_KEY),
                           plain=not every, numbered=every)
        todo, part = shard_items(items, *shard, opts.batch_size) if shard else (items, None)
        if opts.resume:
            check_resumable(csv_path, ALIGN_COLUMNS)
        device = resolve_device(opts.device)
        source = make_face_source(opts, opts.size, device, detector, perturb=opts.perturb,
                                  unit=opts.perturb_unit, seed=opts.seed)
        out.mkdir(parents=True, exist_ok=True)
        staged = None if shard else _staging(out, csv_path, opts.resume)
        writer = ResultsWriter(csv_path, ALIGN_COLUMNS, resume=opts.resume,
                               key=lambda row: resolve_csv_path(row["path"], out))
        todo = [it for it in todo if os.path.normpath(os.path.abspath(it.path)) not in writer.done]
        summary = AlignResult(out, csv_path, images=len(todo))
        crops = staged.path if staged else out
        try:
            with writer:  # published at the end, and on Ctrl-C; a crash leaves an earlier CSV as it was
                try:
                    _run(todo, writer, out, crops, base, opts, source, summary, progress)
                except KeyboardInterrupt:
                    if staged:
                        staged.publish()  # the crops of the rows kept, before the CSV names them
                    raise
                if staged:
                    staged.publish()
                if part is not None:
                    part["complete"] = True
        finally:
            if part is not None and writer.published:
                atomic_write(csv_path.with_name(csv_path.name + ".meta.json"),
                             json.dumps(part_meta(opts, part), indent=2, default=str))
    _, summary.status_counts, _ = summarize_scores(csv_path)
    return summary


def _staging(out: Path, csv_path: Path, resume: bool) -> StagedFiles | None:
    """Where this run's crops go first. A fresh run into a folder with earlier files stages them;
    ``--resume`` writes in place, after adopting the crops a crashed staged run left for the rows
    of its journal that are kept (those of images the earlier CSV does not list)."""
    staged = StagedFiles(out)
    if resume:
        if staged.leftover():
            staged.publish(skip=_listed_crops(csv_path, journal=False))
        return None
    if any(e.name != StagedFiles.NAME for e in os.scandir(out)):
        staged.start()
        return staged
    staged.discard()
    return None


def _listed_crops(*csv_paths: Path, journal: bool = True) -> set[str]:
    """The crops the CSVs name (and, with ``journal``, their ``.partial`` journals)."""
    listed: set[str] = set()
    for path in csv_paths:
        for source in (path, path.with_name(path.name + ".partial")) if journal else (path,):
            if source.is_file():
                with contextlib.suppress(AikdError):  # unreadable: it lists nothing of ours
                    _, rows = dict_rows(source)
                    listed.update(cell_path(row["crop"]) for _, row in rows if row.get("crop"))
    return listed


def _run(todo: list, writer: ResultsWriter, out: Path, crops: Path, base: str, opts: AlignOptions, source,
         summary: AlignResult, progress: Progress | None) -> None:
    paths = [it.path for it in todo if not (it.duplicate_of or it.problem)]
    done = 0
    if progress:
        progress(0, len(todo))  # the work starts now: rates count from here
    for batch in iter_faces(paths, source, opts.batch_size, opts.workers):
        rows = []
        for img in batch:
            if not img.faces:
                rows.append(_row(img.path, out, img))
            for f in img.faces:
                if f.problem:
                    rows.append(_row(img.path, out, img, f))
                    continue
                name = _crop_name(img.path, base, f.index, opts.faces == "all")
                row = _row(img.path, out, img, f, name)
                _save_png(f.crop, crops / name, row["path"], f.index)
                rows.append(row)
                summary.crops += 1
        writer.write(rows)
        done += len(batch)
        if progress:
            progress(done, len(todo))
    writer.write(_row(it.path, out, ImageFaces(it.path, ERROR, f"{DUPLICATE_MESSAGE}{it.duplicate_of}"))
                 for it in todo if it.duplicate_of)
    writer.write(_row(it.path, out, ImageFaces(it.path, UNREADABLE, it.problem)) for it in todo if it.problem)


def _row(path: str, out: Path, img: ImageFaces, face: AlignedFace | None = None, crop: str = "") -> dict[str, str]:
    if face is None:
        row = face_row(path, out, status=img.status, message=img.message, sha256=img.sha256)
    else:
        row = face_row(path, out, status=BAD_LANDMARKS if face.problem else OK, message=face.problem or "",
                       face=face.index, detection=face.detection, landmarks=face.written_landmarks, sha256=img.sha256)
    row["crop"] = path_cell(crop)
    matrix = face.matrix.reshape(6) if face is not None and face.matrix is not None else [None] * 6
    row.update({k: "" if v is None else f"{v:.6f}" for k, v in zip(MATRIX_COLUMNS, matrix)})
    row["path"] = relative_to_csv(path, out)
    return row


def _save_png(crop: torch.Tensor, path: Path, cell: str, face: int) -> None:
    """The crop as a PNG tagged with the row it belongs to (:data:`CROP_KEY`)."""
    from PIL import PngImagePlugin

    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.ascontiguousarray(crop.permute(1, 2, 0).cpu().numpy())
    info = PngImagePlugin.PngInfo()
    info.add_text(CROP_KEY, json.dumps({"path": cell, "face": face}))
    with atomic_open(path, "wb") as f:
        Image.fromarray(array).save(f, format="PNG", pnginfo=info)
