"""Quality scores per sample, read from ``aikd score`` CSVs (or any CSV with path + quality columns).

An image with several faces keeps the largest face (box area; else face 0), the usual choice for
verification benchmarks; its landmarks, when the CSV has them, are the ones the FR model's crop is
aligned with. Rows whose ``status`` is not ``ok`` mark the image as failed, with the reason.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aikd_cli.errors import InputFormatError
from aikd_cli.faces.landmarks import LANDMARK_COLUMNS, resolve_csv_path

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
    failed: dict[str, str] = field(default_factory=dict)  # key -> why the image has no quality
    multi_face: int = 0  # images with more than one face (the largest was kept)

    def lookup(self, keys: list[str]) -> tuple[np.ndarray, list[str | None]]:
        """Qualities for ``keys`` (NaN where unusable) and why each unusable one is unusable."""
        values = np.full(len(keys), np.nan)
        reasons: list[str | None] = [None] * len(keys)
        for i, key in enumerate(keys):
            if key in self.quality:
                values[i] = self.quality[key]
                if not math.isfinite(values[i]):
                    reasons[i] = f"quality is NaN/inf in {self.label}"
            elif key in self.failed:
                reasons[i] = f"{self.failed[key]} ({self.label})"
            else:
                reasons[i] = f"no quality score in {self.label}"
        return values, reasons


def parse_labelled(text: str) -> tuple[Path, str | None]:
    """``file.csv`` or ``file.csv:label`` (a whole string naming an existing file is a path)."""
    if Path(text).exists() or ":" not in text:
        return Path(text), None
    path, _, label = text.rpartition(":")
    return Path(path), (label or None)


def read_quality_csv(
    path: Path, label: str | None = None, *, path_column: str = "path", quality_column: str = "quality"
) -> QualityTable:
    """Read one quality CSV. Relative paths are relative to the CSV's folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFormatError(f"{path}: cannot read quality file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputFormatError(f"{path}: not a UTF-8 CSV file") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = reader.fieldnames or []
    for col, option in ((path_column, "--path-column"), (quality_column, "--quality-column")):
        if col not in columns:
            raise InputFormatError(
                f"{path}: no column {col!r} (found {', '.join(columns) or 'none'})",
                hint=f"name it with {option}",
            )
    has_status = "status" in columns
    has_box = all(c in columns for c in ("box_x1", "box_y1", "box_x2", "box_y2"))
    has_lm = all(c in columns for c in LANDMARK_COLUMNS)
    table = QualityTable(label or path.stem, path)
    best: dict[str, tuple[float, int]] = {}  # key -> (area, line) of the kept face
    faces: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        key = resolve_csv_path(row[path_column] or "", path.parent)
        status = (row.get("status") or "ok").strip().lower() if has_status else "ok"
        if status != "ok":
            if key not in table.quality:
                table.failed[key] = _STATUS_REASONS.get(status, status)
            continue
        cell = (row[quality_column] or "").strip()
        try:
            value = float(cell) if cell else math.nan
        except ValueError:
            raise InputFormatError(f"{path}:{line}: quality {cell!r} is not a number") from None
        area = _box_area(row) if has_box else 0.0
        faces[key] = faces.get(key, 0) + 1
        if key in best and area <= best[key][0]:
            continue
        best[key] = (area, line)
        table.failed.pop(key, None)
        table.quality[key] = value
        lm = _landmarks(row) if has_lm else None
        if lm is not None:
            table.landmarks[key] = lm
        else:
            table.landmarks.pop(key, None)
    table.multi_face = sum(1 for n in faces.values() if n > 1)
    if not table.quality and not table.failed:
        raise InputFormatError(f"{path}: no quality rows")
    return table


def _box_area(row: dict[str, str]) -> float:
    try:
        x1, y1, x2, y2 = (float(row[c]) for c in ("box_x1", "box_y1", "box_x2", "box_y2"))
    except (TypeError, ValueError):
        return 0.0
    return max(x2 - x1, 0.0) * max(y2 - y1, 0.0)


def _landmarks(row: dict[str, str]) -> np.ndarray | None:
    try:
        values = np.array([float(row[c]) for c in LANDMARK_COLUMNS], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return values.reshape(5, 2) if np.isfinite(values).all() else None
