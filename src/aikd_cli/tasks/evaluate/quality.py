"""Quality scores per sample, read from ``aikd score`` CSVs (or any CSV or Parquet file with path +
quality columns).

An image with several faces keeps the largest face (box area; else face 0), the usual choice for
verification benchmarks; its landmarks, when the CSV has them, are the ones the FR model's crop is
aligned with. Rows whose ``status`` is not ``ok`` mark the image as failed, with the reason.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aikd_cli.errors import InputFormatError
from aikd_cli.faces.landmarks import DIGEST_COLUMN, LANDMARK_COLUMNS
from aikd_cli.tasks.evaluate import tabular

BOX_COLUMNS = ("box_x1", "box_y1", "box_x2", "box_y2")

_STATUS_REASONS = {
    "no_face": "no face detected",
    "unreadable": "unreadable image",
    "error": "error while scoring",
}


@dataclass
class QualityTable:
    """One method's qualities by sample key."""

    label: str
    source: Path
    quality: dict[str, float] = field(default_factory=dict)
    landmarks: dict[str, np.ndarray] = field(default_factory=dict)  # (5, 2), of the kept face
    digests: dict[str, str] = field(default_factory=dict)  # image sha256 the landmarks were found on
    failed: dict[str, str] = field(default_factory=dict)  # key -> why the image has no quality
    multi_face: int = 0  # images with more than one face (the largest was kept)

    def lookup(self, keys: list[str], images: bool = False) -> tuple[np.ndarray, list[str | None]]:
        """Qualities for ``keys`` (NaN where unusable) and why each unusable one is unusable; with
        ``images`` (the evaluation reads the images) a missing image is named before the quality."""
        values = np.full(len(keys), np.nan)
        reasons: list[str | None] = [None] * len(keys)
        for i, key in enumerate(keys):
            if key in self.quality:
                values[i] = self.quality[key]
                if not math.isfinite(values[i]):
                    reasons[i] = f"quality is NaN/inf in {self.label}"
            elif key in self.failed:
                reasons[i] = f"{self.failed[key]} ({self.label})"
            elif images and not _exists(key):  # the likelier cause: say it, not that the quality file lacks it
                reasons[i] = "image file missing"
            else:
                reasons[i] = f"no quality score in {self.label}"
        return values, reasons


def _exists(key: str) -> bool:
    """Whether a sample's image is there (an insightface .bin sample is ``<file>#<index>``)."""
    return os.path.exists(key) or ("#" in key and os.path.exists(key.rpartition("#")[0]))


def read_quality_file(
    path: Path, label: str | None = None, *, path_column: str = "path", quality_column: str = "quality"
) -> QualityTable:
    """Read one quality CSV or Parquet file, column-wise. Relative paths are relative to its folder."""
    names = tabular.header(path)
    for col, option in ((path_column, "--path-column"), (quality_column, "--quality-column")):
        if col not in names:
            raise InputFormatError(
                f"{path}: no column {col!r} (found {', '.join(names) or 'none'})",
                hint=f"name it with {option}",
            )
    status = ["status"] if "status" in names else []
    box = list(BOX_COLUMNS) if all(c in names for c in BOX_COLUMNS) else []
    marks = list(LANDMARK_COLUMNS) if all(c in names for c in LANDMARK_COLUMNS) else []
    digest = [DIGEST_COLUMN] if marks and DIGEST_COLUMN in names else []
    numeric = [quality_column, *box, *marks]
    columns = tabular.read_columns(path, [path_column, *status, *digest, *numeric], numeric=numeric)
    table = QualityTable(label or path.stem, path)
    if len(columns) == 0:
        raise InputFormatError(f"{path}: no quality rows")
    keys, (sample,) = tabular.sample_codes(path.parent, columns, [path_column])
    statuses, code = ["ok"], np.zeros(len(sample), np.int32)
    if status:
        statuses, code = tabular.parsed(columns, "status", lambda cell: cell.strip().lower() or "ok")
    ok = np.array([s == "ok" for s in statuses])[code]
    quality = columns.numbers(quality_column)
    bad = tabular.first_row(quality.bad & ok)
    if bad is not None:
        cell = columns.cell(quality_column, bad).strip()
        raise InputFormatError(f"{columns.where(bad)}: quality {cell!r} is not a number")
    area = _box_areas(columns) if box else np.zeros(len(sample))
    kept, table.multi_face = _largest_faces(sample, ok, area, len(keys))
    has = kept >= 0
    rows = kept[has]
    table.quality = dict(zip(keys[has].tolist(), quality.values[rows].tolist(), strict=True))
    if marks:
        points, usable = _landmarks(columns)
        with_marks = usable[rows]
        table.landmarks = dict(zip(keys[has][with_marks].tolist(), points[rows[with_marks]], strict=True))
        if digest:
            hashes, code = tabular.parsed(columns, DIGEST_COLUMN, lambda cell: cell.strip().lower())
            marked = rows[with_marks]
            table.digests = {k: hashes[c] for k, c in zip(keys[has][with_marks].tolist(), code[marked].tolist()) if hashes[c]}
    last = np.full(len(keys), -1, dtype=np.int64)
    np.maximum.at(last, sample[~ok], np.flatnonzero(~ok))  # an image without an ok row: its last reason
    reason = [_STATUS_REASONS.get(s, s) for s in statuses]
    failed = ~has & (last >= 0)
    table.failed = {
        k: reason[code[r]] for k, r in zip(keys[failed].tolist(), last[failed].tolist(), strict=True)
    }
    if not table.quality and not table.failed:
        raise InputFormatError(f"{path}: no quality rows")
    return table


def _largest_faces(sample: np.ndarray, ok: np.ndarray, area: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """Per sample (of ``n``), the ``ok`` row of the largest face (the first of equal ones; -1 where
    none), and how many samples have several faces. Only those few are decided row by row."""
    rows = np.flatnonzero(ok)
    faces = np.bincount(sample[rows], minlength=n)
    kept = np.full(n, -1, dtype=np.int64)
    single = faces[sample[rows]] == 1
    kept[sample[rows[single]]] = rows[single]
    several = rows[~single]
    best: dict[int, float] = {}
    for r, k, a in zip(several.tolist(), sample[several].tolist(), area[several].tolist(), strict=True):
        if k in best and a <= best[k]:  # a NaN area always takes over, as it did row by row
            continue
        best[k], kept[k] = a, r
    return kept, int((faces > 1).sum())


def _box_areas(columns: tabular.Columns) -> np.ndarray:
    """Box area per row; 0 where a coordinate is missing or not a number."""
    x1, y1, x2, y2 = (columns.numbers(c) for c in BOX_COLUMNS)
    unreadable = np.any([n.empty | n.bad for n in (x1, y1, x2, y2)], axis=0)
    area = np.maximum(x2.values - x1.values, 0.0) * np.maximum(y2.values - y1.values, 0.0)
    return np.where(unreadable, 0.0, area)


def _landmarks(columns: tabular.Columns) -> tuple[np.ndarray, np.ndarray]:
    """(N, 5, 2) landmarks per row, and whether all ten are finite numbers."""
    values = np.stack([columns.numbers(c).values for c in LANDMARK_COLUMNS], axis=1)
    return values.reshape(-1, 5, 2), np.isfinite(values).all(axis=1)
