"""Read and check a score CSV (and its ``.meta.json`` sidecar) for the report.

The report must explain every row, so reading is strict about the layout (a CSV from another tool
is refused with the list of missing columns) and forgiving about values that really occur: empty or
``nan`` qualities become NaN (counted and shown apart), rows of any status are kept.
"""

from __future__ import annotations

import csv
import json
import math
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from aikd_cli.errors import InputFormatError
from aikd_cli.faces.landmarks import LANDMARK_COLUMNS, resolve_csv_path
from aikd_cli.tasks.score import OK, SCORE_COLUMNS

BOX_COLUMNS = ("box_x1", "box_y1", "box_x2", "box_y2")

#: Keys of the sidecar ``<csv>.meta.json`` written by ``aikd score``.
META_KEYS = ("model", "detector", "version", "created")


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

    @property
    def is_face(self) -> bool:
        return self.status == OK

    @property
    def scored(self) -> bool:
        return self.status == OK and math.isfinite(self.quality)

    @property
    def folder(self) -> str:
        """The sub-folder (relative to the CSV) the image is in: the group of per-folder statistics."""
        return posixpath.dirname(self.path.replace(os.sep, "/")) or "."

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.replace(os.sep, "/")) or self.path


@dataclass
class ScoreTable:
    csv_path: Path
    rows: list[ScoreRow]
    meta: dict[str, str | None]
    meta_note: str | None  # why the sidecar could not be used, if it could not


def sidecar_path(csv_path: Path) -> Path:
    return csv_path.with_name(csv_path.name + ".meta.json")


def read_meta(csv_path: Path) -> tuple[dict[str, str | None], str | None]:
    """The run's model, detector, version and date from the sidecar; all ``None`` (and a note)
    when it is missing or unreadable: the report still builds, it just cannot say."""
    path = sidecar_path(csv_path)
    empty: dict[str, str | None] = dict.fromkeys(META_KEYS)
    if not path.exists():
        return empty, f"no {path.name} next to the CSV"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return empty, f"{path.name} is unreadable ({exc})"
    if not isinstance(data, dict):
        return empty, f"{path.name} is not a JSON object"
    return {k: (None if data.get(k) is None else str(data[k])) for k in META_KEYS}, None


def _number(cell: str | None, where: str, column: str, *, blank: float = math.nan) -> float:
    text = (cell or "").strip()
    if not text:
        return blank
    try:
        return float(text)
    except ValueError:
        raise InputFormatError(f"{where}: column {column}: {text[:40]!r} is not a number") from None


def _row(index: int, line: int, cells: dict[str, str], csv_path: Path) -> ScoreRow:
    where = f"{csv_path}:{line}"
    path = cells["path"] or ""
    status = (cells["status"] or "").strip() or "error"
    lm_cells = [cells[c] for c in LANDMARK_COLUMNS]
    landmarks = None
    if any((c or "").strip() for c in lm_cells):
        values = tuple(_number(c, where, col) for c, col in zip(lm_cells, LANDMARK_COLUMNS, strict=True))
        if not all(math.isfinite(v) for v in values):
            raise InputFormatError(f"{where}: landmark cells must all be finite numbers")
        landmarks = values
    box_values = tuple(_number(cells[c], where, c) for c in BOX_COLUMNS)
    box = box_values if all(math.isfinite(v) for v in box_values) else None
    face_cell = (cells["face"] or "").strip()
    try:
        face = int(face_cell) if face_cell else None
    except ValueError:
        raise InputFormatError(f"{where}: column face: {face_cell[:40]!r} is not an integer") from None
    quality = _number(cells["quality"], where, "quality")
    return ScoreRow(
        index=index,
        path=path,
        source=resolve_csv_path(path, csv_path.parent) if path else "",
        face=face,
        quality=quality if math.isfinite(quality) else math.nan,
        det_score=_number(cells["det_score"], where, "det_score"),
        box=box,
        landmarks=landmarks,
        status=status,
        message=cells["message"] or "",
    )


def read_scores(csv_path: str | Path) -> ScoreTable:
    """Every row of a score CSV, in file order, plus the sidecar's run information."""
    csv_path = Path(csv_path)
    try:
        handle = open(csv_path, newline="", encoding="utf-8-sig")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        raise InputFormatError(f"{csv_path}: cannot open score CSV ({exc.strerror or exc})") from None
    rows: list[ScoreRow] = []
    with handle:
        try:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames
            if not columns:
                raise InputFormatError(f"{csv_path}: empty file, not a score CSV")
            missing = [c for c in SCORE_COLUMNS if c not in columns]
            if missing:
                raise InputFormatError(
                    f"{csv_path}: not an aikd score CSV, missing columns: {', '.join(missing)}",
                    hint="reports read the CSV written by `aikd score` (columns: "
                    + ", ".join(SCORE_COLUMNS)
                    + ")",
                )
            for index, cells in enumerate(reader):
                if None in cells.values():  # fewer cells than columns (a torn last line)
                    raise InputFormatError(
                        f"{csv_path}:{reader.line_num}: row has fewer cells than the header"
                    )
                rows.append(_row(index, reader.line_num, cells, csv_path))
        except UnicodeDecodeError:
            raise InputFormatError(f"{csv_path}: not a UTF-8 text CSV") from None
        except csv.Error as exc:
            raise InputFormatError(f"{csv_path}:{reader.line_num}: malformed CSV ({exc})") from None
    meta, note = read_meta(csv_path)
    return ScoreTable(csv_path, rows, meta, note)
