"""The one landmark CSV format every command reads and writes.

Columns ``path, face, lm0_x, lm0_y, ..., lm4_x, lm4_y`` in original-image pixels, landmark order
left eye, right eye, nose, left mouth corner, right mouth corner (image left first). Other columns
are ignored, so any CSV written by ``aikd score`` or ``aikd align`` can be fed back as
``--landmarks``. A relative ``path`` is relative to the CSV file's folder.

CSVs that aikd writes also carry ``image_sha256``, the hash of the image file the landmarks were
found on: a later command that reuses them (``--landmarks``) checks it and never trusts landmarks
of an image that has changed since.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from aikd_cli.errors import InputFormatError
from aikd_cli.utils.csvfiles import dict_rows, path_cell, resolve_csv_path

LANDMARK_COLUMNS = tuple(f"lm{i}_{axis}" for i in range(5) for axis in ("x", "y"))
#: Decimals written to CSVs. Crops are warped from landmarks already rounded to this, so a CSV read
#: back as ``--landmarks`` reproduces the very same crops.
LANDMARK_DECIMALS = 4


def quantise(landmarks) -> np.ndarray:
    """Round to the CSV precision (float64; equal to what parsing the written text gives)."""
    scale = 10.0**LANDMARK_DECIMALS
    return np.round(np.asarray(landmarks, dtype=np.float64) * scale) / scale


def landmark_fields(landmarks: np.ndarray | None) -> dict[str, str]:
    """CSV cells for ``(5, 2)`` landmarks (empty cells for ``None``)."""
    if landmarks is None:
        return dict.fromkeys(LANDMARK_COLUMNS, "")
    flat = np.asarray(landmarks, dtype=np.float64).reshape(10)
    return {col: f"{v:.{LANDMARK_DECIMALS}f}" for col, v in zip(LANDMARK_COLUMNS, flat)}


#: Column with the sha256 of the image file a row's landmarks were found on.
DIGEST_COLUMN = "image_sha256"


def relative_to_csv(path: str, csv_dir: Path) -> str:
    """How a ``path`` cell is written: relative to the CSV's folder when the image lies inside it
    (so the tree can be moved as a whole), absolute otherwise; a name that is not UTF-8 keeps its
    bytes as ``\\xHH`` (:func:`~aikd_cli.utils.csvfiles.path_cell`)."""
    absolute = os.path.abspath(path)
    base = os.path.abspath(csv_dir)
    try:
        inside = os.path.commonpath([absolute, base]) == base
    except ValueError:  # another drive on Windows
        inside = False
    return path_cell(os.path.relpath(absolute, base) if inside else absolute)


class LandmarkTable(Mapping):
    """Landmarks read from a CSV: absolute image path -> ``[(face index, (5, 2) landmarks), ...]``
    (sorted by face index), plus the image hashes recorded with them."""

    def __init__(self, source: str, faces: dict[str, list[tuple[int, np.ndarray]]], digests: dict[str, str]) -> None:
        self.source = source
        self._faces = {k: sorted(v, key=lambda e: e[0]) for k, v in faces.items()}
        self._digests = digests

    def __getitem__(self, path: str) -> list[tuple[int, np.ndarray]]:
        return self._faces[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._faces)

    def __len__(self) -> int:
        return len(self._faces)

    @property
    def has_digests(self) -> bool:
        return bool(self._digests)

    def digest(self, path: str) -> str | None:
        """The sha256 recorded for ``path``'s image, or ``None`` when the CSV has none."""
        return self._digests.get(path)

    def with_fallback(self, other: LandmarkTable | None) -> LandmarkTable:
        """This table, plus ``other``'s images that this one does not list."""
        if other is None:
            return self
        faces = {**{k: other[k] for k in other}, **self._faces}
        digests = {**{k: d for k in other if k not in self._faces and (d := other.digest(k))}, **self._digests}
        return LandmarkTable(f"{self.source} or {other.source}", faces, digests)

    def is_stale(self, path: str, sha256: str | None) -> bool:
        """True when the CSV recorded a hash for this image and the file now has another."""
        recorded = self._digests.get(path)
        return bool(recorded and sha256 and recorded != sha256)


def read_landmarks(csv_file: str | Path) -> LandmarkTable:
    """The landmarks of a landmark CSV (any CSV aikd writes, or your own).

    Rows whose landmark cells are empty (e.g. ``no_face`` rows of a score CSV) are skipped; a
    missing column or a non-numeric cell is an error naming the file, line and column. Values that
    are numbers but unusable (``nan``, collapsed or far-off points) are kept: the face pipeline
    gives such a face status ``bad_landmarks`` and the run goes on.
    """
    csv_file = Path(csv_file)
    columns, rows = dict_rows(csv_file, "landmark file")
    faces: dict[str, list[tuple[int, np.ndarray]]] = defaultdict(list)
    digests: dict[str, str] = {}
    folder = os.path.abspath(csv_file.parent)
    missing = [c for c in ("path", *LANDMARK_COLUMNS) if c not in columns]
    if missing:
        rows.close()
        raise InputFormatError(f"{csv_file}: not a landmark CSV, missing columns: {', '.join(missing)}")
    for line, row in rows:
        cells = [row.get(c) for c in LANDMARK_COLUMNS]
        if all(not (c or "").strip() for c in cells):
            continue
        try:
            values = np.array([float(c) for c in cells], dtype=np.float64).reshape(5, 2)
        except (TypeError, ValueError):
            raise InputFormatError(f"{csv_file}:{line}: landmark cells must be numbers") from None
        if not (row.get("path") or "").strip():
            raise InputFormatError(f"{csv_file}:{line}: empty path cell")
        path = resolve_csv_path(row["path"], folder)
        face = (row.get("face") or "").strip()
        try:
            index = int(face) if face else len(faces[path])
        except ValueError:
            raise InputFormatError(f"{csv_file}:{line}: face index {face!r} is not an integer") from None
        faces[path].append((index, values))
        if row.get(DIGEST_COLUMN):
            digests[path] = row[DIGEST_COLUMN].strip().lower()
    return LandmarkTable(str(csv_file), dict(faces), digests)
