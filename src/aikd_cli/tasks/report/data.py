"""Read and check a score CSV (and its ``.meta.json`` sidecar) for the report, column-wise.

A report of a million rows must not build a Python object per row: the CSV is read by pyarrow's
multi-threaded reader into typed columns, checked with vectorised operations, and only the rows the
page shows are turned into :class:`ScoreRow` objects (:meth:`ScoreTable.rows`).

Reading is strict about the layout (a CSV from another tool is refused with the list of missing
columns; a bad cell is a one-line error naming the file, line and column) and forgiving about values
that really occur: empty or ``nan`` qualities become NaN (counted and shown apart), rows of any status
are kept.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aikd_cli.errors import InputFormatError
from aikd_cli.faces.landmarks import LANDMARK_COLUMNS, resolve_csv_path
from aikd_cli.faces.pipeline import OK
from aikd_cli.utils.csvcolumns import line_of, read_csv_columns
from aikd_cli.utils.csvfiles import read_header

BOX_COLUMNS = ("box_x1", "box_y1", "box_x2", "box_y2")
NUMBER_COLUMNS = ("quality", "det_score", *BOX_COLUMNS, *LANDMARK_COLUMNS)
#: The columns of an ``aikd score`` CSV a report reads (others, e.g. ``image_sha256``, are ignored, so
#: CSVs of earlier versions still make reports).
REPORT_COLUMNS = ("path", "face", *NUMBER_COLUMNS, "status", "message")

#: Keys of the sidecar ``<csv>.meta.json`` written by ``aikd score``.
META_KEYS = ("model", "detector", "version", "created")

# what pyarrow's string -> number casts accept; used only to point at the first bad cell
_FLOAT = r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|nan|inf|infinity)$"
_INT = r"^[+-]?\d+$"


@dataclass(slots=True)
class ScoreRow:
    """One CSV row. ``index`` (0-based data row) names the row's thumbnail and HTML anchor."""

    index: int
    path: str  # the cell as written (relative to the CSV's folder)
    source: str  # absolute, normalised image path
    face: int | None
    quality: float  # NaN when the cell is empty or not finite
    det_score: float
    box: tuple[float, float, float, float] | None
    landmarks: tuple[float, ...] | None  # 10 values, lm0_x, lm0_y, ... lm4_y
    status: str
    message: str
    faces_in_photo: int = 1  # rows of the same photo with a face index

    @property
    def is_face(self) -> bool:
        return self.status == OK

    @property
    def scored(self) -> bool:
        return self.status == OK and math.isfinite(self.quality)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.replace(os.sep, "/")) or self.path


@dataclass
class ScoreTable:
    """Every row of a score CSV as columns (numpy arrays for what is computed on, pyarrow strings for
    the rest), plus the sidecar's run information."""

    csv_path: Path
    columns: pa.Table  # the typed CSV: path, face (int64), numbers (float64), status, message
    quality: np.ndarray  # float64, NaN when missing or not finite
    face: np.ndarray  # int64, -1 where the cell is empty
    status: np.ndarray  # the status string of each row, as a code into ``statuses``
    statuses: list[str]
    path_code: np.ndarray  # int64: which distinct path cell (first-seen order)
    path_rank: np.ndarray  # int64: the row's path cell's rank in sorted (code point) order
    distinct_paths: pa.Array = field(repr=False)  # the path cells, each once, indexed by ``path_code``
    meta: dict[str, str | None]
    meta_note: str | None  # why the sidecar could not be used, if it could not
    crops_dir: Path | None = None  # where ``aikd score --save-crops`` put the aligned crops

    def __len__(self) -> int:
        return len(self.quality)

    @cached_property
    def ok(self) -> np.ndarray:
        codes = [i for i, s in enumerate(self.statuses) if s == OK]
        return np.isin(self.status, codes)

    @cached_property
    def scored(self) -> np.ndarray:
        return self.ok & np.isfinite(self.quality)

    @cached_property
    def faces_per_path(self) -> np.ndarray:
        """For each row: how many rows of its photo carry a face index (several faces: > 1)."""
        counts = np.bincount(self.path_code[self.face >= 0], minlength=len(self.distinct_paths))
        return counts[self.path_code]

    @cached_property
    def folders(self) -> tuple[np.ndarray, list[str]]:
        """Each row's sub-folder (the path cell up to its last ``/``; ``.`` for none): the group of
        per-folder statistics, as a code into the list of distinct folders. Computed once per
        distinct path, in pyarrow, not per row."""
        paths = self.distinct_paths
        if os.sep != "/":
            paths = pc.replace_substring(paths, os.sep, "/")
        head = pc.replace_substring_regex(paths, r"/+[^/]*$", "")
        root = pc.if_else(pc.equal(head, ""), "/", head)
        folder = pc.dictionary_encode(pc.if_else(pc.match_substring(paths, "/"), root, "."))
        return folder.indices.to_numpy().astype(np.int64)[self.path_code], folder.dictionary.to_pylist()

    def rows(self, indices) -> list[ScoreRow]:
        """The rows at ``indices`` as objects (for the few rows a page shows)."""
        indices = np.asarray(indices, dtype=np.int64)
        picked = self.columns.take(pa.array(indices)).to_pylist()
        faces = self.faces_per_path[indices]
        return [
            _row(int(i), cells, self.csv_path, int(n))
            for i, cells, n in zip(indices, picked, faces, strict=True)
        ]


def _row(index: int, cells: dict, csv_path: Path, faces_in_photo: int) -> ScoreRow:
    path = cells["path"]
    lm = [cells[c] for c in LANDMARK_COLUMNS]
    box = tuple(cells[c] for c in BOX_COLUMNS)
    quality = cells["quality"]
    return ScoreRow(
        index=index,
        path=path,
        source=resolve_csv_path(path, csv_path.parent) if path else "",
        face=cells["face"],
        quality=quality if quality is not None and math.isfinite(quality) else math.nan,
        det_score=math.nan if cells["det_score"] is None else cells["det_score"],
        box=box if all(v is not None and math.isfinite(v) for v in box) else None,
        landmarks=tuple(lm) if lm[0] is not None else None,
        status=cells["status"],
        message=cells["message"],
        faces_in_photo=faces_in_photo,
    )


def sidecar_path(csv_path: Path) -> Path:
    return csv_path.with_name(csv_path.name + ".meta.json")


def read_meta(csv_path: Path) -> tuple[dict[str, str | None], str | None]:
    """The run's model, detector, version and date (and ``crops``: the ``--save-crops`` folder) from
    the sidecar; all ``None`` (and a note) when it is missing or unreadable: the report still builds,
    it just cannot say."""
    path = sidecar_path(csv_path)
    empty: dict[str, str | None] = dict.fromkeys((*META_KEYS, "crops"))
    if not path.exists():
        return empty, f"no {path.name} next to the CSV"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return empty, f"{path.name} is unreadable ({exc})"
    if not isinstance(data, dict):
        return empty, f"{path.name} is not a JSON object"
    meta = {k: (None if data.get(k) is None else str(data[k])) for k in META_KEYS}
    options = data.get("options")
    crops = options.get("save_crops") if isinstance(options, dict) else None
    meta["crops"] = None if crops is None else str(crops)
    return meta, None


# ---- reading ------------------------------------------------------------------------------------
def _check_header(csv_path: Path) -> None:
    """Refuse what is not a score CSV before the bulk read: empty, not UTF-8, columns missing."""
    header, _ = read_header(csv_path, "CSV")
    if not header:
        raise InputFormatError(f"{csv_path}: empty file, not a score CSV")
    missing = [c for c in REPORT_COLUMNS if c not in header]
    if missing:
        raise InputFormatError(
            f"{csv_path}: not an aikd score CSV, missing columns: {', '.join(missing)}",
            hint="reports read the CSV written by `aikd score` (columns: " + ", ".join(REPORT_COLUMNS) + ")",
        )


def _numbers(text: pa.ChunkedArray, kind: pa.DataType, column: str, csv_path: Path) -> pa.ChunkedArray:
    """Cells as numbers (empty cells: null); the first cell that is not a number is a one-line error."""
    trimmed = pc.utf8_trim_whitespace(text)
    blank = pc.equal(trimmed, "")
    try:
        return pc.cast(pc.if_else(blank, pa.scalar(None, pa.string()), trimmed), kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pattern = _INT if pa.types.is_integer(kind) else _FLOAT
        good = pc.or_(blank, pc.match_substring_regex(trimmed, pattern, ignore_case=True))
        bad = int(np.argmin(good.to_numpy(zero_copy_only=False)))
        cell = trimmed[bad].as_py()
        what = "an integer" if pa.types.is_integer(kind) else "a number"
        where = f"{csv_path}:{line_of(csv_path, bad)}"
        raise InputFormatError(f"{where}: column {column}: {cell[:40]!r} is not {what}") from None


def _check_paths(paths: pa.ChunkedArray, csv_path: Path) -> None:
    """Every row names an image: an empty path cell, or one with a NUL byte (no file system allows
    it), is a one-line error naming the line."""
    for bad, why in ((pc.equal(pc.utf8_trim_whitespace(paths), ""), "empty path cell"),
                     (pc.match_substring(paths, "\x00"), "path cell contains a NUL byte")):
        flags = bad.to_numpy(zero_copy_only=False)
        if flags.any():
            raise InputFormatError(f"{csv_path}:{line_of(csv_path, int(np.argmax(flags)))}: {why}")


def _floats(array: pa.ChunkedArray) -> np.ndarray:
    return pc.fill_null(array, math.nan).to_numpy()


def read_scores(csv_path: str | Path) -> ScoreTable:
    """Every row of a score CSV, in file order, plus the sidecar's run information."""
    csv_path = Path(csv_path)
    _check_header(csv_path)
    text = read_csv_columns(csv_path, REPORT_COLUMNS)
    _check_paths(text["path"], csv_path)
    columns = {"path": text["path"]}
    columns["face"] = _numbers(text["face"], pa.int64(), "face", csv_path)
    for name in NUMBER_COLUMNS:
        columns[name] = _numbers(text[name], pa.float64(), name, csv_path)
    status = pc.utf8_trim_whitespace(text["status"])
    columns["status"] = pc.if_else(pc.equal(status, ""), "error", status)
    columns["message"] = text["message"]
    table = pa.table(columns).combine_chunks()  # one chunk: fast ``take`` of the rows shown

    # cells left empty in some columns only: a damaged row (NaN or inf in every cell is a face
    # whose landmarks cannot be aligned: it gets a placeholder)
    given = np.stack([table[c].is_valid().to_numpy(zero_copy_only=False) for c in LANDMARK_COLUMNS], axis=1)
    broken = given.any(axis=1) & ~given.all(axis=1)
    if broken.any():
        line = line_of(csv_path, int(np.argmax(broken)))
        raise InputFormatError(f"{csv_path}:{line}: landmark cells must be all empty or all numbers")

    quality = _floats(table["quality"]).copy()
    quality[~np.isfinite(quality)] = np.nan
    statuses = pc.dictionary_encode(table["status"]).combine_chunks()
    paths = pc.dictionary_encode(table["path"]).combine_chunks()
    path_code = paths.indices.to_numpy().astype(np.int64)
    rank = pc.rank(paths.dictionary, sort_keys="ascending", tiebreaker="first").to_numpy().astype(np.int64)
    meta, note = read_meta(csv_path)
    crops = meta.pop("crops")
    return ScoreTable(
        csv_path=csv_path,
        columns=table,
        quality=quality,
        face=pc.fill_null(table["face"], -1).to_numpy().astype(np.int64),
        status=statuses.indices.to_numpy().astype(np.int64),
        statuses=statuses.dictionary.to_pylist(),
        path_code=path_code,
        path_rank=rank[path_code],
        distinct_paths=paths.dictionary,
        meta=meta,
        meta_note=note,
        crops_dir=Path(crops) if crops else None,
    )
