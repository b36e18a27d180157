"""The one landmark CSV format every command reads and writes.

Columns ``path, face, lm0_x, lm0_y, ..., lm4_x, lm4_y`` in original-image pixels, landmark order
left eye, right eye, nose, left mouth corner, right mouth corner (image left first). Other columns
are ignored, so any CSV written by ``aikd score`` or ``aikd align`` can be fed back as
``--landmarks``. A relative ``path`` is relative to the CSV file's folder.
"""

from __future__ import annotations

import csv
import math
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from aikd_cli.errors import InputFormatError

LANDMARK_COLUMNS = tuple(f"lm{i}_{axis}" for i in range(5) for axis in ("x", "y"))
#: Decimals written to CSVs. Crops are warped from landmarks already rounded to this, so a CSV read
#: back as ``--landmarks`` reproduces the very same crops.
LANDMARK_DECIMALS = 4


def quantise(landmarks: torch.Tensor) -> torch.Tensor:
    """Round to the CSV precision (float64; equal to what parsing the written text gives)."""
    scale = 10.0**LANDMARK_DECIMALS
    return torch.round(landmarks.to(torch.float64) * scale) / scale


def landmark_fields(landmarks: np.ndarray | None) -> dict[str, str]:
    """CSV cells for ``(5, 2)`` landmarks (empty cells for ``None``)."""
    if landmarks is None:
        return dict.fromkeys(LANDMARK_COLUMNS, "")
    flat = np.asarray(landmarks, dtype=np.float64).reshape(10)
    return {col: f"{v:.{LANDMARK_DECIMALS}f}" for col, v in zip(LANDMARK_COLUMNS, flat)}


def resolve_csv_path(value: str, csv_dir: Path) -> str:
    """Absolute, normalised path of a ``path`` cell (relative cells are relative to the CSV)."""
    p = Path(value).expanduser()
    return os.path.normpath(str(p if p.is_absolute() else csv_dir / p))


def relative_to_csv(path: str, csv_dir: Path) -> str:
    """How a ``path`` cell is written: relative to the CSV's folder when the image lies inside it
    (so the tree can be moved as a whole), absolute otherwise."""
    absolute = os.path.abspath(path)
    base = os.path.abspath(csv_dir)
    try:
        inside = os.path.commonpath([absolute, base]) == base
    except ValueError:  # another drive on Windows
        inside = False
    return os.path.relpath(absolute, base) if inside else absolute


def read_landmarks(csv_file: str | Path) -> dict[str, list[tuple[int, np.ndarray]]]:
    """Map absolute image path -> ``[(face index, (5, 2) landmarks), ...]``.

    Rows whose landmark cells are empty (e.g. ``no_face`` rows of a score CSV) are skipped; a
    missing column or a non-numeric cell is an error naming the file, line and column.
    """
    csv_file = Path(csv_file)
    try:
        handle = open(csv_file, newline="", encoding="utf-8")
    except OSError as exc:
        raise InputFormatError(f"{csv_file}: cannot open landmark file ({exc.strerror or exc})") from None
    faces: dict[str, list[tuple[int, np.ndarray]]] = defaultdict(list)
    with handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        missing = [c for c in ("path", *LANDMARK_COLUMNS) if c not in columns]
        if missing:
            raise InputFormatError(f"{csv_file}: not a landmark CSV, missing columns: {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            cells = [row[c] for c in LANDMARK_COLUMNS]
            if all(not (c or "").strip() for c in cells):
                continue
            try:
                values = np.array([float(c) for c in cells], dtype=np.float64).reshape(5, 2)
            except (TypeError, ValueError):
                raise InputFormatError(f"{csv_file}:{line}: landmark cells must be numbers") from None
            if not all(math.isfinite(v) for v in values.flat):
                raise InputFormatError(f"{csv_file}:{line}: landmark cells must be finite")
            face = row.get("face") or ""
            try:
                index = int(face) if face.strip() else len(faces[row["path"]])
            except ValueError:
                raise InputFormatError(f"{csv_file}:{line}: face index {face!r} is not an integer") from None
            faces[resolve_csv_path(row["path"], csv_file.parent)].append((index, values))
    return dict(faces)
