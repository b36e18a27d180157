"""Which faces a run trains on: manifests and folders in, one record per face out, bad inputs counted.

A face needs an image, its 5 landmarks and (unless the teacher gives quality itself) a label.
Landmarks come from the manifest, from ``--landmarks``, or from the detector, run once and cached
in the run folder (``landmarks.csv``, resumable) so a restarted run never detects twice. Faces that
cannot be used are never an exception: they become :class:`Skip` rows with a reason.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from aikd_cli.errors import InputFormatError
from aikd_cli.faces.detector import FaceDetector
from aikd_cli.faces.landmarks import (
    DIGEST_COLUMN,
    LANDMARK_COLUMNS,
    landmark_fields,
    read_landmarks,
    relative_to_csv,
    resolve_csv_path,
)
from aikd_cli.images.decode import file_sha256
from aikd_cli.images.discover import iter_inputs
from aikd_cli.utils.csvfiles import dict_rows, path_cell

#: Columns of the detection cache and of ``skipped.csv``.
CACHE_COLUMNS = ("path", "face", "det_score", *LANDMARK_COLUMNS, DIGEST_COLUMN, "status", "message")
SKIP_COLUMNS = ("path", "face", "status", "message")


@dataclass(frozen=True)
class FaceRecord:
    """One training face. ``label`` is NaN when the teacher provides the quality."""

    path: str
    face: int = 0
    landmarks: np.ndarray | None = None  # (5, 2) float64, original-image pixels
    label: float = math.nan
    identity: str | None = None


@dataclass(frozen=True)
class Skip:
    """A face (or image) left out, and why; written to the run's ``skipped.csv``."""

    path: str
    status: str  # unreadable | no_face | no_label | bad_landmarks | duplicate
    message: str
    face: int | None = None

    def row(self) -> dict[str, str]:
        return {
            "path": path_cell(self.path),
            "face": "" if self.face is None else str(self.face),
            "status": self.status,
            "message": self.message,
        }


def _float(cell: str | None) -> float:
    try:
        return float(cell) if cell not in (None, "") else math.nan
    except ValueError:
        return math.nan


def read_manifest(csv_file: str | Path) -> list[FaceRecord]:
    """Faces listed in a CSV: ``path`` plus optional ``face``, ``lm0_x..lm4_y``, ``quality`` (or
    ``label``) and ``identity`` columns. A score CSV from ``aikd score`` is a valid manifest."""
    csv_file = Path(csv_file)
    columns, rows = dict_rows(csv_file, "manifest")
    if "path" not in columns:
        rows.close()
        raise InputFormatError(
            f"{csv_file}: a manifest needs a 'path' column (found: {', '.join(columns) or 'nothing'})"
        )
    has_lm = all(c in columns for c in LANDMARK_COLUMNS)
    label_col = "quality" if "quality" in columns else "label" if "label" in columns else None
    records = []
    for line, row in rows:
        if not (row.get("path") or "").strip():
            continue
        face_cell = (row.get("face") or "").strip()
        try:
            face = int(face_cell) if face_cell else 0
        except ValueError:
            raise InputFormatError(f"{csv_file}:{line}: face index {face_cell!r} is not an integer") from None
        landmarks = None
        if has_lm:
            values = [_float(row.get(c)) for c in LANDMARK_COLUMNS]
            if all(math.isfinite(v) for v in values):
                landmarks = np.array(values, dtype=np.float64).reshape(5, 2)
        records.append(
            FaceRecord(
                path=resolve_csv_path(row["path"], csv_file.parent),
                face=face,
                landmarks=landmarks,
                label=_float(row.get(label_col)) if label_col else math.nan,
                identity=(row.get("identity") or None),
            )
        )
    return records


def collect_faces(
    inputs: Iterable[str | Path], *, recursive: bool = True, follow_links: bool = False
) -> tuple[list[FaceRecord], list[Skip]]:
    """Faces from folders, image files and CSV manifests, in a stable order, duplicates dropped."""
    records: list[FaceRecord] = []
    skips: list[Skip] = []
    for given in inputs:
        given = str(given)
        if given.lower().endswith(".csv") and Path(given).is_file():
            records.extend(read_manifest(given))
            continue
        for item in iter_inputs([given], recursive=recursive, follow_links=follow_links):
            if item.problem:
                skips.append(Skip(item.path, "unreadable", item.problem))
            elif item.duplicate_of:
                skips.append(Skip(item.path, "duplicate", f"same file as {item.duplicate_of}"))
            else:
                records.append(FaceRecord(path=str(Path(item.path).absolute())))
    seen: set[tuple[str, int]] = set()
    unique = []
    for r in records:
        if (r.path, r.face) in seen:
            skips.append(Skip(r.path, "duplicate", "listed twice", r.face))
            continue
        seen.add((r.path, r.face))
        unique.append(r)
    return unique, skips


def read_labels(csv_file: str | Path) -> dict[tuple[str, int], float]:
    """``{(absolute path, face): quality}`` from a labels CSV (``path``, optional ``face``, ``quality``).

    Rows with an empty or non-finite quality (e.g. identities ``aikd label`` could not score) are
    left out, so those faces are reported as unlabelled rather than trained on a NaN.
    """
    csv_file = Path(csv_file)
    labels: dict[tuple[str, int], float] = {}
    columns, rows = dict_rows(csv_file, "labels CSV")
    column = "quality" if "quality" in columns else "label" if "label" in columns else None
    if "path" not in columns or column is None:
        rows.close()
        raise InputFormatError(
            f"{csv_file}: a labels CSV needs 'path' and 'quality' columns (found: {', '.join(columns)})"
        )
    for line, row in rows:
        value = (row.get(column) or "").strip()
        if not value:
            continue
        try:
            quality = float(value)
        except ValueError:
            raise InputFormatError(f"{csv_file}:{line}: quality {value!r} is not a number") from None
        if not math.isfinite(quality):
            continue
        face_cell = (row.get("face") or "").strip()
        labels[(resolve_csv_path(row["path"], csv_file.parent), int(face_cell) if face_cell else 0)] = quality
    return labels


def _is_stale(known, path: str) -> bool:
    """The CSV recorded this image's hash and the file now differs (a missing file is left to
    the data path, which reports it as unreadable)."""
    if not known.digest(path):
        return False
    try:
        return known.is_stale(path, file_sha256(path))
    except OSError:
        return False


def attach_landmarks(records: list[FaceRecord], csv_file: str | Path) -> list[FaceRecord]:
    """Fill missing landmarks from a landmark CSV (e.g. ``aikd score``'s). A folder input takes
    every face the CSV lists for that image; a manifest row keeps its face index. Entries for
    images that changed since the CSV was written are ignored (those faces are detected again)."""
    known = read_landmarks(csv_file)
    out = []
    for r in records:
        faces = known.get(r.path)
        if r.landmarks is not None or not faces or _is_stale(known, r.path):
            out.append(r)
            continue
        listed = dict(faces)
        out.append(replace(r, landmarks=listed[r.face]) if r.face in listed else r)
        if r.face == 0:  # a folder input: also the other faces of the image
            out.extend(replace(r, face=i, landmarks=lm) for i, lm in sorted(listed.items()) if i != 0)
    return out


def attach_labels(records: list[FaceRecord], labels: dict[tuple[str, int], float]) -> list[FaceRecord]:
    """Labels from a labels CSV override manifest labels."""
    return [replace(r, label=labels[(r.path, r.face)]) if (r.path, r.face) in labels else r for r in records]


def split_usable(records: list[FaceRecord], *, need_labels: bool) -> tuple[list[FaceRecord], list[Skip]]:
    """Faces that have landmarks (and labels when the teacher cannot give them)."""
    usable, skips = [], []
    for r in records:
        if r.landmarks is None:
            skips.append(Skip(r.path, "no_face", "no landmarks and no face detected", r.face))
        elif need_labels and not math.isfinite(r.label):
            skips.append(Skip(r.path, "no_label", "no quality label for this face", r.face))
        else:
            usable.append(r)
    return usable, skips


def read_detection_cache(cache: Path) -> dict[str, dict[str, str]]:
    """Rows of a detection cache by absolute path (complete rows only)."""
    if not cache.exists():
        return {}
    with open(cache, newline="", encoding="utf-8") as f:
        return {
            resolve_csv_path(row["path"], cache.parent): row for row in csv.DictReader(f) if row.get("status")
        }


def detect_missing(
    records: list[FaceRecord],
    cache: Path,
    make_detector: Callable[[], FaceDetector],
    *,
    workers: int = 0,
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
    shard: tuple[int, int] = (0, 1),
) -> None:
    """Detect the largest face of every image that has no landmarks yet, appending to ``cache``.

    Resumable: images already in the cache (or its ``.partial`` journal) are not detected again.
    ``shard=(rank, world)`` detects every world-th image, for distributed runs (each process
    writes its own cache file; :func:`merge_caches` joins them). Faces are found by the same
    :class:`~aikd_cli.faces.pipeline.FaceFinder` as every other command.
    """
    from aikd_cli.faces.pipeline import FaceFinder, iter_found
    from aikd_cli.utils.csvout import ResultsWriter

    writer = ResultsWriter(
        cache, CACHE_COLUMNS, resume=True, key=lambda row: resolve_csv_path(row["path"], cache.parent)
    )
    todo = sorted({r.path for r in records if r.landmarks is None} - set(writer.done))[shard[0] :: shard[1]]
    try:
        if not todo:
            return
        finder = FaceFinder("detect", detector=make_detector())
        for batch in iter_found(todo, finder.find, finder.worker_transform(), batch_size, workers):
            rows = []
            for img in batch:
                row = {"path": relative_to_csv(img.path, cache.parent), "face": "", "det_score": "",
                       **landmark_fields(None), DIGEST_COLUMN: img.sha256 or "", "status": img.status,
                       "message": img.message}
                if img.usable:
                    face = img.usable[0]
                    row.update(face=str(face.index), det_score=f"{face.detection.score:.4f}",
                               **landmark_fields(face.landmarks), status="ok", message="")
                rows.append(row)
            writer.write(rows)
            if progress:
                progress(len(batch))
    finally:
        writer.close()


def merge_caches(parts: list[Path], target: Path) -> None:
    """Join per-process detection caches into ``target`` (atomically), keeping existing rows."""
    from aikd_cli.utils.csvout import ResultsWriter

    rows = {}
    for part in [target, *parts]:
        for path, row in read_detection_cache(part).items():
            rows.setdefault(path, {**row, "path": relative_to_csv(path, target.parent)})
    writer = ResultsWriter(target, CACHE_COLUMNS)
    writer.write(rows[k] for k in sorted(rows))
    writer.close()
    for part in parts:
        part.unlink(missing_ok=True)


def apply_detections(records: list[FaceRecord], cache: Path) -> tuple[list[FaceRecord], list[Skip]]:
    """Landmarks from the detection cache for faces that had none; failures become skips."""
    rows = read_detection_cache(cache)
    out, skips = [], []
    for r in records:
        row = rows.get(r.path)
        if r.landmarks is not None or row is None:
            out.append(r)
        elif row["status"] == "ok":
            out.append(
                replace(
                    r,
                    landmarks=np.array([float(row[c]) for c in LANDMARK_COLUMNS], dtype=np.float64).reshape(
                        5, 2
                    ),
                )
            )
        else:
            skips.append(
                Skip(r.path, row["status"], row["message"] or row["status"].replace("_", " "), r.face)
            )
    return out, skips


def write_skips(skips: list[Skip], path: Path) -> None:
    from aikd_cli.utils.csvout import ResultsWriter

    writer = ResultsWriter(path, SKIP_COLUMNS)
    writer.write(s.row() for s in skips)
    writer.close()
